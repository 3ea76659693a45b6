#!/usr/bin/env bash
# `make bench` (not part of `make test`): the gateway under its production command beside raw
# baselines (bench/bench_gateway.py: one table, bench/results.json), then the BigQuery export
# beside a bare insert loop (bench/bench_bigquery.py: merges its row into bench/results.json).
# Needs PostgreSQL and Redis on loopback; installs Debian's wrk when missing (root).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
echo "=== bench/bench_gateway.py"
.venv/bin/python bench/bench_gateway.py
echo "=== bench/bench_bigquery.py"
.venv/bin/python bench/bench_bigquery.py || echo "!!! bench/bench_bigquery.py failed"
.venv/bin/python bench/bench_failover.py || echo "!!! bench/bench_failover.py failed"
