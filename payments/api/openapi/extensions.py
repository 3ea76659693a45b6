"""drf-spectacular extensions: the token security scheme, and shared example values.

Enum components are named by `SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]` (settings.py).
"""

from __future__ import annotations

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
)

MAX_INTEGER_DIGITS = 12
EXAMPLE_PAYMENT_ID = "pay_3q2XbGm1yZ8Kk0L9Vb7hT6cR5aN4pWdE"
EXAMPLE_BASE = "https://gate.example"


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """`Authorization: Token <key>` (canonical) or `Bearer <key>`."""

    target_class = "payments.api.authentication.ApiTokenAuthentication"
    name = "ApiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "Your API token (`apg_live_…`, or `apg_test_…` for the sandbox), sent as "
                "`Authorization: Token <key>` or `Authorization: Bearer <key>`; both are "
                "accepted. In Swagger UI paste the key alone or `Token <key>`."
            ),
        }
