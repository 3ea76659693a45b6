"""Metabase settings, read from Django settings at call time (so tests can override them).

`METABASE_USERNAME` / `METABASE_PASSWORD` are only needed by `manage.py metabase_provision`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


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
    """Return the Metabase configuration in force now."""
    return MetabaseConfig(
        site_url=settings.METABASE_SITE_URL.rstrip("/"),
        secret_key=settings.METABASE_SECRET_KEY,
        dashboard_id=settings.METABASE_DASHBOARD_ID or 0,
        username=settings.METABASE_USERNAME,
        password=settings.METABASE_PASSWORD,
        # 0: use the first BigQuery database Metabase knows.
        database_id=settings.METABASE_DATABASE_ID or 0,
        dataset=settings.BIGQUERY_DATASET,
    )
