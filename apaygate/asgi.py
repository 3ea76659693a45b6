"""ASGI entry point: the production server (uvicorn workers under gunicorn, see
apaygate/gunicorn_conf.py).

`GET /integration/pay` tries the redirect's fast lane first (a KV hit answered on the event
loop, payments/shopper/fast_lane.py); everything else, and every request the lane declines,
goes to Django.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apaygate.settings")
django_application = get_asgi_application()

from payments.shopper.fast_lane import PATH, pay_fast  # noqa: E402  (needs Django set up)


async def application(scope, receive, send):
    if (
        scope["type"] == "http"
        and scope["method"] == "GET"
        and scope["path"] == PATH
        and await pay_fast(scope, send)
    ):
        return
    await django_application(scope, receive, send)
