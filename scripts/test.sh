#!/usr/bin/env bash
# The whole suite: lint, import rules, unit and API tests, real Celery worker and fault
# tests, BigQuery emulator tests, the SDKs' and examples' suites and the Chromium browser
# tests. PostgreSQL and Redis must be up (.ci/run starts them when they are not).
#
# pytest runs in PYTEST_WORKERS processes (pytest-xdist, default 2): each has its own test
# database, Redis database number and port range (apaygate/test_settings.py,
# tests/support/processes.py). Lint runs beside it; a failure there still fails the run, and
# the run's last line is pytest's. Extra arguments go to pytest (`-n 0` runs in one process).
# With CI=true the work tree must be as clean after the suite as before it.
set -euo pipefail
cd "$(dirname "$0")/.."

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/apaygate}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
WORKERS="${PYTEST_WORKERS:-2}"

bash scripts/ensure-system-packages.sh

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# ruff and the architecture's import rules ([tool.importlinter] in pyproject.toml), beside
# the installs and pytest: they only read the tree.
(
  .venv/bin/ruff check --quiet . && .venv/bin/lint-imports --no-cache
) >"$logs/lint" 2>&1 &
lint=$!

# npm installs from the lock files (never rewriting them) and the SDK's build, which
# tests/sdk and the examples import; axe-core for the accessibility tests (tests/e2e/axe.py).
# The SDK's checks (strict tsc, node --test, workerd, npm pack, generated types, the
# examples' builds) run once, as tests in tests/sdk; `bash scripts/test-sdk.sh` runs them alone.
npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error &
axe=$!
bash scripts/test-sdk.sh --install
wait "$axe"

status=0
.venv/bin/pytest -n "$WORKERS" --dist loadgroup "$@" || status=$?

if ! wait "$lint"; then
  echo "lint failed (ruff check, lint-imports):" >&2
  cat "$logs/lint" >&2
  status=1
fi
if [[ "${CI:-}" == "true" ]]; then
  changed=$(git status --porcelain)
  if [[ -n "$changed" ]]; then
    echo "the suite changed the work tree (git status --porcelain):" >&2
    echo "$changed" >&2
    status=1
  fi
fi
exit "$status"
