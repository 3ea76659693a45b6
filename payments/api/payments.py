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
from payments.api.serializers import PaymentSerializer
from payments.models import PaymentStatus
from payments.selectors import payment_get_for_merchant, payment_list
from payments.services import payment_init, provider_error_for, wrapper_url
from payments.shopper.sandbox_outcomes import sandbox_outcome_on_init

IDEMPOTENCY_HEADER = "HTTP_IDEMPOTENCY_KEY"
MAX_IDEMPOTENCY_KEY = 255


class InitPaymentApi(APIView):
    """`POST /api/v1/init-payment`."""

    @init_payment_schema
    def post(self, request):
        form = InitPaymentInput(data=request.data)
        form.is_valid(raise_exception=True)
        key = request.META.get(IDEMPOTENCY_HEADER, "").strip() or None
        # A header is Latin-1 text and may carry a NUL, which PostgreSQL refuses to store.
        if key and (len(key) > MAX_IDEMPOTENCY_KEY or "\x00" in key):
            raise ApiError(
                code="validation_error",
                message="The request has invalid fields.",
                errors={
                    "Idempotency-Key": [
                        f"At most {MAX_IDEMPOTENCY_KEY} characters, none of them NUL."
                    ]
                },
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
        if not result.replayed:
            # Test mode: a magic customerEmail picks the sandbox's outcome at once.
            sandbox_outcome_on_init(payment=payment)
        body = {"status": "success", "id": payment.public_id, "url": wrapper_url(payment)}
        return Response(
            body, status=status.HTTP_200_OK if result.replayed else status.HTTP_201_CREATED
        )


class PaymentDetailApi(APIView):
    """`GET /api/v1/payments/<paymentId>`: the merchant's own, in the token's mode, only."""

    @payment_detail_schema
    def get(self, request, payment_id: str):
        principal = request.user
        payment = payment_get_for_merchant(
            merchant=principal.merchant, public_id=payment_id, is_test=principal.is_test
        )
        if payment is None:
            raise NotFound()
        return Response(PaymentSerializer(payment).data)


class PaymentListApi(APIView):
    """`GET /api/v1/payments?id=&status=&created_after=&created_before=`, one mode, paginated."""

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
            is_test=request.user.is_test,
            reference=params.get("id"),
            status=params.get("status"),
            created_after=params.get("created_after"),
            created_before=params.get("created_before"),
        )
        paginator = self.Pagination()
        page = paginator.paginate_queryset(payments, request, view=self)
        return paginator.get_paginated_response(PaymentSerializer(page, many=True).data)
