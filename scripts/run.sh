#!/usr/bin/env bash
# `make run`: the whole gateway on one machine, embedded defaults unless the environment
# says otherwise (DATABASE_URL / REDIS_URL switch to PostgreSQL / Redis).
set -euo pipefail
cd "$(dirname "$0")/.."

# One configuration for every process: .env (written on first start with development
# values and a generated SECRET_KEY) is what settings read, here and in any other shell.
export PORT="$(python3 scripts/dotenv_init.py "${PORT:-}")"
export PYTHONUNBUFFERED=1

mkdir -p .run/broker/queue .run/broker/processed
PY=.venv/bin/python

$PY manage.py migrate --noinput >/dev/null
$PY manage.py demo_setup
export DEMO_API_TOKEN="$(tail -n 1 .run/demo-token)"

echo
echo "Starting web (http://127.0.0.1:${PORT}), Celery worker and beat. Ctrl-C stops all three."
exec .venv/bin/honcho -f Procfile.dev start
