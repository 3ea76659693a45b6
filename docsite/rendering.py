"""Turn the Markdown files under `docs/` into HTML pages.

Pages are plain Markdown files, so they read well on a code host too: a page links to
another as `statuses.md` (or `statuses.md#final-states`) and shows a picture as
`flow.svg`; rendering rewrites those to the site's URLs. A page may start with
`title:` and `order:` lines (Python-Markdown's `meta` extension); without them the first
heading is the title and pages sort by file name. `index.md` is the section's front page.

Two substitutions happen before Markdown runs: `{{ base_url }}` becomes the gateway's
`PUBLIC_BASE_URL` and `{{ sdk_… }}` the SDK builds' URLs, versions and checksums
(`docsite/sdk_builds.py`), so install commands are right for this gateway as written; and a
line holding only `[[config-reference]]` becomes the configuration table built from the
settings (`docsite/config_reference.py`), so that table cannot drift from the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from xml.etree.ElementTree import Element

import markdown
from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor
from pygments.formatters import HtmlFormatter

from docsite.sdk_builds import sdk_docs_values

SECTIONS = {
    "public": {"folder": "public", "index": "docsite:public-index", "page": "docsite:public-page"},
    "internal": {
        "folder": "internal",
        "index": "docsite:internal-index",
        "page": "docsite:internal-page",
    },
}
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
VALUE_RE = re.compile(r"\{\{ (\w+) \}\}")
PAGE_LINK_RE = re.compile(r"^(?P<slug>[a-z0-9][a-z0-9-]*)\.md(?P<fragment>#[\w-]*)?$")
CONFIG_MARKER = "[[config-reference]]"
# xcode: every token colour reaches WCAG AA contrast (4.5:1) on the code background;
# "friendly" left comments and shell output at about 3:1.
PYGMENTS_STYLE = "xcode"
# Code blocks, tables and figures scroll sideways on a phone; a scrolling region must take
# keyboard focus (WCAG 2.1.1), or keyboard users cannot reach its hidden part.
FOCUSABLE_SCROLLERS = (
    ('<div class="highlight"><pre>', '<div class="highlight"><pre tabindex="0">'),
    ("<table>", '<table tabindex="0">'),
)


@dataclass(frozen=True)
class DocPage:
    """One rendered page: what the template needs, nothing else."""

    section: str
    slug: str
    title: str
    order: int
    html: str
    toc_html: str


def docs_root() -> Path:
    return Path(getattr(settings, "DOCS_ROOT", settings.BASE_DIR / "docs"))


def section_folder(section: str) -> Path:
    return docs_root() / SECTIONS[section]["folder"]


def page_url(section: str, slug: str) -> str:
    names = SECTIONS[section]
    if slug == "index":
        return reverse(names["index"])
    return reverse(names["page"], kwargs={"page": slug})


class _LinkRewriter(Treeprocessor):
    """Point `page.md` links at the page's URL and bare image names at static files."""

    def __init__(self, md, section: str):
        super().__init__(md)
        self.section = section

    def run(self, root: Element) -> None:
        for element in root.iter("a"):
            href = element.get("href", "")
            match = PAGE_LINK_RE.match(href)
            if match:
                url = page_url(self.section, match["slug"])
                element.set("href", url + (match["fragment"] or ""))
        for element in root.iter("img"):
            src = element.get("src", "")
            if src and "/" not in src and ":" not in src:
                element.set("src", static(f"docsite/{src}"))
        for element in root.iter("p"):
            if _holds_only_an_image(element):
                # A figure keeps a readable size and scrolls on a phone (docs.css); a
                # scrolling region takes keyboard focus, as code blocks and tables do.
                element.tag = "figure"
                element.set("class", "figure")
                element.set("tabindex", "0")


def _holds_only_an_image(element: Element) -> bool:
    children = list(element)
    return (
        len(children) == 1
        and children[0].tag == "img"
        and not (element.text or "").strip()
        and not (children[0].tail or "").strip()
    )


class _DocsExtension(Extension):
    def __init__(self, section: str):
        super().__init__()
        self.section = section

    def extendMarkdown(self, md) -> None:
        md.treeprocessors.register(_LinkRewriter(md, self.section), "apaygate-links", 5)


def _markdown(section: str) -> markdown.Markdown:
    return markdown.Markdown(
        extensions=[
            "meta",
            "tables",
            "fenced_code",
            "codehilite",
            "toc",
            "sane_lists",
            "attr_list",
            _DocsExtension(section),
        ],
        extension_configs={
            "codehilite": {"css_class": "highlight", "guess_lang": False},
            "toc": {"toc_depth": "2-3", "permalink": False},
        },
        output_format="html",
    )


def docs_values() -> tuple[tuple[str, str], ...]:
    """What each `{{ name }}` in a page becomes (a tuple: part of the render cache's key)."""
    base_url = settings.PUBLIC_BASE_URL
    sdk = sdk_docs_values(
        base_url=base_url,
        download_url=lambda filename: reverse("docsite:sdk-download", args=[filename]),
    )
    return tuple(sorted({"base_url": base_url, **sdk}.items()))


def _substitute(text: str, values: tuple[tuple[str, str], ...]) -> str:
    known = dict(values)
    text = VALUE_RE.sub(lambda m: known.get(m[1], m[0]), text)
    if CONFIG_MARKER in text:
        from docsite.config_reference import config_reference_markdown

        text = text.replace(CONFIG_MARKER, config_reference_markdown())
    return text


def _title_from(text: str, slug: str) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return slug.replace("-", " ").capitalize()


@lru_cache(maxsize=128)
def _render(section: str, slug: str, mtime_ns: int, values: tuple[tuple[str, str], ...]) -> DocPage:
    # mtime and values are part of the cache key: an edited file, another PUBLIC_BASE_URL
    # or a rebuilt SDK renders afresh; the config table is rebuilt per request below.
    path = section_folder(section) / f"{slug}.md"
    source = path.read_text(encoding="utf-8")
    md = _markdown(section)
    html = md.convert(_substitute(source, values))
    for plain, focusable in FOCUSABLE_SCROLLERS:
        html = html.replace(plain, focusable)
    meta = getattr(md, "Meta", {})
    body_without_meta = "\n".join(
        line for line in source.splitlines() if not re.match(r"^(title|order):", line)
    )
    title = (meta.get("title") or [_title_from(body_without_meta, slug)])[0]
    order_text = (meta.get("order") or ["1000"])[0]
    return DocPage(
        section=section,
        slug=slug,
        title=title,
        order=int(order_text) if order_text.isdigit() else 1000,
        html=html,
        # A page without h2/h3 headings gets no "On this page" column (an empty one
        # would take width from wide tables such as the configuration reference).
        toc_html=md.toc if md.toc_tokens else "",
    )


def docs_page_render(*, section: str, slug: str) -> DocPage | None:
    """Render one page, or return None when no such page exists (a 404, not a 500)."""
    if section not in SECTIONS or not SLUG_RE.match(slug):
        return None
    path = section_folder(section) / f"{slug}.md"
    if not path.is_file():
        return None
    source_head = path.read_text(encoding="utf-8")
    if CONFIG_MARKER in source_head:
        # Generated content: never serve a cached copy of it.
        return _render.__wrapped__(section, slug, path.stat().st_mtime_ns, docs_values())
    return _render(section, slug, path.stat().st_mtime_ns, docs_values())


def docs_section_pages(*, section: str) -> list[DocPage]:
    """Every page of a section in navigation order (front page first)."""
    pages = []
    for path in sorted(section_folder(section).glob("*.md")):
        if SLUG_RE.match(path.stem):
            page = docs_page_render(section=section, slug=path.stem)
            if page is not None:
                pages.append(page)
    return sorted(pages, key=lambda p: (p.slug != "index", p.order, p.slug))


def pygments_css() -> str:
    """Return the highlighting stylesheet, generated from Pygments (no CDN, no build step)."""
    return HtmlFormatter(style=PYGMENTS_STYLE).get_style_defs(".highlight")
