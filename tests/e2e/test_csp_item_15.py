"""Item 15, in a real browser: the docs, Swagger UI, ReDoc, portal, sandbox and admin pages
render under the Content-Security-Policy without a single violation."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.factories import MerchantFactory, PaymentFactory

pytestmark = pytest.mark.e2e

# Collects every securitypolicyviolation event the page raises, from the first script on.
COLLECT = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sample);
});
"""


def violations(tab, url: str, *, wait_for: str) -> list[str]:
    tab.goto(url)
    tab.wait_for_selector(wait_for)
    tab.wait_for_timeout(500)  # late injections (ReDoc's styles, Swagger's render)
    return tab.evaluate("window.__csp")


@pytest.fixture
def csp_page(page):
    page.add_init_script(COLLECT)
    return page


def test_public_pages_render_without_csp_violations(live_server, csp_page):
    payment = PaymentFactory(
        merchant=MerchantFactory(provider="sandbox"), provider="sandbox", is_test=True
    )
    pages = {
        "/docs/": "main",
        "/api/docs/": ".swagger-ui .info",
        "/api/redoc/": "redoc h1, [role=navigation], .api-content",
        "/portal/login/": "form",
        "/admin/login/": "#login-form",
        f"/sandbox/pay/{payment.provider_reference}": "form",
        f"/integration/status?id={payment.public_id}": "#waiting",
    }

    found = {path: violations(csp_page, live_server.url + path, wait_for=sel)
             for path, sel in pages.items()}  # fmt: skip

    assert {path: v for path, v in found.items() if v} == {}


def test_admin_and_portal_pages_render_without_csp_violations(live_server, csp_page):
    get_user_model().objects.create_superuser("root", "root@example.com", "pw-12345678")
    csp_page.goto(live_server.url + "/admin/login/")
    csp_page.fill("#id_username", "root")
    csp_page.fill("#id_password", "pw-12345678")
    csp_page.click("input[type=submit]")
    csp_page.wait_for_selector("#content")

    found = {
        path: violations(csp_page, live_server.url + path, wait_for="body")
        for path in ["/admin/", "/admin/payments/payment/", "/portal/"]
    }

    assert {path: v for path, v in found.items() if v} == {}
