"""Shared fixtures. The suite runs on real PostgreSQL and Redis (apaygate/test_settings.py)."""

from __future__ import annotations

import os

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import MerchantFactory, make_token

# Gateway fixtures shared by every area (loopback receivers, a real Celery worker, Redis).
pytest_plugins = ["tests.support.gateway"]

# Under pytest-xdist (scripts/test.sh: `--dist loadgroup --no-loadscope-reorder`) each worker
# takes the next test as it frees up, in this order: the longest first, so that the run
# does not end with one worker finishing a long test alone. `--durations` shows the figures.
# 0: the longest single tests of a `make test` run (15-95 s each before 2026-12-03's trims).
LONGEST = (
    "tests/docs/test_schemathesis.py",
    "tests/payments/delivery/test_faults_broker.py",
    "tests/apaygate/test_connection_budget.py",
    "tests/e2e/test_a11y.py::test_developer_pages_and_admin_login_have_no_serious_axe_violations",
    "tests/e2e/test_a11y.py::test_api_reference_pages_have_no_serious_axe_violations",
    "tests/e2e/test_docs_fit.py::test_every_public_docs_page_fits_a_phone_and_a_laptop",
)
# 1: the TypeScript SDK's tests, which wait for its install and build (scripts/test.sh runs
# it beside pytest, tests/sdk/conftest.py waits): done by the time the longest are under
# way. The examples' builds among them are one xdist group: one worker runs them in turn.
NEEDS_SDK_BUILD = ("tests/sdk/test_typescript_sdk.py", "tests/sdk/test_examples.py")
# 2: the other long ones: builds, live gateways, browsers, real workers, fault injection.
LONG = ("tests/sdk/", "tests/e2e/")
LONG_MARKERS = ("fault", "worker", "bigquery")


def start_order(item) -> tuple[int, int]:
    """(class above, position in LONGEST); the rest (3) keeps its collection order."""
    for position, prefix in enumerate(LONGEST):
        if item.nodeid.startswith(prefix):
            return 0, position
    if item.nodeid.startswith(NEEDS_SDK_BUILD):
        return 1, 0
    if item.nodeid.startswith(LONG) or any(item.get_closest_marker(m) for m in LONG_MARKERS):
        return 2, 0
    return 3, 0


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
