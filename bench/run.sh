#!/usr/bin/env bash
# `make bench` (not part of `make test`): the gateway under its production command beside raw
# baselines (bench/bench_gateway.py: one table, bench/results.json), then the BigQuery export
# beside a bare insert loop (bench/bench_bigquery.py: merges its row into bench/results.json),
# then 512 init-payments in flight (bench/bench_overload.py: shedding, shoppers' p99,
# peak PostgreSQL connections, each beside its target; merges its row likewise).
# Needs PostgreSQL and Redis on loopback; installs Debian's wrk when missing (root).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
echo "=== bench/bench_gateway.py"
.venv/bin/python bench/bench_gateway.py
echo "=== bench/bench_bigquery.py"
.venv/bin/python bench/bench_bigquery.py || echo "!!! bench/bench_bigquery.py failed"
echo "=== bench/bench_failover.py"
.venv/bin/python bench/bench_failover.py || echo "!!! bench/bench_failover.py failed"
echo "=== bench/bench_overload.py"
.venv/bin/python bench/bench_overload.py || echo "!!! bench/bench_overload.py failed"
