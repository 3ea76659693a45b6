"""The one place that talks to BigQuery: client, dataset/table/view setup, streaming inserts.

Every call carries a short timeout and a bounded retry: the google client's default retry
runs for ten minutes, which would stall an export run (and its row locks) for that long.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import requests
from django.conf import settings
from google.api_core.client_options import ClientOptions
from google.api_core.exceptions import NotFound
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from reporting.export.schema import EVENTS_SCHEMA, EVENTS_TABLE, LATEST_VIEW, LATEST_VIEW_SQL

logger = logging.getLogger(__name__)


def _request_timeout() -> float:
    return settings.BIGQUERY_REQUEST_TIMEOUT


def _retry() -> Any:
    return bigquery.DEFAULT_RETRY.with_deadline(_request_timeout())


@cache
def _client_for(project: str, endpoint: str) -> bigquery.Client:
    if endpoint:
        # An emulator (bqemulator) or a proxy: no Google credentials to find.
        return bigquery.Client(
            project=project,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=endpoint),
        )
    return bigquery.Client(project=project)


def bigquery_client() -> bigquery.Client:
    """Return a client for the configured project, reused per process (it pools connections)."""
    return _client_for(settings.BIGQUERY_PROJECT, settings.BIGQUERY_API_ENDPOINT)


def dataset_id() -> str:
    return f"{settings.BIGQUERY_PROJECT}.{settings.BIGQUERY_DATASET}"


def events_table_id() -> str:
    return f"{dataset_id()}.{EVENTS_TABLE}"


def latest_view_id() -> str:
    return f"{dataset_id()}.{LATEST_VIEW}"


@dataclass(frozen=True)
class SetupResult:
    dataset_created: bool
    table_created: bool
    columns_added: tuple[str, ...]
    view_created: bool


def bigquery_setup(*, location: str = "US") -> SetupResult:
    """Create or update the dataset, the events table and the latest-state view.

    Safe to run any number of times: existing objects are kept, missing columns are added
    (BigQuery allows only additive schema changes in place), the view's SQL is rewritten.
    """
    client = bigquery_client()
    kwargs = {"retry": _retry(), "timeout": _request_timeout()}

    try:
        client.get_dataset(dataset_id(), **kwargs)
        dataset_created = False
    except NotFound:
        dataset = bigquery.Dataset(dataset_id())
        dataset.location = location
        client.create_dataset(dataset, exists_ok=True, **kwargs)
        dataset_created = True

    columns_added: tuple[str, ...] = ()
    try:
        table = client.get_table(events_table_id(), **kwargs)
        table_created = False
        present = {field.name for field in table.schema}
        missing = [field for field in EVENTS_SCHEMA if field.name not in present]
        if missing:
            table.schema = [*table.schema, *missing]
            client.update_table(table, ["schema"], **kwargs)
            columns_added = tuple(field.name for field in missing)
    except NotFound:
        table = bigquery.Table(events_table_id(), schema=EVENTS_SCHEMA)
        table.time_partitioning = bigquery.TimePartitioning(
            type_=bigquery.TimePartitioningType.DAY, field="occurred_at"
        )
        table.clustering_fields = ["merchant_id"]
        table.description = "APayGate payment events, one row per event (exported outbox)."
        client.create_table(table, exists_ok=True, **kwargs)
        table_created = True

    view_sql = LATEST_VIEW_SQL.format(table=events_table_id())
    try:
        view = client.get_table(latest_view_id(), **kwargs)
        view.view_query = view_sql
        client.update_table(view, ["view_query"], **kwargs)
        view_created = False
    except NotFound:
        view = bigquery.Table(latest_view_id())
        view.view_query = view_sql
        view.description = "One row per payment in its latest state."
        client.create_table(view, exists_ok=True, **kwargs)
        view_created = True

    return SetupResult(dataset_created, table_created, columns_added, view_created)


def bigquery_insert_rows(*, rows: Sequence[dict], row_ids: Sequence[str]) -> dict[int, str]:
    """Stream rows into `payment_events`; return {row index: error message} for refused rows.

    Rows not in the answer were accepted. Any exception means the request as a whole was
    not accepted (network, quota, server error) and every row must be resent.

    The first try is all-or-nothing (no `skipInvalidRows`), which costs the server one
    conversion of the whole batch instead of one per row: the emulator spent 40% of its
    time on that per-row pass. A batch with a bad row is refused as a whole (BigQuery
    answers "invalid"/"stopped", the emulator a 500), and nothing of it is stored; only
    then are the rows sent again with `skipInvalidRows`, so one malformed row fails alone
    and its answer is the one recorded. A timeout is not retried that way: the server did
    not answer, and the retrying request would only wait as long again.
    """
    client = bigquery_client()
    rows, row_ids = list(rows), list(row_ids)
    try:
        if not client.insert_rows_json(
            events_table_id(), rows, row_ids=row_ids, retry=None, timeout=_request_timeout()
        ):
            return {}
        logger.info("bigquery refused a row of the batch; resending row by row")
    except requests.exceptions.Timeout:
        raise
    except Exception as exc:
        logger.info("bigquery insert failed as a whole (%s); resending row by row", exc)
    errors = client.insert_rows_json(
        events_table_id(),
        rows,
        row_ids=row_ids,
        skip_invalid_rows=True,
        retry=_retry(),
        timeout=_request_timeout(),
    )
    refused: dict[int, str] = {}
    for entry in errors:
        messages = [
            f"{e.get('location') or '-'}: {e.get('reason', '')} {e.get('message', '')}".strip()
            for e in entry.get("errors", [])
        ]
        refused[int(entry["index"])] = "; ".join(messages)[:2000] or "row refused"
    return refused


def bigquery_existing_event_ids(*, event_ids: Sequence[str]) -> set[str]:
    """Return which of these event ids are already in the table (the backfill skips them)."""
    if not event_ids:
        return set()
    client = bigquery_client()
    job = client.query(
        f"SELECT DISTINCT event_id FROM `{events_table_id()}` WHERE event_id IN UNNEST(@ids)",  # noqa: S608 - table id comes from settings, ids are a parameter
        job_config=bigquery.QueryJobConfig(
            query_parameters=[bigquery.ArrayQueryParameter("ids", "STRING", list(event_ids))]
        ),
        retry=_retry(),
        timeout=_request_timeout(),
    )
    return {row.event_id for row in job.result(timeout=_request_timeout())}
