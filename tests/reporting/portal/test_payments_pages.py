"""Portal payments: search, filters, pagination, detail timeline, and the CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from payments.audit import event_record
from payments.models import DeliveryAttempt, PostbackDelivery
from reporting.portal.payments import CSV_COLUMNS
from reporting.portal.selectors import payment_list
from tests.reporting.conftest import make_payment

pytestmark = pytest.mark.django_db


def _listed_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-payment="([^"]+)"', html)


def _csv_rows(response) -> list[dict]:
    raw = b"".join(response.streaming_content)
    assert raw.startswith("\ufeff".encode())  # BOM so spreadsheets read UTF-8
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def test_search_finds_by_payment_id_merchant_id_and_email(client_a, merchant_a):
    target = make_payment(
        merchant=merchant_a, merchant_reference="INV-2024-777", customer_email="zoe@shop.example"
    )
    make_payment(merchant=merchant_a, merchant_reference="INV-1", customer_email="x@shop.example")

    for q in (target.public_id, "INV-2024-777", "2024-7", "zoe@shop", "ZOE@SHOP.EXAMPLE"):
        html = client_a.get("/portal/payments/", {"q": q}).content.decode()
        assert _listed_ids(html) == [target.public_id], q


def test_filters_by_status_currency_and_date(client_a, merchant_a):
    hit = make_payment(merchant=merchant_a, status="failed", currency="EUR", created_days_ago=3)
    make_payment(merchant=merchant_a, status="failed", currency="USD", created_days_ago=3)
    make_payment(merchant=merchant_a, status="succeeded", currency="EUR", created_days_ago=3)
    make_payment(merchant=merchant_a, status="failed", currency="EUR", created_days_ago=9)
    day = (timezone.localdate() - dt.timedelta(days=3)).isoformat()

    html = client_a.get(
        "/portal/payments/",
        {"status": "failed", "currency": "eur", "date_from": day, "date_to": day},
    ).content.decode()

    assert _listed_ids(html) == [hit.public_id]


def test_list_paginates_fifty_per_page_newest_first(client_a, merchant_a):
    payments = [make_payment(merchant=merchant_a, created_days_ago=i / 100) for i in range(55)]

    first = _listed_ids(client_a.get("/portal/payments/").content.decode())
    second_html = client_a.get("/portal/payments/", {"page": 2}).content.decode()

    assert first == [p.public_id for p in payments[:50]]
    assert _listed_ids(second_html) == [p.public_id for p in payments[50:]]
    assert "Page 2 of 2" in second_html


def test_test_payments_are_listed_only_in_test_mode(client_a, merchant_a):
    live = make_payment(merchant=merchant_a)
    test = make_payment(merchant=merchant_a, is_test=True)

    assert _listed_ids(client_a.get("/portal/payments/").content.decode()) == [live.public_id]
    html = client_a.get("/portal/payments/", {"mode": "test"}).content.decode()
    assert _listed_ids(html) == [test.public_id]


def test_csv_matches_the_filtered_list_exactly_including_non_ascii_names(client_a, merchant_a):
    # given: names a spreadsheet would mangle without UTF-8, and rows the filter drops
    names = ["Zoë Ünal", "Łukasz Żółć", "東京 太郎", "Ολυμπία", "Plain Name"]
    for i, name in enumerate(names):
        make_payment(
            merchant=merchant_a,
            customer_name=name,
            status="succeeded",
            amount=Decimal("12.30"),
            created_days_ago=i / 10,
        )
    make_payment(merchant=merchant_a, customer_name="Dropped Ñame", status="failed")
    params = {"status": "succeeded", "q": "shopper@"}

    # when
    html = client_a.get("/portal/payments/", params).content.decode()
    response = client_a.get("/portal/payments/export.csv", params)

    # then
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="payments-alpha-')
    rows = _csv_rows(response)
    assert [r["payment_id"] for r in rows] == _listed_ids(html)
    assert [r["customer_name"] for r in rows] == names
    assert list(rows[0]) == [name for name, _ in CSV_COLUMNS]
    assert {r["amount"] for r in rows} == {"12.30"}  # the currency's minor units, as in the API
    expected = list(payment_list(merchant=merchant_a, status="succeeded", q="shopper@"))
    assert [r["payment_id"] for r in rows] == [p.public_id for p in expected]


def test_csv_spans_all_pages_not_just_the_first(client_a, merchant_a):
    for _ in range(60):
        make_payment(merchant=merchant_a)

    assert len(_csv_rows(client_a.get("/portal/payments/export.csv"))) == 60


def test_csv_neutralises_spreadsheet_formulas_in_shopper_text(client_a, merchant_a):
    make_payment(
        merchant=merchant_a, customer_name='=HYPERLINK("http://evil")', merchant_reference="+1"
    )

    row = _csv_rows(client_a.get("/portal/payments/export.csv"))[0]

    assert row["customer_name"] == '\'=HYPERLINK("http://evil")'
    assert row["merchant_id"] == "'+1"


def test_csv_is_streamed(client_a, merchant_a):
    make_payment(merchant=merchant_a)

    response = client_a.get("/portal/payments/export.csv")

    assert response.streaming


def test_detail_shows_the_event_timeline_and_every_postback_attempt(client_a, merchant_a):
    payment = make_payment(merchant=merchant_a, status="succeeded")
    event_record(type="payment.created", payment=payment)
    event_record(type="payment.succeeded", payment=payment, payload={"outcome": "success"})
    delivery = PostbackDelivery.objects.create(
        payment=payment,
        webhook_id="msg_detail_1",
        event="payment.succeeded",
        url=payment.postback_url,
        payload={},
        status="succeeded",
        attempt_count=2,
    )
    started = timezone.now()
    DeliveryAttempt.objects.create(
        delivery=delivery, started_at=started, duration_ms=15001, error="read timeout"
    )
    DeliveryAttempt.objects.create(
        delivery=delivery,
        started_at=started + dt.timedelta(seconds=5),
        duration_ms=87,
        status_code=204,
    )

    html = client_a.get(f"/portal/payments/{payment.public_id}/").content.decode()

    assert re.findall(r'data-event="([^"]+)"', html) == ["payment.created", "payment.succeeded"]
    assert "msg_detail_1" in html
    assert "read timeout" in html and "15001 ms" in html
    assert ">204<" in html and "87 ms" in html
    assert f"/portal/payments/{payment.public_id}/postbacks/{delivery.pk}/resend/" in html


def test_a_postback_state_does_not_read_as_the_payments_outcome(client_a, merchant_a):
    payment = make_payment(merchant=merchant_a, status="failed")
    PostbackDelivery.objects.create(
        payment=payment,
        webhook_id="msg_wording_1",
        event="payment.failed",
        url=payment.postback_url,
        payload={},
        status="succeeded",
    )

    html = client_a.get(f"/portal/payments/{payment.public_id}/").content.decode()

    assert '<span class="badge succeeded">Delivered</span>' in html
    assert ">Succeeded<" not in html
