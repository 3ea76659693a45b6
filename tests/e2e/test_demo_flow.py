"""The whole journey in Chromium: demo shop Buy → sandbox Pay → success page with the
signed postback the shop received (delivered by a real Celery worker)."""

from __future__ import annotations

import pytest

from payments.models import DeliveryStatus, Payment, PaymentStatus, PostbackDelivery
from tests.e2e.demo_shop import demo_shop_create

# The real-worker fixtures live with the postback tests.
from tests.support.gateway import celery_stack, worker_settings  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.worker]


@pytest.fixture
def demo_shop(live_server, settings, worker_settings):  # noqa: F811
    return demo_shop_create(live_server, settings)


def test_buy_pay_and_see_the_signed_postback(
    demo_shop,
    celery_stack,  # noqa: F811
    page,
    live_server,
    screenshot_dir,
):
    celery_stack.worker_and_beat()

    # the shop
    page.goto(f"{live_server.url}/demo/")
    page.screenshot(path=str(screenshot_dir / "1-shop.png"), full_page=True)
    page.get_by_role("button", name="Buy").click()

    # the sandbox pay page, behind the gateway's redirect
    page.wait_for_url("**/sandbox/pay/**")
    assert "25.00 USD" in page.text_content("[data-testid=amount]")
    page.screenshot(path=str(screenshot_dir / "2-sandbox-pay.png"), full_page=True)
    page.get_by_role("button", name="Pay").click()

    # back at the shop, which shows the verified postback once the worker delivered it
    page.wait_for_url("**/demo/success?order=**")
    page.wait_for_selector("#postbacks", timeout=30_000)
    page.screenshot(path=str(screenshot_dir / "3-success.png"), full_page=True)
    table = page.text_content("#postbacks")
    payment = Payment.objects.get(merchant=demo_shop)
    delivery = PostbackDelivery.objects.get(payment=payment)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.is_test
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.webhook_id in table
    assert "payment.succeeded" in table
    assert "verified" in table
