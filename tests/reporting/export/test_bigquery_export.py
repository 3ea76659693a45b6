"""The BigQuery export against bqemulator: values, outages, backfill, row errors, off switch."""

from __future__ import annotations

import hashlib
import io
import time
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import override_settings
from google.cloud import bigquery

from payments.audit import event_record
from payments.models import EventType, PaymentEvent, PaymentStatus
from reporting.export.client import bigquery_client, bigquery_setup
from reporting.export.schema import EVENTS_SCHEMA
from reporting.export.services import export_run
from reporting.export.status import export_status
from tests.factories import MerchantFactory, PaymentFactory

pytestmark = [pytest.mark.bigquery, pytest.mark.django_db]


def _payment_lifecycle(*, merchant=None, amount=Decimal("100.00"), **fields):
    """Create a payment and the events a real one records: created, invoiced, succeeded."""
    payment = PaymentFactory(
        merchant=merchant or MerchantFactory(),
        status=PaymentStatus.CREATED,
        amount=amount,
        **fields,
    )
    event_record(type=EventType.PAYMENT_CREATED, payment=payment, payload={"source": "api"})
    payment.status = PaymentStatus.PENDING
    payment.save(update_fields=["status"])
    event_record(
        type=EventType.INVOICE_CREATED,
        payment=payment,
        payload={"provider_reference": payment.provider_reference},
    )
    payment.status = PaymentStatus.SUCCEEDED
    payment.save(update_fields=["status"])
    event_record(type=EventType.PAYMENT_SUCCEEDED, payment=payment, payload={"paid": "100.00"})
    return payment


def _wait_out_backoff() -> None:
    """Sleep until the exporter's backoff (tiny in tests) allows the next run."""
    retry_at = export_status()["retry_at"]
    deadline = time.monotonic() + 10
    while retry_at and time.monotonic() < deadline:
        time.sleep(0.05)
        retry_at = export_status()["retry_at"]


def _assert_exactly_once(bq) -> None:
    rows = bq.query("SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS d FROM {table}")[0]
    in_postgres = PaymentEvent.objects.count()
    assert rows["n"] == rows["d"] == in_postgres
    assert set(bq.event_ids()) == {
        str(pk) for pk in PaymentEvent.objects.values_list("id", flat=True)
    }


def test_events_of_real_payments_arrive_with_schema_and_values(bq):
    # given
    merchant = MerchantFactory(slug="acme-bq", provider="tele")
    payment = _payment_lifecycle(
        merchant=merchant,
        amount=Decimal("123.45"),
        currency="EUR",
        customer_email="Shopper@Example.com",
        customer_name="Jane Shopper",
        provider_amount=Decimal("133.33"),
        provider_currency="TUSD",
        exchange_rate=Decimal("1.0800000001"),
    )

    # when
    result = export_run()

    # then
    assert result.exported == 3 and result.error == ""
    assert PaymentEvent.objects.filter(exported_at__isnull=True).count() == 0
    rows = bq.query(
        "SELECT *, JSON_VALUE(payload, '$.source') AS source FROM {table} ORDER BY occurred_at"
    )
    assert [r["type"] for r in rows] == [
        "payment.created",
        "provider.invoice_created",
        "payment.succeeded",
    ]
    assert [r["status"] for r in rows] == ["created", "pending", "succeeded"]
    first = rows[0]
    event = PaymentEvent.objects.get(type="payment.created")
    assert first["event_id"] == str(event.id)
    assert first["occurred_at"] == event.occurred_at
    assert first["payment_id"] == payment.public_id
    assert first["merchant_id"] == merchant.id
    assert first["merchant_slug"] == "acme-bq"
    assert first["merchant_reference"] == payment.merchant_reference
    assert first["provider"] == "tele"
    assert first["amount"] == Decimal("123.45")
    assert first["currency"] == "EUR"
    assert first["provider_amount"] == Decimal("133.33")
    assert first["provider_currency"] == "TUSD"
    assert first["exchange_rate"] == Decimal("1.080000000")  # NUMERIC: 9 decimal places
    assert first["customer_email_sha256"] == hashlib.sha256(b"shopper@example.com").hexdigest()
    assert first["customer_email"] is None
    assert first["customer_name"] is None
    assert first["source"] == "api"
    assert first["payload"] == {"source": "api"}

    table = bigquery_client().get_table(bq.table)
    assert table.time_partitioning.type_ == "DAY"
    assert table.time_partitioning.field == "occurred_at"
    assert table.clustering_fields == ["merchant_id"]
    types = {f.name: f.field_type for f in table.schema}
    assert types["amount"] == "NUMERIC"
    assert types["payload"] == "JSON"
    assert types["occurred_at"] == "TIMESTAMP"

    latest = bq.query("SELECT * FROM {view}")
    assert len(latest) == 1
    assert latest[0]["payment_id"] == payment.public_id
    assert latest[0]["status"] == "succeeded"
    assert latest[0]["last_event_type"] == "payment.succeeded"
    assert latest[0]["created_at"] == event.occurred_at


def test_raw_email_and_name_are_exported_only_when_settings_say_so(bq):
    _payment_lifecycle(customer_email="a.b@example.com", customer_name="A B")

    with override_settings(BIGQUERY_EXPORT_RAW_EMAIL=True, BIGQUERY_EXPORT_CUSTOMER_NAME=True):
        export_run()

    rows = bq.query("SELECT DISTINCT customer_email, customer_name FROM {table}")
    assert rows == [{"customer_email": "a.b@example.com", "customer_name": "A B"}]


def test_payments_latest_has_one_row_per_payment_in_its_latest_state(bq):
    merchant = MerchantFactory()
    done = _payment_lifecycle(merchant=merchant)
    waiting = PaymentFactory(merchant=merchant, status=PaymentStatus.PENDING)
    event_record(type=EventType.PAYMENT_CREATED, payment=waiting)

    export_run()

    latest = {r["payment_id"]: r["status"] for r in bq.query("SELECT * FROM {view}")}
    assert latest == {done.public_id: "succeeded", waiting.public_id: "pending"}


def test_every_event_arrives_exactly_once_across_an_emulator_outage(bq):
    # given: some events already exported, then BigQuery goes away
    with override_settings(BIGQUERY_BATCH_SIZE=4):
        for _ in range(3):
            _payment_lifecycle()
        assert export_run().exported == 9
        bq.emulator.stop()
        try:
            for _ in range(5):
                _payment_lifecycle()

            # when: several export runs happen during the outage
            for _ in range(3):
                _wait_out_backoff()
                result = export_run()
                assert result.exported == 0
                assert result.error  # the request failed as a whole
            status = export_status()
            assert status["pending"] == 15
            assert status["consecutive_failures"] == 3
            assert status["lag_seconds"] > 0
            # a whole-request failure is not the events' fault: they are left untouched
            assert not PaymentEvent.objects.filter(export_attempts__gt=0).exists()
        finally:
            bq.emulator.start()

        # then: after the restart everything arrives once, in several batches
        _wait_out_backoff()
        result = export_run()
    assert result.exported == 15 and result.batches == 4
    assert export_status()["pending"] == 0
    assert export_status()["consecutive_failures"] == 0
    _assert_exactly_once(bq)


def test_backfill_twice_sends_each_event_once(bq):
    # given: part of the history already in BigQuery, part never sent
    for _ in range(2):
        _payment_lifecycle()
    export_run()
    for _ in range(3):
        _payment_lifecycle()
    PaymentEvent.objects.filter(exported_at__isnull=False).update(exported_at=None)

    # when
    first, second = io.StringIO(), io.StringIO()
    call_command("bigquery_backfill", "--chunk-size", "4", stdout=first, stderr=io.StringIO())
    call_command("bigquery_backfill", stdout=second, stderr=io.StringIO())

    # then
    assert "scanned 15 of 15 events, sent 9, already present 6" in first.getvalue()
    assert "sent 0, already present 15" in second.getvalue()
    assert PaymentEvent.objects.filter(exported_at__isnull=True).count() == 0
    _assert_exactly_once(bq)


def test_backfill_since_a_day_leaves_older_events_alone(bq):
    from datetime import timedelta

    from django.utils import timezone

    _payment_lifecycle()
    old = PaymentEvent.objects.order_by("occurred_at").first()
    PaymentEvent.objects.filter(pk=old.pk).update(occurred_at=timezone.now() - timedelta(days=3))
    today = timezone.now().date().isoformat()

    out = io.StringIO()
    call_command("bigquery_backfill", "--since", today, "--no-progress", stdout=out)

    assert "scanned 2 of 2 events, sent 2" in out.getvalue()
    assert str(old.pk) not in bq.event_ids()


def test_refused_rows_are_recorded_on_the_event_and_retried_until_accepted(bq):
    # given: a table whose amount column drifted to INT64, so a fractional amount is refused
    client = bigquery_client()
    client.delete_table(bq.table)
    drifted = [
        bigquery.SchemaField("amount", "INT64") if f.name == "amount" else f for f in EVENTS_SCHEMA
    ]
    client.create_table(bigquery.Table(bq.table, schema=drifted))
    whole = PaymentFactory(amount=Decimal("1500"), currency="JPY")  # written "1500"
    event_record(type=EventType.PAYMENT_CREATED, payment=whole)
    fractional = PaymentFactory(amount=Decimal("100.50"))
    bad = event_record(type=EventType.PAYMENT_CREATED, payment=fractional)

    # when: two runs while the row cannot be stored
    first = export_run()
    second = export_run()

    # then: the good row went through, the bad one waits with its error
    assert (first.exported, first.refused) == (1, 1)
    assert (second.exported, second.refused) == (0, 1)
    bad.refresh_from_db()
    assert bad.exported_at is None
    assert bad.export_attempts == 2
    # the emulator names the first column as the location; BigQuery itself names `amount`
    assert "Cannot convert value" in bad.export_error
    assert export_status()["with_errors"] == 1

    # when: the table is fixed (dropped and set up again), the next run sends it
    client.delete_table(bq.table)
    bigquery_setup()
    third = export_run()
    assert (third.exported, third.refused) == (1, 0)
    bad.refresh_from_db()
    assert bad.exported_at is not None and bad.export_error == ""
    assert bq.event_ids() == [str(bad.pk)]


def test_export_is_off_without_a_project_and_sends_everything_once_turned_on(bq):
    _payment_lifecycle()

    with override_settings(BIGQUERY_PROJECT=""):
        result = export_run()
        status = export_status()
    assert result.enabled is False and result.exported == 0
    assert status["enabled"] is False and status["pending"] == 3
    assert PaymentEvent.objects.filter(exported_at__isnull=True).count() == 3

    assert export_run().exported == 3
    _assert_exactly_once(bq)


def test_bigquery_setup_is_safe_to_run_twice_and_adds_missing_columns(bq):
    client = bigquery_client()
    table = client.get_table(bq.table)
    before = [f.name for f in table.schema]

    out = io.StringIO()
    call_command("bigquery_setup", stdout=out)
    call_command("bigquery_setup", stdout=out)

    assert "table" in out.getvalue() and "already there" in out.getvalue()
    assert [f.name for f in client.get_table(bq.table).schema] == before
    # the view still answers after being rewritten
    assert bq.query("SELECT COUNT(*) AS n FROM {view}") == [{"n": 0}]


@pytest.mark.django_db(transaction=True)
def test_concurrent_exporters_never_send_an_event_twice(bq):
    # given a backlog bigger than one batch, and four exporters started at once
    # (the emulator ignores insertId, so a double send would show as a duplicate row)
    import threading

    from django.db import connection

    from reporting.export.services import export_batch

    for _ in range(20):
        _payment_lifecycle()
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def exporter():
        start.wait()
        try:
            while export_batch(batch_size=7).claimed:
                pass
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=exporter) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    # then
    assert errors == []
    assert not PaymentEvent.objects.filter(exported_at__isnull=True).exists()
    _assert_exactly_once(bq)


def test_events_leased_by_a_crashed_exporter_are_sent_once_the_lease_ends(bq):
    # given an exporter that claimed every event and died before sending
    from datetime import timedelta

    from django.utils import timezone

    from reporting.export.services import _claim, export_batch

    _payment_lifecycle()
    claimed = _claim(PaymentEvent.objects.all(), limit=100, order=("occurred_at",))

    # when another exporter runs while the lease lasts, then after it ended
    during = export_batch()
    PaymentEvent.objects.update(export_claimed_until=timezone.now() - timedelta(seconds=1))
    after = export_batch()

    # then
    assert len(claimed) == 3
    assert during.claimed == 0
    assert after.exported == 3
    assert not PaymentEvent.objects.filter(export_claimed_until__isnull=False).exists()
    _assert_exactly_once(bq)


def test_events_without_a_payment_carry_their_merchant_and_no_payment_columns(bq):
    # given: a rejected postback for a merchant, and one nobody could be tied to
    merchant = MerchantFactory(slug="acme-orphan")
    with_merchant = event_record(type=EventType.POSTBACK_REJECTED, merchant=merchant)
    alone = event_record(type=EventType.POSTBACK_REJECTED, payload={"reason": "bad signature"})

    # when
    result = export_run()

    # then
    assert result.exported == 2
    rows = {r["event_id"]: r for r in bq.query("SELECT * FROM {table}")}
    first, second = rows[str(with_merchant.pk)], rows[str(alone.pk)]
    assert (first["merchant_id"], first["merchant_slug"]) == (merchant.id, "acme-orphan")
    assert (second["merchant_id"], second["merchant_slug"]) == (None, None)
    for row in (first, second):
        assert row["payment_id"] is None and row["amount"] is None and row["is_test"] is None
        assert row["customer_email_sha256"] is None
    assert second["payload"] == {"reason": "bad signature"}


def test_a_failed_request_mid_run_keeps_what_was_accepted_and_frees_the_rest(bq, monkeypatch):
    # given: four batches' worth of events, and BigQuery failing the second request
    # while the run has more than one batch in flight
    from reporting.export import services

    for _ in range(4):
        _payment_lifecycle()
    real_insert = services.bigquery_insert_rows
    calls = []

    def second_request_fails(**kwargs):
        calls.append(len(kwargs["rows"]))
        if len(calls) == 2:
            raise ConnectionError("BigQuery went away")
        return real_insert(**kwargs)

    monkeypatch.setattr(services, "bigquery_insert_rows", second_request_fails)

    # when
    with override_settings(BIGQUERY_BATCH_SIZE=3):
        failed = export_run()

    # then: the batches sent around the failure are recorded, none is left leased
    assert failed.error and "BigQuery went away" in failed.error
    assert services.SENDS_IN_FLIGHT > 1 and len(calls) >= 2
    assert failed.exported == PaymentEvent.objects.filter(exported_at__isnull=False).count()
    assert failed.exported in {3, 6}  # the first batch, and the third if it was in flight
    assert not PaymentEvent.objects.filter(export_claimed_until__isnull=False).exists()
    assert not PaymentEvent.objects.filter(export_attempts__gt=0).exists()
    assert sorted(bq.event_ids()) == sorted(
        str(pk)
        for pk in PaymentEvent.objects.filter(exported_at__isnull=False).values_list(
            "id", flat=True
        )
    )

    # when BigQuery is back, the next run sends the rest, each event once
    monkeypatch.setattr(services, "bigquery_insert_rows", real_insert)
    _wait_out_backoff()
    with override_settings(BIGQUERY_BATCH_SIZE=3):
        assert export_run().exported == 12 - failed.exported
    _assert_exactly_once(bq)


def test_an_export_batch_takes_the_same_queries_whatever_its_size(bq):
    # given
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reporting.export.services import export_batch

    for _ in range(6):
        _payment_lifecycle()

    # when: a batch of 3 events, then one of 15
    with CaptureQueriesContext(connection) as small:
        assert export_batch(batch_size=3).exported == 3
    with CaptureQueriesContext(connection) as large:
        assert export_batch(batch_size=15).exported == 15

    # then: claim (SELECT … FOR UPDATE, lease UPDATE) and record (one UPDATE), whatever
    # the number of events
    assert len(small.captured_queries) == len(large.captured_queries)
    statements = [q["sql"].split()[0] for q in large.captured_queries]
    assert statements.count("UPDATE") == 2 and statements.count("SELECT") == 1
