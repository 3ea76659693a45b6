"""Merchant API v1: one thin class per operation (parse, call one service, answer)."""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.api.errors import ApiError
from payments.api.inputs import InitPaymentInput
from payments.api.schema import init_payment_schema, payment_detail_schema, payment_list_schema
from payments.currencies import amount_format
from payments.models import PaymentStatus
from payments.selectors import payment_get_for_merchant, payment_list
from payments.services import payment_init, provider_error_for, wrapper_url

IDEMPOTENCY_HEADER = "HTTP_IDEMPOTENCY_KEY"
MAX_IDEMPOTENCY_KEY = 255


class InitPaymentApi(APIView):
    """`POST /api/v1/init-payment`."""

    class OutputSerializer(serializers.Serializer):
        status = serializers.CharField(default="success")
        id = serializers.CharField(help_text="The gateway's payment id (paymentId).")
        url = serializers.URLField(help_text="Send the shopper here.")

    @init_payment_schema
    def post(self, request):
        form = InitPaymentInput(data=request.data)
        form.is_valid(raise_exception=True)
        key = request.META.get(IDEMPOTENCY_HEADER, "").strip() or None
        if key and len(key) > MAX_IDEMPOTENCY_KEY:
            raise ApiError(
                code="validation_error",
                message="The request has invalid fields.",
                errors={"Idempotency-Key": [f"At most {MAX_IDEMPOTENCY_KEY} characters."]},
            )
        principal = request.user
        result = payment_init(
            merchant=principal.merchant,
            token=principal.token,
            is_test=principal.is_test,
            data=form.validated_data,
            idempotency_key=key,
        )
        payment = result.payment
        if payment.status == PaymentStatus.PROVIDER_ERROR:
            raise provider_error_for(payment)
        body = {"status": "success", "id": payment.public_id, "url": wrapper_url(payment)}
        return Response(
            body, status=status.HTTP_200_OK if result.replayed else status.HTTP_201_CREATED
        )


class PaymentOutputSerializer(serializers.Serializer):
    paymentId = serializers.CharField(source="public_id")
    id = serializers.CharField(source="merchant_reference", allow_null=True)
    status = serializers.ChoiceField(choices=PaymentStatus.choices)
    test = serializers.BooleanField(source="is_test")
    amount = serializers.SerializerMethodField()
    currency = serializers.CharField()
    type = serializers.CharField(source="payment_type")
    providerAmount = serializers.SerializerMethodField()
    providerCurrency = serializers.CharField(source="provider_currency")
    exchangeRate = serializers.DecimalField(
        source="exchange_rate",
        max_digits=24,
        decimal_places=10,
        allow_null=True,
        normalize_output=True,
    )
    successUrl = serializers.CharField(source="success_url")
    errorUrl = serializers.CharField(source="error_url")
    postbackUrl = serializers.CharField(source="postback_url")
    url = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    postback = serializers.SerializerMethodField()

    def get_amount(self, payment) -> str:
        return amount_format(payment.amount, payment.currency)

    def get_providerAmount(self, payment) -> str | None:
        if payment.provider_amount is None:
            return None
        return amount_format(payment.provider_amount, payment.provider_currency)

    def get_url(self, payment) -> str:
        return wrapper_url(payment)

    def get_postback(self, payment) -> dict | None:
        deliveries = getattr(payment, "recent_deliveries", None)
        if not deliveries:
            return None
        latest = deliveries[0]
        return {
            "event": latest.event,
            "status": latest.status,
            "attempts": latest.attempt_count,
            "lastStatusCode": latest.last_status_code,
            "nextAttemptAt": latest.next_attempt_at,
            "deliveredAt": latest.delivered_at,
        }


class PaymentDetailApi(APIView):
    """`GET /api/v1/payments/<paymentId>`: the merchant's own payments only."""

    @payment_detail_schema
    def get(self, request, payment_id: str):
        payment = payment_get_for_merchant(merchant=request.user.merchant, public_id=payment_id)
        if payment is None:
            raise NotFound()
        return Response(PaymentOutputSerializer(payment).data)


class PaymentListApi(APIView):
    """`GET /api/v1/payments?id=&status=&created_after=&created_before=`, paginated."""

    class FilterSerializer(serializers.Serializer):
        id = serializers.CharField(required=False, max_length=128)
        status = serializers.ChoiceField(choices=PaymentStatus.choices, required=False)
        created_after = serializers.DateTimeField(required=False)
        created_before = serializers.DateTimeField(required=False)
        # Validated here so a malformed page is a 400, not silently the first page.
        limit = serializers.IntegerField(required=False, min_value=1, max_value=200)
        offset = serializers.IntegerField(required=False, min_value=0)

    class Pagination(LimitOffsetPagination):
        default_limit = 50
        max_limit = 200

    @payment_list_schema
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
        payments = payment_list(
            merchant=request.user.merchant,
            reference=params.get("id"),
            status=params.get("status"),
            created_after=params.get("created_after"),
            created_before=params.get("created_before"),
        )
        paginator = self.Pagination()
        page = paginator.paginate_queryset(payments, request, view=self)
        return paginator.get_paginated_response(PaymentOutputSerializer(page, many=True).data)
