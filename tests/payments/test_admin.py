"""The back office: staff see merchants, tokens, payments and rates; actions call services."""

from __future__ import annotations

import re

import pytest

from payments.models import ApiToken, ExchangeRate
from payments.tokens import token_digest
from tests.factories import MerchantFactory, PaymentFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/admin/payments/merchant/",
        "/admin/payments/apitoken/",
        "/admin/payments/payment/?status__exact=pending",
        "/admin/payments/exchangerate/",
    ],
)
def test_changelists_load_for_staff(admin_client, url):
    PaymentFactory()
    assert admin_client.get(url).status_code == 200


def test_payment_page_shows_the_event_timeline_read_only(admin_client):
    payment = PaymentFactory()
    from payments.audit import event_record

    event_record(type="payment.created", payment=payment)

    page = admin_client.get(f"/admin/payments/payment/{payment.pk}/change/").content.decode()

    assert "payment.created" in page
    assert 'name="amount"' not in page  # read-only: no input for the amount


def test_issuing_a_token_from_the_admin_shows_the_key_once(admin_client):
    merchant = MerchantFactory()

    response = admin_client.post(
        "/admin/payments/merchant/",
        {"action": "issue_test_token", "_selected_action": [merchant.pk]},
        follow=True,
    )

    key = re.search(r"apg_test_[A-Za-z0-9_-]{43}", response.content.decode()).group(0)
    assert ApiToken.objects.get(digest=token_digest(key)).merchant == merchant
    assert key not in admin_client.get("/admin/payments/apitoken/").content.decode()


def test_revoke_action_revokes(admin_client):
    from tests.factories import make_token

    token, _key = make_token()
    admin_client.post(
        "/admin/payments/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}
    )

    token.refresh_from_db()
    assert token.revoked_at is not None


def test_editing_a_rate_keeps_the_old_one_as_history(admin_client):
    admin_client.post(
        "/admin/payments/exchangerate/add/", {"currency": "eur", "rate_to_tusd": "1.08"}
    )
    rate = ExchangeRate.objects.get()

    admin_client.post(
        f"/admin/payments/exchangerate/{rate.pk}/change/",
        {"currency": "EUR", "rate_to_tusd": "1.10"},
    )

    rates = list(
        ExchangeRate.objects.filter(currency="EUR")
        .order_by("created_at")
        .values_list("rate_to_tusd", flat=True)
    )
    assert [str(r) for r in rates] == ["1.0800000000", "1.1000000000"]
