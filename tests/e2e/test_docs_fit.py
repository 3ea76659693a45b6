"""Every public docs page and the demo shop's pages fit a phone (390 px) and a laptop (1280 px).

Measured in Chromium, per page and width (issue 22 item 5 found the postbacks page and the
demo's result pages 700 px wide on a phone, five of seven code blocks of the SDK page
scrolling at 1280 px and constant names broken mid-word in tables):

- the page never scrolls sideways (`scrollWidth` of the document <= the viewport);
- at 1280 px no code block scrolls sideways, and a code line wraps only when it holds a
  token no writer could break (a URL, an id, a signed body: `UNBREAKABLE_TOKEN` or more
  characters without a space); a shorter line that wraps is a line to reformat;
- no word in a table is broken across lines (a run of letters, digits and `_`, so
  `PostbackEvent.PaymentSucceeded` may wrap at its dot but never inside a name), and at
  1280 px no table scrolls; at 390 px a wide table scrolls inside its own box;
- at 1280 px no word anywhere outside code blocks is broken either;
- every SVG figure shows its text at `MIN_FIGURE_TEXT_PX` or more: on a phone it keeps its
  size and scrolls in its own box instead of shrinking to a thumbnail.

The docs pages are found from the files in docs/public (as the site's navigation finds
them), so a new page is measured without touching this test. Screenshots go to test-output/.
"""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from docsite.rendering import docs_section_pages, page_url, section_folder
from payments.delivery.wire import (
    delivery_headers,
    delivery_payload,
    payload_body,
    webhook_id_generate,
)
from payments.models import PaymentStatus
from tests.e2e.demo_shop import demo_shop_create
from tests.factories import PaymentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1280, "height": 800}}
UNBREAKABLE_TOKEN = 48
MIN_FIGURE_TEXT_PX = 11

# One pass over the page; returns a list of problems in words.
MEASURE = r"""
({ wide, unbreakable }) => {
  const problems = [];
  const root = document.documentElement;
  const viewport = window.innerWidth;
  const short = (text) => text.replace(/\s+/g, " ").trim().slice(0, 70);

  if (root.scrollWidth > viewport) {
    // The outermost elements sticking out that no scrolling box of their own holds.
    const held = (e) => {
      for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
        if (getComputedStyle(a).overflowX !== "visible") return true;
      }
      return false;
    };
    const out = (e) => e.getBoundingClientRect().right > viewport + 0.5;
    const culprits = [...document.querySelectorAll("body *")]
      .filter((e) => out(e) && !held(e) && !(e.parentElement && out(e.parentElement)))
      .slice(0, 4)
      .map((e) => `${e.tagName.toLowerCase()}.${e.className} "${short(e.textContent)}"`);
    problems.push(`page is ${root.scrollWidth}px wide at ${viewport}px: ${culprits.join("; ")}`);
  }

  // How many visual rows a range occupies (its boxes grouped by their top).
  const rows = (range) => {
    const tops = new Set();
    for (const rect of range.getClientRects()) {
      if (rect.width > 0.5) tops.add(Math.round(rect.top));
    }
    const sorted = [...tops].sort((a, b) => a - b);
    return sorted.filter((top, i) => i === 0 || top - sorted[i - 1] > 3).length;
  };
  const textNodes = (element) => {
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    const nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    return nodes;
  };
  const brokenWords = (element) => {
    const broken = [];
    for (const node of textNodes(element)) {
      if (node.parentElement.closest("pre")) continue;
      for (const match of node.data.matchAll(/[\p{L}\p{N}_]{2,}/gu)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        if (rows(range) > 1) broken.push(match[0]);
      }
    }
    return broken;
  };

  for (const table of document.querySelectorAll("main table")) {
    const broken = brokenWords(table);
    if (broken.length) problems.push(`table breaks words: ${broken.slice(0, 6).join(", ")}`);
    if (wide && table.scrollWidth > table.clientWidth + 1) {
      const size = `${table.scrollWidth}px in ${table.clientWidth}px`;
      problems.push(`table scrolls (${size}): "${short(table.textContent)}"`);
    }
  }
  if (wide) {
    const broken = brokenWords(document.querySelector("main"));
    if (broken.length) problems.push(`words broken across lines: ${broken.slice(0, 6).join(", ")}`);
  }

  for (const pre of document.querySelectorAll("main pre")) {
    if (!wide) continue;  // on a phone a code block scrolls in its own (focusable) box
    if (pre.scrollWidth > pre.clientWidth + 1) {
      const size = `${pre.scrollWidth}px in ${pre.clientWidth}px`;
      problems.push(`code block scrolls (${size}): "${short(pre.textContent)}"`);
      continue;
    }
    // Each source line as a range: a line spread over several rows wrapped.
    const nodes = textNodes(pre);
    let start = [nodes[0], 0];
    const lines = [];
    for (const node of nodes) {
      let from = 0;
      for (;;) {
        const at = node.data.indexOf("\n", from);
        if (at < 0) break;
        lines.push([start, [node, at]]);
        start = [node, at + 1];
        from = at + 1;
      }
    }
    const last = nodes[nodes.length - 1];
    if (last) lines.push([start, [last, last.data.length]]);
    for (const [[startNode, startOffset], [endNode, endOffset]] of lines) {
      const range = document.createRange();
      range.setStart(startNode, startOffset);
      range.setEnd(endNode, endOffset);
      const text = range.toString();
      const longest = Math.max(0, ...text.split(/\s+/).map((token) => token.length));
      if (rows(range) > 1 && longest < unbreakable) {
        problems.push(`code line wraps (${text.length} characters, reformat it): "${short(text)}"`);
      }
    }
  }

  for (const img of document.querySelectorAll("main img")) {
    if (!/\.svg(\?|$)/.test(img.getAttribute("src") || "")) continue;
    problems.push({ figure: img.getAttribute("src"), width: img.getBoundingClientRect().width });
  }
  return problems;
}
"""


def _svg_text_px(page, base_url: str, src: str, rendered_width: float) -> float:
    """The text size a figure is drawn at: its root font-size scaled by how it is shown."""
    svg = page.request.get(base_url + src).text()
    root = re.search(r"<svg\b[^>]*>", svg)[0]
    natural_width = float(re.search(r'\bwidth="([\d.]+)"', root)[1])
    font_size = float(re.search(r'\bfont-size="([\d.]+)"', root)[1])
    return font_size * rendered_width / natural_width


def _problems(page, base_url: str, width: str) -> list[str]:
    found = page.evaluate(MEASURE, {"wide": width == "laptop", "unbreakable": UNBREAKABLE_TOKEN})
    problems = [p for p in found if isinstance(p, str)]
    for figure in (p for p in found if isinstance(p, dict)):
        text_px = _svg_text_px(page, base_url, figure["figure"], figure["width"])
        if text_px < MIN_FIGURE_TEXT_PX:
            problems.append(f"figure {figure['figure']} draws its text at {text_px:.1f}px")
    return problems


def _public_docs_paths() -> list[str]:
    pages = docs_section_pages(section="public")
    # every file is a page (a page the renderer skipped would go unmeasured)
    assert len(pages) == len(list(section_folder("public").glob("*.md")))
    return [page_url("public", p.slug) for p in pages]


@pytest.fixture
def demo_paths(live_server, settings, client) -> list[str]:
    """The demo shop's pages: the shop, both returns (waiting, and with a verified postback
    in their table), and the page shown when the gateway refuses the shop's request."""
    merchant = demo_shop_create(live_server, settings)
    paid = PaymentFactory(
        merchant=merchant, merchant_reference="demo-9f8e7d6c5b4a", status=PaymentStatus.SUCCEEDED
    )
    failed = PaymentFactory(
        merchant=merchant, merchant_reference="demo-0a1b2c3d4e5f", status=PaymentStatus.FAILED
    )
    for payment, event in ((paid, "payment.succeeded"), (failed, "payment.failed")):
        body = payload_body(delivery_payload(payment=payment, event=event))
        headers = delivery_headers(
            merchant=merchant, webhook_id=webhook_id_generate(), body=body, at=timezone.now()
        )
        answer = client.post(
            "/demo/postback",
            body,
            content_type="application/json",
            headers={k: v for k, v in headers.items() if k.lower() != "content-type"},
        )
        assert answer.status_code < 300, answer.content
    return [
        "/demo/",
        f"/demo/success?order={paid.merchant_reference}",
        f"/demo/error?order={failed.merchant_reference}",
        "/demo/success?order=demo-still-waiting",
    ]


def _visit(
    browser, base_url: str, paths: list[str], folder, widths=tuple(VIEWPORTS)
) -> dict[str, list[str]]:
    failures: dict[str, list[str]] = {}
    for width in widths:
        viewport = VIEWPORTS[width]
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        for path in paths:
            page.goto(base_url + path)
            page.wait_for_load_state("load")
            name = re.sub(r"[^\w]+", "_", path).strip("_") or "root"
            page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
            problems = _problems(page, base_url, width)
            if problems:
                failures[f"{path} at {viewport['width']}px"] = problems
        context.close()
    return failures


def _report(failures: dict[str, list[str]]) -> str:
    return "\n".join(f"{where}:\n  " + "\n  ".join(found) for where, found in failures.items())


# One test per width (one browser context each, as before the split): pytest-xdist runs
# them side by side.
@pytest.mark.parametrize("width", VIEWPORTS)
def test_every_public_docs_page_fits_a_phone_and_a_laptop(
    live_server, browser, screenshot_dir, width
):
    paths = _public_docs_paths()
    assert "/docs/postbacks/" in paths and "/docs/" in paths

    failures = _visit(browser, live_server.url, paths, screenshot_dir, widths=[width])

    assert not failures, _report(failures)


def test_the_demo_shops_pages_fit_a_phone_and_a_laptop(
    live_server, browser, demo_paths, screenshot_dir
):
    failures = _visit(browser, live_server.url, demo_paths, screenshot_dir)

    assert not failures, _report(failures)


def test_the_demo_shops_refusal_page_fits_a_phone(live_server, browser, settings, screenshot_dir):
    # The gateway refuses the shop's request (a revoked token): its JSON answer is shown.
    demo_shop_create(live_server, settings)
    settings.DEMO_API_TOKEN = "apg_test_" + "x" * 40
    for width, viewport in VIEWPORTS.items():
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        page.goto(live_server.url + "/demo/")
        page.get_by_role("button", name="Buy").click()
        page.wait_for_selector("#outcome")
        page.screenshot(path=str(screenshot_dir / f"refused-{width}.png"), full_page=True)
        assert "did not accept" in page.text_content("#outcome")

        problems = _problems(page, live_server.url, width)

        assert not problems, _report({f"refusal page at {viewport['width']}px": problems})
        context.close()


def test_the_measure_catches_what_it_is_meant_to(live_server, browser):
    # The checks above pass on a good page; here each is shown to fail on a bad one.
    context = browser.new_context(viewport=VIEWPORTS["laptop"])
    page = context.new_page()
    page.goto(live_server.url + "/docs/")
    page.evaluate(
        """() => {
        const main = document.querySelector("main");
        main.insertAdjacentHTML("beforeend",
          '<pre id="t-pre">' + "x ".repeat(20) + "y".repeat(300) + "\\n"
          + "short ".repeat(60) + "</pre>"
          + '<table style="width:60px"><tr><td style="overflow-wrap:anywhere">'
          + "PostbackEvent.PaymentSucceeded</td></tr></table>"
          + '<div style="width:2000px">wide</div>');
        const pre = document.getElementById("t-pre");
        pre.style.whiteSpace = "pre-wrap";
        pre.style.overflowWrap = "anywhere";
      }"""
    )

    problems = _problems(page, live_server.url, "laptop")

    joined = "\n".join(problems)
    assert "page is" in joined and "wide at 1280px" in joined
    assert "table breaks words: PaymentSucceeded" in joined or "PostbackEvent" in joined
    assert "code line wraps (360 characters" in joined  # the "short short ..." line
    assert "x x x" not in joined  # the line with a 300-character token may wrap
    page.set_viewport_size(VIEWPORTS["phone"])
    img_style = "min-width:0;width:300px"
    page.evaluate(f"() => {{ document.querySelector('main img').style.cssText = '{img_style}'; }}")
    assert any("draws its text at" in p for p in _problems(page, live_server.url, "phone"))
    context.close()
