"""Shared fixtures. The suite runs on real PostgreSQL and Redis (apaygate/test_settings.py)."""

from __future__ import annotations

import os

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import MerchantFactory, make_token

# Gateway fixtures shared by every area (loopback receivers, a real Celery worker, Redis).
pytest_plugins = ["tests.support.gateway"]

# The longest tests (builds, live gateways, browsers, fault injection), started first under
# pytest-xdist so that the last minute is not one worker finishing one of them alone.
LONG_FIRST = ("tests/sdk/", "tests/docs/test_schemathesis.py", "tests/e2e/")
# Of those, the ones that need the TypeScript SDK's install and build, which scripts/test.sh
# runs beside pytest (tests/sdk/conftest.py waits for it): started after the other long
# ones, by when the build is done, so that no worker sits waiting for it.
NEEDS_SDK_BUILD = ("tests/sdk/test_typescript_sdk.py", "tests/sdk/test_examples.py")


def start_order(item) -> int:
    """0: long, 1: long and waiting on the SDK build, 2: the rest."""
    if item.nodeid.startswith(NEEDS_SDK_BUILD):
        return 1
    if item.nodeid.startswith(LONG_FIRST) or item.get_closest_marker("fault"):
        return 0
    return 2


def pytest_collection_modifyitems(config, items):
    if os.environ.get("PYTEST_XDIST_WORKER"):  # every worker sorts alike (a stable sort)
        items.sort(key=start_order)


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle counters and KV entries from one test must not leak into the next."""
    cache.clear()
    yield


@pytest.fixture
def merchant(db):
    return MerchantFactory(slug="acme", name="Acme Casino", provider="sandbox")


@pytest.fixture
def api_key(merchant) -> str:
    return make_token(merchant=merchant)[1]


@pytest.fixture
def api(api_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key}")
    return client


@pytest.fixture(autouse=True)
def _fresh_provider_breakers():
    """Circuit breakers are per process: one test's provider outage must not open the next's."""
    from payments.kv import breaker as kv_breaker
    from providers.breaker import breakers_reset

    breakers_reset()
    kv_breaker.record_success()  # the KV's too: one test's Redis outage is not the next's
    yield
