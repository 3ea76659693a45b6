"""Load benchmark of the two hot paths: `POST /api/v1/init-payment` and `GET /integration/pay`.

Run: `make bench` (all benchmarks) or `.venv/bin/python bench/bench_api.py [--seconds 10]`.

It starts gunicorn on a free loopback port against PostgreSQL and Redis (the test
services, database `apaygate_bench`), creates a merchant and a test token (sandbox
provider: no network), and drives each route with a bounded number of client threads for a
bounded time. Beside each figure it prints the machine's own baseline: the same server
answering a 404 from Django's URL resolver, which runs the same middleware stack and no
view code, so the ratio shows what the view itself costs.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/apaygate_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "bench-secret-key",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SANDBOX_ENABLED": "true",
        "API_THROTTLE_RATE": "1000000/min",
        "LOG_LEVEL": "WARNING",
        "SESSION_COOKIE_SECURE": "false",
    }


def prepare_database(env: dict[str, str]) -> str:
    """Create the bench database if needed, migrate, and return a fresh test token."""
    name = DB_URL.rsplit("/", 1)[1]
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {name}"],
        capture_output=True,
        check=False,
    )
    py = str(ROOT / ".venv/bin/python")
    subprocess.run(
        [py, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    script = (
        "from payments.models import Merchant;"
        "from payments.merchants import merchant_create, api_token_issue;"
        "m = Merchant.objects.filter(slug='bench').first() or "
        "merchant_create(slug='bench', name='Bench', provider='sandbox');"
        "print(api_token_issue(merchant=m, mode='test', label='bench')[1])"
    )
    out = subprocess.run(
        [py, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def drive(name: str, make_request, *, threads: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker():
        nonlocal errors
        session = requests.Session()
        local: list[float] = []
        local_errors = 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            ok = make_request(session)
            local.append(time.perf_counter() - started)
            local_errors += 0 if ok else 1
        with lock:
            latencies.extend(local)
            errors += local_errors

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    begun = time.monotonic()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - begun
    latencies.sort()
    return {
        "name": name,
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    args = parser.parse_args()

    port = free_port()
    env = environment(port)
    token = prepare_database(env)
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "apaygate.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/integration/pay?id=warmup", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.2)
        headers = {"Authorization": f"Token {token}"}
        counter = iter(range(10**9))

        def init_payment(session) -> bool:
            body = {
                "id": f"bench-{time.time_ns()}-{next(counter)}",
                "amount": "10.00",
                "currency": "USD",
                "successUrl": "https://shop.example/s",
                "errorUrl": "https://shop.example/e",
            }
            r = session.post(f"{base}/api/v1/init-payment", json=body, headers=headers, timeout=10)
            return r.status_code == 201

        first = requests.post(
            f"{base}/api/v1/init-payment",
            headers=headers,
            timeout=10,
            json={
                "amount": "10.00",
                "currency": "USD",
                "successUrl": "https://shop.example/s",
                "errorUrl": "https://shop.example/e",
            },
        ).json()
        pay_url = first["url"]

        def redirect(session) -> bool:
            r = session.get(pay_url, allow_redirects=False, timeout=10)
            return r.status_code == 302

        def baseline(session) -> bool:
            r = session.get(f"{base}/integration/no-such-route", timeout=10)
            return r.status_code == 404

        results = [
            drive(
                "baseline (Django 404, no view)",
                baseline,
                threads=args.threads,
                seconds=args.seconds,
            ),
            drive(
                "GET /integration/pay (302)", redirect, threads=args.threads, seconds=args.seconds
            ),
            drive(
                "POST /api/v1/init-payment (sandbox)",
                init_payment,
                threads=args.threads,
                seconds=args.seconds,
            ),
        ]
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(
        f"\ngunicorn {args.workers} workers x 4 threads, {args.threads} client threads, "
        f"{args.seconds:.0f} s each, {os.cpu_count()} CPUs, PostgreSQL + Redis on loopback"
    )
    print(f"{'route':40} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for r in results:
        print(
            f"{r['name']:40} {r['rps']:8.0f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {r['errors']:7d}"
        )
    base_rps = results[0]["rps"]
    for r in results[1:]:
        print(f"{r['name']}: {r['rps'] / base_rps:.0%} of the baseline's throughput")


if __name__ == "__main__":
    sys.exit(main())
