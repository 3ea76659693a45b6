"""The overload row of `make bench`: 512 init-payments in flight, 8x the throughput row's 64.

Run: `.venv/bin/python bench/bench_overload.py` (PostgreSQL and Redis up), or `make bench`
(bench/run.sh calls it after bench_gateway.py). The same environment as
bench/bench_gateway.py (BENCH_DATABASE_URL, dropped and re-created; BENCH_REDIS_URL;
BENCH_PORT_BASE; WEB_CONCURRENCY), plus BENCH_OVERLOAD_SECONDS (20) and
BENCH_OVERLOAD_IN_FLIGHT (512). `--no-results` leaves bench/results.json alone.

It starts the stack bench_gateway.py measures (bench/processes.py: the production web
command, a provider stub answering every invoice after 200 ms, the Celery worker and beat
with their production commands), then, at the same time:
- 512 clients, each on its own keep-alive connection, send init-payments one after another
  (closed loop: a client sends its next request when the last one is answered), for
  BENCH_OVERLOAD_SECONDS;
- shoppers follow redirects (KV hits) paced at 200/s on 4 connections (wrk), at
  BENCH_SHOPPER_URL when a shopper process class is measured (bench/processes.py);
- PostgreSQL's client connections to the bench database are counted every 50 ms
  (pg_stat_activity), for the peak.
It runs twice: clients that retry a 503 at once (the worst case), then clients that wait
the Retry-After it names, as the SDKs do. For each it prints every figure beside its
target (issue 19) with the machine's load average, and merges its row into
bench/results.json, as bench_bigquery.py does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import wrk  # noqa: E402
from bench.bench_gateway import concurrently, paced  # noqa: E402
from bench.processes import DB_URL, Stack  # noqa: E402
from tests.support.postgres import PeakConnections  # noqa: E402

RESULTS = ROOT / "bench" / "results.json"
ROW_NAME = "overload: 512 init-payments in flight, provider 200 ms"
IN_FLIGHT = int(os.environ.get("BENCH_OVERLOAD_IN_FLIGHT", "512"))
SECONDS = float(os.environ.get("BENCH_OVERLOAD_SECONDS", "20"))
ANSWER_BUDGET_S = 2.0  # the "answered within 2 s" (a quick 503 counts)
CLIENT_TIMEOUT_S = 30.0  # a request not answered by then is counted as past 2 s, unanswered
# Targets from issue 19, printed beside each figure.
TARGET_WITHIN = 0.99
TARGET_PAST = 0.01
TARGET_SHOPPER_P99_MS = 20.0
TARGET_PEAK_CONNECTIONS = 40


# --- the 512 clients ----------------------------------------------------------------------


class Tally:
    """Every answer's status and latency (seconds), and the requests never answered."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, float]] = []
        self.unanswered = 0
        self.overloaded = 0  # 503s whose body is the `overloaded` error (shed)
        self.unavailable = 0  # 503 `service_unavailable`: no pooled connection in time
        self.numbers = itertools.count(time.time_ns() // 1000)  # unique payment ids


async def _client(
    host: str, port: int, request: bytes, until: float, tally: Tally, *, wait_retry_after: bool
) -> None:
    """One keep-alive connection sending init-payments back to back until `until`.

    With `wait_retry_after`, a 503 is followed by the wait its Retry-After asks for, as the
    SDKs do (sdk/typescript/src/client.ts); without, the next request goes at once.
    """
    reader = writer = None
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            writer.write(request.replace(b"{n}", f"{next(tally.numbers):019d}".encode()))
            status, body, close, retry_after = await asyncio.wait_for(
                _response(reader), CLIENT_TIMEOUT_S
            )
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            tally.unanswered += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            continue
        tally.answers.append((status, time.monotonic() - started))
        if status == 503 and b'"overloaded"' in body:
            tally.overloaded += 1
        elif status == 503 and b'"service_unavailable"' in body:
            tally.unavailable += 1
        if close:
            writer.close()
            reader = writer = None
        if wait_retry_after and status == 503:
            await asyncio.sleep(min(retry_after, max(until - time.monotonic(), 0)))
    if writer is not None:
        writer.close()


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool, float]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    close = headers.get("connection", "").lower() == "close"
    return status, body, close, float(headers.get("retry-after", "0") or 0)


def _init_request(stack: Stack, host: str) -> bytes:
    body = json.dumps({**stack.INIT_BODY, "id": "overload-{n}"})
    length = len(body.replace("{n}", "0" * 19))  # {n}: 19 digits per request
    return (
        f"POST /api/v1/init-payment HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Token {stack.token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n{body}"
    ).encode()


def overload(stack: Stack, *, wait_retry_after: bool) -> Tally:
    """IN_FLIGHT closed-loop clients for SECONDS; every answer and its latency."""
    split = urlsplit(stack.gateway_url)
    request = _init_request(stack, split.netloc)
    tally = Tally()

    async def run() -> None:
        until = time.monotonic() + SECONDS
        await asyncio.gather(
            *(
                _client(
                    split.hostname,
                    split.port,
                    request,
                    until,
                    tally,
                    wait_retry_after=wait_retry_after,
                )
                for _ in range(IN_FLIGHT)
            )
        )

    asyncio.run(run())
    return tally


# --- PostgreSQL connections ---------------------------------------------------------------


# --- the row --------------------------------------------------------------------------------


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(int(len(ordered) * q), len(ordered) - 1)]


def summarize(tally: Tally, shoppers: dict, peak: int, load: tuple[float, ...]) -> dict:
    sent = len(tally.answers) + tally.unanswered
    within = sum(1 for _status, latency in tally.answers if latency <= ANSWER_BUDGET_S)
    served = [latency for status, latency in tally.answers if status == 201]
    other = sum(1 for status, _latency in tally.answers if status not in (201, 503))
    return {
        "name": ROW_NAME,
        "in_flight": IN_FLIGHT,
        "seconds": SECONDS,
        "requests": sent,
        "within_2s_share": round(within / max(sent, 1), 4),
        "past_2s_share": round((sent - within) / max(sent, 1), 4),
        "shed_503_share": round(tally.overloaded / max(sent, 1), 4),
        "db_unavailable_503_share": round(tally.unavailable / max(sent, 1), 4),
        "created_201": len(served),
        "created_rps": round(len(served) / SECONDS, 1),
        "created_p99_ms": round(_quantile(served, 0.99) * 1000, 1),
        "other_status": other,
        "unanswered": tally.unanswered,
        "shopper_redirect_p99_ms": round(shoppers["p99_ms"], 2),
        "shopper_redirect_rps": round(shoppers["rps"]),
        "peak_postgres_connections": peak,
        "targets": {
            "within_2s_share": f">= {TARGET_WITHIN}",
            "past_2s_share": f"<= {TARGET_PAST}",
            "shopper_redirect_p99_ms": f"<= {TARGET_SHOPPER_P99_MS}",
            "peak_postgres_connections": f"<= {TARGET_PEAK_CONNECTIONS}",
        },
        "load_average": [round(x, 2) for x in load],
    }


def print_row(row: dict, describe: str) -> None:
    print(f"\n{describe}")
    print(f"{row['name']}: {row['seconds']:.0f} s, closed loop")
    print(f"load average during the run: {row['load_average']}")
    lines = [
        ("answered within 2 s (503s count)", f"{row['within_2s_share']:.2%}",
         f">= {TARGET_WITHIN:.0%}"),
        ("past 2 s or unanswered", f"{row['past_2s_share']:.2%}", f"<= {TARGET_PAST:.0%}"),
        ("shed (503 overloaded)", f"{row['shed_503_share']:.2%}", "- (a quick 503 counts)"),
        ("503 service_unavailable (pool wait)", f"{row['db_unavailable_503_share']:.2%}", "-"),
        ("payments created", f"{row['created_rps']} rps, p99 {row['created_p99_ms']} ms", "-"),
        ("shoppers' redirects meanwhile, p99", f"{row['shopper_redirect_p99_ms']} ms",
         f"<= {TARGET_SHOPPER_P99_MS:.0f} ms"),
        ("peak PostgreSQL connections", str(row["peak_postgres_connections"]),
         f"<= {TARGET_PEAK_CONNECTIONS}"),
    ]  # fmt: skip
    print(f"| {'measure':36} | {'figure':>28} | target")
    print("|" + "-" * 38 + "|" + "-" * 29 + ":|---")
    for name, figure, target in lines:
        print(f"| {name:36} | {figure:>28} | {target}")
    print(f"({row['requests']} requests; other statuses {row['other_status']}, "
          f"unanswered {row['unanswered']})")  # fmt: skip


def results_merge(rows: list[dict]) -> None:
    """Put our rows into bench/results.json, replacing only previous rows of ours."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"rows": []}
    kept = [r for r in results.get("rows", []) if not r.get("name", "").startswith(ROW_NAME)]
    results["rows"] = kept + rows
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


# The two ways a client may meet a 503: retry at once (the worst case), or wait the
# Retry-After it names, as the SDKs do. Each is a phase of its own, with its own row.
PHASES = (("clients retry at once", False), ("clients wait Retry-After, as the SDKs", True))


def phase(stack: Stack, hits: list[str], *, wait_retry_after: bool) -> tuple[Tally, dict, int]:
    """One overload run with shoppers beside it; the answers, the shoppers, the peak."""
    shoppers_script = wrk.lua_paths(hits, think_ms=paced(200, 4))
    with PeakConnections(DB_URL, database=DB_URL.rsplit("/", 1)[1], interval=0.05) as peak:
        tally, shoppers = concurrently(
            lambda: overload(stack, wait_retry_after=wait_retry_after),
            lambda: wrk.run(stack.shopper_url, shoppers_script, connections=4, seconds=SECONDS),
        )
    return tally, shoppers, peak.peak


def main() -> None:
    stack = Stack(root=ROOT)
    rows: list[dict] = []
    try:
        stack.prepare()
        stack.start_web()
        stack.start_worker()
        hits = stack.pay_paths(stack.payments(200, in_kv=True))
        stack.expect_status("GET", hits[0], 302, base=stack.shopper_url)
        stack.expect_status("POST", "/api/v1/init-payment", 201, **stack.init_request())
        wrk.run(stack.gateway_url, stack.init_script(), connections=64, seconds=2)  # warm-up
        for label, wait_retry_after in PHASES:
            tally, shoppers, peak = phase(stack, hits, wait_retry_after=wait_retry_after)
            row = summarize(tally, shoppers, peak, os.getloadavg())
            rows.append({**row, "name": f"{ROW_NAME}, {label}"})
    finally:
        stack.stop()
        print(stack.log_tail())
    for row in rows:
        print_row(row, stack.describe())
    if "--no-results" not in sys.argv:
        results_merge(rows)
        print("merged the overload rows into bench/results.json")


if __name__ == "__main__":
    main()
