"""`/metrics`: token-protected exposition, route-labelled latency, scrape-time gauges."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from apaygate import metrics
from payments.models import PostbackDelivery
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

AUTH = {"HTTP_AUTHORIZATION": "Bearer metrics-token-test"}


def _count(route: str, method: str = "GET", status: str = "200") -> float:
    labels = {"route": route, "method": method, "status": status}
    return REGISTRY.get_sample_value("apaygate_http_request_duration_seconds_count", labels) or 0


def test_metrics_are_served_to_the_token_holder(client, ops_settings):
    response = client.get("/metrics", **AUTH)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    body = response.content.decode()
    for name in (
        "apaygate_http_request_duration_seconds",
        "apaygate_provider_errors_total",
        "apaygate_delivery_backlog",
        "apaygate_delivery_oldest_due_age_seconds",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in body


def test_metrics_refuse_a_missing_or_wrong_token(client, ops_settings):
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-token-tesT")
    assert wrong.status_code == 401
    assert wrong["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Token metrics-token-test").status_code == 401


def test_metrics_are_not_found_while_no_token_is_configured(client, ops_settings):
    ops_settings.METRICS_TOKEN = ""

    assert client.get("/metrics", **AUTH).status_code == 404


def test_a_request_is_timed_under_its_route_name(client, ops_settings):
    before = _count("ops-echo")

    client.get("/ops-echo/1")
    client.get("/ops-echo/2")

    assert _count("ops-echo") == before + 2
    # One series for the route, none per raw path.
    assert (
        REGISTRY.get_sample_value(
            "apaygate_http_request_duration_seconds_count",
            {"route": "/ops-echo/1", "method": "GET", "status": "200"},
        )
        is None
    )


def test_an_unrouted_request_is_counted_as_unmatched(client, ops_settings):
    before = _count("unmatched", status="404")

    client.get("/no/such/page/12345")

    assert _count("unmatched", status="404") == before + 1


def test_scrape_reports_the_delivery_backlog_and_oldest_due_age(client, ops_settings):
    # given two pending postbacks, one due for ten minutes, one not due yet
    payment = _payment()
    now = timezone.now()
    for n, due in enumerate((now - timedelta(minutes=10), now + timedelta(hours=1))):
        PostbackDelivery.objects.create(
            payment=payment,
            webhook_id=f"msg_ops_{n}",
            event="payment.succeeded",
            url="https://shop.example/pb",
            payload={},
            next_attempt_at=due,
        )

    # when
    body = client.get("/metrics", **AUTH).content.decode()

    # then
    assert "apaygate_delivery_backlog 2.0" in body
    age = REGISTRY.get_sample_value("apaygate_delivery_oldest_due_age_seconds")
    assert 600 <= age < 700


def test_scrape_reports_export_lag_only_while_the_export_is_on(client, ops_settings):
    ops_settings.BIGQUERY_PROJECT = "ops-test"
    payment = _payment()
    event = payment.events.create(type="payment.created", status="created")
    type(event).objects.filter(pk=event.pk).update(
        occurred_at=timezone.now() - timedelta(seconds=90)
    )

    client.get("/metrics", **AUTH)

    assert REGISTRY.get_sample_value("apaygate_export_backlog") >= 1
    assert REGISTRY.get_sample_value("apaygate_export_lag_seconds") >= 90


def test_beat_heartbeat_reaches_the_web_scrape_through_the_cache(client, ops_settings):
    metrics.beat_heartbeat(now=1_700_000_000.0)
    metrics.BEAT_HEARTBEAT.set(0)  # as if beat were another process

    client.get("/metrics", **AUTH)

    assert REGISTRY.get_sample_value("apaygate_beat_heartbeat_timestamp_seconds") == 1.7e9


def test_metrics_add_up_across_processes_in_multiprocess_mode(tmp_path):
    """Two processes increment, a third exposes: the sum, as gunicorn workers would."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    bump = textwrap.dedent("""
        import django; django.setup()
        from apaygate import metrics
        metrics.DELIVERIES.labels(outcome="succeeded").inc()
        metrics.PROVIDER_BREAKER_STATE.labels(provider="tele").set(2)
        metrics.DELIVERY_BACKLOG.set(7)
    """)
    expose = textwrap.dedent("""
        import django; django.setup()
        from prometheus_client import generate_latest
        from apaygate.metrics import metrics_registry
        print(generate_latest(metrics_registry()).decode())
    """)
    # side by side, as gunicorn's workers run (and one process's start-up time instead of two)
    bumps = [subprocess.Popen([sys.executable, "-c", bump], env=env) for _ in range(2)]
    assert [process.wait(timeout=120) for process in bumps] == [0, 0]
    out = subprocess.run(
        [sys.executable, "-c", expose], env=env, check=True, capture_output=True, text=True
    ).stdout

    assert 'apaygate_deliveries_total{outcome="succeeded"} 2.0' in out
    assert "apaygate_delivery_backlog 7.0" in out


def _payment():
    from tests.factories import PaymentFactory

    return PaymentFactory(merchant=MerchantFactory(slug="ops-shop", provider="sandbox"))


def test_a_worker_serves_its_own_metrics_when_given_a_port(settings):
    import urllib.request

    from tests.support.gateway import free_port

    port = free_port()
    settings.WORKER_METRICS_PORT = port
    settings.WORKER_METRICS_ADDR = "127.0.0.1"
    metrics.DELIVERIES.labels(outcome="succeeded").inc()

    metrics.metrics_start_worker_server()

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        assert 'apaygate_deliveries_total{outcome="succeeded"}' in answer.read().decode()


def test_a_worker_serves_nothing_without_a_port(settings, monkeypatch):
    settings.WORKER_METRICS_PORT = 0
    monkeypatch.setattr(metrics, "start_http_server", lambda *a, **k: pytest.fail("started"))

    metrics.metrics_start_worker_server()


def test_an_empty_multiprocess_dir_variable_means_single_process_mode(tmp_path):
    """A .env copied from .env.example must not scatter metric files in the working dir."""
    script = (
        "import django; django.setup(); from apaygate import metrics; "
        "print(type(metrics.DELIVERY_BACKLOG._value).__name__)"
    )
    project = str(Path(metrics.__file__).resolve().parents[1])
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": "", "PYTHONPATH": project}

    out = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, check=True, capture_output=True,
        text=True,
    ).stdout  # fmt: skip

    assert out.strip() == "MutexValue"
    assert list(tmp_path.iterdir()) == []


def test_provider_calls_and_deliveries_are_recorded(db):
    # given a provider call that fails and one that succeeds
    from prometheus_client import REGISTRY

    from providers.base import ProviderError
    from providers.breaker import breakers_reset, provider_call

    breakers_reset()
    before = (
        REGISTRY.get_sample_value(
            "apaygate_provider_errors_total", {"provider": "metrics-test", "kind": "timeout"}
        )
        or 0.0
    )

    def timeout():
        raise ProviderError("slow", kind="timeout")

    with pytest.raises(ProviderError):
        provider_call("metrics-test", timeout)
    provider_call("metrics-test", lambda: "invoice")

    # then errors, latency and the breaker's state are in the registry
    assert (
        REGISTRY.get_sample_value(
            "apaygate_provider_errors_total", {"provider": "metrics-test", "kind": "timeout"}
        )
        == before + 1
    )
    assert (
        REGISTRY.get_sample_value(
            "apaygate_provider_request_duration_seconds_count",
            {"provider": "metrics-test", "outcome": "ok"},
        )
        >= 1
    )
    assert (
        REGISTRY.get_sample_value("apaygate_provider_breaker_state", {"provider": "metrics-test"})
        == 0
    )
