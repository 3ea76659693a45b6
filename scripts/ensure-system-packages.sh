#!/usr/bin/env bash
# Debian packages the browser and docs-snippet tests use: Chromium (Playwright drives it;
# Playwright's own browser download cannot work offline), PHP's CLI, and promtool (package
# prometheus) for the alert rules in deploy/prometheus, and Caddy (the TLS proxy of
# deploy/proxy/Caddyfile, started by the routing tests). Installed only when missing, and
# only where we are root with apt.
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v php >/dev/null 2>&1 || need+=(php-cli)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v caddy >/dev/null 2>&1 || need+=(caddy)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "Missing ${need[*]}: install them (Debian: apt-get install ${need[*]})" >&2
  exit 1
fi
