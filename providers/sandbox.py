"""Sandbox: a built-in provider simulator, and the provider behind every test token.

`create_invoice` makes no network call: the invoice is the gateway's own page at
`/sandbox/pay/<reference>` (see `payments/shopper/sandbox_page.py`), where the shopper presses
Pay or Decline. The page then sends a postback signed like Standard Webhooks with
`SANDBOX_POSTBACK_SECRET` (derived from `SECRET_KEY` when unset) to
`/api/payment-verify/sandbox`, and verification here is the real thing: a sandbox
postback with a bad signature or a stale timestamp is refused like any other.

Body: `{"eventId", "reference", "paymentId", "outcome": "success"|"failure"|"expired",
"amount", "currency"}`.

Test outcomes on demand: a `customerEmail` at `MAGIC_EMAIL_DOMAIN` picks one from the API
alone, as card networks' test numbers do (`declined@sandbox.apaygate.test`). Only the
outage is decided here, at invoice time; the gateway settles the others
(`payments/shopper/sandbox_outcomes.py`), since the sandbox may not touch payments.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets

from django.conf import settings
from standardwebhooks import Webhook, WebhookVerificationError

from providers.base import (
    Invoice,
    InvoiceRequest,
    PostbackRejected,
    Provider,
    ProviderError,
    ProviderEvent,
    RawPostback,
)
from providers.parsing import decimal_or_none, json_object

OUTCOMES = {"success": "succeeded", "failure": "failed", "expired": "expired"}

# customerEmail `<local part>@MAGIC_EMAIL_DOMAIN` -> the test outcome it asks for (the
# outcome names are the sandbox page's buttons). `.test` is reserved (RFC 2606): no real
# shopper has such an address.
MAGIC_EMAIL_DOMAIN = "sandbox.apaygate.test"
MAGIC_OUTCOMES = {
    "paid": "success",
    "declined": "failure",
    "paid-other-amount": "other_amount",
    "expired": "expire",
    "provider-unavailable": "unavailable",
    "postback-delayed": "delayed",
    "postback-twice": "twice",
}


def magic_outcome(email: str) -> str | None:
    """Return the test outcome a magic customer e-mail asks for, or None for any other."""
    local, _, domain = (email or "").lower().partition("@")
    if domain != MAGIC_EMAIL_DOMAIN:
        return None
    return MAGIC_OUTCOMES.get(local)


def sandbox_secret() -> str:
    """Return the sandbox signing secret in `whsec_` form."""
    raw = (
        settings.SANDBOX_POSTBACK_SECRET
        or hashlib.sha256(b"apaygate-sandbox:" + settings.SECRET_KEY.encode()).hexdigest()
    )
    return "whsec_" + base64.b64encode(raw.encode()).decode()


class SandboxProvider(Provider):
    key = "sandbox"
    label = "Sandbox (simulator)"

    def create_invoice(self, request: InvoiceRequest) -> Invoice:
        if magic_outcome(request.customer_email) == "unavailable":
            # Permanent, so this chosen outage does not open the sandbox's circuit breaker
            # for every other test payment.
            raise ProviderError(
                f"The sandbox simulates an outage (customerEmail provider-unavailable@"
                f"{MAGIC_EMAIL_DOMAIN}).",
                kind="unavailable",
                permanent=True,
            )
        reference = "sbx_" + secrets.token_urlsafe(18)
        url = f"{settings.PUBLIC_BASE_URL}/sandbox/pay/{reference}"
        return Invoice(url=url, reference=reference, raw={"simulated": True})

    def parse_postback(self, postback: RawPostback) -> ProviderEvent:
        try:
            text = postback.body.decode("utf-8")
        except UnicodeDecodeError:
            # Standard Webhooks signs text: bytes that are not UTF-8 cannot carry a signature.
            raise PostbackRejected("body is not UTF-8", code="invalid_body") from None
        try:
            # json_parse=False: the body is read by our strict parser, after this.
            Webhook(sandbox_secret()).verify(text, postback.headers, json_parse=False)
        except WebhookVerificationError as exc:
            raise PostbackRejected(str(exc) or "signature does not match") from None
        except ValueError:
            # A signature header that is not "v1,<base64>": the library splits and decodes it.
            raise PostbackRejected("malformed signature header") from None
        data = json_object(postback.body)
        outcome = OUTCOMES.get(str(data.get("outcome", "")))
        if not data.get("paymentId") or outcome is None:
            raise PostbackRejected("postback lacks paymentId or a known outcome", code="malformed")
        return ProviderEvent(
            payment_id=str(data["paymentId"]),
            outcome=outcome,
            provider_reference=str(data.get("reference", "")),
            event_id=str(data.get("eventId", "")),
            paid_amount=decimal_or_none(data.get("amount")),
            paid_currency=str(data.get("currency", "")),
            raw=data,
        )


def sign_sandbox_postback(payload: dict) -> tuple[bytes, dict[str, str]]:
    """Return the body and Standard Webhooks headers of a simulated provider postback."""
    from datetime import UTC, datetime

    body = json.dumps(payload, separators=(",", ":")).encode()
    msg_id = "msg_" + secrets.token_urlsafe(12)
    now = datetime.now(tz=UTC)
    signature = Webhook(sandbox_secret()).sign(msg_id, now, body.decode())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    return body, headers
