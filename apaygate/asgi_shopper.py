"""The shopper process class: the shopper's side of the gateway, in processes of its own.

    gunicorn apaygate.asgi_shopper:application -c apaygate/gunicorn_conf.py
    (scripts/serve.sh shopper, with its own bind, worker count and pool: SHOPPER_*)

Why a class of its own: all threads of a process share one GIL. Under init-payment load the
web process's provider-pool threads (Django's request handling, the ORM, the provider client)
hold it most of the time, so a redirect answered in that process, even on the event loop,
waits its turn. Processes of this class never run a merchant API request, so a shopper waits
only behind other shoppers.

It is the same Django project behind the same ASGI entry (`apaygate.asgi.application`: the
redirect's fast lane on the loop, Django's views in the general pool), restricted to the
shopper's paths (apaygate/shopper_paths.py). The TLS proxy in front sends those paths here
and everything else to the web process (deploy/proxy/Caddyfile, its `@shopper` matcher), so
the public origin stays one (PUBLIC_BASE_URL). The web process still serves every path,
shoppers' included: a setup without the proxy (`make run`, a single container) works as
before.

Any other path is answered 404 with a JSON error saying so: a proxy that sends the merchant
API here is misconfigured, and serving it anyway would put merchant threads back beside
shoppers.
"""

from __future__ import annotations

import json
import logging

from apaygate.asgi import application as gateway_application
from apaygate.shopper_paths import shopper_path
from payments.errors import error_body

logger = logging.getLogger(__name__)

PROCESS_CLASS = "shopper"

NOT_SERVED_CODE = "not_served_here"
_NOT_SERVED_BODY = json.dumps(
    error_body(
        code=NOT_SERVED_CODE,
        message="This process serves the shopper's pages only: the proxy should send this "
        "path to the web process (deploy/proxy/Caddyfile).",
    )
).encode()
_NOT_SERVED_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_NOT_SERVED_BODY)).encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
]


async def application(scope, receive, send):
    if scope["type"] == "http" and not shopper_path(scope["path"]):
        logger.warning(
            "%s process class asked for %s, which it does not serve: check the proxy's routes",
            PROCESS_CLASS,
            scope["path"][:200],
        )
        await send({"type": "http.response.start", "status": 404, "headers": _NOT_SERVED_HEADERS})
        await send({"type": "http.response.body", "body": _NOT_SERVED_BODY})
        return
    await gateway_application(scope, receive, send)
