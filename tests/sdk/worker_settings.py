"""Settings for the Celery worker that the SDK tests start: the suite's, plus fast retries."""

from __future__ import annotations

from apaygate.test_settings import *  # noqa: F403
from tests.sdk.gateway import WORKER_SETTINGS

globals().update(WORKER_SETTINGS)
