"""Benchmark the BigQuery export against bqemulator: throughput and lag after a burst.

Run from the project root (PostgreSQL and Redis up, as for the tests):

    .venv/bin/python bench/bench_bigquery.py      # DATABASE_URL / REDIS_URL as for pytest

Options: `--events 10000` (burst size), `--batch-size 500`. It creates a throwaway test
database (bench_bq_<name>), starts bqemulator on a free port, writes a burst of events for
real payments, then runs the export the way beat does (one `export_run()` after another)
until nothing waits, and prints:

- export throughput (events/s) and the lag after the burst (age of the oldest waiting
  event when the queue became empty, i.e. how long the last of the burst waited);
- two machine baselines beside them: the same rows sent with a bare `insert_rows_json`
  loop (the emulator's own ceiling, without our claiming and bookkeeping), and a fixed
  CPU loop (SHA-256 of 64 bytes, 200,000 times) to compare machines.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apaygate.test_settings")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")


def cpu_baseline() -> float:
    """Time a fixed CPU loop, so figures from two machines can be compared."""
    started = time.perf_counter()
    data = b"x" * 64
    for _ in range(200_000):
        data = hashlib.sha256(data).digest() + data[:32]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import setup_test_environment

    from payments.models import EventType, PaymentEvent, PaymentStatus
    from reporting.export.client import bigquery_client, bigquery_setup
    from reporting.export.rows import EVENT_ROW_VALUES, event_rows
    from reporting.export.services import export_run
    from reporting.export.status import export_lag
    from tests.factories import MerchantFactory, PaymentFactory
    from tests.reporting.export.conftest import PROJECT, Emulator, _install_spatial_extension

    setup_test_environment()
    # Its own database, apart from the test suite's test_<name>.
    connection.settings_dict.setdefault("TEST", {})["NAME"] = (
        f"bench_bq_{connection.settings_dict['NAME']}"
    )
    db_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    _install_spatial_extension()
    workdir = Path(tempfile.mkdtemp(prefix="bench-bq-"))
    emulator = Emulator(data_dir=workdir / "data", log_path=workdir / "emulator.log")
    emulator.start()
    try:
        with override_settings(
            BIGQUERY_PROJECT=PROJECT,
            BIGQUERY_DATASET=f"bench_{uuid.uuid4().hex[:8]}",
            BIGQUERY_API_ENDPOINT=emulator.endpoint,
            BIGQUERY_BATCH_SIZE=args.batch_size,
        ):
            bigquery_setup()
            from django.conf import settings

            merchant = MerchantFactory(slug="bench")
            payments = [
                PaymentFactory(merchant=merchant, amount=Decimal("10.00") + i)
                for i in range(max(args.events // 10, 1))
            ]

            # The burst: events written as fast as the database takes them.
            burst_started = time.perf_counter()
            PaymentEvent.objects.bulk_create(
                [
                    PaymentEvent(
                        type=EventType.PAYMENT_CREATED,
                        payment=payments[i % len(payments)],
                        merchant=merchant,
                        status=PaymentStatus.PENDING,
                        provider="sandbox",
                        payload={"n": i, "note": "bench"},
                    )
                    for i in range(args.events)
                ],
                batch_size=2000,
            )
            burst_written = time.perf_counter() - burst_started

            # Our export, run back to back as beat would when each run ends.
            started = time.perf_counter()
            runs = exported = 0
            lag_at_drain = 0.0
            while True:
                result = export_run()
                runs += 1
                exported += result.exported
                if result.error:
                    raise SystemExit(f"export failed: {result.error}")
                remaining = PaymentEvent.objects.filter(exported_at__isnull=True).count()
                if remaining == 0 or time.perf_counter() - started > 600:
                    break
            elapsed = time.perf_counter() - started
            # The last event of the burst was written when the burst ended; it waited
            # (at most) until the queue drained.
            lag_at_drain = elapsed
            assert export_lag().total_seconds() == 0

            # Baseline: the same rows through a bare insert_rows_json loop into a copy.
            client = bigquery_client()
            from google.cloud import bigquery

            from reporting.export.schema import EVENTS_SCHEMA

            raw_table = f"{PROJECT}.{settings.BIGQUERY_DATASET}.raw_baseline"
            client.create_table(bigquery.Table(raw_table, schema=EVENTS_SCHEMA))
            events = list(PaymentEvent.objects.order_by("occurred_at").values(*EVENT_ROW_VALUES))
            from django.utils import timezone

            rows = event_rows(events, exported_at=timezone.now())
            raw_started = time.perf_counter()
            for i in range(0, len(rows), args.batch_size):
                chunk = rows[i : i + args.batch_size]
                errors = client.insert_rows_json(
                    raw_table, chunk, row_ids=[r["event_id"] for r in chunk]
                )
                assert not errors, errors[:1]
            raw_elapsed = time.perf_counter() - raw_started

            counted = next(
                iter(
                    client.query(
                        f"SELECT COUNT(*) n, COUNT(DISTINCT event_id) d FROM "
                        f"`{PROJECT}.{settings.BIGQUERY_DATASET}.payment_events`"
                    ).result()
                )
            )
    finally:
        emulator.stop()
        connection.creation.destroy_test_db(db_name, verbosity=0)

    cpu = cpu_baseline()
    print(
        f"burst: {args.events} events written in {burst_written:.2f}s; batch size {args.batch_size}"
    )
    print(
        f"export: {exported} events in {elapsed:.2f}s over {runs} run(s) = "
        f"{exported / elapsed:,.0f} events/s"
    )
    print(f"lag after the burst (last event waited until the queue drained): {lag_at_drain:.2f}s")
    print(f"rows in BigQuery: {counted.n} ({counted.d} distinct event ids)")
    print(
        f"baseline, bare insert_rows_json of the same rows: {raw_elapsed:.2f}s = "
        f"{len(rows) / raw_elapsed:,.0f} rows/s (ours is {elapsed / raw_elapsed:.2f}x its time)"
    )
    print(f"baseline, CPU loop (200k SHA-256): {cpu:.3f}s")


if __name__ == "__main__":
    main()
