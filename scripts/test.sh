#!/usr/bin/env bash
# The whole suite: lint, import rules, unit and API tests, real Celery worker and fault
# tests, BigQuery emulator tests, the SDKs' and examples' suites and the Chromium browser
# tests. PostgreSQL and Redis must be up (.ci/run starts them when they are not).
#
# pytest runs in PYTEST_WORKERS processes (pytest-xdist, default 3: on 2 cores a third
# worker fills the time the others wait on processes and I/O): each has its own test
# database, Redis database number and port range (apaygate/test_settings.py,
# tests/support/processes.py). Lint runs beside it; a failure there still fails the run, and
# the run's last line is pytest's. Extra arguments go to pytest (`-n 0` runs in one process).
# With CI=true the work tree must be as clean after the suite as before it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Bytecode caches (__pycache__/, ignored by git) are written even when the caller's
# environment says not to (PYTHONDONTWRITEBYTECODE): the suite starts many Python processes
# (pytest's workers, web servers, Celery workers, manage.py) that import the same modules,
# and without the caches each one compiles them from source again (Django set up with the
# Celery app: 2.0 CPU seconds instead of 0.6; collecting the suite: 9 instead of 3.5).
unset PYTHONDONTWRITEBYTECODE

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/apaygate}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
WORKERS="${PYTEST_WORKERS:-3}"

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
# The SDK install runs beside pytest: the tests that need it wait for the exit status it
# writes to $SDK_INSTALL_STATUS (tests/sdk/conftest.py) and fail with its log if it failed;
# the other tests go on meanwhile. axe-core takes seconds: pytest starts after it.
export SDK_INSTALL_STATUS="$logs/sdk-install"
(
  sdk_status=0
  bash scripts/test-sdk.sh --install >"$SDK_INSTALL_STATUS.log" 2>&1 || sdk_status=$?
  echo "$sdk_status" >"$SDK_INSTALL_STATUS.tmp"
  mv "$SDK_INSTALL_STATUS.tmp" "$SDK_INSTALL_STATUS"
) &
sdk=$!
npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error

status=0
# Each worker takes the next test as it frees up, in tests/conftest.py's order (the longest
# first). --no-loadscope-reorder keeps that order: by default xdist moves an xdist_group with
# several tests (the examples' builds) to the front, where it would wait for the SDK build.
.venv/bin/pytest -n "$WORKERS" --dist loadgroup --no-loadscope-reorder "$@" || status=$?

# A run that selected no SDK test still fails when the SDK's install failed.
wait "$sdk"
if [[ "$(cat "$SDK_INSTALL_STATUS")" != "0" ]]; then
  echo "scripts/test-sdk.sh --install failed:" >&2
  cat "$SDK_INSTALL_STATUS.log" >&2
  status=1
fi

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
