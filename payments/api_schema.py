"""OpenAPI descriptions of the merchant API (drf-spectacular), kept apart from the views.

Each name here decorates one API class in `payments/api.py`.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema

init_payment_schema = extend_schema(summary="Create a payment", tags=["payments"])
payment_detail_schema = extend_schema(summary="Get one payment", tags=["payments"])
payment_list_schema = extend_schema(summary="List payments", tags=["payments"])
