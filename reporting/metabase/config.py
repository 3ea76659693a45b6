"""Metabase settings: the embed ones live in Django settings, the admin login here.

`METABASE_USERNAME` / `METABASE_PASSWORD` are only needed by `manage.py metabase_provision`,
so they are read from the environment here (django-environ) unless settings define them.
"""

from __future__ import annotations

from dataclasses import dataclass

import environ
from django.conf import settings

_env = environ.Env()


@dataclass(frozen=True)
class MetabaseConfig:
    site_url: str
    secret_key: str
    dashboard_id: int
    username: str
    password: str
    database_id: int
    dataset: str


def metabase_config() -> MetabaseConfig:
    """Read the Metabase configuration at call time, so tests can override settings."""

    def pick(name: str, default, cast=str):
        if hasattr(settings, name):
            return getattr(settings, name)
        reader = _env.int if cast is int else _env.str
        return reader(name, default=default)

    return MetabaseConfig(
        site_url=str(pick("METABASE_SITE_URL", "")).rstrip("/"),
        secret_key=str(pick("METABASE_SECRET_KEY", "")),
        dashboard_id=int(pick("METABASE_DASHBOARD_ID", 0, int) or 0),
        username=str(pick("METABASE_USERNAME", "")),
        password=str(pick("METABASE_PASSWORD", "")),
        # 0: use the first BigQuery database Metabase knows.
        database_id=int(pick("METABASE_DATABASE_ID", 0, int) or 0),
        dataset=str(pick("BIGQUERY_DATASET", "apaygate")),
    )
