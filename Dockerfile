# syntax=docker/dockerfile:1
# APayGate image: the runtime dependency set from uv.lock, no dev tools, no compiler, run as
# an unprivileged user. Configuration comes from the environment only (.env.example).
# One image, five roles: `docker run IMAGE migrate|web|shopper|worker|beat` (scripts/serve.sh).
# Stop it with a grace period of 30 s or more (`docker stop -t 30`, compose's
# stop_grace_period): a postback in flight may take POSTBACK_TIMEOUT (15 s) to finish.

# --- locked: uv and the lock file, what the build and the emulator stages start from ----------
FROM python:3.11-slim AS locked
ENV PYTHONDONTWRITEBYTECODE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock ./

# --- build: resolve nothing, install exactly uv.lock's runtime set into /opt/venv ----------
FROM locked AS build
RUN uv sync --locked --no-dev --no-install-project --python /usr/local/bin/python3
COPY . .
# Static files are collected at build time; the dummy key exists only in this RUN.
RUN SECRET_KEY=collectstatic-only /opt/venv/bin/python manage.py collectstatic --noinput

# --- SDK builds served at /docs/sdk/ (the npm tarball and the wheel, scripts/build-sdk-dist.sh) --
FROM build AS sdk
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
RUN bash scripts/build-sdk-dist.sh /app/sdk/dist

# --- BigQuery emulator (compose profile `bigquery`; local development only) ----------------
# bqemulator, numpy (it needs it at start) and the DuckDB extensions it loads at start
# (spatial, avro), at the versions uv.lock pins for the tests; DuckDB would download the
# extensions at first use, so they are installed from their wheels here. The avro wheel is
# not in uv.lock (the tests run without it): pinned to uv.lock's duckdb. From `locked`, not
# `build`: a code change does not rebuild this stage.
FROM locked AS bigquery-emulator
RUN uv export --locked --all-groups --no-hashes --no-emit-project -o /tmp/constraints.txt \
    && uv venv /opt/bq --python /usr/local/bin/python3 \
    && VIRTUAL_ENV=/opt/bq uv pip install --constraint /tmp/constraints.txt \
        bqemulator numpy duckdb-extension-spatial duckdb-extension-avro==1.5.5
RUN useradd --system --uid 10002 --create-home --home-dir /var/lib/bqemulator bqemulator
USER bqemulator
RUN mkdir -p /var/lib/bqemulator/data
COPY deploy/bqemulator_extensions.py /tmp/
RUN /opt/bq/bin/python /tmp/bqemulator_extensions.py spatial avro
EXPOSE 9050
ENTRYPOINT ["/opt/bq/bin/bqemulator", "start", "--rest-host", "0.0.0.0", "--rest-port", "9050", \
    "--grpc-port", "0", "--data-dir", "/var/lib/bqemulator/data"]

# --- TLS proxy (compose service `proxy`): Caddy from Debian's package -------------------------
# Its configuration is deploy/proxy/Caddyfile, mounted by docker-compose.yml.
FROM python:3.11-slim AS proxy
RUN apt-get update \
    && apt-get install -y --no-install-recommends caddy \
    && rm -rf /var/lib/apt/lists/*
ENV XDG_DATA_HOME=/var/lib XDG_CONFIG_HOME=/var/lib
EXPOSE 80 443
ENTRYPOINT ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]

# --- runtime (the default target: keep it last) ----------------------------------------------
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    PORT=8000 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/apaygate-metrics \
    LIVENESS_FILE=/tmp/apaygate-alive
RUN groupadd --system --gid 10001 apaygate \
    && useradd --system --uid 10001 --gid apaygate --home-dir /app --shell /usr/sbin/nologin apaygate
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=root:root /app /app
COPY --from=sdk --chown=root:root /app/sdk/dist /app/sdk/dist
# The only writable place in /app: beat's schedule file and other run-time state.
RUN mkdir -p /app/.run && chown apaygate:apaygate /app/.run
USER apaygate
EXPOSE 8000
# Fits every role: web answers /healthz, worker and beat keep LIVENESS_FILE fresh.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "deploy/healthcheck.py"]
ENTRYPOINT ["scripts/serve.sh"]
CMD ["web"]
