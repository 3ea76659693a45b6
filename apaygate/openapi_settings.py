"""drf-spectacular's settings: how `/api/schema/` is generated (kept out of settings.py,
which holds what the environment decides; nothing here depends on it)."""

from __future__ import annotations

SPECTACULAR_SETTINGS = {
    "TITLE": "APayGate API",
    "DESCRIPTION": "Merchant API of the APayGate payment proxy gateway.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Keep the token a reader typed into "Authorize" across reloads (in localStorage), and
    # take it as our docs write it: "Token apg_…" (or "Bearer apg_…") as well as the key
    # alone. Swagger UI sends "Bearer <what was typed>"; the interceptor drops the doubled
    # scheme before drf-spectacular's own interceptor runs. A JavaScript object literal
    # (drf-spectacular inserts a string as it is), since it holds a function.
    "SWAGGER_UI_SETTINGS": r"""{
  "persistAuthorization": true,
  "requestInterceptor": (request, ...args) => {
    const auth = request.headers && request.headers.Authorization;
    if (auth) {
      request.headers.Authorization = auth.replace(/^Bearer\s+(?:Token|Bearer)\s+/i, "Bearer ");
    }
    return requestInterceptor(request, ...args);
  }
}""",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # 3.1 for `webhooks`: the merchant postbacks are part of the contract.
    "OAS_VERSION": "3.1.0",
    "WEBHOOKS": [
        f"payments.api.openapi.webhooks.{name}"
        for name in (
            "PAYMENT_SUCCEEDED",
            "PAYMENT_FAILED",
            "PAYMENT_EXPIRED",
            "PAYMENT_FLAGGED",
            "POSTBACK_TEST",
        )
    ],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "payments.api.openapi.webhooks.webhook_headers_hook",
    ],
    # Stable enum names for generated clients (the SDKs' PaymentStatus, PostbackEvent, ...).
    "ENUM_NAME_OVERRIDES": {
        "PaymentStatus": "payments.models.PaymentStatus",
        "PaymentType": "payments.models.PaymentType",
        "PostbackDeliveryStatus": "payments.models.DeliveryStatus",
        "PostbackEvent": "payments.models.PostbackEvent",
        "SuccessStatus": [("success", "success")],
        "ErrorStatus": [("error", "error")],
    },
}
