#!/bin/sh
# The official image's first-start contract, in short: a cluster in PGDATA whose superuser
# is POSTGRES_USER (password POSTGRES_PASSWORD, required for connections over TCP) and a
# database POSTGRES_DB; then the server, listening on every interface of the container.
set -eu
if [ "${1:-}" = postgres ]; then
  shift
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    user="${POSTGRES_USER:-postgres}"
    db="${POSTGRES_DB:-$user}"
    pwfile="$(mktemp)"
    printf '%s\n' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}" >"$pwfile"
    initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust \
      --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    if [ "$db" != postgres ]; then
      echo "CREATE DATABASE \"$db\" OWNER \"$user\";" \
        | postgres --single -D "$PGDATA" -j postgres >/dev/null
    fi
    echo "stand-in postgres: cluster created in $PGDATA (user $user, database $db)"
  fi
  exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
fi
exec "$@"
