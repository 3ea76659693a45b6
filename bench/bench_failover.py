"""`make bench` row "init-payment, provider hanging, failover": a second provider configured.

Run: `.venv/bin/python bench/bench_failover.py [--no-results]` (PostgreSQL and Redis up;
the same environment as bench/bench_gateway.py, whose Stack it uses, plus one more stub on
BENCH_PORT_BASE + 4).

The merchant is routed `tele, bansky` (payments/routing.py). Tele's stub hangs (never
answers); Bansky's answers every invoice after 200 ms. After a warm-up that opens Tele's
breaker, wrk sends init-payments from 16 connections for BENCH_SECONDS: each is taken by
Bansky, and the row reports their p99 (target 1.5 s; Bansky's own 200 ms included) and how
many were not answered 201. The probes Tele's breaker lets through every
PROVIDER_BREAKER_RESET seconds (capped at PROVIDER_PROBE_TIMEOUT) are in the figure.
The row is merged into bench/results.json, replacing only a previous row of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import wrk  # noqa: E402
from bench.processes import PORT_BASE, Stack  # noqa: E402

SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
NAME = "init-payment, provider hanging, failover to a second: p99 ms"
RESULTS = ROOT / "bench" / "results.json"
TARGET_MS = 1500.0
CONNECTIONS = 16


def _merge(row: dict) -> None:
    """Put our row into bench/results.json, replacing only a previous row of ours."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"rows": []}
    results["rows"] = [r for r in results.get("rows", []) if r.get("name") != NAME] + [row]
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-results", action="store_true", help="Leave results.json alone.")
    args = parser.parse_args()

    stack = Stack(root=ROOT)
    tele_port = PORT_BASE + 4
    stack.env.update(
        {
            "TELE_API_URL": f"http://127.0.0.1:{tele_port}",
            "TELE_API_TOKEN": "bench",
            "TELE_APP_ID": "bench",
        }
    )
    try:
        stack.prepare()
        from payments.merchants import api_token_issue, merchant_create
        from payments.models import ExchangeRate, Merchant

        ExchangeRate.objects.create(currency="USD", rate_to_tusd=Decimal(1))
        merchant = Merchant.objects.filter(slug="bench-routed").first() or merchant_create(
            slug="bench-routed", name="Routed", routes=["tele", "bansky"], actor="bench"
        )
        stack.token = api_token_issue(merchant=merchant, mode="live", label="bench")[1]
        stack.env["STUB_DELAY_MS"] = "0"
        stack._start(
            "tele",
            [str(stack.bin / "uvicorn"), "bench.stubs:provider_app", "--port", str(tele_port),
             "--workers", "1", "--log-level", "warning", "--no-access-log"],
            f"http://127.0.0.1:{tele_port}/stats",
        )  # fmt: skip
        stack.start_web()
        gw = stack.gateway_url
        stack.expect_status("POST", "/api/v1/init-payment", 201, **stack.init_request())

        import requests

        requests.post(f"http://127.0.0.1:{tele_port}/control/hang", timeout=5)
        script = stack.init_script()
        wrk.run(gw, script, connections=CONNECTIONS, seconds=6, timeout="5s")  # opens Tele's
        result = wrk.run(gw, script, connections=CONNECTIONS, seconds=SECONDS, timeout="5s")
    finally:
        stack.stop()

    row = {
        "name": NAME,
        "figure": round(result["p99_ms"], 1),
        "unit": "p99_ms",
        "p50_ms": round(result["p50_ms"], 2),
        "p99_ms": round(result["p99_ms"], 2),
        "errors": result["errors"],
        "requests": result["requests"],
        "rps": round(result["rps"]),
        "baseline": TARGET_MS,
        "baseline_name": "target 1.5 s",
        "ratio": round(result["p99_ms"] / TARGET_MS, 2),
    }
    print(f"\n{stack.describe()}")
    print(
        f"| {NAME} | {row['figure']} ms | target {TARGET_MS:.0f} ms | p50 {row['p50_ms']} ms, "
        f"{row['requests']} requests, {row['errors']} not 201 |"
    )
    if not args.no_results:
        _merge(row)
        print(f"merged into {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
