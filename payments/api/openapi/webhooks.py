"""The merchant postbacks in the OpenAPI document (OpenAPI 3.1 `webhooks`).

Generated clients (the SDKs' types) get a typed postback body from here. Each event is one
webhook entry; the body serializer is the shape `payments/delivery/wire.py` sends, and a
test holds the two together. drf-spectacular does not carry header parameters into webhook
entries, so `webhook_headers_hook` (a post-processing hook) adds the Standard Webhooks
headers to each.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, OpenApiWebhook, extend_schema
from rest_framework import serializers

from payments.models import PaymentStatus, PostbackEvent


class PostbackBodySerializer(serializers.Serializer):
    """The JSON body of every merchant postback."""

    event = serializers.ChoiceField(choices=PostbackEvent.choices)
    id = serializers.CharField(help_text="Your transaction id (`id` at init-payment).")
    paymentId = serializers.CharField(help_text="The gateway's payment id.")
    status = serializers.ChoiceField(choices=PaymentStatus.choices)
    amount = serializers.CharField(help_text="Decimal string in the currency's minor units.")
    currency = serializers.CharField()
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()
    paidAmount = serializers.CharField(
        required=False, help_text="`payment.flagged` only: what the provider says was paid."
    )
    paidCurrency = serializers.CharField(required=False, help_text="`payment.flagged` only.")
    reviewReason = serializers.CharField(required=False, help_text="`payment.flagged` only.")


WEBHOOK_HEADERS = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": "Stable across retries of one postback: drop repeats you have seen.",
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
        "description": "Unix seconds when this attempt was signed; refuse it if 5 minutes off.",
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": (
            'Space-separated `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, one per '
            "active secret (two while a rotation overlaps): accept the postback if any matches."
        ),
    },
]

_DESCRIPTIONS = {
    PostbackEvent.PAYMENT_SUCCEEDED: "The provider confirmed the payment: credit the order.",
    PostbackEvent.PAYMENT_FAILED: "The shopper declined or the provider refused the payment.",
    PostbackEvent.PAYMENT_EXPIRED: "The payment stayed pending past its time to live.",
    PostbackEvent.PAYMENT_FLAGGED: (
        "The provider reported an amount that differs from the payment's: held for review; "
        "`paidAmount`, `paidCurrency` and `reviewReason` say what happened."
    ),
    PostbackEvent.POSTBACK_TEST: "Sent on request (`POST /api/v1/postbacks/test`); no payment.",
}


def _webhook(event: PostbackEvent) -> OpenApiWebhook:
    return OpenApiWebhook(
        name=event.value,
        decorator=extend_schema(
            summary=event.label,
            description=(
                f"{_DESCRIPTIONS[event]}\n\nSigned per Standard Webhooks with your `whsec_` "
                "secret. Answer any 2xx within the timeout; anything else is retried."
            ),
            request={"application/json": PostbackBodySerializer},
            responses={
                200: OpenApiResponse(description="Received (any 2xx will do)."),
                410: OpenApiResponse(description="Gone: stop sending postbacks to this URL."),
            },
        ),
    )


# One import path each (SPECTACULAR_SETTINGS["WEBHOOKS"] lists them).
PAYMENT_SUCCEEDED = _webhook(PostbackEvent.PAYMENT_SUCCEEDED)
PAYMENT_FAILED = _webhook(PostbackEvent.PAYMENT_FAILED)
PAYMENT_EXPIRED = _webhook(PostbackEvent.PAYMENT_EXPIRED)
PAYMENT_FLAGGED = _webhook(PostbackEvent.PAYMENT_FLAGGED)
POSTBACK_TEST = _webhook(PostbackEvent.POSTBACK_TEST)


def webhook_headers_hook(result: dict, generator, request, public) -> dict:
    """Add the Standard Webhooks headers to every webhook entry (drf-spectacular hook)."""
    for path_item in result.get("webhooks", {}).values():
        for operation in path_item.values():
            operation["parameters"] = list(WEBHOOK_HEADERS)
    return result
