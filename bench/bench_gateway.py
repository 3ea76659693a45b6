"""`make bench`: the gateway under its production command, each figure beside a raw baseline.

Run: `make bench` or `.venv/bin/python bench/bench_gateway.py` (PostgreSQL and Redis up).
Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/apaygate_bench,
dropped, created and migrated on every run), BENCH_REDIS_URL (redis://127.0.0.1:6379/9),
BENCH_PORT_BASE (18000: gateway, +1 raw app, +2 provider stub, +3 merchant stub),
BENCH_SECONDS (10 per run), WEB_CONCURRENCY (web processes; default one per core),
CELERY_WORKER_CONCURRENCY and POSTBACK_POLL_CONCURRENCY (unset: the shipped 16 and 64),
BENCH_SERVER (asgi = production; sync, gthread: the models it was chosen over),
BENCH_WEB_ONLY (1: rows 1-6 only, no worker, no results.json).

On loopback it starts: the gateway with the production web command (gunicorn, uvicorn
workers, apaygate/gunicorn_conf.py), the raw baseline app (one Redis GET + 302) under the
very same command and worker count, a provider stub answering every invoice after 200 ms,
a merchant stub answering every postback after 100 ms, and later the Celery worker and
beat with the production command. Load: wrk (closed loop; paced runs use a Lua think
time), and a Python sender at a fixed 100 postbacks/s for the end-to-end postback latency.
It prints one table and writes bench/results.json.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import wrk  # noqa: E402
from bench.processes import Stack  # noqa: E402

SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
WEB_ONLY = os.environ.get("BENCH_WEB_ONLY", "") == "1"
PROVIDER_MS = 200
MERCHANT_MS = 100


def paced(rate: float, connections: int) -> float:
    """Think time (ms) that makes `connections` closed-loop clients send about `rate` req/s."""
    return max(connections / rate * 1000 - 1.0, 0.0)


def row(name: str, ours: dict, *, baseline: float | None, base_name: str, unit="rps", **extra):
    figure = ours["rps"] if unit == "rps" else ours[unit]
    return {
        "name": name,
        "figure": round(figure, 1),
        "unit": unit,
        "p50_ms": round(ours.get("p50_ms", 0), 2),
        "p99_ms": round(ours.get("p99_ms", 0), 2),
        "errors": ours.get("errors", 0),
        "baseline": round(baseline, 1) if baseline else None,
        "baseline_name": base_name,
        "ratio": round(figure / baseline, 2) if baseline else None,
        **extra,
    }


def cpu_per_request(stack: Stack, job) -> dict:
    """Run a wrk job; add the gateway's CPU milliseconds per request to its result."""
    before = stack.gateway_cpu_seconds()
    result = job()
    used = stack.gateway_cpu_seconds() - before
    result["cpu_ms_per_request"] = round(1000 * used / max(result["requests"], 1), 2)
    return result


def concurrently(*jobs):
    """Run wrk jobs at the same time; return their results in order."""
    results: list = [None] * len(jobs)

    def run(i, job):
        results[i] = job()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def delivery_rows(stack: Stack) -> list[dict]:
    """Rows 7-8: merchant postbacks through the production worker (bench/bench_relay.py runs
    only these)."""
    rows: list[dict] = []
    # 7. Postback -> merchant receipt at 100/s, through the real worker. (PostgreSQL's
    # 100 connections: a fresh gateway first, so the worker's threads find room.)
    stack.restart_gateway()
    stack.start_worker()
    drained = stack.wait_for_shopper_events_drained()
    print(
        f"worker copied {drained['events']} buffered redirect events into PostgreSQL in "
        f"{drained['seconds']} s ({drained['left']} left) before rows 7-8"
    )
    stack.postbacks_end_to_end(rate=100, seconds=2)  # warm-up: threads and connections
    e2e = stack.postbacks_end_to_end(rate=100, seconds=SECONDS)
    rows.append(
        row(
            "postback -> merchant receipt at 100/s: p99 ms",
            e2e,
            baseline=1000.0,
            base_name="target 1 s",
            unit="p99_ms",
            received=e2e["received"],
            sent=e2e["sent"],
            intake_p99_ms=e2e["intake_p99_ms"],
            delivery_p99_ms=e2e["delivery_p99_ms"],
        )
    )

    # 8. Relay: due deliveries to a merchant answering in 100 ms.
    relay = stack.relay(count=int(600 * SECONDS))
    rows.append(
        row(
            "relay, merchant 100 ms",
            relay,
            baseline=relay["bare_rps"],
            base_name=f"bare POSTs, {relay['senders']} threads",
            delivered=relay["delivered"],
        )
    )
    return rows


def main() -> None:
    stack = Stack(root=ROOT)
    rows: list[dict] = []
    try:
        stack.prepare()
        stack.start_web()
        gw, raw = stack.gateway_url, stack.raw_url
        hits = stack.pay_paths(stack.payments(200, in_kv=True))
        raw_paths = ["/r?id=baseline"]
        stack.expect_status("GET", hits[0], 302)

        # 1. Redirect, KV hit, closed loop (32 connections): gateway vs the raw app.
        wrk.run(gw, wrk.lua_paths(hits), connections=32, seconds=2)  # warm-up
        wrk.run(raw, wrk.lua_paths(raw_paths), connections=32, seconds=2)
        raw_hit = wrk.run(raw, wrk.lua_paths(raw_paths), connections=32, seconds=SECONDS)
        hit = cpu_per_request(
            stack, lambda: wrk.run(gw, wrk.lua_paths(hits), connections=32, seconds=SECONDS)
        )
        rows.append(
            row(
                "redirect KV hit, 32 conns",
                hit,
                baseline=raw_hit["rps"],
                base_name="raw",
                cpu_ms_per_request=hit["cpu_ms_per_request"],
            )
        )

        # 2. Redirect, KV hit, paced at 500/s: latency.
        think = paced(500, 10)
        raw_paced = wrk.run(
            raw, wrk.lua_paths(raw_paths, think_ms=think), connections=10, seconds=SECONDS
        )
        hit_paced = wrk.run(
            gw, wrk.lua_paths(hits, think_ms=think), connections=10, seconds=SECONDS
        )
        rows.append(
            row(
                "redirect KV hit, paced 500/s: p99 ms",
                hit_paced,
                baseline=raw_paced["p99_ms"],
                base_name="raw p99",
                unit="p99_ms",
                rps=round(hit_paced["rps"]),
            )
        )

        # 3. Redirect, KV miss (database fallback), paced at 200/s.
        # Warm-up first: a miss is the first request to reach Django's threads, and each
        # thread's first request opens its database connection.
        warm = stack.pay_paths(stack.payments(1000, in_kv=False))
        wrk.run(gw, wrk.lua_paths(warm, think_ms=paced(200, 4)), connections=4, seconds=3)
        misses = stack.pay_paths(stack.payments(int(200 * SECONDS * 1.3), in_kv=False))
        stack.expect_status("GET", misses.pop(), 302)
        miss = cpu_per_request(
            stack,
            lambda: wrk.run(
                gw, wrk.lua_paths(misses, think_ms=paced(200, 4)), connections=4, seconds=SECONDS
            ),
        )
        rows.append(
            row(
                "redirect KV miss, paced 200/s: p99 ms",
                miss,
                baseline=raw_paced["p99_ms"],
                base_name="raw p99 (500/s)",
                unit="p99_ms",
                rps=round(miss["rps"]),
                cpu_ms_per_request=miss["cpu_ms_per_request"],
            )
        )

        # 4. init-payment, 64 in flight, provider at 200 ms; shoppers redirected meanwhile.
        init_script = stack.init_script()
        stack.expect_status("POST", "/api/v1/init-payment", 201, **stack.init_request())
        wrk.run(gw, init_script, connections=64, seconds=2)  # warm-up
        # (Its CPU per request includes the redirects running beside it: about 4%.)
        init, during = concurrently(
            lambda: cpu_per_request(
                stack, lambda: wrk.run(gw, init_script, connections=64, seconds=SECONDS)
            ),
            lambda: wrk.run(
                gw, wrk.lua_paths(hits, think_ms=paced(200, 4)), connections=4, seconds=SECONDS
            ),
        )
        bound = 64 / (PROVIDER_MS / 1000)
        rows.append(
            row(
                "init-payment, 64 in flight, provider 200 ms",
                init,
                baseline=bound,
                base_name="Little's law 64/0.2 s",
                overhead_p99_ms=round(init["p99_ms"] - PROVIDER_MS, 1),
                cpu_ms_per_request=init["cpu_ms_per_request"],
            )
        )
        rows.append(
            row(
                "redirects during init-payment load: p99 ms",
                during,
                baseline=raw_paced["p99_ms"],
                base_name="raw p99 (500/s)",
                unit="p99_ms",
                rps=round(during["rps"]),
            )
        )

        # 5. Provider hanging: the breaker opens, init-payment fails fast, redirects carry on.
        stack.provider_mode("hang")
        wrk.run(gw, init_script, connections=16, seconds=6, timeout="5s")  # until it opens
        hung, during_hang = concurrently(
            lambda: wrk.run(gw, init_script, connections=16, seconds=SECONDS, timeout="5s"),
            lambda: wrk.run(
                gw, wrk.lua_paths(hits, think_ms=paced(200, 4)), connections=4, seconds=SECONDS
            ),
        )
        stack.provider_mode("ok")
        recovered = stack.breaker_recovers()
        rows.append(
            row(
                "init-payment, provider hanging, breaker open: p99 ms",
                hung,
                baseline=1000.0,
                base_name="target 1 s",
                unit="p99_ms",
                answers_503=hung["non2xx3xx"],
                requests=hung["requests"],
                recovered_after_probe=recovered,
            )
        )
        rows.append(
            row(
                "redirects while the provider hangs: p99 ms",
                during_hang,
                baseline=raw_paced["p99_ms"],
                base_name="raw p99 (500/s)",
                unit="p99_ms",
                rps=round(during_hang["rps"]),
            )
        )

        # 6. Provider postback intake (no merchant postback: the intake alone).
        wrk.run(gw, stack.postback_script(2000, with_merchant_postback=False), connections=32,
                seconds=2)  # fmt: skip
        stack.expect_status("POST", "/api/payment-verify/bansky", 200, **stack.postback_request())
        script = stack.postback_script(int(2500 * SECONDS), with_merchant_postback=False)
        intake = cpu_per_request(
            stack, lambda: wrk.run(gw, script, connections=32, seconds=SECONDS)
        )
        rows.append(
            row(
                "postback intake, 32 conns",
                intake,
                baseline=raw_hit["rps"],
                base_name="raw",
                cpu_ms_per_request=intake["cpu_ms_per_request"],
            )
        )

        if WEB_ONLY:  # the table now; `finally` stops the processes
            return finish(rows, stack)

        rows += delivery_rows(stack)
    finally:
        stack.stop()
        print(stack.log_tail())
    finish(rows, stack)


def finish(rows: list[dict], stack: Stack) -> None:
    """Print the table; write bench/results.json (not for a partial run)."""
    print_table(rows, stack)
    if WEB_ONLY:
        return
    results = {"machine": stack.describe(), "seconds": SECONDS, "rows": rows}
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print("wrote bench/results.json")


def print_table(rows: list[dict], stack: Stack) -> None:
    print(f"\n{stack.describe()}")
    header = f"| {'measure':52} | {'gateway':>9} | {'baseline':>9} | {'ratio':>6} | baseline is"
    print(header)
    print("|" + "-" * 54 + "|" + "-" * 11 + ":|" + "-" * 10 + ":|" + "-" * 7 + ":|---")
    for r in rows:
        unit = " rps" if r["unit"] == "rps" else " ms"
        extra = f" (p99 {r['p99_ms']} ms, {r['errors']} errors)" if r["unit"] == "rps" else ""
        if "overhead_p99_ms" in r:  # init-payment: p99 minus the provider's fixed 200 ms
            extra += f"; own overhead p99 {r['overhead_p99_ms']} ms"
        if "cpu_ms_per_request" in r:
            extra += f"; gateway CPU {r['cpu_ms_per_request']} ms/request"
        print(
            f"| {r['name']:52} | {r['figure']:>7}{unit} | {r['baseline'] or '-':>9} |"
            f" {r['ratio'] or '-':>6} | {r['baseline_name']}{extra}"
        )


if __name__ == "__main__":
    main()
