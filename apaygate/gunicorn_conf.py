"""The web server's configuration: gunicorn supervising uvicorn (ASGI) workers.

    gunicorn apaygate.asgi:application -c apaygate/gunicorn_conf.py

Why ASGI (figures in bench/ and ARCHITECTURE.md): a request waiting on a provider holds no
worker. The redirect's fast lane runs on the event loop; Django's sync views (init-payment,
postback intake) each run in their own thread, so 64 init-payments waiting 200 ms on a
provider leave the loop free for shoppers and providers. Provider calls are capped per
provider and behind a circuit breaker (providers/breaker.py).

Environment: PORT (8000), WEB_CONCURRENCY (worker processes; default: one per core),
WEB_TIMEOUT (seconds a worker may stay silent before it is restarted), WEB_BIND.
"""

from __future__ import annotations

import multiprocessing
import os

# Under ASGI each sync view runs in a thread of its own, so a "persistent" connection would
# belong to a thread that ends with the request: connect per request (Django's advice)
# until psycopg's pool is installed (DATABASES OPTIONS {"pool": True}).
os.environ.setdefault("CONN_MAX_AGE", "0")

bind = os.environ.get("WEB_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = "uvicorn.workers.UvicornWorker"
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
