"""Fixtures for the ops tests: the middleware and logging as settings.py wires them."""

from __future__ import annotations

import io
import logging.config

import pytest

from foundation.logging_config import build_logging

OPS_MIDDLEWARE = [
    "foundation.request_id.RequestIdMiddleware",
    "apaygate.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]


@pytest.fixture
def ops_settings(settings):
    settings.ROOT_URLCONF = "tests.ops.urls"
    settings.MIDDLEWARE = OPS_MIDDLEWARE
    settings.METRICS_TOKEN = "metrics-token-test"
    return settings


@pytest.fixture
def json_logging():
    """Configure logging as production does, into a buffer; restore the suite's afterwards."""
    from django.conf import settings

    logging.config.dictConfig(build_logging(json=True, level="DEBUG"))
    buffer = io.StringIO()
    for handler in logging.getLogger().handlers:
        if handler.get_name() == "console":
            handler.setStream(buffer)
    yield buffer
    logging.config.dictConfig(settings.LOGGING)
