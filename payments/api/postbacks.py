"""Merchant API for postbacks: resend one payment's postback, send a test postback.

`POST /api/v1/payments/<paymentId>/postbacks/resend` and `POST /api/v1/postbacks/test`.
"""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.api.authentication import ApiTokenRateThrottle
from payments.api.errors import ApiError
from payments.api.inputs import PostbackUrlField
from payments.api.schema import payment_postback_resend_schema, postback_test_schema
from payments.delivery.resend import ResendRefused, payment_postback_resend
from payments.merchants import merchant_postback_test_send
from payments.selectors import payment_get_for_merchant


class PostbackResendApi(APIView):
    """Queue the payment's latest postback again (same webhook-id, fresh retry schedule)."""

    class ResendOutputSerializer(serializers.Serializer):
        status = serializers.CharField(default="success")
        paymentId = serializers.CharField()
        webhookId = serializers.CharField()
        event = serializers.CharField()
        deliveryStatus = serializers.CharField()

    @payment_postback_resend_schema
    def post(self, request, payment_id: str):
        principal = request.user
        payment = payment_get_for_merchant(
            merchant=principal.merchant, public_id=payment_id, is_test=principal.is_test
        )
        if payment is None:
            raise NotFound()
        try:
            delivery = payment_postback_resend(
                payment=payment, by=f"api:{request.user.token.prefix}"
            )
        except ResendRefused as exc:
            raise ApiError(code=exc.code, message=exc.message, status_code=409) from None
        data = {
            "paymentId": payment.public_id,
            "webhookId": delivery.webhook_id,
            "event": delivery.event,
            "deliveryStatus": delivery.status,
        }
        return Response(self.ResendOutputSerializer(data).data, status=status.HTTP_202_ACCEPTED)


# What the test postback echoes of the merchant's answer: enough to debug a handler (status,
# duration, the start of an error text), too little to use the endpoint as a relay that
# fetches public URLs for anyone holding a token.
TEST_ANSWER_EXCERPT_CHARS = 256


class PostbackTestThrottle(ApiTokenRateThrottle):
    """A tighter budget per token for the test postback (rate `postback_test`)."""

    scope = "postback_test"


class PostbackTestApi(APIView):
    """Send a signed test postback to a URL now and report the merchant's answer."""

    throttle_classes = [ApiTokenRateThrottle, PostbackTestThrottle]

    class InputSerializer(serializers.Serializer):
        url = PostbackUrlField()

    class OutputSerializer(serializers.Serializer):
        status = serializers.CharField(default="success")
        delivered = serializers.BooleanField()
        webhookId = serializers.CharField()
        statusCode = serializers.IntegerField(allow_null=True)
        durationMs = serializers.IntegerField()
        error = serializers.CharField(allow_blank=True)
        responseBody = serializers.CharField(allow_blank=True)

    @postback_test_schema
    def post(self, request):
        form = self.InputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        result = merchant_postback_test_send(  # the portal's service too: audited alike
            merchant=request.user.merchant,
            url=form.validated_data["url"],
            actor=f"api:{request.user.token.prefix}",
        )
        data = {
            "delivered": result.succeeded,
            "webhookId": result.webhook_id,
            "statusCode": result.status_code,
            "durationMs": result.duration_ms,
            "error": result.error,
            "responseBody": (result.response_body or "")[:TEST_ANSWER_EXCERPT_CHARS],
        }
        return Response(self.OutputSerializer(data).data)
