"""A merchant logs in to the portal in Chromium and sees charts drawn from real sandbox payments.

The payments go through the real flow: `POST /api/v1/init-payment` over HTTP to the live
server with a test (sandbox) token, then the signed sandbox postback the sandbox page would
send, posted over HTTP to `/api/payment-verify/sandbox`.
"""

from __future__ import annotations

import re

import pytest
import requests

from payments.models import PaymentStatus, TokenMode
from providers.sandbox import sign_sandbox_postback
from reporting.portal.users import portal_user_create
from tests.factories import MerchantFactory, make_token

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "e2e-Portal-pass-731"
SHOPPERS = [
    ("Zoë Ünal", "EUR", "19.99", "success"),
    ("Łukasz Nowak", "EUR", "5.00", "success"),
    ("東京 太郎", "USD", "120.00", "success"),
    ("Ana Pérez", "USD", "42.50", "failure"),
    ("Sam Smith", "USD", "7.25", "success"),
    ("Kim Lee", "GBP", "60.00", None),  # the shopper never paid: stays pending
]


def _sandbox_postback(
    base_url: str, payment_id: str, reference: str, outcome: str, amount: str, currency: str
) -> requests.Response:
    body, headers = sign_sandbox_postback(
        {
            "eventId": f"evt-{payment_id}",
            "reference": reference,
            "paymentId": payment_id,
            "outcome": outcome,
            "amount": amount,
            "currency": currency,
        }
    )
    return requests.post(
        f"{base_url}/api/payment-verify/sandbox",
        data=body,
        headers={**headers, "Content-Type": "application/json"},
        timeout=10,
    )


def test_merchant_logs_in_and_sees_charts_of_sandbox_payments(live_server, page, screenshot_dir):
    # given: a merchant with a test token, six payments made through the API
    from payments.models import Payment

    merchant = MerchantFactory(slug="e2e-shop", name="E2E Shop", provider="sandbox")
    _, key = make_token(merchant=merchant, mode=TokenMode.TEST)
    portal_user_create(merchant=merchant, email="owner@e2e-shop.example", password=PASSWORD)
    for i, (name, currency, amount, outcome) in enumerate(SHOPPERS):
        answer = requests.post(
            f"{live_server.url}/api/v1/init-payment",
            json={
                "id": f"order-{i}",
                "customerName": name,
                "customerEmail": f"shopper{i}@example.com",
                "amount": amount,
                "currency": currency,
                "successUrl": "https://e2e-shop.example/ok",
                "errorUrl": "https://e2e-shop.example/error",
                "postbackUrl": "https://e2e-shop.example/postbacks",
            },
            headers={"Authorization": f"Token {key}"},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        if outcome:
            payment = Payment.objects.get(public_id=answer.json()["id"])
            result = _sandbox_postback(
                live_server.url,
                payment.public_id,
                payment.provider_reference,
                outcome,
                amount,
                currency,
            )
            assert result.status_code == 200, result.text
    payments = Payment.objects.filter(merchant=merchant)
    assert payments.filter(is_test=True, provider="sandbox").count() == 6
    assert payments.filter(status=PaymentStatus.SUCCEEDED).count() == 4

    # when: the merchant logs in; with no live payments yet the portal opens on test data
    page.goto(f"{live_server.url}/portal/")
    assert "/portal/login/" in page.url
    page.fill("input[name=username]", "owner@e2e-shop.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/portal/$"))
    assert page.locator("[data-testid=test-mode-banner]").is_visible()
    assert page.get_attribute(".mode-switch a.test", "aria-current") == "true"

    # then: the charts carry the real numbers
    assert page.inner_text("[data-kpi=payments]") == "6"
    assert page.inner_text("[data-kpi=succeeded]") == "4"
    assert page.inner_text("[data-kpi=conversion]") == "66.7%"  # as the ring says
    bars = page.locator(".chart-daily .day[data-created='6']")
    assert bars.count() == 1
    assert bars.first.get_attribute("data-succeeded") == "4"
    assert page.locator(".chart-bars .bar[data-name='USD']").get_attribute("data-value") == "3"
    assert (
        page.locator(".chart-bars .bar[data-name='Succeeded']").get_attribute("data-value") == "4"
    )
    # the currency bar names what was paid, in the currency's minor units
    assert "127.25 USD paid" in page.inner_text(".chart-bars .bar[data-name='USD']")
    assert page.locator("svg.chart-ring .rate-value").first.text_content() == "66.7%"
    assert page.locator(".chart").count() == 5
    for chart in page.locator(".chart").all():
        box = chart.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 50
    dashboard_png = screenshot_dir / "portal-dashboard.png"
    page.screenshot(path=str(dashboard_png), full_page=True)

    # and the payments list shows them, with non-ASCII names intact
    page.click(".portal-nav >> text=Payments")
    page.wait_for_url(re.compile(r".*/portal/payments/$"))
    assert page.locator("tr[data-payment]").count() == 6
    amounts = page.locator("td[data-amount]").evaluate_all("els => els.map(e => e.dataset.amount)")
    assert sorted(amounts) == sorted(["19.99", "5.00", "120.00", "42.50", "7.25", "60.00"])
    assert page.locator("text=東京 太郎").count() == 1
    page.screenshot(path=str(screenshot_dir / "portal-payments.png"), full_page=True)
    assert dashboard_png.stat().st_size > 10_000
