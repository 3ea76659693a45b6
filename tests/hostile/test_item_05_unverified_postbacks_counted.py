"""Item 5: unsigned junk to /api/payment-verify/<provider> is counted, not stored."""

from __future__ import annotations

import logging

import pytest

from payments.intake import metrics
from payments.intake.metrics import UNVERIFIED_POSTBACKS
from payments.models import PaymentEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_sampler(monkeypatch):
    monkeypatch.setattr(metrics, "_last_logged", {})


def test_unsigned_postbacks_leave_no_event_rows_and_are_counted(client):
    before = UNVERIFIED_POSTBACKS.labels(provider="tele")._value.get()

    for n in range(20):
        response = client.post(
            "/api/payment-verify/tele", data=f'{{"junk": {n}}}', content_type="application/json"
        )
        assert response.status_code == 400

    assert PaymentEvent.objects.count() == 0
    assert UNVERIFIED_POSTBACKS.labels(provider="tele")._value.get() == before + 20


def test_unsigned_postbacks_are_logged_once_a_minute_per_provider(client, caplog, monkeypatch):
    # the sampling state is per process: start from a minute nobody has logged in yet
    monkeypatch.setattr(metrics, "_last_logged", {})
    caplog.set_level(logging.WARNING, logger="payments.intake")

    for _ in range(10):
        client.post("/api/payment-verify/tele", data="{}", content_type="application/json")
        client.post("/api/payment-verify/bansky", data="{}", content_type="application/json")

    lines = [r for r in caplog.records if "before verification" in r.getMessage()]
    assert sorted(r.getMessage().split()[0] for r in lines) == ["bansky", "tele"]


def test_the_counter_is_exposed_under_its_documented_name():
    from prometheus_client import REGISTRY, generate_latest

    UNVERIFIED_POSTBACKS.labels(provider="sandbox").inc(0)

    assert b'apaygate_unverified_postbacks_total{provider="sandbox"}' in generate_latest(REGISTRY)
