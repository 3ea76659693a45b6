"""Liveness and readiness, as load balancers and Kubernetes read them."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from apaygate import health

pytestmark = pytest.mark.django_db


def test_healthz_is_cheap_and_touches_no_dependency(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        answer = client.get("/healthz")

    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "providers": {}}  # no breaker has tripped


def test_readyz_checks_database_migrations_cache_and_broker(client):
    answer = client.get("/readyz")

    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["status"] == "ok"
    assert all(check["ok"] for check in body["checks"].values())


def test_readyz_is_503_when_migrations_are_missing(client, monkeypatch):
    def unapplied():
        raise RuntimeError("2 migrations not applied")

    monkeypatch.setitem(health.CHECKS, "migrations", unapplied)

    answer = client.get("/readyz")

    assert answer.status_code == 503
    assert answer.json()["checks"]["migrations"] == {
        "ok": False,
        "error": "RuntimeError",
        "ms": answer.json()["checks"]["migrations"]["ms"],
    }


def test_readyz_stays_ready_but_degraded_without_the_cache(client, monkeypatch):
    # Redis is an accelerator: instances must stay in the load balancer without it.
    def cache_down(*args, **kwargs):
        raise ConnectionError("redis is away")

    monkeypatch.setattr(cache, "set", cache_down)

    answer = client.get("/readyz")

    assert answer.status_code == 200
    assert answer.json()["status"] == "degraded"
    assert answer.json()["checks"]["cache"]["ok"] is False
