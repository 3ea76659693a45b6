#!/bin/sh
# As the official image: with no configuration file, protected mode off, so that the other
# containers of the compose network may connect (the network is the boundary).
set -eu
if [ "${1:-}" = redis-server ]; then
  shift
  set -- redis-server --protected-mode no "$@"
fi
exec "$@"
