"""How long the merchant portal's dashboard takes to render with 100,000 payments.

Run: `.venv/bin/python bench/bench_portal.py` (on its own: not part of `make bench`). Needs
PostgreSQL; it creates a throw-away database `test_apaygate_bench_portal` (override the server with
BENCH_DATABASE_URL), fills it with SQL `generate_series`, renders pages in process
through Django's test client (middleware, view, queries, templates: everything but the
socket), and drops the database at the end.

Figures, each the median of --runs renders after two warm-ups:
- the dashboard (default 30-day range, and a one-year range covering every payment) with
  100,000 payments for the merchant (plus 20,000 of another merchant and ~57,000 postbacks);
- baselines beside it: the same dashboard for a merchant with 1,000 payments, and the naive
  way (load the rows through the ORM and count in Python) for the same 100,000;
- the payments list, a search, and the full CSV export.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/apaygate_bench_portal"
)
os.environ.setdefault("REDIS_URL", os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"))
os.environ.setdefault("CACHE_KEY_PREFIX", "bench-portal")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["DJANGO_SETTINGS_MODULE"] = "apaygate.test_settings"

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

SEED_PAYMENTS = """
INSERT INTO payments_payment (
  public_id, merchant_id, is_test, provider, merchant_reference, request_fingerprint,
  customer_email, customer_name, amount, currency, payment_type, provider_currency,
  success_url, error_url, postback_url, provider_reference, provider_url,
  provider_error_code, provider_error_message, status, paid_currency, needs_review,
  review_reason, created_at, updated_at
)
SELECT
  'bench_' || %(m)s || '_' || g, %(m)s, (g %% 20 = 0), 'sandbox', 'order-' || g, repeat('0', 64),
  'shopper' || g || '@example.com', 'Shopper ' || g, (g %% 500) + 0.99,
  (ARRAY['USD','EUR','GBP','TUSD'])[1 + g %% 4], 'fiat', '',
  'https://s.example/ok', 'https://s.example/err', 'https://s.example/pb', 'ref-' || g, '',
  '', '', (ARRAY['succeeded','succeeded','succeeded','failed','pending','expired',
  'provider_error'])[1 + g %% 7], '', false, '',
  now() - random() * (%(days)s * interval '1 day'), now()
FROM generate_series(1, %(n)s) AS g
"""
SEED_DELIVERIES = """
INSERT INTO payments_postbackdelivery (
  payment_id, webhook_id, event, url, payload, is_test, status, attempt_count, last_error,
  created_at, updated_at
)
SELECT id, 'msg_' || id, 'payment.' || status, postback_url, '{}'::jsonb, false,
  (ARRAY['succeeded','succeeded','succeeded','failed','pending'])[1 + id %% 5], 1, '',
  created_at, created_at
FROM payments_payment WHERE status IN ('succeeded', 'failed')
"""


def seed(*, slug: str, n: int, days: int = 365):
    from payments.models import Merchant
    from reporting.portal.users import portal_user_create
    from tests.factories import MerchantFactory

    merchant: Merchant = MerchantFactory(slug=slug, name=slug.title())
    with connection.cursor() as cursor:
        cursor.execute(SEED_PAYMENTS, {"m": merchant.pk, "n": n, "days": days})
    user = portal_user_create(
        merchant=merchant, email=f"owner@{slug}.example", password="bench-Portal-pass-1"
    ).user
    client = Client()
    client.force_login(user)
    return merchant, client


def timed(fn, *, runs: int) -> float:
    """Return the median wall time of `fn` in milliseconds, after two warm-ups."""
    for _ in range(2):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def get(client: Client, path: str, **params):
    def run():
        response = client.get(path, params)
        assert response.status_code == 200, response.status_code
        if response.streaming:
            return sum(len(chunk) for chunk in response.streaming_content)
        return len(response.content)

    return run


def naive_dashboard(merchant, since):
    """What the dashboard would cost without SQL aggregation: every row through the ORM."""
    from payments.models import Payment

    def run():
        per_day, per_status, per_currency = Counter(), Counter(), Counter()
        for p in Payment.objects.filter(merchant=merchant, is_test=False, created_at__gte=since):
            per_day[p.created_at.date()] += 1
            per_status[p.status] += 1
            per_currency[p.currency] += 1
        return per_day, per_status, per_currency

    return run


def explain(merchant) -> str:
    from reporting.portal.selectors import dashboard_stats  # noqa: F401 - same query, shown below

    today = timezone.localdate()
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) "
            "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, status, currency, COUNT(id), "
            "SUM(amount) FROM payments_payment WHERE merchant_id = %s AND NOT is_test "
            "AND created_at >= %s GROUP BY 1, 2, 3",
            [merchant.pk, today - timezone.timedelta(days=29)],
        )
        return "\n".join("    " + row[0] for row in cursor.fetchall())


def measure(label: str, big, small, *, runs: int) -> dict[str, float]:
    big_merchant, big_client = big
    _small_merchant, small_client = small
    year_ago = (timezone.localdate() - timezone.timedelta(days=364)).isoformat()
    figures = {
        "dashboard, 30 days, 100k payments": timed(get(big_client, "/portal/"), runs=runs),
        "dashboard, 1 year (all 100k)": timed(
            get(big_client, "/portal/", date_from=year_ago), runs=runs
        ),
        "baseline: dashboard, 1 year, 1k payments": timed(
            get(small_client, "/portal/", date_from=year_ago), runs=runs
        ),
        "baseline: naive ORM+Python count, 1 year, 100k": timed(
            naive_dashboard(big_merchant, timezone.now() - timezone.timedelta(days=365)),
            runs=max(3, runs // 5),
        ),
        "payments list, page 1": timed(get(big_client, "/portal/payments/"), runs=runs),
        "payments list, last page": timed(
            get(big_client, "/portal/payments/", page="last"), runs=runs
        ),
        "search by e-mail": timed(
            get(big_client, "/portal/payments/", q="shopper777@example.com"), runs=runs
        ),
        "CSV export, all ~95k live rows": timed(
            get(big_client, "/portal/payments/export.csv"), runs=3
        ),
    }
    print(f"\n{label}")
    for name, ms in figures.items():
        print(f"  {name:<50} {ms:9.1f} ms")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        started = time.perf_counter()
        big = seed(slug="bigshop", n=args.payments)
        small = seed(slug="smallshop", n=1_000)
        seed(slug="othershop", n=20_000)
        with connection.cursor() as cursor:
            cursor.execute(SEED_DELIVERIES, [])
            cursor.execute("ANALYZE")
            cursor.execute("SELECT count(*) FROM payments_postbackdelivery")
            deliveries = cursor.fetchone()[0]
        print(
            f"seeded {args.payments + 21_000:,} payments and {deliveries:,} postbacks "
            f"in {time.perf_counter() - started:.1f} s (PostgreSQL, {connection.vendor})"
        )
        print("  dashboard query plan:\n" + explain(big[0]))
        results = measure("with the model's indexes", big, small, runs=args.runs)
        print("\nsummary (median ms)")
        for name, value in results.items():
            print(f"  {name:<50} {value:9.1f}")
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
