"""Shopper-facing routes (mounted at /integration/).

`GET /integration/pay` has a fast lane in front of this module: under the production web
server (apaygate/asgi.py, `application`) the event loop answers it before Django when the
payment's KV entry is there and payable, with one Redis round trip and no thread or
database (`payments/shopper/fast_lane.py`, `pay_fast`; its event goes to the buffer that
`payments/shopper/event_buffer.py` drains). A KV miss, a closed payment, Redis away or a
malformed id falls through to `redirects.pay` below, as does every request under
`runserver`, the test client and any other server. Every other route here always runs in
Django.
"""

from __future__ import annotations

from django.urls import path

from payments.shopper import redirects, waiting

urlpatterns = [
    # Also answered by the fast lane before Django (see above): keep both in step.
    path("pay", redirects.pay, name="integration-pay"),
    path("success", redirects.success, name="integration-success"),
    path("error", redirects.error, name="integration-error"),
    path("status", waiting.status_page, name="integration-status"),
    path("status.json", waiting.status_json, name="integration-status-json"),
]
