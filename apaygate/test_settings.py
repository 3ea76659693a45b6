"""Settings for the test suite: real PostgreSQL and Redis, overridable by the environment.

Each of these is only a default; `DATABASE_URL=... REDIS_URL=... make test` points the
suite elsewhere (CI uses the machine's own 127.0.0.1 services).

Under pytest-xdist (`make test` runs three workers) each worker gets its own PostgreSQL test
database (pytest-django suffixes its name with the worker id) and its own Redis database
number: REDIS_URL's number plus the worker's index, so worker gw1 of `.../0` uses `.../1`.
Cache, KV and Celery broker all live there, so one worker's tasks never reach another's
Celery worker. The number is written back to REDIS_URL for the processes tests start.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

# "gw0", "gw1", ... under pytest-xdist; unset in a plain pytest run.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
XDIST_WORKER_INDEX = int(XDIST_WORKER.removeprefix("gw")) if XDIST_WORKER else 0
REDIS_DATABASES = 16  # redis-server's default `databases`


def redis_url_for_worker(url: str, index: int) -> str:
    """The Redis URL with its database number moved up by the xdist worker's index."""
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0) + index
    if number >= REDIS_DATABASES:
        raise RuntimeError(
            f"REDIS_URL {url} leaves no Redis database for xdist worker {index}: use a lower number"
        )
    return urlunsplit(parts._replace(path=f"/{number}"))


# A developer's .env (from `make run`) must not change what the suite tests.
os.environ["ENV_FILE"] = ""
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/apaygate")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
# Once per worker: processes a test starts inherit both variables and must not move it again.
if os.environ.get("REDIS_URL_WORKER") != XDIST_WORKER:
    os.environ["REDIS_URL"] = redis_url_for_worker(os.environ["REDIS_URL"], XDIST_WORKER_INDEX)
    os.environ["REDIS_URL_WORKER"] = XDIST_WORKER
os.environ.setdefault("PUBLIC_BASE_URL", "https://gate.example")
os.environ.setdefault("ALLOWED_HOSTS", "*")
os.environ.setdefault("SANDBOX_ENABLED", "true")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")  # the test client speaks http
os.environ.setdefault("TELE_API_URL", "https://tele.example/api")
os.environ.setdefault("TELE_APP_ID", "app-test-42")
os.environ.setdefault("TELE_API_TOKEN", "tele-token-test")
os.environ.setdefault("TELE_POSTBACK_SECRET", "tele-postback-secret-test")
os.environ.setdefault("BANSKY_API_URL", "https://bansky.example/v1")
os.environ.setdefault("BANSKY_API_TOKEN", "bansky-token-test")
os.environ.setdefault("BANSKY_POSTBACK_SECRET", "bansky-postback-secret-test")

from apaygate.settings import *  # noqa: E402, F403 (after the environment above)
from apaygate.settings import CACHES  # noqa: E402

# Keep test runs apart from each other's keys in a shared Redis.
CACHES["default"]["KEY_PREFIX"] = os.environ.get(
    "CACHE_KEY_PREFIX", f"apaygate-test-{XDIST_WORKER or 'main'}-{os.getpid()}"
)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; tests only
# django-axes logs a banner when Django starts; pytest holds what the controller prints while
# collecting and writes it out after its summary, so the run's last line would be Axes's.
AXES_VERBOSE = False
