#!/usr/bin/env bash
# The production process commands, in one place: `scripts/serve.sh migrate|web|worker|beat`.
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
  worker)
    # One process (threads pool): its metrics need no shared directory. Postbacks do not
    # hold the pool's threads: its relay (payments/delivery/poller.py) keeps up to
    # POSTBACK_POLL_CONCURRENCY (64) in flight on HTTP-only threads, with two database
    # connections for their bookkeeping. The configuration make bench measures.
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
    echo "usage: $0 migrate|web|worker|beat" >&2
    exit 2
    ;;
esac
