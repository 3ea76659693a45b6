"""The dashboard: aggregates computed in SQL, drawn as inline SVG, and the Metabase embed."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import jwt
import pytest
from django.utils import timezone

from payments.models import PostbackDelivery
from reporting.metabase import metabase_embed_token
from reporting.portal.selectors import dashboard_stats
from tests.reporting.conftest import make_payment

pytestmark = pytest.mark.django_db

SECRET = "0f" * 32


def _delivery(payment, status: str, n: int = 0) -> PostbackDelivery:
    return PostbackDelivery.objects.create(
        payment=payment,
        webhook_id=f"msg_{payment.public_id[:10]}_{status}_{n}",
        event="payment.succeeded",
        url=payment.postback_url,
        payload={},
        status=status,
    )


def test_dashboard_stats_count_per_day_status_currency_and_rates(merchant_a, merchant_b):
    # given: three days of payments for A, noise for B, one old A payment out of range
    ok1 = make_payment(
        merchant=merchant_a, status="succeeded", amount=Decimal("10.50"), created_days_ago=0
    )
    make_payment(
        merchant=merchant_a,
        status="succeeded",
        amount=Decimal("4.50"),
        currency="EUR",
        created_days_ago=1,
    )
    make_payment(merchant=merchant_a, status="failed", created_days_ago=1)
    make_payment(merchant=merchant_a, status="pending", created_days_ago=2)
    make_payment(merchant=merchant_a, status="succeeded", created_days_ago=40)
    make_payment(merchant=merchant_a, status="succeeded", is_test=True)
    make_payment(merchant=merchant_b, status="succeeded", created_days_ago=0)
    _delivery(ok1, "succeeded")
    _delivery(ok1, "failed", 1)
    _delivery(ok1, "succeeded", 2)
    today = timezone.localdate()

    # when
    stats = dashboard_stats(
        merchant=merchant_a, date_from=today - dt.timedelta(days=6), date_to=today
    )

    # then
    assert stats.total == 4
    assert stats.by_status == {"pending": 1, "succeeded": 2, "failed": 1}
    assert stats.conversion == 0.5
    by_day = {p.day: (p.created, p.succeeded) for p in stats.days}
    assert len(stats.days) == 7
    assert by_day[today] == (1, 1)
    assert by_day[today - dt.timedelta(days=1)] == (2, 1)
    assert by_day[today - dt.timedelta(days=2)] == (1, 0)
    currencies = {c.currency: (c.count, c.succeeded_amount) for c in stats.by_currency}
    assert currencies == {"USD": (3, Decimal("10.50")), "EUR": (1, Decimal("4.50"))}
    assert stats.deliveries == {"succeeded": 2, "failed": 1}
    assert stats.delivery_success_rate == pytest.approx(2 / 3)


def test_status_filter_narrows_charts_but_not_conversion(merchant_a):
    make_payment(merchant=merchant_a, status="succeeded")
    make_payment(merchant=merchant_a, status="failed")
    today = timezone.localdate()

    stats = dashboard_stats(merchant=merchant_a, date_from=today, date_to=today, status="failed")

    assert stats.total == 1
    assert stats.by_status == {"failed": 1}
    assert stats.conversion == 0.5


def test_test_mode_shows_only_sandbox_payments(merchant_a):
    make_payment(merchant=merchant_a, status="succeeded", is_test=True)
    make_payment(merchant=merchant_a, status="failed")
    today = timezone.localdate()

    stats = dashboard_stats(merchant=merchant_a, date_from=today, date_to=today, mode="test")

    assert stats.by_status == {"succeeded": 1}


def test_dashboard_page_draws_charts_from_the_merchants_data(client_a, merchant_a, merchant_b):
    make_payment(merchant=merchant_a, status="succeeded", currency="EUR")
    make_payment(merchant=merchant_a, status="failed", currency="EUR")
    make_payment(merchant=merchant_b, status="succeeded", currency="GBP")

    html = client_a.get("/portal/").content.decode()

    assert html.count('class="chart ') == 5  # daily and two bar charts in HTML, two SVG rings
    today = timezone.localdate().isoformat()
    assert f'data-day="{today}" data-created="2" data-succeeded="1"' in html
    assert 'data-name="EUR" data-value="2"' in html
    assert "GBP" not in html
    assert ">50.0%<" in html  # conversion ring
    assert "2 payments · " in html and " EUR paid" in html  # currency bar: count, paid amount
    assert "<script" not in html and "cdn" not in html.lower()
    assert "<iframe" not in html  # Metabase not configured


def test_dashboard_date_range_filter_is_applied(client_a, merchant_a):
    make_payment(merchant=merchant_a, status="succeeded", created_days_ago=10)
    day = (timezone.localdate() - dt.timedelta(days=10)).isoformat()

    html = client_a.get("/portal/", {"date_from": day, "date_to": day}).content.decode()

    assert re.findall(r'data-day="([^"]+)"', html) == [day]
    assert 'data-kpi="payments">1<' in html


def test_dashboard_escapes_shopper_controlled_currency_text(client_a, merchant_a):
    make_payment(merchant=merchant_a, currency="<b>X</b>")

    html = client_a.get("/portal/").content.decode()

    assert "<b>X</b>" not in html
    assert "&lt;b&gt;X&lt;/b&gt;" in html


def test_embed_url_locks_exactly_the_merchants_id_and_expires(client_a, merchant_a, settings):
    settings.METABASE_SITE_URL = "https://mb.example"
    settings.METABASE_SECRET_KEY = SECRET
    settings.METABASE_DASHBOARD_ID = 7
    before = timezone.now()

    html = client_a.get("/portal/", {"merchant_id": "999"}).content.decode()

    match = re.search(
        r'src="https://mb\.example/embed/dashboard/([^"#]+)#bordered=true&amp;titled=true"', html
    )
    assert match, html
    claims = jwt.decode(match.group(1), SECRET, algorithms=["HS256"])
    assert claims["resource"] == {"dashboard": 7}
    assert claims["params"] == {"merchant_id": merchant_a.pk, "mode": "test"}
    ttl = claims["exp"] - before.timestamp()
    assert 9 * 60 <= ttl <= 10 * 60 + 1


def test_a_tampered_embed_token_is_rejected(merchant_a, merchant_b):
    token = metabase_embed_token(merchant=merchant_a, mode="live", dashboard_id=7, secret=SECRET)
    header, _payload, signature = token.split(".")
    forged = jwt.encode(
        {"resource": {"dashboard": 7}, "params": {"merchant_id": merchant_b.pk}, "exp": 2**31},
        "an-attacker-guess-of-the-secret-key-0000",
        algorithm="HS256",
    )
    swapped = ".".join([header, forged.split(".")[1], signature])

    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(swapped, SECRET, algorithms=["HS256"])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, SECRET, algorithms=["HS256"])
    unsigned = jwt.encode({"params": {"merchant_id": merchant_b.pk}}, None, algorithm="none")
    with pytest.raises(jwt.InvalidAlgorithmError):
        jwt.decode(unsigned, SECRET, algorithms=["HS256"])


def test_an_expired_embed_token_is_rejected(merchant_a):
    issued = timezone.now() - dt.timedelta(minutes=11)
    token = metabase_embed_token(
        merchant=merchant_a, mode="live", dashboard_id=7, secret=SECRET, now=issued
    )

    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(token, SECRET, algorithms=["HS256"])


def test_staff_embed_is_locked_to_the_merchant_they_switched_to(staff_client, merchant_b, settings):
    settings.METABASE_SITE_URL = "https://mb.example"
    settings.METABASE_SECRET_KEY = SECRET
    settings.METABASE_DASHBOARD_ID = 3
    staff_client.post("/portal/merchants/", {"merchant": merchant_b.slug})

    html = staff_client.get("/portal/").content.decode()

    token = re.search(r"/embed/dashboard/([^\"#]+)#", html).group(1)
    assert jwt.decode(token, SECRET, algorithms=["HS256"])["params"] == {
        "merchant_id": merchant_b.pk,
        "mode": "test",
    }
