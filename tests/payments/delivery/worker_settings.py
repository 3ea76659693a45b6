"""Settings for the Celery worker and beat subprocesses that postback tests start.

The test suite's settings, plus short timeouts and leases so fault tests finish in
seconds; tests/support/gateway.py (`worker_settings`) sets the same values in the test process.
"""

from __future__ import annotations

import os

from apaygate.test_settings import *  # noqa: F403
from tests.support.gateway import WORKER_SETTINGS

# A test's own environment (CeleryStack.extra_env) wins: settings already read it.
globals().update({name: value for name, value in WORKER_SETTINGS.items() if name not in os.environ})
