#!/usr/bin/env bash
# `make run`: the whole gateway on one machine, embedded defaults unless the environment
# says otherwise (DATABASE_URL / REDIS_URL switch to PostgreSQL / Redis).
set -euo pipefail
cd "$(dirname "$0")/.."

export PORT="${PORT:-8000}"
export DEBUG="${DEBUG:-true}"
export SECRET_KEY="${SECRET_KEY:-dev-only-$(hostname)-change-me}"
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://127.0.0.1:${PORT}}"
export ALLOWED_HOSTS="${ALLOWED_HOSTS:-127.0.0.1,localhost}"
export SANDBOX_ENABLED="${SANDBOX_ENABLED:-true}"
# The demo shop receives its postbacks on loopback: allowed here, never in production.
export POSTBACK_ALLOW_PRIVATE="${POSTBACK_ALLOW_PRIVATE:-true}"
export PYTHONUNBUFFERED=1

mkdir -p .run/broker/queue .run/broker/processed
PY=.venv/bin/python

$PY manage.py migrate --noinput >/dev/null
$PY manage.py demo_setup
export DEMO_API_TOKEN="$(tail -n 1 .run/demo-token)"

echo
echo "Starting web (http://127.0.0.1:${PORT}), Celery worker and beat. Ctrl-C stops all three."
exec .venv/bin/honcho -f Procfile.dev start
