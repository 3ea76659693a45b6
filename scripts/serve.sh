#!/usr/bin/env bash
# The production process commands, in one place: `scripts/serve.sh migrate|web|shopper|worker|beat`.
# Procfile, Dockerfile and docker-compose.yml all run this, so what `make bench` measured
# is what ships. Configuration comes from the environment only (.env.example).
set -euo pipefail
cd "$(dirname "$0")/.."

# A checkout runs from its .venv; the image has its venv on PATH already.
[ -x .venv/bin/python ] && export PATH="$PWD/.venv/bin:$PATH"

role="${1:-}"
case "$role" in
  migrate)
    # One-shot: apply the database migrations, then exit (compose's `migrate` service,
    # `docker run IMAGE migrate`).
    exec python manage.py migrate --noinput
    ;;
  web)
    if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
      # Metrics files of a previous run would be added to this one's: start empty.
      rm -rf "${PROMETHEUS_MULTIPROC_DIR:?}"
      mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    fi
    # gunicorn supervising uvicorn workers: ASGI, an event loop in front of Django's thread
    # pools (apaygate/asgi.py, apaygate/gunicorn_conf.py). The configuration make bench runs.
    exec gunicorn apaygate.asgi:application -c apaygate/gunicorn_conf.py
    ;;
  shopper)
    # The shopper process class (apaygate/asgi_shopper.py): the same server and ASGI entry as
    # web, serving only the shopper's paths, which the TLS proxy routes here
    # (deploy/proxy/Caddyfile), so merchant API threads never share a GIL with shoppers.
    # Its own bind, worker count and pool; gunicorn_conf.py and asgi.py read the WEB_* names.
    export WEB_BIND="${SHOPPER_BIND:-0.0.0.0:${SHOPPER_PORT:-8001}}"
    export WEB_THREADS="${SHOPPER_THREADS:-8}"
    export WEB_CONCURRENCY="${SHOPPER_CONCURRENCY:-2}"
    if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
      # One directory per server (the web role empties its own at start): a sibling of web's.
      export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR%/}-shopper"
      rm -rf "${PROMETHEUS_MULTIPROC_DIR:?}"
      mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    fi
    exec gunicorn apaygate.asgi_shopper:application -c apaygate/gunicorn_conf.py
    ;;
  worker)
    # One process (threads pool): its metrics need no shared directory. Postbacks do not
    # hold the pool's threads: its relay (payments/delivery/poller.py) keeps up to
    # POSTBACK_POLL_CONCURRENCY (64, and 16 spare) in flight on HTTP-only threads, with two
    # database connections for their bookkeeping. The configuration make bench measures.
    unset PROMETHEUS_MULTIPROC_DIR
    exec celery -A apaygate worker --loglevel=INFO \
      --pool="${CELERY_WORKER_POOL:-threads}" --concurrency="${CELERY_WORKER_CONCURRENCY:-16}"
    ;;
  beat)
    unset PROMETHEUS_MULTIPROC_DIR
    # The schedule file's place is a setting (CELERY_BEAT_SCHEDULE_FILENAME): make its folder.
    schedule="$(python -c 'import os; os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apaygate.settings")
from django.conf import settings; print(settings.CELERY_BEAT_SCHEDULE_FILENAME)')"
    mkdir -p "$(dirname "$schedule")"
    exec celery -A apaygate beat --loglevel=INFO --schedule="$schedule" \
      --scheduler=apaygate.beat:HeartbeatScheduler
    ;;
  *)
    echo "usage: $0 migrate|web|shopper|worker|beat" >&2
    exit 2
    ;;
esac
