"""The developer pages in Chromium: Swagger UI remembers its token, nothing comes from a
CDN, and the internal configuration table fits beside its "On this page" column."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model

from tests.factories import MerchantFactory, PaymentFactory

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 900}
STAFF_PASSWORD = "pw-docs-12345678"


def _staff_login(page, base_url: str) -> None:
    get_user_model().objects.create_user(
        "docs-staff", "staff@example.com", STAFF_PASSWORD, is_staff=True
    )
    page.goto(base_url + "/admin/login/")
    page.fill("#id_username", "docs-staff")
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#content")


def test_swagger_ui_keeps_the_token_across_a_reload(live_server, page, screenshot_dir):
    page.goto(live_server.url + "/api/docs/")
    page.click(".auth-wrapper .authorize")
    page.fill(".modal-ux input[type=text], .modal-ux input[type=password]", "tok_test_123")
    page.click(".modal-ux .auth-btn-wrapper button.authorize")
    page.click(".modal-ux .auth-btn-wrapper button.btn-done, .modal-ux button.close-modal")
    assert page.locator(".auth-wrapper .authorize.locked").count() == 1

    page.reload()
    page.wait_for_selector(".swagger-ui .info")

    # the padlock stays closed, and "Try it out" still sends the token
    assert page.locator(".auth-wrapper .authorize.locked").count() == 1
    page.screenshot(path=str(screenshot_dir / "swagger-authorized-after-reload.png"))
    operation = page.locator("#operations-payments-list_payments")
    operation.locator(".opblock-summary-control").click()
    operation.locator("button.try-out__btn").click()
    with page.expect_request("**/api/v1/payments**") as sent:
        operation.locator("button.execute").click()
    assert sent.value.headers.get("authorization", "").endswith("tok_test_123")


@pytest.mark.parametrize("typed", ["Token tok_test_123", "Bearer tok_test_123", "tok_test_123"])
def test_swagger_ui_takes_the_token_as_the_docs_write_it(live_server, page, typed):
    page.goto(live_server.url + "/api/docs/")
    page.click(".auth-wrapper .authorize")
    page.fill(".modal-ux input[type=text], .modal-ux input[type=password]", typed)
    page.click(".modal-ux .auth-btn-wrapper button.authorize")
    page.click(".modal-ux .auth-btn-wrapper button.btn-done, .modal-ux button.close-modal")

    operation = page.locator("#operations-payments-list_payments")
    operation.locator(".opblock-summary-control").click()
    operation.locator("button.try-out__btn").click()
    with page.expect_request("**/api/v1/payments**") as sent:
        operation.locator("button.execute").click()
    assert sent.value.headers.get("authorization") == "Bearer tok_test_123"


def _pages_to_visit(live_server) -> dict[str, str]:
    payment = PaymentFactory(
        merchant=MerchantFactory(provider="sandbox"), provider="sandbox", is_test=True
    )
    closed = PaymentFactory(merchant=payment.merchant, provider="sandbox", status="succeeded")
    return {
        "/docs/": "main",
        "/docs/quickstart/": "main",
        "/api/docs/": ".swagger-ui .info",
        "/api/redoc/": "redoc h1, [role=navigation], .api-content",
        "/admin/login/": "#login-form",
        f"/sandbox/pay/{payment.provider_reference}": "form",
        f"/integration/status?id={payment.public_id}": "#waiting",
        f"/integration/pay?id={closed.public_id}": "h1",
        "/integration/pay?id=nope": "h1",
    }


def test_no_page_fetches_anything_from_another_origin(live_server, browser):
    # CSP off: the policy would block an off-origin fetch before it became a request, and
    # this test is about what the pages ask for, not about what the policy lets through.
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    pages = _pages_to_visit(live_server)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    for path, ready in pages.items():
        page.goto(live_server.url + path)
        page.wait_for_selector(ready)
        page.wait_for_load_state("networkidle")
    _staff_login(page, live_server.url)  # then the staff-only pages
    for path in ("/internal-docs/", "/internal-docs/configuration/"):
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")

    ours = urlsplit(live_server.url).netloc
    elsewhere = [url for url in requested if urlsplit(url).scheme in ("http", "https")
                 and urlsplit(url).netloc != ours]  # fmt: skip
    assert elsewhere == []
    assert len(requested) > len(pages)  # the pages' own scripts and styles were seen
    assert any(url.endswith("/api/redoc/redoc.standalone.js") for url in requested)
    context.close()


def test_configuration_table_fits_beside_the_on_this_page_column(
    live_server, browser, screenshot_dir
):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    _staff_login(page, live_server.url)
    page.goto(live_server.url + "/internal-docs/configuration/")
    table = page.locator("article table").first
    table.wait_for()

    table_box = table.bounding_box()
    article_box = page.locator(".docs-article").bounding_box()
    toc = page.locator(".docs-toc")
    page.screenshot(path=str(screenshot_dir / "configuration-1280.png"))

    assert table_box["x"] + table_box["width"] <= article_box["x"] + article_box["width"] + 1
    if toc.count():
        toc_box = toc.bounding_box()
        assert toc.locator("a").count() > 0  # no empty "On this page" column
        assert table_box["x"] + table_box["width"] <= toc_box["x"]
    # the whole table is visible at this width: no scrolling inside it either
    assert table.evaluate("t => t.scrollWidth <= t.clientWidth")
    # the page itself does not scroll sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
    context.close()
