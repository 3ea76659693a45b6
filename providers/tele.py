"""Tele.Store adapter.

Invoice (from the Tele seed): `POST {TELE_API_URL}/CreateInvoice` with
`{"amount", "currency": "TUSD", "appId", "partnerInfo": {"id", "email", "name",
"successUrl", "errorUrl", "postbackUrl"}}`; the answer carries `url` (and, we assume,
`invoiceId`). Tele bills in TUSD only: the gateway converts with the stored exchange rate.

Postback (ASSUMED: Tele's postback document is not published yet; this is the one place
to change when it arrives):
- headers `X-Tele-Timestamp` (unix seconds) and
  `X-Tele-Signature: sha256=<hex HMAC-SHA256(TELE_POSTBACK_SECRET, "<timestamp>.<raw body>")>`;
- body `{"eventId", "invoiceId", "status", "amount", "currency", "partnerInfo": {"id"}}`
  where `partnerInfo.id` is our payment id, and `status` is one of the keys of
  `STATUS_MAP` below.
"""

from __future__ import annotations

from django.conf import settings

from foundation.http import provider_client
from providers.base import (
    Invoice,
    InvoiceRequest,
    PostbackRejected,
    Provider,
    ProviderError,
    ProviderEvent,
    RawPostback,
)
from providers.jsonnum import json_number
from providers.parsing import decimal_or_none, json_object
from providers.signing import lower_headers, require_secret, verify_hex_signature, verify_timestamp
from providers.transport import post_invoice

# Tele's invoice statuses to our outcomes. `cancelled` (the shopper closed the invoice in
# Telegram) is final for Tele, so it is a failure for us.
STATUS_MAP = {
    "paid": "succeeded",
    "success": "succeeded",
    "failed": "failed",
    "cancelled": "failed",
    "expired": "expired",
    "pending": "pending",
}


class TeleProvider(Provider):
    key = "tele"
    label = "Tele.Store"
    billing_currency = "TUSD"
    default_currency = "TeleUSD"

    def create_invoice(self, request: InvoiceRequest) -> Invoice:
        if request.provider_amount is None or request.provider_currency != self.billing_currency:
            # Billing the merchant's own amount as TUSD would charge the shopper the wrong
            # sum: refuse rather than guess. The gateway converts before it calls us.
            raise ProviderError(
                "No TUSD amount for this invoice: the payment was not converted.", permanent=True
            )
        body = {
            "amount": json_number(request.provider_amount),
            "currency": "TUSD",
            "appId": settings.TELE_APP_ID,
            "partnerInfo": {
                "id": request.payment_id,
                "email": request.customer_email,
                "name": request.customer_name,
                "successUrl": request.success_url,
                "errorUrl": request.error_url,
                "postbackUrl": request.postback_url,
            },
        }
        headers = {"Authorization": f"Bearer {settings.TELE_API_TOKEN}"}
        url = f"{settings.TELE_API_URL.rstrip('/')}/CreateInvoice"
        data = post_invoice(provider_client(), url, body=body, headers=headers, name="Tele.Store")
        reference = str(data.get("invoiceId") or data.get("id") or request.payment_id)
        return Invoice(url=data["url"], reference=reference, raw=data)

    def parse_postback(self, postback: RawPostback) -> ProviderEvent:
        secret = require_secret(settings.TELE_POSTBACK_SECRET, "Tele.Store")
        headers = lower_headers(postback.headers)
        timestamp = headers.get("x-tele-timestamp", "")
        verify_timestamp(timestamp)
        verify_hex_signature(
            secret=secret,
            message=timestamp.encode() + b"." + postback.body,
            signature=headers.get("x-tele-signature", ""),
        )
        data = json_object(postback.body)
        partner = data.get("partnerInfo") or {}
        outcome = STATUS_MAP.get(str(data.get("status", "")).lower())
        if not isinstance(partner, dict) or not partner.get("id") or outcome is None:
            raise PostbackRejected(
                "postback lacks partnerInfo.id or a known status", code="malformed"
            )
        return ProviderEvent(
            payment_id=str(partner["id"]),
            outcome=outcome,
            provider_reference=str(data.get("invoiceId", "")),
            event_id=str(data.get("eventId", "")),
            paid_amount=decimal_or_none(data.get("amount")),
            paid_currency=str(data.get("currency", "")),
            raw=data,
        )
