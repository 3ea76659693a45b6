"""The branded 404 and 500 pages in Chromium, with DEBUG off as in production.

Shoppers reach these from stale or mistyped payment links and portal users from old
bookmarks: they must see the branded page, never Django's bare "Not Found" or
"Server Error (500)". A 500 needs a view that fails, so the live server runs with this
module as its URLconf: the project's routes plus two that raise.
"""

from __future__ import annotations

import pytest
from django.urls import include, path

from apaygate import urls as project_urls

pytestmark = pytest.mark.e2e


def _explode(request, **kwargs):
    raise RuntimeError("forced failure for the 500 page test")


urlpatterns = [
    path("integration/explode", _explode),
    path("portal/explode/", _explode),
    path("", include(project_urls.urlpatterns)),
]
handler404 = project_urls.handler404
handler500 = project_urls.handler500


@pytest.fixture
def production_errors(settings):
    """Serve this module's routes with DEBUG off (the live server reads settings per request)."""
    settings.DEBUG = False
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    settings.ROOT_URLCONF = __name__
    return settings


def _open(page, url: str):
    response = page.goto(url)
    page.wait_for_selector(".error-page")
    return response


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/integration/status?id=bad", "Payment not found"),
        ("/integration/no-such-page", "Payment not found"),
        ("/sandbox/pay/no-such-invoice", "Payment not found"),
        ("/portal/no-such-page/", "Page not found"),
        ("/docs/no-such-page/", "Page not found"),
    ],
)
def test_unknown_addresses_get_the_branded_404_page(
    live_server, page, production_errors, screenshot_dir, path, heading
):
    response = _open(page, live_server.url + path)

    assert response.status == 404
    assert page.get_attribute(".error-page", "data-error") == "404"
    assert page.text_content("h1").strip() == heading
    assert "Not Found" not in page.text_content("body")  # Django's bare page says this
    # the stylesheet and the icon load: the page is the branded one, not unstyled HTML
    assert page.evaluate("getComputedStyle(document.body).display") == "flex"
    assert page.locator("link[rel=icon]").count() == 1
    page.screenshot(path=str(screenshot_dir / "404.png"), full_page=True)


def test_shopper_404_has_no_link_into_the_developer_docs(live_server, page, production_errors):
    _open(page, live_server.url + "/integration/status?id=bad")

    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    assert [h for h in hrefs if h.startswith(("/docs", "/api", "/portal"))] == []


def test_portal_404_leads_back_to_the_dashboard(live_server, page, production_errors):
    _open(page, live_server.url + "/portal/no-such-page/")

    assert page.locator(".error-page a[href='/portal/']").count() == 1


@pytest.mark.parametrize(
    ("path", "wording"),
    [
        ("/integration/explode", "Your payment has not been changed"),
        ("/portal/explode/", "The error has been logged"),
    ],
)
def test_a_failing_view_gets_the_branded_500_page(
    live_server, page, production_errors, screenshot_dir, path, wording
):
    response = _open(page, live_server.url + path)

    assert response.status == 500
    assert page.get_attribute(".error-page", "data-error") == "500"
    assert page.text_content("h1").strip() == "Something went wrong on our side"
    assert wording in page.text_content(".error-page")
    page.screenshot(path=str(screenshot_dir / "500.png"), full_page=True)


def test_api_paths_keep_the_json_error_shape(live_server, page, production_errors):
    response = page.request.get(live_server.url + "/api/v1/no-such-resource")

    assert response.status == 404
    assert response.json()["code"] == "not_found"


def test_favicon_ico_resolves_to_the_icon(live_server, page):
    response = page.request.get(live_server.url + "/favicon.ico")

    assert response.status == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
