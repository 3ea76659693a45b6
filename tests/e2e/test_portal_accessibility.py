"""Accessibility of the portal at 390 px and 1280 px: axe-core, keyboard focus, labels.

Every portal page (login, dashboard, payments, a payment, Developers, and Developers with
a new key and the revealed secret on screen) is run through axe-core (the shared helper
`tests/e2e/axe.py`): no serious or critical violation. Then the keyboard: tabbing through
each page, every element that takes focus shows a focus ring, and every form field has a
name a screen reader reads out.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from payments.delivery.attempts import delivery_attempt
from payments.delivery.outbox import delivery_enqueue
from payments.models import Payment, PaymentStatus, PostbackEvent
from reporting.portal.users import portal_user_create
from tests.e2e.axe import axe_violations, format_violations
from tests.factories import MerchantFactory, PaymentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "e2e-A11y-pass-337"
EMAIL = "owner@a11y-shop.example"
WIDTHS = {"phone": 390, "laptop": 1280}
HEIGHT = 844
MAX_TAB_STOPS = 60
MIN_OUTLINE_PX = 2

# The element that has focus now, and how its focus is drawn.
FOCUSED = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  const text = (el.innerText || el.name || el.id || "").trim().slice(0, 30);
  return {
    what: `${el.tagName.toLowerCase()} '${text}'`,
    outline: s.outlineStyle === "none" ? 0 : parseFloat(s.outlineWidth),
    shadow: s.boxShadow !== "none",
    visible: r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0,
  };
}
"""

# Form fields a person can fill, and those without an accessible name.
UNLABELLED = """
() => [...document.querySelectorAll("input, select, textarea")]
  .filter((el) => el.type !== "hidden")
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label")
    && !el.getAttribute("aria-labelledby") && !el.title)
  .map((el) => el.outerHTML.slice(0, 80))
"""


@pytest.fixture
def shop(settings, receiver):
    settings.POSTBACK_ALLOW_PRIVATE = True  # the postback stub listens on loopback
    merchant = MerchantFactory(slug="a11y-shop", name="A11y Shop", provider="sandbox")
    portal_user_create(merchant=merchant, email=EMAIL, password=PASSWORD)
    now = timezone.now()
    payments = []
    for i, (currency, amount, status) in enumerate(
        [("USD", "25.00", PaymentStatus.SUCCEEDED), ("EUR", "9.99", PaymentStatus.FAILED),
         ("JPY", "1500", PaymentStatus.PENDING)]
    ):  # fmt: skip
        payment = PaymentFactory(
            merchant=merchant,
            is_test=True,
            currency=currency,
            amount=amount,
            status=status,
            postback_url=receiver.url,
        )
        Payment.objects.filter(pk=payment.pk).update(created_at=now - dt.timedelta(days=i))
        payments.append(payment)
    receiver.secrets = [merchant.postback_secret]
    delivery = delivery_enqueue(payment=payments[0], event=PostbackEvent.PAYMENT_SUCCEEDED)
    delivery_attempt(delivery_id=delivery.pk)
    return payments[0]


def _tab_through(page) -> list[dict]:
    """Press Tab until focus comes back round (or MAX_TAB_STOPS); return every stop."""
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    stops: list[dict] = []
    seen = set()
    for _ in range(MAX_TAB_STOPS):
        page.keyboard.press("Tab")
        stop = page.evaluate(FOCUSED)
        if stop is None:
            break
        key = page.evaluate("() => { const e = document.activeElement; return e.outerHTML; }")
        if key in seen:
            break
        seen.add(key)
        stops.append(stop)
    return stops


def _check(page, name: str, problems: dict) -> None:
    """Run axe, the keyboard walk and the label check on the page as it is now."""
    found = axe_violations(page)
    if found:
        problems[f"{name}: axe"] = format_violations(found)
    unlabelled = page.evaluate(UNLABELLED)
    if unlabelled:
        problems[f"{name}: fields without a label"] = unlabelled
    stops = _tab_through(page)
    if len(stops) < 2:
        problems[f"{name}: keyboard"] = f"only {len(stops)} tab stops"
    no_ring = [s["what"] for s in stops if s["outline"] < MIN_OUTLINE_PX and not s["shadow"]]
    hidden = [s["what"] for s in stops if not s["visible"]]
    if no_ring:
        problems[f"{name}: focus not visible on"] = no_ring
    if hidden:
        problems[f"{name}: focus on something off screen"] = hidden


@pytest.mark.parametrize("device", list(WIDTHS))
def test_portal_pages_have_no_serious_axe_violations_and_work_by_keyboard(
    device, shop, live_server, browser, screenshot_dir
):
    width = WIDTHS[device]
    context = browser.new_context(viewport={"width": width, "height": HEIGHT})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("dialog", lambda dialog: dialog.accept())
    base = live_server.url
    problems: dict[str, object] = {}

    # the login page, as a visitor sees it
    page.goto(f"{base}/portal/login/")
    _check(page, "login", problems)
    page.fill("input[name=username]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/portal/")

    pages = {
        "dashboard": "/portal/",
        "payments": "/portal/payments/",
        "payment": f"/portal/payments/{shop.public_id}/",
        "developers": "/portal/developers/",
        "dashboard-live-empty": "/portal/?mode=live",
        "password-change": "/portal/password/",
    }
    for name, path in pages.items():
        page.goto(base + path)
        _check(page, name, problems)
    page.goto(f"{base}/portal/?mode=test")

    # the Developers page with its one-time boxes open: a new key, the revealed secret
    page.goto(f"{base}/portal/developers/")
    page.get_by_role("button", name="Create key").click()
    page.wait_for_selector("[data-testid=new-key]")
    _check(page, "developers-new-key", problems)
    page.fill("#id_reveal-password", PASSWORD)
    page.get_by_role("button", name="Reveal secret").click()
    page.wait_for_selector("[data-testid=secret-value]")
    _check(page, "developers-secret", problems)
    page.fill("#id_rotate-password", "wrong")
    page.get_by_role("button", name="Rotate secret").click()
    page.wait_for_selector("[role=alert].field-error")
    _check(page, "developers-wrong-password", problems)
    page.screenshot(path=str(screenshot_dir / f"developers-error-{width}.png"), full_page=True)

    # the account menu, opened from the keyboard
    page.goto(f"{base}/portal/")
    page.focus(".account summary")
    page.keyboard.press("Enter")
    assert page.locator(".account .menu").is_visible()
    _check(page, "account-menu", problems)
    page.screenshot(path=str(screenshot_dir / f"account-menu-{width}.png"))
    context.close()

    assert problems == {}


@pytest.mark.parametrize("device", list(WIDTHS))
def test_the_staff_merchant_picker_has_no_serious_axe_violations(
    device, shop, live_server, browser
):
    staff = get_user_model().objects.create_user(
        username="staff@gate.example", email="staff@gate.example", password=PASSWORD,
        is_staff=True,
    )  # fmt: skip
    staff.user_permissions.add(Permission.objects.get(codename="view_payment"))
    context = browser.new_context(viewport={"width": WIDTHS[device], "height": HEIGHT})
    page = context.new_page()
    page.goto(f"{live_server.url}/portal/login/")
    page.fill("input[name=username]", "staff@gate.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/portal/merchants/")
    problems: dict[str, object] = {}

    _check(page, "merchant picker", problems)
    page.get_by_role("button", name="Open").click()
    page.wait_for_url(f"{live_server.url}/portal/")
    _check(page, "dashboard as staff", problems)
    context.close()

    assert problems == {}
