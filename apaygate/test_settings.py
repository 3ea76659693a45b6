"""Settings for the test suite: real PostgreSQL and Redis, overridable by the environment.

Each of these is only a default; `DATABASE_URL=... REDIS_URL=... make test` points the
suite elsewhere (CI uses the machine's own 127.0.0.1 services).
"""

from __future__ import annotations

import os

# A developer's .env (from `make run`) must not change what the suite tests.
os.environ["ENV_FILE"] = ""
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/apaygate")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
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

from apaygate.settings import *  # noqa: F403
from apaygate.settings import CACHES

# Keep test runs apart from each other's keys in a shared Redis.
CACHES["default"]["KEY_PREFIX"] = os.environ.get("CACHE_KEY_PREFIX", f"apaygate-test-{os.getpid()}")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; tests only
