"""Bansky adapter.

Invoice (from the AimbrellaPay seed): `POST {BANSKY_API_URL}/payments` with
`{"id", "email", "name", "amount", "currency", "type", "successUrl", "errorUrl",
"postbackUrl"}`; the answer carries `url` (and, we assume, `reference`). Bansky requires
a validated customer e-mail.

Postback (ASSUMED: Bansky's postback document is not published yet; this is the one
place to change when it arrives):
- header `X-Bansky-Signature: <hex HMAC-SHA256(BANSKY_POSTBACK_SECRET, raw body)>`, no
  timestamp (so replays are caught by the intake's idempotency, not here);
- body `{"id", "reference", "status", "amount", "currency"}` where `id` is our payment id
  and `status` is one of the keys of `STATUS_MAP` below.
"""

from __future__ import annotations

from django.conf import settings

from foundation.http import provider_client
from providers.base import (
    Invoice,
    InvoiceRequest,
    PostbackRejected,
    Provider,
    ProviderEvent,
    RawPostback,
)
from providers.jsonnum import json_number
from providers.parsing import decimal_or_none, json_object
from providers.signing import lower_headers, require_secret, verify_hex_signature
from providers.transport import post_invoice

STATUS_MAP = {
    "success": "succeeded",
    "succeeded": "succeeded",
    "paid": "succeeded",
    "failed": "failed",
    "declined": "failed",
    "expired": "expired",
    "pending": "pending",
}


class BanskyProvider(Provider):
    key = "bansky"
    label = "Bansky"
    requires_email = True

    def create_invoice(self, request: InvoiceRequest) -> Invoice:
        body = {
            "id": request.payment_id,
            "email": request.customer_email,
            "name": request.customer_name,
            "amount": json_number(request.amount),
            "currency": request.currency,
            "type": request.payment_type,
            "successUrl": request.success_url,
            "errorUrl": request.error_url,
            "postbackUrl": request.postback_url,
        }
        headers = {"Authorization": f"Bearer {settings.BANSKY_API_TOKEN}"}
        url = f"{settings.BANSKY_API_URL.rstrip('/')}/payments"
        data = post_invoice(provider_client(), url, body=body, headers=headers, name="Bansky")
        reference = str(data.get("reference") or data.get("id") or request.payment_id)
        return Invoice(url=data["url"], reference=reference, raw=data)

    def parse_postback(self, postback: RawPostback) -> ProviderEvent:
        secret = require_secret(settings.BANSKY_POSTBACK_SECRET, "Bansky")
        headers = lower_headers(postback.headers)
        verify_hex_signature(
            secret=secret, message=postback.body, signature=headers.get("x-bansky-signature", "")
        )
        data = json_object(postback.body)
        outcome = STATUS_MAP.get(str(data.get("status", "")).lower())
        if not data.get("id") or outcome is None:
            raise PostbackRejected("postback lacks id or a known status", code="malformed")
        return ProviderEvent(
            payment_id=str(data["id"]),
            outcome=outcome,
            provider_reference=str(data.get("reference", "")),
            event_id=str(data.get("eventId", "")),
            paid_amount=decimal_or_none(data.get("amount")),
            paid_currency=str(data.get("currency", "")),
            raw=data,
        )
