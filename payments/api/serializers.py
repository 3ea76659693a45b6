"""What the merchant API answers: one serializer per shape, used by the views and the schema.

There are no mirror serializers for the OpenAPI document: `/api/schema/` is generated from
these classes, so the schema cannot drift from the answers. Enum components get stable names
(`PaymentStatus`, `PaymentType`, `PostbackDeliveryStatus`, `PostbackEvent`) through
`SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]`. Amounts are written by
`payments.currencies.amount_format`, the one amount format of every surface.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from payments.currencies import amount_format
from payments.models import DeliveryStatus, Payment, PaymentStatus, PaymentType, PostbackEvent
from payments.services import wrapper_url


class InitPaymentAnswerSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["success"])
    id = serializers.CharField(help_text="The gateway's payment id (paymentId).")
    url = serializers.URLField(help_text="Send the shopper here (the gateway's own link).")


class PostbackStateSerializer(serializers.Serializer):
    """The latest merchant postback of a payment (a `PostbackDelivery` row)."""

    event = serializers.ChoiceField(choices=PostbackEvent.choices)
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    attempts = serializers.IntegerField(source="attempt_count")
    lastStatusCode = serializers.IntegerField(source="last_status_code", allow_null=True)
    nextAttemptAt = serializers.DateTimeField(source="next_attempt_at", allow_null=True)
    deliveredAt = serializers.DateTimeField(source="delivered_at", allow_null=True)


class PaymentSerializer(serializers.Serializer):
    """`GET /api/v1/payments/<paymentId>` and each row of `GET /api/v1/payments`."""

    paymentId = serializers.CharField(source="public_id", help_text="The gateway's payment id.")
    id = serializers.CharField(
        source="merchant_reference", allow_null=True, help_text="Your transaction id, if sent."
    )
    attempt = serializers.IntegerField(
        help_text=(
            "1 for the first payment under your `id`; a new init-payment with the same `id` "
            "after `failed`, `expired` or `provider_error` makes attempt 2, and so on."
        )
    )
    retryOf = serializers.CharField(
        source="retry_of_id",
        allow_null=True,
        help_text="The paymentId of the attempt this one retries (null for attempt 1).",
    )
    status = serializers.ChoiceField(
        choices=PaymentStatus.choices,
        help_text=(
            "Final: `succeeded`, `failed`, `expired` (and `provider_error`: no invoice was made). "
            "Only a verified provider postback moves `pending` to `succeeded` or `failed`."
        ),
    )
    test = serializers.BooleanField(source="is_test", help_text="Made with a test token.")
    amount = serializers.SerializerMethodField(
        help_text="Decimal string with the currency's minor units (`25.00` USD, `1500` JPY)."
    )
    currency = serializers.CharField()
    type = serializers.ChoiceField(source="payment_type", choices=PaymentType.choices)
    providerAmount = serializers.SerializerMethodField(
        help_text="What the provider bills (Tele.Store: TUSD), in its currency's minor units."
    )
    providerCurrency = serializers.CharField(source="provider_currency")
    exchangeRate = serializers.SerializerMethodField(
        help_text="TUSD per unit of `currency` used for this payment."
    )
    successUrl = serializers.CharField(source="success_url")
    errorUrl = serializers.CharField(source="error_url")
    postbackUrl = serializers.CharField(source="postback_url", help_text="Empty when none.")
    url = serializers.SerializerMethodField(help_text="The link to send the shopper to.")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    postback = serializers.SerializerMethodField(help_text="The latest postback, if any.")

    def get_amount(self, payment: Payment) -> str:
        return amount_format(payment.amount, payment.currency)

    def get_providerAmount(self, payment: Payment) -> str | None:
        if payment.provider_amount is None:
            return None
        return amount_format(payment.provider_amount, payment.provider_currency)

    def get_exchangeRate(self, payment: Payment) -> str | None:
        if payment.exchange_rate is None:
            return None
        return format(payment.exchange_rate.normalize(), "f")

    def get_url(self, payment: Payment) -> str:
        return wrapper_url(payment)

    @extend_schema_field(PostbackStateSerializer(allow_null=True))
    def get_postback(self, payment: Payment) -> dict | None:
        deliveries = getattr(payment, "recent_deliveries", None)
        if not deliveries:
            return None
        return PostbackStateSerializer(deliveries[0]).data
