#!/usr/bin/env bash
# `make run`: the whole gateway on one machine, embedded defaults unless the environment
# says otherwise (DATABASE_URL / REDIS_URL switch to PostgreSQL / Redis).
#
# One rule everywhere: the caller's environment wins over .env. Settings read .env
# themselves (apaygate/settings.py, never overwriting a variable already set), in these
# processes as in `manage.py` in any other shell; honcho is told to read no env file,
# since it would load .env over the environment of every process it starts.
set -euo pipefail
cd "$(dirname "$0")/.."

# .env: written on first start with development values and a generated SECRET_KEY.
export PORT="$(python3 scripts/dotenv_init.py "${PORT:-}")"
export PYTHONUNBUFFERED=1
# No console line per periodic task (beat sends one every second or two, and the worker
# says received and succeeded for each); their failures and every event of ours still show.
# LOG_LEVELS= make run shows them all.
export LOG_LEVELS="${LOG_LEVELS-celery.beat=WARNING,celery.worker.strategy=WARNING,celery.app.trace=WARNING}"

mkdir -p .run/broker/queue .run/broker/processed
PY=.venv/bin/python

$PY manage.py migrate --noinput >/dev/null
$PY manage.py demo_setup
# The SDK builds the docs' install commands name (/docs/sdk/), made beside the start-up so
# they never delay it (the first run also installs the TypeScript SDK's npm packages, ~20 s):
# until they are done the SDK page says "not built" and their URLs answer 404.
(bash scripts/build-sdk-dist.sh >.run/sdk-build.log 2>&1 \
  && echo "SDK builds ready at /docs/sdk/ (see /docs/sdks/)" \
  || echo "warning: the SDK builds failed (.run/sdk-build.log); /docs/sdk/ answers 404" >&2) &
export DEMO_API_TOKEN="$(tail -n 1 .run/demo-token)"

echo
echo "Starting web (http://127.0.0.1:${PORT}), Celery worker and beat. Ctrl-C stops all three."
exec .venv/bin/honcho --env /dev/null -f Procfile.dev start
