#!/usr/bin/env bash
# Regenerate src/generated/schema.ts from the gateway's current OpenAPI schema.
#   bash sdk/typescript/scripts/generate-types.sh          write the file
#   bash sdk/typescript/scripts/generate-types.sh --check  exit 1 if the committed file drifted
# Needs the gateway's venv (.venv at the repo root) and this package's node_modules.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The schema does not depend on the database or secrets; defaults keep the command standalone.
(
  cd "$root"
  SECRET_KEY="${SECRET_KEY:-schema-dump-only}" \
  PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-https://gate.example}" \
    "$python" manage.py spectacular --format openapi-json --file "$work/openapi.json" 2>"$work/spectacular.log" \
    || { cat "$work/spectacular.log" >&2; exit 1; }
)
"$here/node_modules/.bin/openapi-typescript" "$work/openapi.json" -o "$work/schema.ts" --silent
{
  echo "// Generated from the gateway's OpenAPI schema by scripts/generate-types.sh. Do not edit."
  cat "$work/schema.ts"
} > "$work/schema.with-header.ts"

target="$here/src/generated/schema.ts"
if [[ "${1:-}" == "--check" ]]; then
  if ! diff -u "$target" "$work/schema.with-header.ts"; then
    echo "src/generated/schema.ts is out of date: run sdk/typescript/scripts/generate-types.sh" >&2
    exit 1
  fi
  echo "generated types match the schema"
else
  mkdir -p "$(dirname "$target")"
  cp "$work/schema.with-header.ts" "$target"
  echo "wrote $target"
fi
