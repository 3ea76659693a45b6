"""What staff read in the admin: plural names, amounts in the one format, tokens issued
from the merchant's own page."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib import admin

from payments.models import ApiToken
from payments.tokens import token_digest
from tests.factories import MerchantFactory, PaymentFactory

pytestmark = pytest.mark.django_db

CONSONANT_Y = re.compile(r"[^aeiou]y$")


@pytest.mark.parametrize(
    "model", sorted(admin.site._registry, key=lambda m: m._meta.label), ids=lambda m: m._meta.label
)
def test_every_admin_model_has_a_correct_plural_name(model):
    singular = str(model._meta.verbose_name)
    plural = str(model._meta.verbose_name_plural)

    if CONSONANT_Y.search(singular):  # delivery -> deliveries, entry -> entries
        assert plural == singular[:-1] + "ies"
    assert not re.search(r"[^aeiou]ys$", plural), plural


def test_the_admin_index_says_postback_deliveries(admin_client):
    page = admin_client.get("/admin/").content.decode()

    assert "Postback deliveries" in page
    assert "deliverys" not in page.lower()


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (Decimal("49.5"), "USD", "49.50 USD"),
        (Decimal("1500"), "JPY", "1500 JPY"),
        (Decimal("0.0015"), "BTC", "0.00150000 BTC"),
    ],
)
def test_payment_amounts_are_written_in_the_currency_format(admin_client, amount, currency, shown):
    payment = PaymentFactory(amount=amount, currency=currency, paid_amount=amount)

    listing = admin_client.get("/admin/payments/payment/").content.decode()
    change = admin_client.get(f"/admin/payments/payment/{payment.pk}/change/").content.decode()

    assert shown in listing
    assert change.count(shown) >= 2  # the amount and the paid amount
    raw = format(Decimal(amount).quantize(Decimal("0.00000001")), "f")
    if raw not in shown:  # "49.50000000", as the database stores it
        assert raw not in listing
        assert raw not in change


def test_the_merchant_page_offers_to_issue_a_live_or_test_token(admin_client):
    merchant = MerchantFactory()

    page = admin_client.get(f"/admin/payments/merchant/{merchant.pk}/change/").content.decode()

    action = f'action="/admin/payments/merchant/{merchant.pk}/issue-token/"'
    assert page.count(action) == 2
    assert 'name="mode" value="live"' in page
    assert 'name="mode" value="test"' in page


def test_issuing_a_token_from_the_merchant_page_shows_the_key_once(admin_client):
    merchant = MerchantFactory()

    response = admin_client.post(
        f"/admin/payments/merchant/{merchant.pk}/issue-token/", {"mode": "test"}
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = re.search(r"apg_test_[A-Za-z0-9_-]{43}", response.content.decode()).group(0)
    token = ApiToken.objects.get(digest=token_digest(key))
    assert token.merchant == merchant
    assert token.mode == "test"
    again = admin_client.get(f"/admin/payments/merchant/{merchant.pk}/change/")
    assert key not in again.content.decode()


def test_issuing_a_token_needs_a_post(admin_client):
    merchant = MerchantFactory()

    response = admin_client.get(f"/admin/payments/merchant/{merchant.pk}/issue-token/")

    assert response.status_code == 405
    assert not ApiToken.objects.filter(merchant=merchant).exists()
