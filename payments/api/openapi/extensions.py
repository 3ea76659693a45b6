"""drf-spectacular extensions: the token security scheme and named status enums."""

from __future__ import annotations

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

from payments.models import DeliveryStatus, PaymentStatus, PaymentType

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
                "accepted. In Swagger UI paste the key alone."
            ),
        }


class NamedEnumField(serializers.ChoiceField):
    """A choice field that appears in the schema as a named enum component.

    Generated clients then get named constants (`PaymentStatusEnum.SUCCEEDED`) instead of
    bare strings, which is what the Tele.Store integration asked for.
    """

    component_name = ""
    enum_choices: tuple = ()
    enum_description = ""

    def __init__(self, **kwargs):
        super().__init__(choices=self.enum_choices, **kwargs)


class NamedEnumFieldExtension(OpenApiSerializerFieldExtension):
    target_class = NamedEnumField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        lines = "\n".join(f"- `{value}`: {label}" for value, label in field.enum_choices)
        component = ResolvedComponent(
            name=field.component_name,
            type=ResolvedComponent.SCHEMA,
            object=field.component_name,
            schema={
                "type": "string",
                "enum": [value for value, _label in field.enum_choices],
                "description": f"{field.enum_description}\n\n{lines}".strip(),
            },
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


class PaymentStatusField(NamedEnumField):
    component_name = "PaymentStatusEnum"
    enum_choices = tuple(PaymentStatus.choices)
    enum_description = (
        "Final: `succeeded`, `failed`, `expired` (and `provider_error` for this payment). "
        "Only a verified provider postback moves `pending` to `succeeded` or `failed`."
    )


class PaymentTypeField(NamedEnumField):
    component_name = "PaymentTypeEnum"
    enum_choices = tuple(PaymentType.choices)


class DeliveryStatusField(NamedEnumField):
    component_name = "PostbackDeliveryStatusEnum"
    enum_choices = tuple(DeliveryStatus.choices)
