"""Django settings for APayGate, read from the environment (django-environ).

Every variable here is listed, with a comment, in `.env.example`. The defaults are the
embedded development mode that `make run` uses: SQLite, local cache, a file-system Celery
broker, the sandbox provider, and no BigQuery or Metabase.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF

from apaygate import openapi_settings
from foundation.logging_config import build_logging
from payments import task_names
from reporting import task_names as reporting_task_names

BASE_DIR = Path(__file__).resolve().parent.parent
RUN_DIR = BASE_DIR / ".run"

env = environ.Env()
# `make run` writes .env on first start, so every process (and `manage.py` in another shell)
# reads one configuration. The environment wins over the file; ENV_FILE="" reads none.
ENV_FILE = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE:
    environ.Env.read_env(ENV_FILE, overwrite=False)
# An empty value means unset, in the file and the environment alike: `.env.example` copied as
# it is lists every variable, most of them empty (`METABASE_DASHBOARD_ID=`), and each must
# then take its default rather than fail to parse.
for _name in [name for name, value in os.environ.items() if value == ""]:
    del os.environ[_name]

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="dev-insecure-change-me" if DEBUG else "")
if not SECRET_KEY:
    # One line naming the setting, not a traceback: this is an operator's mistake.
    raise SystemExit("configuration error: SECRET_KEY must be set when DEBUG is off")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[PUBLIC_BASE_URL])

# Where the staff admin lives (a less guessable path keeps scanners off its login page).
ADMIN_URL_PATH = env.str("ADMIN_URL_PATH", default="admin/").strip("/") + "/"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "payments",
    "providers",
    "reporting",
    "demo",
    "docsite",
    "axes",
]

MIDDLEWARE = [
    # First: every later middleware, view and log line runs under the request id.
    "foundation.request_id.RequestIdMiddleware",
    # Second: an exception under /api/ is JSON with DEBUG on too (Django's page otherwise).
    "apaygate.api_debug_errors.ApiDebugErrorMiddleware",
    # Third: times everything below it, labelled by resolved route name.
    "apaygate.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "payments.api.middleware.RequestShapeMiddleware",  # NUL bytes, chunked bodies
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

# The routes machines call, the merchant API (token-authenticated) and the providers'
# postbacks, run a shorter stack (apaygate/machine_routes.py): no static files, session,
# CSRF (their views are exempt), Django login, messages, login throttle or CSP (a policy for
# HTML pages; these answer JSON with nosniff). What they keep: request id, the JSON error
# page, metrics, the security headers and https redirect, the hostile-input checks,
# CommonMiddleware, X-Frame-Options. Measured: about 0.2 ms of CPU per request
# (docs/decisions.md).
MACHINE_PATH_PREFIXES = ("/api/v1/", "/api/payment-verify")
MACHINE_MIDDLEWARE_SKIPPED = frozenset(
    {
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "csp.middleware.CSPMiddleware",
        "axes.middleware.AxesMiddleware",
    }
)
MACHINE_MIDDLEWARE = [name for name in MIDDLEWARE if name not in MACHINE_MIDDLEWARE_SKIPPED]

ROOT_URLCONF = "apaygate.urls"
WSGI_APPLICATION = "apaygate.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# Reused connections: a new PostgreSQL connection per request costs more than the
# redirect view itself (bench/bench_gateway.py measures the redirect against a raw app).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# PostgreSQL: a connection pool per process (psycopg_pool, Django's "pool" option), so a
# process holds at most DATABASE_POOL_MAX_SIZE connections however many threads it runs; a
# thread borrows one for a request or a task and gives it back at the end (CONN_MAX_AGE is
# then 0: the pool keeps them open). Waiting longer than DATABASE_POOL_TIMEOUT seconds for
# one is a database-unavailable 503 (payments/errors.py). The budget for max_connections:
# deploy/README.md. SQLite (embedded mode) has no pool.
DATABASE_POOL = env.bool("DATABASE_POOL", default=True)
DATABASE_POOL_MIN_SIZE = env.int("DATABASE_POOL_MIN_SIZE", default=2)
DATABASE_POOL_MAX_SIZE = env.int("DATABASE_POOL_MAX_SIZE", default=10)
DATABASE_POOL_TIMEOUT = env.float("DATABASE_POOL_TIMEOUT", default=3.0)
if DATABASE_POOL and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(DATABASE_POOL_MIN_SIZE, DATABASE_POOL_MAX_SIZE),
        "max_size": DATABASE_POOL_MAX_SIZE,
        "timeout": DATABASE_POOL_TIMEOUT,
    }
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Embedded mode runs web, worker and beat against one file: wait for locks, and
    # take the write lock up front so two writers never deadlock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="apaygate"),
            # Short timeouts: the cache is an accelerator; an outage must cost milliseconds.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    # Embedded mode: a per-process cache. The KV is a speed-up, the database stays the
    # source of truth, so a miss here only costs one query.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery. Without a broker URL, an embedded file-system broker lets `make run` deliver
# postbacks (and retry them) with a real worker and beat, without Redis.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = RUN_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        # Notice a dead or silent Redis within seconds instead of hanging on a socket.
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
        "socket_keepalive": True,
        "health_check_interval": 10,
        # Publishing (web, beat) fails fast when the broker is down, instead of retrying for
        # seconds inside a request: the outbox row is already stored, and a worker's poller
        # takes it from PostgreSQL. The worker's own reconnection is not affected.
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.2,
    }
    if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        # kombu's Redis transport, minus a crash on broker loss (apaygate/celery.py).
        CELERY_BROKER_TRANSPORT = "apaygate.celery:RedisTransport"
# Keep reconnecting to a lost broker forever: PostgreSQL keeps the postbacks meanwhile.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_POOL_LIMIT = 10
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_POOL = env.str("CELERY_WORKER_POOL", default="threads")
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=16)
# Task names are constants imported by the tasks and their senders too (no name typed twice).
CELERY_BEAT_SCHEDULE = {
    # Claims due merchant postbacks (outbox rows) and hands each attempt to a worker.
    "dispatch-due-postbacks": {
        "task": task_names.DISPATCH_DUE_POSTBACKS,
        "schedule": env.float("POSTBACK_DISPATCH_INTERVAL", default=2.0),
    },
    # Copies buffered shopper events (a Redis stream) into the event log.
    "drain-shopper-events": {
        "task": task_names.DRAIN_SHOPPER_EVENTS,
        "schedule": env.float("SHOPPER_EVENTS_DRAIN_INTERVAL", default=1.0),
        "options": {"expires": 10},
    },
    # Closes payments left `created` by an init request that died (payments/reconcile.py).
    "reconcile-created-payments": {
        "task": task_names.RECONCILE_CREATED_PAYMENTS,
        "schedule": env.float("INIT_RECONCILE_INTERVAL", default=15.0),
        "options": {"expires": 60},
    },
    # E-mails merchants about failing and disabled postback endpoints.
    "postback-endpoint-alerts": {
        "task": reporting_task_names.ENDPOINT_ALERTS,
        "schedule": env.float("POSTBACK_ALERT_INTERVAL", default=60.0),
        "options": {"expires": 120},
    },
    "expire-stale-payments": {
        "task": task_names.EXPIRE_STALE_PAYMENTS,
        "schedule": env.float("EXPIRY_INTERVAL", default=60.0),
    },
    "export-events-to-bigquery": {
        "task": reporting_task_names.EXPORT_EVENTS,
        "schedule": env.float("BIGQUERY_EXPORT_INTERVAL", default=10.0),
        # Ticks are not worth keeping while no worker runs: the next one does the same work.
        "options": {"expires": 60},
    },
}
# Beat's schedule file; its folder is created on start (apaygate.beat.HeartbeatScheduler).
CELERY_BEAT_SCHEDULE_FILENAME = env.str(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(RUN_DIR / "celerybeat-schedule")
)
# Creates the schedule file's folder and records a heartbeat (apaygate/metrics.py).
CELERY_BEAT_SCHEDULER = "apaygate.beat:HeartbeatScheduler"
# Workers also claim due postbacks straight from PostgreSQL every POSTBACK_POLL_INTERVAL
# seconds (payments/delivery/poller.py), so delivery goes on while the broker is away.
POSTBACK_POLL = env.bool("POSTBACK_POLL", default=True)
POSTBACK_POLL_INTERVAL = env.float("POSTBACK_POLL_INTERVAL", default=1.0)
# Postbacks in flight per worker (sender threads: HTTP only, no database connection each;
# plus this less POSTBACK_ENDPOINT_CONCURRENCY spare ones: payments/delivery/poller.py).
POSTBACK_POLL_CONCURRENCY = env.int("POSTBACK_POLL_CONCURRENCY", default=64)
# Django's LOGGING (JSON lines, request ids, masking) applies in the worker too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# The SDK builds served at /docs/sdk/ (scripts/build-sdk-dist.sh writes them there).
SDK_DIST_DIR = env.str("SDK_DIST_DIR", default=str(BASE_DIR / "sdk" / "dist"))

LOGIN_URL = f"/{ADMIN_URL_PATH}login/"

# Bodies over 1 MB are refused with a JSON 413 (see payments/api/errors.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)
API_MAX_BODY_BYTES = DATA_UPLOAD_MAX_MEMORY_SIZE

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["payments.api.authentication.ApiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["payments.api.authentication.IsActiveMerchant"],
    "DEFAULT_THROTTLE_CLASSES": ["payments.api.authentication.ApiTokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "api_token": env.str("API_THROTTLE_RATE", default="1200/min"),
        # POST /api/v1/postbacks/test makes an outbound request per call: a small budget.
        "postback_test": env.str("POSTBACK_TEST_THROTTLE_RATE", default="10/min"),
    },
    "DEFAULT_PARSER_CLASSES": ["payments.api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "payments.api.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": None,
}

# The OpenAPI document (drf-spectacular): apaygate/openapi_settings.py.
SPECTACULAR_SETTINGS = openapi_settings.SPECTACULAR_SETTINGS

# Providers: credentials come from the environment only.
TELE_API_URL = env.str("TELE_API_URL", default="https://api.tele.store")
TELE_APP_ID = env.str("TELE_APP_ID", default="")
TELE_API_TOKEN = env.str("TELE_API_TOKEN", default="")
TELE_POSTBACK_SECRET = env.str("TELE_POSTBACK_SECRET", default="")
BANSKY_API_URL = env.str("BANSKY_API_URL", default="https://api.bansky.example")
BANSKY_API_TOKEN = env.str("BANSKY_API_TOKEN", default="")
BANSKY_POSTBACK_SECRET = env.str("BANSKY_POSTBACK_SECRET", default="")
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=DEBUG)
# The sandbox signs its simulated postbacks with this key; derived from SECRET_KEY if unset.
SANDBOX_POSTBACK_SECRET = env.str("SANDBOX_POSTBACK_SECRET", default="")
# The sandbox's "postback delayed" test outcome confirms the payment this many seconds late.
SANDBOX_POSTBACK_DELAY = env.float("SANDBOX_POSTBACK_DELAY", default=10.0)
DEFAULT_PROVIDER = env.str("DEFAULT_PROVIDER", default="tele")
PROVIDER_CONNECT_TIMEOUT = env.float("PROVIDER_CONNECT_TIMEOUT", default=5.0)
PROVIDER_READ_TIMEOUT = env.float("PROVIDER_READ_TIMEOUT", default=15.0)
# Bulkhead per provider and web process (providers/breaker.py): calls at once, seconds a
# call waits for a slot, consecutive failures that open the breaker, seconds until a probe.
PROVIDER_MAX_CONCURRENCY = env.int("PROVIDER_MAX_CONCURRENCY", default=64)
PROVIDER_QUEUE_TIMEOUT = env.float("PROVIDER_QUEUE_TIMEOUT", default=0.5)
PROVIDER_BREAKER_FAILURES = env.int("PROVIDER_BREAKER_FAILURES", default=5)
PROVIDER_BREAKER_RESET = env.float("PROVIDER_BREAKER_RESET", default=10.0)
PROVIDER_PROBE_TIMEOUT = env.float("PROVIDER_PROBE_TIMEOUT", default=0.8)  # the probe's timeouts
# A payment still `created` this many seconds past the provider's queue, connect and read
# timeouts has no live request behind it: the reconciler closes it (payments/reconcile.py).
INIT_RECONCILE_MARGIN = env.float("INIT_RECONCILE_MARGIN", default=10.0)
# A merchant routed to several providers: every try of one init-payment (failover) fits in
# this many seconds, so the merchant has its answer within about 3 s (payments/routing.py).
PROVIDER_FAILOVER_BUDGET = env.float("PROVIDER_FAILOVER_BUDGET", default=2.5)

# Seconds a pending payment (and its KV entry) lives before it expires.
PAYMENT_TTL = env.int("PAYMENT_TTL", default=24 * 3600)
# Redis for the KV (redirect entries); default REDIS_URL. Unset both: the Django cache.
KV_REDIS_URL = env.str("KV_REDIS_URL", default=REDIS_URL)
# Seconds the KV is skipped (database only) after Redis fails, before one request tries it.
KV_BREAKER_RESET = env.float("KV_BREAKER_RESET", default=2.0)
# The shopper-event stream's bound (entries, about 200 bytes each): past it, redirects write
# their events to PostgreSQL directly (payments/shopper/event_buffer.py).
SHOPPER_EVENTS_MAX = env.int("SHOPPER_EVENTS_MAX", default=100_000)

# Off in production: merchant URLs on private, loopback or link-local addresses are refused.
POSTBACK_ALLOW_PRIVATE = env.bool("POSTBACK_ALLOW_PRIVATE", default=False)
POSTBACK_TIMEOUT = env.float("POSTBACK_TIMEOUT", default=15.0)
# Seconds after the first attempt's failure; about three days in all, with jitter.
POSTBACK_RETRY_SCHEDULE = env.list(
    "POSTBACK_RETRY_SCHEDULE",
    cast=int,
    default=[0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400],
)
POSTBACK_RETRY_JITTER = env.float("POSTBACK_RETRY_JITTER", default=0.1)
# A claimed attempt's lease: if its worker dies, the delivery falls due again after this.
POSTBACK_ATTEMPT_LEASE = env.float("POSTBACK_ATTEMPT_LEASE", default=2 * POSTBACK_TIMEOUT + 5)
# How long a delivery handed to the broker is left alone before a poller (or beat) takes it:
# the wait of a message the broker lost. Short is safe: an attempt claims its row again.
POSTBACK_QUEUE_LEASE = env.float("POSTBACK_QUEUE_LEASE", default=10.0)
# Each relay heartbeats this often; one silent for POSTBACK_CLAIMER_STALE is taken for dead
# and its claims are given back at once instead of after their lease (payments/delivery/claim.py).
POSTBACK_CLAIMER_HEARTBEAT = env.float("POSTBACK_CLAIMER_HEARTBEAT", default=2.0)
POSTBACK_CLAIMER_STALE = env.float("POSTBACK_CLAIMER_STALE", default=10.0)
# A stopping worker's relay waits this long for attempts on the wire, then gives back what
# it still holds (due now) and exits: short enough for honcho's and docker's 10 s.
POSTBACK_STOP_GRACE = env.float("POSTBACK_STOP_GRACE", default=3.0)
# Delivery health per merchant endpoint (payments/delivery/health.py): attempts at once to
# one URL per worker that the other URLs cannot take from it (past it, a URL only gets
# senders that are idle, lent; the relay claims no more of a URL than twice this, so
# nothing is claimed only to wait); hours an endpoint may fail before it is disabled
# (pending postbacks kept); failures in a row before the first alert e-mail; hours
# between two "still failing" e-mails (the digest). 48 of the relay's 64 senders: one
# hanging endpoint leaves 16 to everybody else (the relay keeps 16 spare threads for them
# while it holds lent ones), and a merchant's one URL alone gets all 64.
POSTBACK_ENDPOINT_CONCURRENCY = env.int("POSTBACK_ENDPOINT_CONCURRENCY", default=48)
POSTBACK_ENDPOINT_DISABLE_HOURS = env.float("POSTBACK_ENDPOINT_DISABLE_HOURS", default=72.0)
POSTBACK_ALERT_FAILURES = env.int("POSTBACK_ALERT_FAILURES", default=10)
POSTBACK_ALERT_DIGEST_HOURS = env.float("POSTBACK_ALERT_DIGEST_HOURS", default=24.0)
# `apaygate listen` (GET /api/v1/postbacks/stream, payments/api/postback_stream.py): test-mode
# postbacks kept per merchant for a reconnecting listener (entries; seconds after the last),
# streams open at once per merchant and per web process, and the seconds one stream lasts
# before the server ends it (the client reconnects with Last-Event-ID and misses nothing).
POSTBACK_STREAM_KEEP = env.int("POSTBACK_STREAM_KEEP", default=100)
POSTBACK_STREAM_TTL = env.int("POSTBACK_STREAM_TTL", default=3600)
POSTBACK_STREAM_PER_MERCHANT = env.int("POSTBACK_STREAM_PER_MERCHANT", default=5)
POSTBACK_STREAM_PER_PROCESS = env.int("POSTBACK_STREAM_PER_PROCESS", default=200)
POSTBACK_STREAM_MAX_SECONDS = env.float("POSTBACK_STREAM_MAX_SECONDS", default=900.0)

# Analytics.
BIGQUERY_PROJECT = env.str("BIGQUERY_PROJECT", default="")
BIGQUERY_DATASET = env.str("BIGQUERY_DATASET", default="apaygate")
BIGQUERY_API_ENDPOINT = env.str("BIGQUERY_API_ENDPOINT", default="")
BIGQUERY_EXPORT_INTERVAL = env.float("BIGQUERY_EXPORT_INTERVAL", default=10.0)
# Seconds one BigQuery request may take before the batch is left for the next run.
BIGQUERY_REQUEST_TIMEOUT = env.float("BIGQUERY_REQUEST_TIMEOUT", default=30.0)
# Seconds an exporter holds the events it is sending; a crashed one's events are free after.
BIGQUERY_CLAIM_LEASE = env.float("BIGQUERY_CLAIM_LEASE", default=300.0)
# Events per export batch; its insert requests are also split at 5 MB (BigQuery takes up to
# 50,000 rows and 10 MB per request). Fewer, larger requests: see bench/bench_bigquery.py.
BIGQUERY_BATCH_SIZE = env.int("BIGQUERY_BATCH_SIZE", default=2000)
BIGQUERY_EXPORT_RAW_EMAIL = env.bool("BIGQUERY_EXPORT_RAW_EMAIL", default=False)
BIGQUERY_EXPORT_CUSTOMER_NAME = env.bool("BIGQUERY_EXPORT_CUSTOMER_NAME", default=False)

METABASE_SITE_URL = env.str("METABASE_SITE_URL", default="").rstrip("/")
METABASE_SECRET_KEY = env.str("METABASE_SECRET_KEY", default="")
METABASE_DASHBOARD_ID = env.int("METABASE_DASHBOARD_ID", default=0)
# Only `manage.py metabase_provision` uses these (Metabase's REST API, session login).
METABASE_USERNAME = env.str("METABASE_USERNAME", default="")
METABASE_PASSWORD = env.str("METABASE_PASSWORD", default="")
METABASE_DATABASE_ID = env.int("METABASE_DATABASE_ID", default=0)

# Portal invitations. Unset: e-mails are printed to the console.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="APayGate <no-reply@apaygate.local>")

# JSON lines in production, readable lines in development; secrets masked in both
# (foundation/logging_config.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
LOGGING = build_logging(
    json=LOG_FORMAT == "json",
    level=env.str("LOG_LEVEL", default="INFO"),
    # Per-logger levels, "logger=LEVEL,...": `make run` quiets Celery's per-task lines.
    loggers=env.dict("LOG_LEVELS", default={}),
)

# Prometheus: GET /metrics answers only a scraper sending this bearer token; unset: 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Read by prometheus_client itself (multiprocess mode) and by scripts/serve.sh web.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
# Read by scripts/serve.sh web, listed here for the configuration reference.
PORT = env.int("PORT", default=8000)
# Unset: one per CPU the process may use (apaygate/gunicorn_conf.py, `cpu_limit`).
WEB_CONCURRENCY = env.int("WEB_CONCURRENCY", default=0)
# On SIGTERM, seconds the web role has to finish what it holds (apaygate/gunicorn_conf.py).
WEB_GRACEFUL_TIMEOUT = env.int("WEB_GRACEFUL_TIMEOUT", default=20)
# Each web process's two thread pools (apaygate/asgi.py, apaygate/pools.py): threads, the
# requests that may wait for one, and the seconds one may wait before it is refused (503
# with Retry-After). `provider`: init-payment, which waits on a provider; `general`: the rest.
WEB_PROVIDER_THREADS = env.int("WEB_PROVIDER_THREADS", default=32)
WEB_PROVIDER_QUEUE_MAX = env.int("WEB_PROVIDER_QUEUE_MAX", default=64)
WEB_PROVIDER_QUEUE_BUDGET = env.float("WEB_PROVIDER_QUEUE_BUDGET", default=1.0)
WEB_THREADS = env.int("WEB_THREADS", default=8)
WEB_QUEUE_MAX = env.int("WEB_QUEUE_MAX", default=32)
WEB_QUEUE_BUDGET = env.float("WEB_QUEUE_BUDGET", default=1.0)
# Read by scripts/serve.sh shopper (the shopper process class), listed here for the reference.
SHOPPER_PORT = env.int("SHOPPER_PORT", default=8001)
SHOPPER_CONCURRENCY = env.int("SHOPPER_CONCURRENCY", default=2)
SHOPPER_THREADS = env.int("SHOPPER_THREADS", default=8)
# A Celery worker serves its own metrics on this port (0: not served); private network only.
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    # The TLS-terminating proxy sets X-Forwarded-Proto (and must strip the client's own).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Probes speak plain http to the container, from inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

# Content-Security-Policy on every answer (django-csp). Scripts: our own files, plus a
# per-request nonce for the few inline blocks (`nonce="{{ request.csp_nonce }}"`) and the
# hash of the portal's one inline handler. Styles allow inline: the pages use style
# attributes and ReDoc injects <style> elements, and a nonce would switch that off.
CSP_PORTAL_ONCHANGE_HASH = (
    "'sha256-osjxnKEPL/pQJbFk1dKsF7PYFmTyMWGmVSiL9inhxJY='"  # this.form.submit()
)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE, "'unsafe-hashes'", CSP_PORTAL_ONCHANGE_HASH],
        "style-src": [SELF, "'unsafe-inline'"],
        # ReDoc's CDN logo is cut out of its bundle (docsite/redoc_bundle.py).
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "worker-src": [SELF, "blob:"],  # ReDoc renders in a blob: worker
        "frame-src": [SELF, *([METABASE_SITE_URL] if METABASE_SITE_URL else [])],
        "frame-ancestors": [NONE],
        "object-src": [NONE],
        "base-uri": [SELF],
    },
}

# Login throttling for the portal and the admin (django-axes): a username from one IP is
# locked out after AXES_FAILURE_LIMIT wrong passwords, for AXES_COOLOFF_TIME, then free.
AUTHENTICATION_BACKENDS = ["apaygate.login_throttle.LoginThrottleBackend"]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "axes/locked_out.html"
# The client address a lock is keyed on: the socket's peer, or behind N trusted reverse
# proxies the Nth address from the right of X-Forwarded-For (apaygate/login_throttle.py).
# (Not named AXES_PROXY_COUNT here: django-axes reserves that name for a removed setting.)
LOGIN_THROTTLE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "apaygate.login_throttle.client_address"

# The demo shop at /demo/ (only while the sandbox is on) calls the API with this test token;
# `make run` creates it and keeps it in .run/demo-token.
DEMO_MERCHANT_SLUG = "demo-shop"
DEMO_TOKEN_FILE = RUN_DIR / "demo-token"
DEMO_API_TOKEN = env.str("DEMO_API_TOKEN", default="") or (
    DEMO_TOKEN_FILE.read_text().strip() if DEMO_TOKEN_FILE.exists() else ""
)
