#!/usr/bin/env bash
# The whole suite: unit and API tests, real Celery worker and fault tests, BigQuery
# emulator tests, and the Chromium browser tests. PostgreSQL and Redis must be up
# (.ci/run starts them when they are not).
set -euo pipefail
cd "$(dirname "$0")/.."

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/apaygate}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"

bash scripts/ensure-system-packages.sh

.venv/bin/ruff check --quiet .
# The architecture's import rules ([tool.importlinter] in pyproject.toml).
.venv/bin/lint-imports --no-cache
# The merchant SDKs: npm install from lock files, strict tsc, node --test, workerd runs,
# npm pack and the examples' builds. Their live-gateway suites run under pytest (tests/sdk).
bash scripts/test-sdk.sh
# axe-core for the accessibility browser tests (tests/e2e/axe.py).
npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error
.venv/bin/pytest "$@"
