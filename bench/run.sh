#!/usr/bin/env bash
# Every benchmark, one after the other (not part of `make test`). Needs PostgreSQL and Redis.
set -uo pipefail
cd "$(dirname "$0")/.."
for bench in bench/bench_*.py; do
  echo "=== $bench"
  .venv/bin/python "$bench" || echo "!!! $bench failed"
done
