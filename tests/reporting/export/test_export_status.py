"""Export lag and counts in /readyz and the admin, and the request size limit (no emulator)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

import reporting.export.admin  # noqa: F401  registers PaymentEvent with the admin
from payments.audit import event_record
from payments.models import EventType, PaymentEvent
from reporting.export.rows import MAX_REQUEST_BYTES, request_chunks
from reporting.export.status import export_status
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db


def _waiting_events(count: int, *, age: timedelta) -> list[PaymentEvent]:
    payment = PaymentFactory()
    events = [event_record(type=EventType.PAYMENT_CREATED, payment=payment) for _ in range(count)]
    PaymentEvent.objects.filter(pk=events[0].pk).update(occurred_at=timezone.now() - age)
    return events


def test_export_status_reports_backlog_and_the_age_of_the_oldest_waiting_event():
    events = _waiting_events(3, age=timedelta(minutes=5))
    PaymentEvent.objects.filter(pk=events[1].pk).update(export_attempts=2, export_error="x")
    PaymentEvent.objects.filter(pk=events[2].pk).update(exported_at=timezone.now())

    status = export_status(include_exported=True)

    assert status["pending"] == 2
    assert status["with_errors"] == 1
    assert status["exported"] == 1
    assert 299 <= status["lag_seconds"] <= 330


def test_export_status_lag_is_zero_when_nothing_waits():
    assert export_status()["lag_seconds"] == 0.0
    assert export_status()["oldest_pending_at"] is None


@override_settings(BIGQUERY_PROJECT="")
def test_readyz_shows_export_detail_and_stays_200_while_bigquery_is_off(client):
    _waiting_events(2, age=timedelta(seconds=90))

    answer = client.get("/readyz")

    body = json.loads(answer.content)
    assert answer.status_code == 200, body
    assert set(body["checks"]) == {"database", "migrations", "cache", "broker"}
    assert body["export"]["enabled"] is False
    assert body["export"]["pending"] == 2
    assert body["export"]["lag_seconds"] >= 90


@override_settings(BIGQUERY_PROJECT="some-project", BIGQUERY_API_ENDPOINT="http://127.0.0.1:9")
def test_readyz_never_calls_bigquery(client):
    # an unreachable endpoint would make the request slow or fail if /readyz called it
    answer = client.get("/readyz")

    assert answer.status_code == 200
    assert json.loads(answer.content)["export"]["enabled"] is True


def test_admin_event_list_shows_export_lag_and_filters_on_exported(admin_client):
    waiting = _waiting_events(2, age=timedelta(minutes=3))
    PaymentEvent.objects.filter(pk=waiting[1].pk).update(exported_at=timezone.now())
    url = reverse("admin:payments_paymentevent_changelist")

    page = admin_client.get(url)
    only_waiting = admin_client.get(url, {"exported": "no"})

    text = page.content.decode()
    assert page.status_code == 200
    assert "1 waiting (0 with errors), 1 exported, lag 3 min" in text
    assert only_waiting.status_code == 200
    assert only_waiting.context["cl"].result_count == 1
    filters = {
        getattr(spec, "parameter_name", None) or getattr(spec, "field_path", None)
        for spec in page.context["cl"].filter_specs
    }
    assert {"type", "status", "provider", "exported"} <= filters


def test_admin_event_pages_are_read_only(admin_client):
    event = _waiting_events(1, age=timedelta(0))[0]

    detail = admin_client.get(reverse("admin:payments_paymentevent_change", args=[event.pk]))
    add = admin_client.get(reverse("admin:payments_paymentevent_add"))
    post = admin_client.post(
        reverse("admin:payments_paymentevent_change", args=[event.pk]), {"type": "payment.failed"}
    )

    assert detail.status_code == 200
    assert add.status_code == 403
    assert post.status_code == 403
    event.refresh_from_db()
    assert event.type == EventType.PAYMENT_CREATED


def test_requests_stay_under_the_size_limit_and_keep_every_row():
    rows = [{"event_id": str(i), "payload": "x" * 900_000} for i in range(14)]

    chunks = list(request_chunks(rows))

    assert [i for start, end in chunks for i in range(start, end)] == list(range(14))
    assert len(chunks) >= 3
    for start, end in chunks:
        size = sum(len(json.dumps(r)) for r in rows[start:end])
        assert size < MAX_REQUEST_BYTES


def test_a_batch_that_fits_goes_in_one_request_and_an_empty_one_in_none():
    rows = [{"event_id": str(i), "payload": "x" * 1000} for i in range(2000)]

    assert list(request_chunks(rows)) == [(0, 2000)]
    assert list(request_chunks([])) == []
