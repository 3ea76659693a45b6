"""The portal at a phone's width (390 px) and a laptop's (1280 px), measured in Chromium.

Each page is checked for the layout facts issue 15 found broken: the page never scrolls
sideways (the payments list was 715 px wide on a 390 px phone), the header stays one row
on a laptop and at most two on a phone (it wrapped onto four), every chart label is at
least 11 px (the SVG charts scaled their text down to about 4 px) and no chart label runs
out of its box ("239.49 paic" at desktop width). Screenshots of every page at both widths
go to test-output/.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from payments.delivery.attempts import delivery_attempt
from payments.delivery.outbox import delivery_enqueue
from payments.models import Payment, PaymentStatus, PostbackEvent
from reporting.portal.users import portal_user_create
from tests.factories import MerchantFactory, PaymentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "e2e-Layout-pass-482"
EMAIL = "owner@layout-shop.example"
WIDTHS = {"phone": 390, "laptop": 1280}
HEIGHT = 844
MIN_LABEL_PX = 11
# A header row holds the brand, the mode switch and the account menu (about 45 px).
MAX_HEADER_ROWS = {"phone": 2, "laptop": 1}
MAX_HEADER_HEIGHT = {"phone": 110, "laptop": 70}

# Long and wide values on purpose: a large amount, an 8-place crypto amount, long names.
PAYMENTS = [
    ("USD", "12345.67", PaymentStatus.SUCCEEDED, "Maximilian Alexander Schwarzenegger-Smith"),
    ("USD", "239.49", PaymentStatus.SUCCEEDED, "Zoë Ünal"),
    ("USD", "5.00", PaymentStatus.FAILED, "Ana Pérez"),
    ("EUR", "19.99", PaymentStatus.SUCCEEDED, "Łukasz Nowak"),
    ("JPY", "1500", PaymentStatus.SUCCEEDED, "東京 太郎"),
    ("BTC", "0.00123456", PaymentStatus.SUCCEEDED, "Satoshi"),
    ("GBP", "60.00", PaymentStatus.PENDING, "Kim Lee"),
    ("USD", "7.25", PaymentStatus.EXPIRED, "Sam Smith"),
]

# Measures, in the page, what a person would see: sideways scrolling, header rows, and
# every visible piece of text inside a chart (its rendered size and whether it fits).
LAYOUT_PROBE = """
() => {
  const vw = document.documentElement.clientWidth;
  const describe = (el) => {
    const cls = typeof el.className === "string" ? el.className.trim().split(/\\s+/)[0] : "";
    const text = (el.textContent || "").trim().slice(0, 30);
    return `${el.tagName.toLowerCase()}${cls ? "." + cls : ""} '${text}'`;
  };
  const outside = (box, b, tolerance) => box.left < b.left - tolerance
    || box.right > b.right + tolerance || box.top < b.top - tolerance
    || box.bottom > b.bottom + tolerance;
  const textBox = (node) => {
    const range = document.createRange();
    range.selectNodeContents(node);
    return range.getBoundingClientRect();
  };
  const textNodes = (root) => {
    const found = [];
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      if (walker.currentNode.textContent.trim()) found.push(walker.currentNode);
    }
    return found;
  };
  // Screen-reader-only text (clip: rect(0 0 0 0)) takes no room on screen.
  const screenReaderOnly = (el) => {
    for (let a = el; a; a = a.parentElement) if (getComputedStyle(a).clip !== "auto") return true;
    return false;
  };

  // Rows of the header: children that overlap vertically share a row.
  const header = document.querySelector(".portal-header");
  const headerBoxes = [...header.children].map((c) => [c, c.getBoundingClientRect()])
    .filter(([, r]) => r.width > 0 && r.height > 0).sort(([, a], [, b]) => a.top - b.top);
  let headerRows = 0, rowBottom = -Infinity;
  for (const [, r] of headerBoxes) {
    if (r.top >= rowBottom - 2) { headerRows += 1; rowBottom = r.bottom; }
    else rowBottom = Math.max(rowBottom, r.bottom);
  }

  // Anything drawn right of the viewport (the page would scroll sideways).
  const sticksOut = [];
  for (const el of document.querySelectorAll("main *, header *")) {
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1 || screenReaderOnly(el)) continue;
    if (getComputedStyle(el).visibility === "hidden") continue;
    if (r.right > vw + 0.5) sticksOut.push(`${describe(el)} right=${Math.round(r.right)}`);
  }

  // Any text cut off by a box that hides its overflow (an ellipsis on purpose excepted).
  const cut = [];
  for (const node of textNodes(document.body)) {
    const el = node.parentElement;
    if (!el.closest("main, header") || screenReaderOnly(el)) continue;
    if (el.closest("title, script, style, option, details:not([open]) > :not(summary)")) continue;
    if (getComputedStyle(el).textOverflow === "ellipsis") continue;
    const box = textBox(node);
    if (box.width === 0) continue;
    for (let a = el; a; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (![s.overflowX, s.overflowY].some((o) => o === "hidden" || o === "clip")) continue;
      if (outside(box, a.getBoundingClientRect(), 1)) { cut.push(describe(el)); break; }
    }
  }

  // Chart labels: the size they are drawn at, and whether they stay inside their card.
  const labels = [];
  const clipped = [];
  for (const chart of document.querySelectorAll(".chart, .legend")) {
    for (const node of textNodes(chart)) {
      const el = node.parentElement;
      if (el.closest("title")) continue;
      let px = parseFloat(getComputedStyle(el).fontSize);
      const svg = el.closest("svg");
      const viewBox = svg && svg.viewBox.baseVal;
      // SVG text is scaled with its drawing: the size on screen is font-size x scale.
      if (viewBox && viewBox.width) px = px * svg.getBoundingClientRect().width / viewBox.width;
      const text = node.textContent.trim();
      labels.push({text, px: Math.round(px * 10) / 10});
      const card = el.closest(".card") || chart;
      if (outside(textBox(node), card.getBoundingClientRect(), 0.5)) clipped.push(text);
      const wraps = getComputedStyle(el).display !== "inline";
      if (!svg && wraps && el.scrollWidth > el.clientWidth + 1) clipped.push(`${text} (overflows)`);
    }
  }

  return {
    viewport: vw,
    scrollWidth: document.documentElement.scrollWidth,
    headerHeight: header.getBoundingClientRect().height,
    headerRows,
    headerBoxes: headerBoxes.map(([c, r]) => `${describe(c)} top=${Math.round(r.top)}`),
    sticksOut: sticksOut.slice(0, 10),
    cut: cut.slice(0, 10),
    labels,
    clipped,
  };
}
"""


def _shop(receiver) -> tuple[Payment, str]:
    """Create a merchant with test payments across currencies, and a postback with attempts."""
    merchant = MerchantFactory(
        slug="layout-shop", name="Layout Shop With A Rather Long Name", provider="sandbox"
    )
    portal_user_create(merchant=merchant, email=EMAIL, password=PASSWORD)
    now = timezone.now()
    created = []
    for i, (currency, amount, status, name) in enumerate(PAYMENTS):
        finished = status in {PaymentStatus.SUCCEEDED, PaymentStatus.FAILED}
        payment = PaymentFactory(
            merchant=merchant,
            is_test=True,
            currency=currency,
            amount=Decimal(amount),
            payment_type="crypto" if currency == "BTC" else "fiat",
            status=status,
            paid_amount=Decimal(amount) if status == PaymentStatus.SUCCEEDED else None,
            paid_currency=currency if status == PaymentStatus.SUCCEEDED else "",
            customer_name=name,
            customer_email=f"{name.split()[0].lower()}.a.long.address@customer-mail.example",
            merchant_reference=f"order-2026-{i:05d}-with-a-long-reference",
            postback_url=receiver.url,
            finalized_at=now if finished else None,
        )
        Payment.objects.filter(pk=payment.pk).update(created_at=now - dt.timedelta(days=i * 3))
        created.append(payment)
    # One postback answered 500 then 200: two attempts on the detail page.
    receiver.secrets = [merchant.postback_secret]
    receiver.script = [(500, {}, b"database is locked"), (200, {}, b"ok")]
    delivery = delivery_enqueue(payment=created[0], event=PostbackEvent.PAYMENT_SUCCEEDED)
    delivery_attempt(delivery_id=delivery.pk)
    type(delivery).objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    delivery_attempt(delivery_id=delivery.pk)
    return created[0], merchant.slug


def _log_in(page, base_url: str) -> None:
    page.goto(f"{base_url}/portal/login/")
    page.fill("input[name=username]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/portal/")


@pytest.mark.parametrize("device", list(WIDTHS))
def test_portal_pages_fit_the_screen_with_readable_charts(
    device, live_server, browser, settings, receiver, screenshot_dir
):
    # given: a merchant with test payments in five currencies and a retried postback
    settings.POSTBACK_ALLOW_PRIVATE = True  # the receiver listens on loopback
    payment, _slug = _shop(receiver)
    width = WIDTHS[device]
    context = browser.new_context(viewport={"width": width, "height": HEIGHT})
    page = context.new_page()
    page.set_default_timeout(15_000)
    _log_in(page, live_server.url)
    pages = {
        "dashboard": "/portal/",
        "payments": "/portal/payments/",
        "payment-detail": f"/portal/payments/{payment.public_id}/",
        "developers": "/portal/developers/",
        "live-empty-dashboard": "/portal/?mode=live",  # last: it switches the session to live
    }

    measured = {}
    for name, path in pages.items():
        # when: each page is opened at this width
        page.goto(live_server.url + path)
        page.screenshot(path=str(screenshot_dir / f"{name}-{width}.png"), full_page=True)
        measured[name] = page.evaluate(LAYOUT_PROBE)

    context.close()
    # then: nothing scrolls sideways, the header stays compact
    for name, m in measured.items():
        assert m["scrollWidth"] <= m["viewport"], (name, m["scrollWidth"], m["sticksOut"])
        assert m["sticksOut"] == [], name
        assert m["cut"] == [], name
        assert m["headerRows"] <= MAX_HEADER_ROWS[device], (name, m["headerRows"], m["headerBoxes"])
        assert m["headerHeight"] <= MAX_HEADER_HEIGHT[device], (name, m["headerHeight"])
    # and every chart label is readable and whole
    labels = measured["dashboard"]["labels"]
    texts = " ".join(label["text"] for label in labels)
    assert "12585.16 USD paid" in texts
    assert "0.00123456 BTC paid" in texts
    small = [label for label in labels if label["px"] < MIN_LABEL_PX]
    assert small == []
    assert measured["dashboard"]["clipped"] == []
