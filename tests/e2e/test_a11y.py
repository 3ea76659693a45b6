"""Accessibility in Chromium: axe-core on the shopper pages, the developer pages and the
admin login at phone and desktop widths, visible keyboard focus, and labelled fields.

Screenshots of every page at both widths go under test-output/ (they are what a reviewer
looks at to judge "looks like a payments product").
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.e2e.axe import assert_accessible
from tests.factories import MerchantFactory, PaymentFactory

pytestmark = pytest.mark.e2e

WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
STAFF_PASSWORD = "pw-a11y-12345678"
MERCHANT_NAME = "Corner Bookshop"


@pytest.fixture
def shopper_pages(db) -> dict[str, tuple[str, str]]:
    """Name -> (path, selector that shows the page is ready)."""
    merchant = MerchantFactory(provider="sandbox", name=MERCHANT_NAME)
    # A test payment: the sandbox page settles test payments only.
    pending = PaymentFactory(merchant=merchant, amount="49.50", currency="USD", is_test=True)
    paid = PaymentFactory(merchant=merchant, status="succeeded")
    expired = PaymentFactory(merchant=merchant, status="expired")
    return {
        "sandbox-pay": (f"/sandbox/pay/{pending.provider_reference}", "form.actions"),
        "closed": (f"/integration/pay?id={paid.public_id}", "h1"),
        "expired": (f"/integration/pay?id={expired.public_id}", "h1"),
        "not-found": ("/integration/pay?id=pay_nosuchpayment", "h1"),
        "waiting": (f"/integration/status?id={pending.public_id}", "#waiting"),
    }


DOCS_PAGES = {
    "docs": ("/docs/", ".docs-article h1"),
    "docs-quickstart": ("/docs/quickstart/", ".docs-article h1"),
    "admin-login": ("/admin/login/", "#login-form"),
}
# The two API references are long pages (Redoc's the longest): a test of their own.
API_REFERENCE_PAGES = {
    "swagger": ("/api/docs/", ".swagger-ui .info"),
    "redoc": ("/api/redoc/", ".api-content h1"),
}
STAFF_PAGES = {
    "internal-docs": ("/internal-docs/", ".docs-article h1"),
    "internal-configuration": ("/internal-docs/configuration/", ".docs-article table"),
}


def _check(page, base_url: str, name: str, path: str, ready: str, width: str, folder) -> None:
    page.goto(base_url + path)
    page.wait_for_selector(ready)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
    assert_accessible(page, label=f"{name} at {width} ({path})")


def _staff_login(page, base_url: str) -> None:
    page.goto(base_url + "/admin/login/")
    page.fill("#id_username", "a11y-staff")
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#content")


@pytest.mark.parametrize("width", WIDTHS)
def test_shopper_pages_have_no_serious_axe_violations(
    live_server, browser, shopper_pages, screenshot_dir, width
):
    context = browser.new_context(viewport=WIDTHS[width])
    page = context.new_page()
    for name, (path, ready) in shopper_pages.items():
        _check(page, live_server.url, name, path, ready, width, screenshot_dir)
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_developer_pages_and_admin_login_have_no_serious_axe_violations(
    live_server, browser, screenshot_dir, width
):
    get_user_model().objects.create_user(
        "a11y-staff", "s@example.com", STAFF_PASSWORD, is_staff=True
    )
    context = browser.new_context(viewport=WIDTHS[width])
    page = context.new_page()
    for name, (path, ready) in DOCS_PAGES.items():
        _check(page, live_server.url, name, path, ready, width, screenshot_dir)
    _staff_login(page, live_server.url)
    for name, (path, ready) in STAFF_PAGES.items():
        _check(page, live_server.url, name, path, ready, width, screenshot_dir)
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_api_reference_pages_have_no_serious_axe_violations(
    live_server, browser, screenshot_dir, width
):
    context = browser.new_context(viewport=WIDTHS[width])
    page = context.new_page()
    for name, (path, ready) in API_REFERENCE_PAGES.items():
        _check(page, live_server.url, name, path, ready, width, screenshot_dir)
    context.close()


def _shopper_page(browser, base_url: str, path: str, ready: str, width: str = "phone"):
    context = browser.new_context(viewport=WIDTHS[width])
    page = context.new_page()
    page.goto(base_url + path)
    page.wait_for_selector(ready)
    return context, page


def _px(page, selector: str, prop: str) -> float:
    return float(page.eval_on_selector(selector, f"e => getComputedStyle(e)['{prop}']")[:-2])


@pytest.mark.parametrize("name", ["sandbox-pay", "closed", "expired", "waiting"])
def test_shopper_pages_put_the_merchant_and_the_amount_first(
    live_server, browser, shopper_pages, name
):
    path, ready = shopper_pages[name]
    context, page = _shopper_page(browser, live_server.url, path, ready)

    assert page.text_content(".pay-card .merchant").strip() == MERCHANT_NAME
    amount = page.text_content(".pay-card .amount")
    assert amount.split()[-1] == "USD" and amount.split()[0][-3] == "."  # "49.50 USD"
    assert _px(page, ".pay-card .amount", "fontSize") >= 2 * _px(page, "body", "fontSize")
    context.close()


def test_pay_is_the_primary_action_and_decline_the_secondary_one(
    live_server, browser, shopper_pages, screenshot_dir
):
    path, ready = shopper_pages["sandbox-pay"]
    context, page = _shopper_page(browser, live_server.url, path, ready)

    style = "e => { const s = getComputedStyle(e); return [s.backgroundColor, s.color]; }"
    pay = page.eval_on_selector("button[value=success]", style)
    decline = page.eval_on_selector("button[value=failure]", style)

    assert pay[0] == "rgb(36, 84, 214)"  # the accent colour, filled
    assert decline[0] == "rgb(255, 255, 255)"  # outlined
    assert pay != decline
    page.screenshot(path=str(screenshot_dir / "sandbox-pay-phone.png"))
    context.close()


@pytest.mark.parametrize("name", ["sandbox-pay", "closed", "not-found", "waiting"])
def test_shopper_pages_have_a_favicon_and_no_link_into_the_gateway(
    live_server, browser, shopper_pages, name
):
    path, ready = shopper_pages[name]
    context, page = _shopper_page(browser, live_server.url, path, ready)

    icon = page.get_attribute("link[rel=icon]", "href")
    assert page.request.get(live_server.url + icon).status == 200
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    # Only the skip link, and on a closed page the way back to the merchant (our return
    # route, which sends the shopper on to the merchant's own URL).
    back = ("/integration/success?id=", "/integration/error?id=")
    assert [h for h in hrefs if not h.startswith(("#", *back))] == []
    context.close()


def test_keyboard_focus_is_visible_on_the_pay_button(
    live_server, browser, shopper_pages, screenshot_dir
):
    path, ready = shopper_pages["sandbox-pay"]
    context, page = _shopper_page(browser, live_server.url, path, ready)

    for _ in range(5):  # skip link first, then the form's buttons
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.value") == "success":
            break
    outline = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth), s.outlineColor]; }"
    )
    page.screenshot(path=str(screenshot_dir / "pay-button-focused.png"))

    assert page.evaluate("document.activeElement.value") == "success"
    assert outline[0] == "solid" and outline[1] >= 2
    assert outline[2] == "rgb(245, 158, 11)"  # --focus, distinct from the blue button
    context.close()


@pytest.mark.parametrize(
    ("path", "ready"),
    [("/admin/login/", "#login-form"), ("/api/docs/", ".swagger-ui .info")],
)
def test_form_fields_have_labels(live_server, page, path, ready):
    page.goto(live_server.url + path)
    page.wait_for_selector(ready)
    if path == "/api/docs/":
        page.click(".auth-wrapper .authorize")  # the token field lives in this dialog
        page.wait_for_selector(".modal-ux input")

    unlabelled = page.eval_on_selector_all(
        "input:not([type=hidden]):not([type=submit]):not([type=button]), select, textarea",
        """fields => fields.filter(f => !(f.labels && f.labels.length)
              && !f.getAttribute('aria-label') && !f.getAttribute('aria-labelledby'))
            .map(f => f.outerHTML)""",
    )
    fields = page.locator("input:not([type=hidden]):not([type=submit])").count()

    assert fields >= 1
    assert unlabelled == []
