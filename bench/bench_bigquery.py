"""Benchmark the BigQuery export against bqemulator: throughput beside a bare insert loop.

Run from the project root (PostgreSQL and Redis up, as for the tests):

    .venv/bin/python bench/bench_bigquery.py      # DATABASE_URL / REDIS_URL as for pytest

Options: `--events 10000` (burst size), `--batch-size` (default: BIGQUERY_BATCH_SIZE, what
production ships), `--rounds 3`. It creates a throwaway test database (bench_bq_<name>),
starts bqemulator on BENCH_PORT_BASE+10 (18010), warms it up (its first insert loads its
modules), then for each round, in a fresh dataset: writes a burst of events for real
payments, runs the export the way beat does (one `export_run()` after another) until
nothing waits, and sends the same rows with a bare `insert_rows_json` loop (same batch
size, one request after another: the emulator's ceiling without our claiming and
bookkeeping) into a fresh table. It prints the median of the rounds beside that baseline,
with the load average (the machine may be shared), and merges its row into
bench/results.json (written by bench_gateway.py) without touching the other rows.

The emulator's cost per request grows with the table (it snapshots the whole table after
every insert, for time travel), so both figures depend on the burst size and batch size:
compare them only within one run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apaygate.test_settings")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")

RESULTS = ROOT / "bench" / "results.json"
ROW_NAME = "BigQuery export into bqemulator"
EMULATOR_PORT = int(os.environ.get("BENCH_PORT_BASE", "18000")) + 10
DRAIN_LIMIT_SECONDS = 600


def cpu_baseline() -> float:
    """Time a fixed CPU loop, so figures from two machines can be compared."""
    started = time.perf_counter()
    data = b"x" * 64
    for _ in range(200_000):
        data = hashlib.sha256(data).digest() + data[:32]
    return time.perf_counter() - started


def process_cpu_seconds(pid: int) -> float:
    """Read a process's CPU time (user + system, all threads) from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds spent by us, the emulator and our PostgreSQL backend between two points.

    Wall time on a shared machine swings with the neighbours' load; CPU time per event
    barely does, so it says whether a change made the work smaller.
    """

    def __init__(self, *, emulator_pid: int, postgres_pid: int) -> None:
        self.pids = {"emulator": emulator_pid, "postgres": postgres_pid}

    def read(self) -> dict[str, float]:
        cpu = {name: process_cpu_seconds(pid) for name, pid in self.pids.items()}
        return {"exporter": time.process_time(), **cpu}

    @staticmethod
    def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {name: round(after[name] - before[name], 3) for name in before}


def results_merge(row: dict) -> None:
    """Put our row into bench/results.json, replacing only a previous row of ours."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"rows": []}
    results["rows"] = [r for r in results.get("rows", []) if r.get("name") != ROW_NAME] + [row]
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-results", action="store_true", help="Leave results.json alone.")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import setup_test_environment

    from tests.factories import MerchantFactory, PaymentFactory
    from tests.reporting.export.conftest import PROJECT, Emulator, _install_spatial_extension

    batch_size = args.batch_size or settings.BIGQUERY_BATCH_SIZE
    setup_test_environment()
    # Its own database, apart from the test suite's test_<name>.
    connection.settings_dict.setdefault("TEST", {})["NAME"] = (
        f"bench_bq_{connection.settings_dict['NAME']}"
    )
    db_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    _install_spatial_extension(Path(tempfile.gettempdir()) / "apaygate-duckdb-spatial.lock")
    rounds: list[dict] = []
    try:
        merchant = MerchantFactory(slug="bench")
        payments = [
            PaymentFactory(merchant=merchant, amount=Decimal("10.00") + i)
            for i in range(max(args.events // 10, 1))
        ]
        for _ in range(args.rounds):
            # A fresh emulator per round: it keeps every snapshot it takes and slows down
            # as they pile up, which would make later rounds pay for earlier ones.
            workdir = Path(tempfile.mkdtemp(prefix="bench-bq-"))
            emulator = Emulator(
                data_dir=workdir / "data", log_path=workdir / "emulator.log", port=EMULATOR_PORT
            )
            emulator.start()
            try:
                with override_settings(
                    BIGQUERY_PROJECT=PROJECT,
                    BIGQUERY_API_ENDPOINT=emulator.endpoint,
                    BIGQUERY_BATCH_SIZE=batch_size,
                    BIGQUERY_DATASET="bench",
                ):
                    _warm_up()
                    rounds.append(
                        _round(
                            events=args.events,
                            batch_size=batch_size,
                            merchant=merchant,
                            payments=payments,
                            table_prefix=f"{PROJECT}.bench",
                            emulator_pid=emulator.process.pid,
                        )
                    )
            finally:
                emulator.stop()
                shutil.rmtree(workdir, ignore_errors=True)
    finally:
        connection.creation.destroy_test_db(db_name, verbosity=0)

    export = statistics.median(r["export_rate"] for r in rounds)
    bare = statistics.median(r["bare_rate"] for r in rounds)
    load = os.getloadavg()
    cpu = cpu_baseline()
    print(f"burst: {args.events} events per round, batch size {batch_size}, {len(rounds)} rounds")
    for i, r in enumerate(rounds, 1):
        print(
            f"  round {i}: export {r['export_rate']:,.0f} events/s ({r['runs']} run(s), "
            f"lag after the burst {r['export_seconds']:.2f}s, {r['rows_in_bigquery']} rows, "
            f"{r['distinct_in_bigquery']} distinct); bare loop {r['bare_rate']:,.0f} rows/s; "
            f"load {r['load']:.2f}"
        )
        print(f"    CPU seconds, export: {r['export_cpu_seconds']}; bare: {r['bare_cpu_seconds']}")
    print(
        f"export (median): {export:,.0f} events/s; baseline, bare insert_rows_json loop "
        f"(median): {bare:,.0f} rows/s; ratio {export / bare:.2f}"
    )
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"baseline, CPU loop (200k SHA-256): {cpu:.3f}s")
    if not args.no_results:
        results_merge(
            {
                "name": ROW_NAME,
                "figure": round(export),
                "unit": "events/s",
                "baseline": round(bare),
                "baseline_name": f"bare insert_rows_json loop, {batch_size} rows/request",
                "ratio": round(export / bare, 2),
                "events": args.events,
                "batch_size": batch_size,
                "rounds": rounds,
                "load_average": round(load[0], 2),
            }
        )
        print(f"merged into {RESULTS.relative_to(ROOT)}")


def _warm_up() -> None:
    """Send one row to a scratch table: the emulator's first insert loads its modules."""
    from django.utils import timezone
    from google.cloud import bigquery

    from reporting.export.client import bigquery_client
    from reporting.export.schema import EVENTS_SCHEMA
    from tests.reporting.export.conftest import PROJECT

    client = bigquery_client()
    client.create_dataset("warm_up")
    table = f"{PROJECT}.warm_up.events"
    client.create_table(bigquery.Table(table, schema=EVENTS_SCHEMA))
    row = {"event_id": "warm-up", "type": "-", "occurred_at": timezone.now().isoformat()}
    assert not client.insert_rows_json(table, [row])


def _round(
    *, events: int, batch_size: int, merchant, payments, table_prefix: str, emulator_pid: int
) -> dict:
    """Write a burst, drain it with the export, then send the same rows with a bare loop."""
    from django.db import connection
    from django.utils import timezone
    from google.cloud import bigquery

    from payments.models import EventType, PaymentEvent, PaymentStatus
    from reporting.export.client import bigquery_client, bigquery_setup
    from reporting.export.rows import event_rows, event_values
    from reporting.export.schema import EVENTS_SCHEMA
    from reporting.export.services import export_run
    from reporting.export.status import export_lag

    bigquery_setup()
    client = bigquery_client()
    PaymentEvent.objects.all().delete()
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
            for i in range(events)
        ],
        batch_size=2000,
    )

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        meter = CpuMeter(emulator_pid=emulator_pid, postgres_pid=cursor.fetchone()[0])

    # Our export, run back to back as beat would when each run ends.
    cpu_before = meter.read()
    started = time.perf_counter()
    runs = exported = 0
    while True:
        result = export_run()
        runs += 1
        exported += result.exported
        if result.error:
            raise SystemExit(f"export failed: {result.error}")
        remaining = PaymentEvent.objects.filter(exported_at__isnull=True).count()
        if remaining == 0 or time.perf_counter() - started > DRAIN_LIMIT_SECONDS:
            break
    # The last event of the burst was written before the export started; it waited (at
    # most) until the queue drained: this is the lag after the burst.
    elapsed = time.perf_counter() - started
    export_cpu = CpuMeter.spent(cpu_before, meter.read())
    assert export_lag().total_seconds() == 0

    # Baseline: the same rows through a bare insert_rows_json loop into a fresh table.
    raw_table = f"{table_prefix}.raw_baseline"
    client.create_table(bigquery.Table(raw_table, schema=EVENTS_SCHEMA))
    values = list(event_values(PaymentEvent.objects.order_by("occurred_at")))
    rows = event_rows(values, exported_at=timezone.now())
    cpu_before = meter.read()
    raw_started = time.perf_counter()
    for i in range(0, len(rows), batch_size):
        chunk = rows[i : i + batch_size]
        errors = client.insert_rows_json(raw_table, chunk, row_ids=[r["event_id"] for r in chunk])
        assert not errors, errors[:1]
    raw_elapsed = time.perf_counter() - raw_started
    bare_cpu = CpuMeter.spent(cpu_before, meter.read())

    counted = next(
        iter(
            client.query(
                "SELECT COUNT(*) n, COUNT(DISTINCT event_id) d "
                f"FROM `{table_prefix}.payment_events`"
            ).result()
        )
    )
    assert counted.n == counted.d == exported == events, (counted.n, counted.d, exported)
    return {
        "export_rate": round(exported / elapsed, 1),
        "export_seconds": round(elapsed, 3),
        "runs": runs,
        "export_cpu_seconds": export_cpu,
        "bare_rate": round(len(rows) / raw_elapsed, 1),
        "bare_cpu_seconds": bare_cpu,
        "rows_in_bigquery": counted.n,
        "distinct_in_bigquery": counted.d,
        "load": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    main()
