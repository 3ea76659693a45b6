"""`python manage.py bigquery_backfill [--since DATE]`: re-export history to BigQuery."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from reporting.export.client import events_table_id
from reporting.export.services import ExportRequestFailed, export_backfill
from reporting.export.status import bigquery_enabled


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since wants a date like 2026-01-31, not {value!r}") from None


class Command(BaseCommand):
    help = (
        "Send every event since --since (default: all) that BigQuery does not hold yet, with "
        "the same row ids as the periodic export. Safe to re-run: rows already there are "
        "skipped, so it never duplicates."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", type=_day, default=None, help="First day (YYYY-MM-DD).")
        parser.add_argument("--chunk-size", type=int, default=None, help="Events per request.")
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")

    def handle(self, *args, since, chunk_size, no_progress, **options) -> None:
        if not bigquery_enabled():
            raise CommandError("BIGQUERY_PROJECT is not set: BigQuery export is off.")
        bar = tqdm(
            desc="events", unit="ev", disable=no_progress, file=self.stderr, dynamic_ncols=True
        )
        try:
            result = export_backfill(
                since=since,
                chunk_size=chunk_size,
                on_total=lambda total: bar.reset(total=total),
                on_progress=bar.update,
            )
        except ExportRequestFailed as exc:
            raise CommandError(
                f"BigQuery refused the request ({exc}); what was sent so far is recorded, "
                "run the command again to continue."
            ) from None
        finally:
            bar.close()
        self.stdout.write(
            f"{events_table_id()}: scanned {result.scanned} of {result.total} events, "
            f"sent {result.sent}, already present {result.already_present}, "
            f"refused {result.refused}, skipped (being exported) {result.skipped_busy}"
        )
        if result.refused:
            self.stderr.write(
                "Some rows were refused; see export_error on those events in the admin."
            )
