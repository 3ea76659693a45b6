"""The PostgreSQL connection pool: on for PostgreSQL only, given back early, shown to operators."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction

from foundation.db_pool import connection_release, db_pool_use
from payments.models import Merchant

ROOT = Path(__file__).resolve().parents[2]


def _settings_databases(environment: dict) -> dict:
    code = (
        "import json, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'apaygate.settings';"
        "from django.conf import settings; print(json.dumps(settings.DATABASES['default']))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update({"ENV_FILE": "", "SECRET_KEY": "x" * 40, **environment})
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_postgresql_gets_a_pool_with_the_configured_budget_and_sqlite_none():
    postgres = _settings_databases(
        {"DATABASE_URL": "postgres://u@127.0.0.1:5432/x", "DATABASE_POOL_MAX_SIZE": "7"}
    )
    sqlite = _settings_databases({})

    assert postgres["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 7, "timeout": 3.0}
    assert postgres["CONN_MAX_AGE"] == 0  # the pool keeps the connections, not the thread
    assert "pool" not in sqlite.get("OPTIONS", {})
    assert sqlite["CONN_MAX_AGE"] == 60


@pytest.mark.django_db(transaction=True)
def test_a_released_connection_goes_back_to_the_pool_and_the_next_query_borrows_one():
    Merchant.objects.exists()
    in_use = db_pool_use()["in_use"]

    connection_release()

    assert connection.connection is None
    assert db_pool_use()["in_use"] == in_use - 1
    assert Merchant.objects.count() >= 0  # borrows again
    assert db_pool_use()["in_use"] == in_use


@pytest.mark.django_db(transaction=True)
def test_a_connection_inside_a_transaction_is_not_released():
    with transaction.atomic():
        Merchant.objects.exists()
        connection_release()
        assert connection.connection is not None


@pytest.mark.django_db
def test_readyz_shows_this_processes_pool(client):
    body = client.get("/readyz").json()

    pool = body["database_pool"]
    assert pool["max"] == settings.DATABASE_POOL_MAX_SIZE
    assert pool["in_use"] >= 1  # the test's own connection
    assert set(pool) == {"max", "open", "in_use", "idle", "waiting", "timeouts"}


@pytest.mark.django_db
def test_metrics_show_the_pool(client, settings):
    settings.METRICS_TOKEN = "pool-metrics-token"

    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer pool-metrics-token").content.decode()

    assert f"apaygate_db_pool_max_connections {float(settings.DATABASE_POOL_MAX_SIZE)}" in text
    assert 'apaygate_db_pool_connections{state="in_use"}' in text
    assert "apaygate_db_pool_waiting" in text
