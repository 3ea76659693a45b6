"""`python manage.py bigquery_setup`: create or update the export dataset, table and view."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from reporting.export.client import (
    bigquery_setup,
    dataset_id,
    events_table_id,
    latest_view_id,
)
from reporting.export.status import bigquery_enabled


class Command(BaseCommand):
    help = (
        "Create or update the BigQuery dataset (BIGQUERY_DATASET), the `payment_events` table "
        "(partitioned by day of occurred_at, clustered by merchant) and the `payments_latest` "
        "view. Safe to run again: missing columns are added, the view is rewritten."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--location", default="US", help="Dataset location when creating it.")

    def handle(self, *args, location: str, **options) -> None:
        if not bigquery_enabled():
            raise CommandError("BIGQUERY_PROJECT is not set: BigQuery export is off.")
        try:
            result = bigquery_setup(location=location)
        except Exception as exc:
            raise CommandError(f"BigQuery setup failed: {type(exc).__name__}: {exc}") from None
        said = {True: "created", False: "already there"}
        self.stdout.write(f"dataset {dataset_id()}: {said[result.dataset_created]}")
        table_note = said[result.table_created]
        if result.columns_added:
            table_note = f"updated, columns added: {', '.join(result.columns_added)}"
        self.stdout.write(f"table {events_table_id()}: {table_note}")
        self.stdout.write(
            f"view {latest_view_id()}: {'created' if result.view_created else 'updated'}"
        )
