"""The portal's live/test switch in Chromium, right after the demo journey.

The demo shop only has a test key, so its payments are test payments. Issue 15 found the
portal opening on live data (0 payments, an empty chart) with nothing saying which data
was shown; now it opens on test data under a banner, live shows an empty state that says
what to do next, and the choice is kept from page to page until switched back.
"""

from __future__ import annotations

import re

import pytest

from payments.models import Payment, PaymentStatus
from reporting.portal.users import portal_user_create
from tests.e2e.demo_shop import demo_shop_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "e2e-Mode-pass-915"
EMAIL = "owner@demo-shop.example"
BANNER = "[data-testid=test-mode-banner]"
EMPTY_STATE = "[data-testid=empty-state]"


@pytest.fixture
def demo_shop(live_server, settings):
    merchant = demo_shop_create(live_server, settings)
    settings.POSTBACK_ALLOW_PRIVATE = True  # as `make run`: the demo shop is on loopback
    portal_user_create(merchant=merchant, email=EMAIL, password=PASSWORD)
    return merchant


def _buy(page, base_url: str, outcome: str) -> None:
    """Go through the demo once: Buy, then Pay or Decline on the sandbox page."""
    page.goto(f"{base_url}/demo/")
    page.get_by_role("button", name="Buy").click()
    page.wait_for_url("**/sandbox/pay/**")
    page.click(f"button[name=outcome][value={outcome}]")
    page.wait_for_url(re.compile(r".*/demo/(success|error)\?order="))


def _kpi(page, name: str) -> str:
    return page.inner_text(f"[data-kpi={name}]")


def test_portal_opens_on_test_data_after_the_demo_and_switches_to_live_and_back(
    demo_shop, live_server, page, screenshot_dir
):
    # given: the demo journey, once paid and once declined (test payments only)
    _buy(page, live_server.url, "success")
    _buy(page, live_server.url, "failure")
    payments = Payment.objects.filter(merchant=demo_shop)
    assert sorted(payments.values_list("status", flat=True)) == sorted(
        [PaymentStatus.SUCCEEDED, PaymentStatus.FAILED]
    )
    assert set(payments.values_list("is_test", flat=True)) == {True}

    # when: the merchant logs in to the portal
    page.goto(f"{live_server.url}/portal/")
    page.fill("input[name=username]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/portal/")

    # then: test data under a visible banner, the switch says Test
    assert page.locator(BANNER).is_visible()
    assert "Test mode" in page.inner_text(BANNER)
    assert page.get_attribute(".mode-switch [data-mode=test]", "aria-current") == "true"
    assert page.get_attribute(".mode-switch [data-mode=live]", "aria-current") is None
    assert (_kpi(page, "payments"), _kpi(page, "succeeded")) == ("2", "1")
    assert page.locator(EMPTY_STATE).count() == 0
    assert page.locator(".chart").count() == 5
    page.screenshot(path=str(screenshot_dir / "1-test-dashboard.png"), full_page=True)

    # when: switching to live
    page.click(".mode-switch [data-mode=live]")
    page.wait_for_url(re.compile(r".*mode=live"))

    # then: no banner, and an empty state that says what to do next
    assert page.locator(BANNER).count() == 0
    assert page.get_attribute(".mode-switch [data-mode=live]", "aria-current") == "true"
    empty = page.locator(EMPTY_STATE)
    assert empty.is_visible()
    assert "No live payments yet" in empty.inner_text()
    assert "Create a live key" in empty.locator("ol").inner_text()
    assert empty.locator(".next a").all_inner_texts() == ["See test data", "Create a live key"]
    # no zero tiles and empty axes in place of the answer
    assert page.locator("[data-kpi], .chart").count() == 0
    page.screenshot(path=str(screenshot_dir / "2-live-empty-dashboard.png"), full_page=True)

    # and the choice holds on the next page: the payments list is live too, and empty
    page.click(".portal-nav >> text=Payments")
    page.wait_for_url(re.compile(r".*/portal/payments/$"))
    assert page.locator(BANNER).count() == 0
    assert page.locator("tr[data-payment]").count() == 0
    assert "No live payments yet" in page.inner_text("table.payments")
    page.screenshot(path=str(screenshot_dir / "3-live-empty-payments.png"), full_page=True)

    # when: switching back to test from the payments page
    page.click(".mode-switch [data-mode=test]")
    page.wait_for_url(re.compile(r".*mode=test"))

    # then: the demo's payments are there again, under the banner
    assert page.locator(BANNER).is_visible()
    assert page.locator("tr[data-payment]").count() == 2
    page.screenshot(path=str(screenshot_dir / "4-test-payments.png"), full_page=True)

    # and the empty state's own links lead back to test data, or to a live key
    page.goto(f"{live_server.url}/portal/?mode=live")
    page.locator(EMPTY_STATE).get_by_role("link", name="See test data").click()
    page.wait_for_url(re.compile(r".*mode=test"))
    assert _kpi(page, "payments") == "2"
    assert page.locator(BANNER).is_visible()
    page.goto(f"{live_server.url}/portal/?mode=live")
    page.locator(EMPTY_STATE).get_by_role("link", name="Create a live key").click()
    page.wait_for_url(re.compile(r".*/portal/developers/\?mode=live#keys$"))
    assert page.locator("select[name=mode]").input_value() == "live"
