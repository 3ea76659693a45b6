"""The back office for payments: one module per area, each registering its own models.

Django's admin autodiscovery imports `payments.admin`; importing the modules here is what
registers them.
"""

from __future__ import annotations

from payments.admin import audit, deliveries, endpoints, merchants, payments

__all__ = ["audit", "deliveries", "endpoints", "merchants", "payments"]
