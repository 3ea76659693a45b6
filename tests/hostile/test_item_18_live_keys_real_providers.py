"""Item 18: a live key only for a merchant on a real provider, and the sandbox never
settles a live payment, whatever SANDBOX_ENABLED says.

A merchant on the sandbox could be given a live key; with the sandbox on, anyone with the
invoice link could press Pay on those live payments and the merchant received a genuinely
signed live `payment.succeeded`.
"""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from payments.merchants import MerchantError, api_token_issue, merchant_routing_set
from payments.models import ApiToken, PaymentStatus, PostbackDelivery, TokenMode
from reporting.portal.users import portal_user_create
from tests.factories import MerchantFactory, PaymentFactory

pytestmark = pytest.mark.django_db


def test_the_service_refuses_a_live_key_for_a_sandbox_merchant():
    merchant = MerchantFactory(provider="sandbox")

    with pytest.raises(MerchantError, match="real provider"):
        api_token_issue(merchant=merchant, mode=TokenMode.LIVE)

    assert not ApiToken.objects.filter(merchant=merchant).exists()
    assert api_token_issue(merchant=merchant, mode=TokenMode.TEST)[0].mode == TokenMode.TEST


@pytest.mark.parametrize("provider", ["tele", "bansky"])
def test_a_merchant_on_a_real_provider_gets_its_live_key(provider):
    token, key = api_token_issue(merchant=MerchantFactory(provider=provider), mode=TokenMode.LIVE)

    assert token.mode == TokenMode.LIVE and key.startswith("apg_live_")


def test_a_merchant_routed_to_the_sandbox_among_real_providers_gets_no_live_key():
    merchant = merchant_routing_set(
        merchant=MerchantFactory(provider="tele"),
        routes=["tele currency=USD", "sandbox"],
        actor="test",
    )

    with pytest.raises(MerchantError, match="real provider"):
        api_token_issue(merchant=merchant, mode=TokenMode.LIVE)


def test_the_cli_refuses_it_with_a_message():
    MerchantFactory(slug="sbx-shop", provider="sandbox")

    with pytest.raises(CommandError, match="real provider"):
        call_command("issue_token", "sbx-shop")


def test_the_portal_refuses_it_with_a_form_error():
    merchant = MerchantFactory(provider="sandbox")
    login = portal_user_create(
        merchant=merchant, email="dev@alpha.example", password="right-horse-battery-9"
    )
    client = Client()
    client.force_login(login.user)

    response = client.post("/portal/developers/keys/", {"mode": "live", "label": "x"})

    assert response.status_code == 400
    assert b"real provider" in response.content
    assert not ApiToken.objects.filter(merchant=merchant, mode=TokenMode.LIVE).exists()


def test_the_admin_refuses_it_with_a_message(admin_client):
    merchant = MerchantFactory(provider="sandbox")

    response = admin_client.post(
        f"/admin/payments/merchant/{merchant.pk}/issue-token/", {"mode": "live"}, follow=True
    )

    assert b"real provider" in response.content
    assert not ApiToken.objects.filter(merchant=merchant).exists()


@pytest.mark.parametrize("sandbox_enabled", [True, False])
def test_the_sandbox_page_never_settles_a_live_payment(client, settings, sandbox_enabled):
    settings.SANDBOX_ENABLED = sandbox_enabled
    live = PaymentFactory(provider_reference="sbx_live_one", is_test=False)

    shown = client.get("/sandbox/pay/sbx_live_one")
    pressed = client.post("/sandbox/pay/sbx_live_one", {"outcome": "success"})

    assert shown.status_code == 404 and pressed.status_code == 404
    live.refresh_from_db()
    assert live.status == PaymentStatus.PENDING
    assert not PostbackDelivery.objects.filter(payment=live).exists()


def test_the_sandbox_page_settles_test_payments(client):
    payment = PaymentFactory(provider_reference="sbx_test_one", is_test=True)

    response = client.post("/sandbox/pay/sbx_test_one", {"outcome": "success"})

    assert response.status_code == 302
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
