"""Prometheus metrics: the one list of names, the `/metrics` view, the latency middleware.

Other modules record through the objects defined here, for instance
`PROVIDER_ERRORS.labels(provider="tele", kind="timeout").inc()`; the names are the
contract that `deploy/prometheus/alerts.yml` and `deploy/grafana/apaygate.json` read.

Several processes: with `PROMETHEUS_MULTIPROC_DIR` set (scripts/serve.sh sets it for the
web role), prometheus_client writes every process's values to files there and `/metrics`
adds them up, so a scrape reaching any gunicorn worker sees them all. The directory must be
empty when the server starts and belong to one server only (scripts/serve.sh wipes it);
gunicorn's `child_exit` hook (apaygate/gunicorn_conf.py) drops a dead worker's live gauges.
Gauges carry a `multiprocess_mode` saying how values of several processes combine.

Figures that live in the database (delivery backlog, export lag) or in Redis (queue depth,
beat's heartbeat) are read at scrape time by `metrics_refresh_gauges()`, not kept up to
date by the code that changes them.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import time

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
    start_http_server,
)

from foundation.db_pool import db_pool_metrics_refresh
from foundation.instruments import (  # noqa: F401  (re-exported: one place to import from)
    BEAT_HEARTBEAT,
    DB_POOL_CONNECTIONS,
    DB_POOL_MAX,
    DB_POOL_TIMEOUTS,
    DB_POOL_WAITING,
    DELIVERIES,
    DELIVERY_BACKLOG,
    DELIVERY_OLDEST_DUE_AGE,
    EXPORT_BACKLOG,
    EXPORT_LAG,
    HTTP_REQUEST_DURATION,
    POSTBACK_ENDPOINTS,
    PROVIDER_BREAKER_STATE,
    PROVIDER_ERRORS,
    PROVIDER_REQUEST_DURATION,
    QUEUE_DEPTH,
    SHOPPER_EVENTS_BUFFERED,
    SHOPPER_EVENTS_DEAD_LETTERED,
    SHOPPER_EVENTS_DRAIN_LAG,
    SHOPPER_EVENTS_WRITTEN_DIRECTLY,
    UNVERIFIED_POSTBACKS,
    WEB_SHED,
)
from foundation.middleware import SyncAndAsyncMiddleware

logger = logging.getLogger(__name__)


BEAT_HEARTBEAT_CACHE_KEY = "apaygate:beat-heartbeat"
# Heartbeats older than this are dropped by the cache: "no heartbeat" then means no series,
# which the alert handles with absent().
_BEAT_HEARTBEAT_TTL = 24 * 3600
_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


# --- exposition ---------------------------------------------------------------------------


def metrics_registry() -> CollectorRegistry:
    """Return the registry to expose: all processes' files in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def _bearer_token(request: HttpRequest) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Serve the metrics to a scraper holding `METRICS_TOKEN` (bearer); 404 while unset."""
    expected = getattr(settings, "METRICS_TOKEN", "")
    if not expected:
        raise Http404("metrics are off")
    if not hmac.compare_digest(_bearer_token(request).encode(), expected.encode()):
        response = HttpResponse("unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    metrics_refresh_gauges()
    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)


def metrics_start_worker_server(**_: object) -> None:
    """Expose a Celery worker's own metrics on `WORKER_METRICS_PORT`, when set.

    The worker is one process (threads pool) outside the web's multiprocess directory, so
    what it counts (`apaygate_deliveries_total`, provider calls made from tasks) is scraped
    from it directly. Connect to `celery.signals.worker_ready`. The port carries no token:
    keep it on the private network, as the broker is.
    """
    port = getattr(settings, "WORKER_METRICS_PORT", 0)
    if port:
        # All interfaces: in a container the scraper comes from the container network.
        addr = getattr(settings, "WORKER_METRICS_ADDR", "0.0.0.0")  # noqa: S104
        start_http_server(port, addr=addr)
        logger.info("metrics: worker metrics on port %s", port)


# --- scrape-time gauges -------------------------------------------------------------------


def metrics_refresh_gauges() -> None:
    """Set the gauges read from the database, the broker and the cache, each on its own.

    One source being down (Redis away) must not hide the others, and a scrape never fails
    because of it: the gauge keeps its last value and the failure is logged.
    """
    for refresh in (
        _refresh_delivery_gauges,
        _refresh_export_gauges,
        _refresh_queue_depth,
        _refresh_beat_heartbeat,
        db_pool_metrics_refresh,  # this process's pool (the others refresh their own)
        _refresh_shopper_event_gauges,
    ):
        try:
            refresh()
        except Exception:
            logger.warning("metrics: %s failed", refresh.__name__, exc_info=True)


def _refresh_delivery_gauges() -> None:
    from django.db.models import Count, Min, Q

    from payments.models import DeliveryStatus, PostbackDelivery

    now = timezone.now()
    pending = PostbackDelivery.objects.filter(status=DeliveryStatus.PENDING)
    row = pending.aggregate(
        backlog=Count("id"),
        oldest_due=Min("next_attempt_at", filter=Q(next_attempt_at__lte=now)),
    )
    DELIVERY_BACKLOG.set(row["backlog"])
    oldest = row["oldest_due"]
    DELIVERY_OLDEST_DUE_AGE.set((now - oldest).total_seconds() if oldest else 0.0)

    from payments.delivery.health import endpoint_counts

    for state, count in endpoint_counts().items():
        POSTBACK_ENDPOINTS.labels(state=state).set(count)


def _refresh_export_gauges() -> None:
    from django.db.models import Count, Min

    from payments.models import PaymentEvent

    if not getattr(settings, "BIGQUERY_PROJECT", ""):
        # Export off: events wait by design, a growing lag is not an incident.
        return
    now = timezone.now()
    row = PaymentEvent.objects.filter(exported_at__isnull=True).aggregate(
        backlog=Count("id"), oldest=Min("occurred_at")
    )
    EXPORT_BACKLOG.set(row["backlog"])
    oldest = row["oldest"]
    EXPORT_LAG.set(max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)


def _celery_queue_names() -> list[str]:
    names = {getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")}
    for queue in getattr(settings, "CELERY_TASK_QUEUES", None) or ():
        names.add(getattr(queue, "name", None) or str(queue))
    return sorted(names)


def _refresh_queue_depth() -> None:
    url = getattr(settings, "CELERY_BROKER_URL", "")
    if not url.startswith(("redis://", "rediss://")):
        return
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        for queue in _celery_queue_names():
            QUEUE_DEPTH.labels(queue=queue).set(client.llen(queue))
    finally:
        client.close()


def _refresh_shopper_event_gauges() -> None:
    from payments.shopper.event_buffer import shopper_events_backlog

    backlog = shopper_events_backlog()
    if backlog is not None:  # Redis away: keep the last values (the failure is in its logs)
        length, lag = backlog
        SHOPPER_EVENTS_BUFFERED.set(length)
        SHOPPER_EVENTS_DRAIN_LAG.set(lag)


def _refresh_beat_heartbeat() -> None:
    value = cache.get(BEAT_HEARTBEAT_CACHE_KEY)
    if value is not None:
        BEAT_HEARTBEAT.set(float(value))


# --- beat heartbeat -----------------------------------------------------------------------


def beat_heartbeat(now: float | None = None) -> None:
    """Record that beat is alive: its own gauge, and the cache for the web's scrape."""
    now = time.time() if now is None else now
    BEAT_HEARTBEAT.set(now)
    try:
        cache.set(BEAT_HEARTBEAT_CACHE_KEY, now, _BEAT_HEARTBEAT_TTL)
    except Exception:
        logger.warning("metrics: beat heartbeat not written to the cache", exc_info=True)


# --- request latency ----------------------------------------------------------------------

_UNSAFE_LABEL = re.compile(r"[^A-Za-z0-9_:.-]")


def _route_label(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        # No route matched (a 404 from the resolver) or a middleware answered first:
        # never the raw path, which would make one series per URL.
        return "unmatched"
    return _UNSAFE_LABEL.sub("_", match.view_name or match.route or "unnamed")


def _observe(request: HttpRequest, status: int, started: float) -> None:
    method = request.method if request.method in _HTTP_METHODS else "OTHER"
    HTTP_REQUEST_DURATION.labels(
        route=_route_label(request), method=method, status=str(status)
    ).observe(time.perf_counter() - started)


class RequestMetricsMiddleware(SyncAndAsyncMiddleware):
    """Time every request into `apaygate_http_request_duration_seconds` (sync and async)."""

    def handle(self, request: HttpRequest):
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        except Exception:
            _observe(request, 500, started)
            raise
        _observe(request, response.status_code, started)
        return response

    async def ahandle(self, request: HttpRequest):
        started = time.perf_counter()
        try:
            response = await self.get_response(request)
        except Exception:
            _observe(request, 500, started)
            raise
        _observe(request, response.status_code, started)
        return response
