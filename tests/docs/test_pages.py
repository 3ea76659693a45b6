"""Docs pages: who may read them, what they render, and that no internal link is broken."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest

from docsite.rendering import docs_section_pages

from .conftest import DOCS_ROOT

PUBLIC_PAGES = sorted(p.stem for p in (DOCS_ROOT / "public").glob("*.md"))
INTERNAL_PAGES = sorted(p.stem for p in (DOCS_ROOT / "internal").glob("*.md"))


def _url(section: str, slug: str) -> str:
    root = "/docs/" if section == "public" else "/internal-docs/"
    return root if slug == "index" else f"{root}{slug}/"


class _Links(HTMLParser):
    """Collect every href/src and every id of a page."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in {"href", "src"} and value:
                self.links.append(value)
            if name == "id" and value:
                self.ids.add(value)


def _parse(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


# --- access control --------------------------------------------------------------------


@pytest.mark.parametrize("slug", PUBLIC_PAGES)
def test_public_page_is_open_to_anyone(client, slug):
    response = client.get(_url("public", slug))

    assert response.status_code == 200
    assert b"<h1" in response.content


@pytest.mark.parametrize("slug", INTERNAL_PAGES)
def test_internal_page_sends_anonymous_visitors_to_the_staff_login(client, db, slug):
    url = _url("internal", slug)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={url}"


@pytest.mark.parametrize("slug", INTERNAL_PAGES)
def test_internal_page_refuses_logged_in_non_staff(customer_client, slug):
    response = customer_client.get(_url("internal", slug))

    assert response.status_code == 403
    assert b"<h1" not in response.content or b"Internal docs" not in response.content


@pytest.mark.parametrize("slug", INTERNAL_PAGES)
def test_internal_page_is_shown_to_staff(staff_client, slug):
    response = staff_client.get(_url("internal", slug))

    assert response.status_code == 200
    assert b'class="docs-article"' in response.content


def test_internal_docs_refuse_an_inactive_staff_account(client, db):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("gone", password="x", is_staff=True)
    client.force_login(user)
    user.is_active = False
    user.save()

    response = client.get("/internal-docs/")

    assert response.status_code in {302, 403}
    assert b"docs-article" not in response.content


def test_internal_docs_after_a_real_staff_login(client, db):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("ops", password="s3cret-pass!", is_staff=True)

    response = client.post(
        "/admin/login/?next=/internal-docs/runbooks/",
        {"username": "ops", "password": "s3cret-pass!", "next": "/internal-docs/runbooks/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/internal-docs/runbooks/"

    assert client.get("/internal-docs/runbooks/").status_code == 200


@pytest.mark.parametrize("url", ["/docs/no-such-page/", "/docs/index/", "/docs/..%2fsettings/"])
def test_unknown_public_page_is_a_404(client, url):
    assert client.get(url).status_code == 404


def test_unknown_internal_page_is_a_404_for_staff(staff_client):
    assert staff_client.get("/internal-docs/no-such-page/").status_code == 404


def test_public_docs_never_link_to_internal_docs(client):
    for slug in PUBLIC_PAGES:
        html = client.get(_url("public", slug)).content.decode()
        assert "/internal-docs/" not in html, slug


# --- rendering -------------------------------------------------------------------------


def test_every_page_required_by_the_issue_exists():
    required = {
        "index", "quickstart", "authentication", "init-payment", "redirects", "postbacks",
        "statuses", "errors", "idempotency", "test-mode", "no-redirect-flow", "faq",
    }  # fmt: skip
    assert required <= set(PUBLIC_PAGES)
    assert {
        "index", "merchants-and-tokens", "postback-secrets", "exchange-rates", "stats",
        "runbooks", "configuration",
    } <= set(INTERNAL_PAGES)  # fmt: skip


def test_page_renders_tables_highlighted_code_and_a_table_of_contents(client):
    html = client.get("/docs/postbacks/").content.decode()

    assert '<table tabindex="0">' in html  # scrolls on a phone, so it takes keyboard focus
    assert '<div class="highlight"><pre tabindex="0">' in html  # Pygments, server-side
    assert 'class="docs-toc"' in html and 'href="#verify-the-signature"' in html
    assert 'id="verify-the-signature"' in html


def test_a_page_without_sections_has_no_empty_on_this_page_column(client, admin_client):
    html = admin_client.get("/internal-docs/configuration/").content.decode()

    assert 'class="docs-toc"' not in html


def test_highlight_stylesheet_is_generated_by_the_app(client):
    response = client.get("/docs/highlight.css")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert b".highlight .k" in response.content


def test_overview_shows_the_flow_diagram_from_static_files(client):
    html = client.get("/docs/").content.decode()
    src = next(link for link in _parse(html).links if link.endswith("flow.svg"))

    response = client.get(src)

    assert response.status_code == 200
    svg = b"".join(response.streaming_content)
    assert svg.startswith(b"<svg") and b"/integration/pay" in svg


def test_docs_load_nothing_from_other_hosts(client, staff_client):
    pages = [_url("public", s) for s in PUBLIC_PAGES] + ["/api/docs/", "/api/redoc/"]
    for url in pages:
        html = client.get(url).content.decode()
        for tag_src in _parse_assets(html):
            assert not urlsplit(tag_src).netloc, f"{url} loads {tag_src} from another host"


def _parse_assets(html: str) -> list[str]:
    """Scripts, stylesheets and images: what a browser fetches by itself."""

    class Assets(HTMLParser):
        def __init__(self):
            super().__init__()
            self.found: list[str] = []

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag in {"script", "img"} and attrs.get("src"):
                self.found.append(attrs["src"])
            if tag == "link" and attrs.get("href"):
                self.found.append(attrs["href"])

    parser = Assets()
    parser.feed(html)
    return parser.found


def test_docs_pages_have_no_inline_script_or_style(client):
    # A strict CSP (script-src 'self'; style-src 'self') must not break them.
    for url in [_url("public", s) for s in PUBLIC_PAGES] + ["/api/docs/", "/api/redoc/"]:
        html = client.get(url).content.decode()
        assert "<script>" not in html and "<style" not in html, url


def test_base_url_placeholder_is_replaced_by_the_public_base_url(client, settings):
    html = client.get("/docs/quickstart/").content.decode()

    assert "{{ base_url }}" not in html
    assert f"{settings.PUBLIC_BASE_URL}/integration/pay?id=" in html


def test_navigation_lists_every_page_in_order(client):
    titles = [page.title for page in docs_section_pages(section="public")]
    html = client.get("/docs/errors/").content.decode()

    positions = [html.index(f">{title}</a>") for title in titles]
    assert positions == sorted(positions)
    assert titles[0] == "Overview"


# --- link checker ----------------------------------------------------------------------


def _docs_region(html: str) -> str:
    """The docs' own part of a page (navigation and article), without the site's chrome."""
    start, end = html.index("<!-- docs:start -->"), html.index("<!-- docs:end -->")
    return html[start:end] + "".join(f'<link href="{a}">' for a in _parse_assets(html[:start]))


def _check_links(client, start_pages: list[str]) -> list[str]:
    """Follow every same-site link (and asset) of every docs page; return what is broken."""
    broken: list[str] = []
    cache: dict[str, tuple[int, set[str]]] = {}

    def fetch(path: str) -> tuple[int, set[str]]:
        if path not in cache:
            response = client.get(path)
            ids: set[str] = set()
            is_html = "html" in response.get("Content-Type", "")
            if response.status_code == 200 and not response.streaming and is_html:
                ids = _parse(response.content.decode()).ids
            cache[path] = (response.status_code, ids)
        return cache[path]

    for page in start_pages:
        status, _ = fetch(page)
        assert status == 200, page
        for link in _parse(_docs_region(client.get(page).content.decode())).links:
            absolute = urljoin(f"http://testserver{page}", link)
            parts = urlsplit(absolute)
            if parts.scheme not in {"http", "https"} or parts.netloc != "testserver":
                continue  # another site (e.g. standardwebhooks.com), mailto:, ...
            target, fragment = urldefrag(absolute.removeprefix("http://testserver"))
            status, ids = fetch(target)
            if status != 200:
                broken.append(f"{page} -> {link}: HTTP {status}")
            elif fragment and fragment not in ids:
                broken.append(f"{page} -> {link}: no element with id {fragment!r}")
    return broken


def test_no_broken_link_in_public_docs(client):
    pages = [_url("public", s) for s in PUBLIC_PAGES]

    assert _check_links(client, pages) == []


def test_no_broken_link_in_internal_docs(staff_client):
    pages = [_url("internal", s) for s in INTERNAL_PAGES]

    assert _check_links(staff_client, pages) == []


def test_link_checker_reports_a_broken_link(client, tmp_path, settings):
    # given a docs tree with one good and two broken links
    (tmp_path / "public").mkdir()
    (tmp_path / "internal").mkdir()
    (tmp_path / "public" / "index.md").write_text(
        "# Home\n\n[ok](other.md) [gone](missing.md) [bad anchor](other.md#nowhere)\n"
    )
    (tmp_path / "public" / "other.md").write_text("# Other\n\n## Here\n")
    settings.DOCS_ROOT = tmp_path

    broken = _check_links(client, ["/docs/", "/docs/other/"])

    assert broken == [
        "/docs/ -> /docs/missing/: HTTP 404",
        "/docs/ -> /docs/other/#nowhere: no element with id 'nowhere'",
    ]
