"""Benchmark merchant postback delivery: attempts per second against a loopback merchant.

Run: `.venv/bin/python bench/bench_postbacks.py [--deliveries 2000] [--threads 16]` (or
`make bench`). Needs PostgreSQL (a throw-away test database is created and dropped).

It starts a merchant receiver on loopback (a threaded HTTP server that answers 200 after
`--delay-ms`), writes N due deliveries, and runs `delivery_attempt` for each on a pool of
threads, which is what the Celery worker's threads pool does with `deliver_postback`
tasks (broker hops excluded). Beside it, the machine's baseline: the same number of bare
`requests.post` calls to the same receiver from the same pool, with no database, signing
or bookkeeping. Both are run with a fast merchant (0 ms) and a slow one (default 50 ms),
which shows what the I/O-bound thread pool buys.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apaygate.test_settings")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")


def start_receiver(delay: float) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if delay:
                time.sleep(delay)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 256  # the default 5 resets connections under a pool of 16

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/postback"


def run_pool(func, items, threads: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(func, items))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    args = parser.parse_args()

    import django

    django.setup()
    import requests
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment
    from django.utils import timezone

    from payments.delivery.attempts import delivery_attempt
    from payments.delivery.wire import delivery_payload, webhook_id_generate
    from payments.models import DeliveryStatus, PostbackDelivery
    from tests.factories import MerchantFactory, PaymentFactory

    settings.POSTBACK_ALLOW_PRIVATE = True
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    print(f"{args.deliveries} deliveries, {args.threads} threads, {os.cpu_count()} CPUs")
    print(f"{'merchant answers in':22} {'ours/s':>9} {'bare POST/s':>12} {'ours vs bare':>13}")
    try:
        merchant = MerchantFactory(slug="bench")
        for delay_ms in (0.0, args.delay_ms):
            server, url = start_receiver(delay_ms / 1000)
            payments = PaymentFactory.create_batch(
                args.deliveries, merchant=merchant, postback_url=url, status="succeeded"
            )
            now = timezone.now()
            ids = [
                d.pk
                for d in PostbackDelivery.objects.bulk_create(
                    PostbackDelivery(
                        payment=p,
                        webhook_id=webhook_id_generate(),
                        event="payment.succeeded",
                        url=url,
                        payload=delivery_payload(payment=p, event="payment.succeeded"),
                        next_attempt_at=now,
                    )
                    for p in payments
                )
            ]

            def attempt(pk: int) -> None:
                try:
                    delivery_attempt(delivery_id=pk)
                finally:
                    connection.close()

            ours = run_pool(attempt, ids, args.threads)
            delivered = PostbackDelivery.objects.filter(
                pk__in=ids, status=DeliveryStatus.SUCCEEDED
            ).count()

            def bare_post(_pk: int, url: str = url) -> None:
                requests.post(url, data=b"{}", timeout=10)

            bare = run_pool(bare_post, ids, args.threads)
            server.shutdown()
            n = len(ids)
            print(
                f"{f'{delay_ms:.0f} ms':22} {n / ours:9.0f} {n / bare:12.0f} "
                f"{(n / ours) / (n / bare):12.0%}   ({delivered}/{n} delivered)"
            )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
