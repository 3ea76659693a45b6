"""The hosted waiting page in Chromium: it polls, then forwards the shopper once paid."""

from __future__ import annotations

import pytest

from payments.intake.services import postback_receive
from tests.factories import MerchantFactory, PaymentFactory
from tests.payments.intake.test_postbacks import sandbox_raw

pytestmark = pytest.mark.e2e


def test_waiting_page_forwards_to_the_merchant_when_the_payment_succeeds(
    live_server, page, screenshot_dir
):
    payment = PaymentFactory(
        merchant=MerchantFactory(provider="sandbox"),
        success_url=f"{live_server.url}/healthz?from=merchant-success",
        error_url=f"{live_server.url}/healthz?from=merchant-error",
    )

    page.goto(f"{live_server.url}/integration/status?id={payment.public_id}")
    page.wait_for_selector("#waiting")
    page.screenshot(path=str(screenshot_dir / "1-waiting.png"), full_page=True)
    assert (
        page.text_content("#status-text") == "Waiting for confirmation"
    )  # words, not our status code

    # the provider confirms (inside Telegram, say) while the shopper waits here
    assert postback_receive(provider_key="sandbox", raw=sandbox_raw(payment)).code == "applied"

    page.wait_for_url("**/healthz?from=merchant-success", timeout=20_000)
    page.screenshot(path=str(screenshot_dir / "2-forwarded.png"), full_page=True)


def test_waiting_page_shows_progress_in_words_that_fit_any_provider(
    live_server, page, screenshot_dir
):
    payment = PaymentFactory(merchant=MerchantFactory(provider="sandbox", name="Corner Bookshop"))

    page.goto(f"{live_server.url}/integration/status?id={payment.public_id}")
    page.wait_for_selector("#waiting")
    page.screenshot(path=str(screenshot_dir / "waiting.png"), full_page=True)

    text = page.text_content("#waiting")
    assert page.locator("#waiting [role=progressbar]").count() == 1
    assert page.locator("#waiting .steps li[aria-current=step]").count() == 1
    assert "Corner Bookshop" in text
    assert "Telegram" not in text  # the page serves every no-redirect provider
    assert page.text_content("#status-text") != payment.status  # words, not "pending"
