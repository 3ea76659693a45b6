"""The portal's Developers page, driven in Chromium as a merchant would use it.

API keys (create test and live, shown once, last used, revoke), the postback signing
secret (reveal after the password, rotate with an overlap), the postback URL check and a
test postback to a merchant stub on loopback, and the recent deliveries with their
attempts. Each action must leave an audit entry written by `payments.merchants`, the
service module the admin and the CLI call too, and the page must run under the
Content-Security-Policy without a violation (its confirm dialogs and Copy buttons are
script).
"""

from __future__ import annotations

import re

import pytest
import requests
from django.utils import timezone

from payments.delivery.attempts import delivery_attempt
from payments.delivery.outbox import delivery_enqueue
from payments.models import (
    ApiToken,
    AuditEntry,
    Merchant,
    PaymentStatus,
    PostbackDelivery,
    PostbackEvent,
)
from reporting.portal.users import portal_user_create
from tests.factories import MerchantFactory, PaymentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "e2e-Dev-pass-266"
EMAIL = "dev@keys-shop.example"
NEW_KEY = "[data-testid=new-key]"
SECRET = "[data-testid=secret-value]"
# Reports every Content-Security-Policy violation to the test, across navigations.
COLLECT_CSP = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.reportCspViolation(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


class Dialogs:
    """Answers the page's confirm() dialogs as told, and remembers what they asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.accept = True

    def __call__(self, dialog) -> None:
        self.asked.append(dialog.message)
        dialog.accept() if self.accept else dialog.dismiss()


@pytest.fixture
def shop(settings, receiver):
    settings.DEBUG = True  # http:// postback URLs (the stub has no TLS)
    settings.POSTBACK_ALLOW_PRIVATE = True  # the stub listens on loopback
    # On a real provider: the page issues live keys only to such a merchant (a sandbox
    # merchant's refusal is tests/hostile/test_item_18_live_keys_real_providers.py's).
    merchant = MerchantFactory(slug="keys-shop", name="Keys Shop", provider="bansky")
    user = portal_user_create(merchant=merchant, email=EMAIL, password=PASSWORD).user
    # A test payment whose postback failed once (HTTP 500) and then went through.
    receiver.secrets = [merchant.postback_secret]
    receiver.script = [(500, {}, b"busy"), (200, {}, b"ok")]
    payment = PaymentFactory(
        merchant=merchant, is_test=True, status=PaymentStatus.SUCCEEDED, postback_url=receiver.url
    )
    delivery = delivery_enqueue(payment=payment, event=PostbackEvent.PAYMENT_SUCCEEDED)
    delivery_attempt(delivery_id=delivery.pk)
    PostbackDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    delivery_attempt(delivery_id=delivery.pk)
    receiver.requests.clear()
    return merchant, user, delivery


@pytest.fixture
def dev_page(page, live_server):
    page.csp_violations = []
    page.expose_function("reportCspViolation", lambda text: page.csp_violations.append(text))
    page.add_init_script(COLLECT_CSP)
    page.dialogs = Dialogs()
    page.on("dialog", page.dialogs)
    page.goto(f"{live_server.url}/portal/login/")
    page.fill("input[name=username]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/portal/")
    page.click(".portal-nav >> text=Developers")
    page.wait_for_url(re.compile(r".*/portal/developers/$"))
    return page


def _create_key(page, mode: str, label: str) -> str:
    page.select_option("select[name=mode]", mode)
    page.fill("input[name=label]", label)
    page.get_by_role("button", name="Create key").click()
    page.wait_for_selector(NEW_KEY)
    return page.input_value(NEW_KEY)


def _api_status(base_url: str, key: str) -> int:
    answer = requests.get(
        f"{base_url}/api/v1/payments", headers={"Authorization": f"Token {key}"}, timeout=10
    )
    return answer.status_code


def test_merchant_manages_keys_secret_and_postbacks_on_the_developers_page(
    shop, dev_page, live_server, settings, receiver, screenshot_dir
):
    merchant, user, delivery = shop
    page = dev_page
    actor = f"portal:user-{user.pk}"
    shots = screenshot_dir

    # -- recent deliveries: the retried postback with both attempts --------------------
    block = page.locator(f"[data-delivery='{delivery.pk}']")
    assert "2 attempts" in block.inner_text()
    statuses = block.locator("table.attempts tbody tr td[data-label=HTTP]").all_inner_texts()
    assert statuses == ["500", "200"]
    page.screenshot(path=str(shots / "1-developers.png"), full_page=True)
    assert page.csp_violations == []

    # -- a test key: shown once, in full ----------------------------------------------
    test_key = _create_key(page, "test", "shop server")
    assert test_key.startswith("apg_test_")
    token = ApiToken.objects.get(merchant=merchant, label="shop server")
    assert token.mode == "test" and token.revoked_at is None
    page.screenshot(path=str(shots / "2-test-key-created.png"), full_page=True)
    row = page.locator(f"tr[data-token='{token.prefix}']")
    assert row.locator("td[data-label='Last used']").inner_text() == "never"

    # -- a live key, also shown once ---------------------------------------------------
    live_key = _create_key(page, "live", "checkout")
    assert live_key.startswith("apg_live_")
    live_token = ApiToken.objects.get(merchant=merchant, label="checkout")
    assert live_token.mode == "live"
    assert test_key not in page.content()  # the first key is not shown a second time

    # -- then never again: a fresh visit shows only the prefixes -----------------------
    page.goto(f"{live_server.url}/portal/developers/")
    html = page.content()
    assert test_key not in html and live_key not in html
    assert page.locator(NEW_KEY).count() == 0
    assert page.locator(f"tr[data-token='{token.prefix}'] td[data-label=Key]").inner_text() == (
        f"{token.prefix}…"
    )

    # -- last used: the key works against the API and the page says when ---------------
    assert _api_status(live_server.url, test_key) == 200
    page.reload()
    last_used = page.locator(f"tr[data-token='{token.prefix}'] td[data-label='Last used']")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", last_used.inner_text())
    live_row = page.locator(f"tr[data-token='{live_token.prefix}']")
    assert live_row.locator("td[data-label='Last used']").inner_text() == "never"

    # -- revoke the live key: cancelling the confirm dialog keeps it ------------------
    assert _api_status(live_server.url, live_key) == 200
    revoke = live_row.get_by_role("button", name=f"Revoke {live_token.prefix}")
    page.dialogs.accept = False
    revoke.click()
    assert page.dialogs.asked == [f"Revoke {live_token.prefix}…? Requests with it will be refused."]
    live_token.refresh_from_db()
    assert live_token.revoked_at is None

    # -- confirming revokes it, and the API refuses it ---------------------------------
    page.dialogs.accept = True
    revoke.click()
    page.wait_for_selector(".messages li.success")
    assert "revoked" in page.inner_text(".messages")
    assert "revoked" in page.locator(f"tr[data-token='{live_token.prefix}']").inner_text()
    assert _api_status(live_server.url, live_key) == 401
    assert _api_status(live_server.url, test_key) == 200
    page.screenshot(path=str(shots / "3-key-revoked.png"), full_page=True)

    # -- the signing secret: a wrong password shows nothing ----------------------------
    old_secret = merchant.postback_secret
    page.fill("#id_reveal-password", "not-my-password")
    page.get_by_role("button", name="Reveal secret").click()
    page.wait_for_selector("[role=alert].field-error")
    assert page.locator(SECRET).count() == 0
    assert old_secret not in page.content()
    assert not AuditEntry.objects.filter(action="secret.reveal").exists()

    # -- the right password reveals it, once -------------------------------------------
    page.fill("#id_reveal-password", PASSWORD)
    page.get_by_role("button", name="Reveal secret").click()
    page.wait_for_selector(SECRET)
    assert page.input_value(SECRET) == old_secret
    page.screenshot(path=str(shots / "4-secret-revealed.png"), full_page=True)
    page.goto(f"{live_server.url}/portal/developers/")
    assert old_secret not in page.content()
    assert page.locator("[data-testid=secret-masked]").is_visible()

    # -- rotate with an overlap: a new secret, the old one still signs ------------------
    page.fill("#id_rotate-password", PASSWORD)
    page.get_by_role("button", name="Rotate secret").click()
    page.wait_for_selector(SECRET)
    assert page.dialogs.asked[-1].startswith("Create a new signing secret?")
    merchant.refresh_from_db()
    new_secret = page.input_value(SECRET)
    assert new_secret == merchant.postback_secret != old_secret
    assert merchant.previous_postback_secret == old_secret
    assert merchant.previous_secret_expires_at > timezone.now()
    assert "keeps signing too until" in page.inner_text("[data-testid=secret-box]")
    page.screenshot(path=str(shots / "5-secret-rotated.png"), full_page=True)

    # -- the postback URL check: a loopback URL is refused when private ranges are -----
    settings.POSTBACK_ALLOW_PRIVATE = False
    page.fill("input[name=url]", receiver.url)
    page.get_by_role("button", name="Send a test postback").click()
    page.wait_for_selector("[data-testid=url-error]")
    assert "loopback" in page.inner_text("[data-testid=url-error]")
    assert page.locator("[data-testid=test-result]").count() == 0
    assert receiver.requests == []

    # -- a test postback to the merchant's stub, and its answer on the page ------------
    settings.POSTBACK_ALLOW_PRIVATE = True
    receiver.secrets = [old_secret, new_secret]
    receiver.script = [(202, {"Content-Type": "application/json"}, b'{"received": "yes"}')]
    page.fill("input[name=url]", receiver.url)
    page.get_by_role("button", name="Send a test postback").click()
    result = page.locator("[data-testid=test-result]")
    result.wait_for()
    assert result.get_attribute("data-delivered") == "true"
    assert page.inner_text("[data-testid=test-status]") == "202"
    assert '{"received": "yes"}' in result.inner_text()
    (received,) = receiver.requests
    assert received.json["event"] == "postback.test"
    assert sorted(received.verified_with) == sorted([old_secret, new_secret])
    page.screenshot(path=str(shots / "6-test-postback.png"), full_page=True)

    # then: every action is in the audit trail, written by the shared services
    entries = list(AuditEntry.objects.filter(actor=actor).order_by("at", "id"))
    assert [e.action for e in entries] == [
        "token.issue",
        "token.issue",
        "token.revoke",
        "secret.reveal",
        "secret.rotate",
        "postback.test",
    ]
    assert {e.target for e in entries} == {f"merchant:{merchant.slug}"}
    assert entries[0].changes == {"prefix": token.prefix, "mode": "test", "label": "shop server"}
    assert entries[2].changes == {"prefix": live_token.prefix, "mode": "live"}
    assert entries[5].changes["status_code"] == 202
    audited = " ".join(str(e.changes) for e in entries)
    for secret in (test_key, live_key, old_secret, new_secret):
        assert secret not in audited
    assert Merchant.objects.get(pk=merchant.pk).postback_secret == new_secret
    # and the pages ran under the CSP without a violation (their script is allowed)
    assert page.csp_violations == []
