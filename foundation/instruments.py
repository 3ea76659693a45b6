"""The Prometheus instruments: every metric name the gateway records, defined once.

A leaf module (it imports nothing of ours), so every layer may record through it: providers
count their errors, intake counts unverified postbacks, delivery counts outcomes. Exposition
(`/metrics`), the latency middleware and scrape-time gauges live in apaygate/metrics.py.
The names are the contract that `deploy/prometheus/alerts.yml` and
`deploy/grafana/apaygate.json` read.
"""

from __future__ import annotations

import os

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client import values as prometheus_values


def _settle_multiprocess_mode() -> None:
    """Use multiprocess mode only with a usable PROMETHEUS_MULTIPROC_DIR.

    prometheus_client turns it on when the variable merely exists: an empty one (a .env
    copied as is) would put its files in the working directory. And a process started other
    than by serve.sh (migrate, a shell) may find the directory not made yet.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    else:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    # Chosen when prometheus_client was first imported, perhaps before the variable changed.
    prometheus_values.ValueClass = prometheus_values.get_value_class()


_settle_multiprocess_mode()

# Web requests: most answer in milliseconds, init-payment waits on a provider (up to the
# read timeout, 15 s by default).
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0)

HTTP_REQUEST_DURATION = Histogram(
    "apaygate_http_request_duration_seconds",
    "Time to answer an HTTP request, by resolved route name (not raw path).",
    ["route", "method", "status"],
    buckets=_HTTP_BUCKETS,
)
PROVIDER_REQUEST_DURATION = Histogram(
    "apaygate_provider_request_duration_seconds",
    "Time of one call to an upstream provider; outcome: ok, error, timeout, refused...",
    ["provider", "outcome"],
    buckets=_HTTP_BUCKETS,
)
PROVIDER_ERRORS = Counter(
    "apaygate_provider_errors_total",
    "Failed calls to an upstream provider, by kind (timeout, connect, http_5xx, refused...).",
    ["provider", "kind"],
)
PROVIDER_BREAKER_STATE = Gauge(
    "apaygate_provider_breaker_state",
    "Circuit breaker of a provider: 0 closed, 1 half-open, 2 open.",
    ["provider"],
    # The most pessimistic live process wins: one open breaker shows as open.
    multiprocess_mode="livemax",
)
DELIVERIES = Counter(
    "apaygate_deliveries_total",
    "Merchant postback delivery attempts, by outcome (succeeded, retry, failed...).",
    ["outcome"],
)
DELIVERY_BACKLOG = Gauge(
    "apaygate_delivery_backlog",
    "Merchant postbacks not yet delivered (status pending).",
    multiprocess_mode="mostrecent",
)
DELIVERY_OLDEST_DUE_AGE = Gauge(
    "apaygate_delivery_oldest_due_age_seconds",
    "How long the oldest due pending postback has been waiting past its due time (0: none).",
    multiprocess_mode="mostrecent",
)
POSTBACK_ENDPOINTS = Gauge(
    "apaygate_postback_endpoints",
    "Merchant postback endpoints by state: failing (not answering 2xx) or disabled (held).",
    ["state"],
    multiprocess_mode="mostrecent",
)
EXPORT_BACKLOG = Gauge(
    "apaygate_export_backlog",
    "Payment events not yet exported to BigQuery (absent while the export is off).",
    multiprocess_mode="mostrecent",
)
EXPORT_LAG = Gauge(
    "apaygate_export_lag_seconds",
    "Age of the oldest event not yet exported to BigQuery (0: none waiting).",
    multiprocess_mode="mostrecent",
)
QUEUE_DEPTH = Gauge(
    "apaygate_queue_depth",
    "Messages waiting in a Celery queue on the broker (Redis only).",
    ["queue"],
    multiprocess_mode="mostrecent",
)
BEAT_HEARTBEAT = Gauge(
    "apaygate_beat_heartbeat_timestamp_seconds",
    "Unix time of Celery beat's last scheduler tick.",
    multiprocess_mode="max",
)
SHOPPER_EVENTS_BUFFERED = Gauge(
    "apaygate_shopper_events_buffered",
    "Shopper events waiting in the Redis stream for the drain (bounded: SHOPPER_EVENTS_MAX).",
    multiprocess_mode="mostrecent",
)
SHOPPER_EVENTS_DRAIN_LAG = Gauge(
    "apaygate_shopper_events_drain_lag_seconds",
    "Age of the oldest shopper event still in the stream (0: none waiting).",
    multiprocess_mode="mostrecent",
)
SHOPPER_EVENTS_WRITTEN_DIRECTLY = Counter(
    "apaygate_shopper_events_written_directly_total",
    "Shopper events inserted synchronously: the stream was full, or Redis unavailable.",
    ["reason"],
)
SHOPPER_EVENTS_DEAD_LETTERED = Counter(
    "apaygate_shopper_events_dead_lettered_total",
    "Buffered shopper events the drain could not copy, moved to the dead-letter list.",
)
UNVERIFIED_POSTBACKS = Counter(
    "apaygate_unverified_postbacks_total",
    "Provider postbacks refused because their signature or content could not be verified.",
    ["provider"],
)
WEB_SHED = Counter(
    "apaygate_web_shed_total",
    "Requests a web thread pool did not run, by pool and reason: queue_full and queue_timeout"
    " (answered 503 with Retry-After), client_gone (the client left while it waited).",
    ["pool", "reason"],
)
DB_POOL_CONNECTIONS = Gauge(
    "apaygate_db_pool_connections",
    "PostgreSQL connections open in the processes' pools, by state (in_use, idle).",
    ["state"],
    multiprocess_mode="livesum",
)
DB_POOL_MAX = Gauge(
    "apaygate_db_pool_max_connections",
    "The most PostgreSQL connections the processes' pools may open (DATABASE_POOL_MAX_SIZE each).",
    multiprocess_mode="livesum",
)
DB_POOL_WAITING = Gauge(
    "apaygate_db_pool_waiting",
    "Requests waiting for a pooled PostgreSQL connection right now.",
    multiprocess_mode="livesum",
)
DB_POOL_TIMEOUTS = Counter(
    "apaygate_db_pool_timeouts_total",
    "Connection requests that failed in the pool: waited past DATABASE_POOL_TIMEOUT (503).",
)
