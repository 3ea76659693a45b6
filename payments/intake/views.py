"""Provider postback intake views: parse the request, call the service, answer JSON.

`POST /api/payment-verify/<provider>` and `POST /api/payment-verify` (the default
provider). No session, no CSRF (providers are servers); the adapter verifies the raw
body before anything else (payments/intake/services.py). Answers: 400 with a machine code when
the postback cannot be verified, 200 for every well-signed one (applied, duplicate or
unknown), so providers stop retrying what they got right.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from payments.intake.services import postback_receive
from providers.base import RawPostback


@csrf_exempt
def payment_verify(request, provider: str | None = None):
    """Receive one provider postback."""
    if request.method != "POST":
        response = JsonResponse(
            {"status": "error", "code": "method_not_allowed", "message": "Use POST."}, status=405
        )
        response["Allow"] = "POST"
        return response
    try:
        body = request.body  # Django refuses more than DATA_UPLOAD_MAX_MEMORY_SIZE
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return JsonResponse(
            {
                "status": "error",
                "code": "payload_too_large",
                "message": f"Request body is larger than {limit} bytes.",
            },
            status=413,
        )
    raw = RawPostback(body=body, headers=dict(request.headers.items()))
    result = postback_receive(provider_key=provider or settings.DEFAULT_PROVIDER, raw=raw)
    return JsonResponse(result.body, status=result.http_status)
