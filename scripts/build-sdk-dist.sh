#!/usr/bin/env bash
# Build the merchant SDKs into the folder the gateway serves at /docs/sdk/ (docsite/sdk_builds.py):
# the npm tarball `apaygate-sdk-<v>.tgz` and the wheel `apaygate-<v>-py3-none-any.whl`, each at
# the version in its own package file (sdk/typescript/package.json, sdk/python/pyproject.toml).
#
#   bash scripts/build-sdk-dist.sh [OUT]     OUT defaults to $SDK_DIST_DIR, else sdk/dist
#
# `make run` and the image's `sdk` stage run it; the release workflow
# (.github/workflows/release-sdk.yml) builds the same files for the registries. The builds are
# reproducible (fixed file times), so the checksums the docs show change only with the code.
# Without npm the tarball is skipped with a warning (the wheel is still built).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT="${1:-${SDK_DIST_DIR:-sdk/dist}}"
SDK_TS=sdk/typescript
SDK_PY=sdk/python
UV="${UV:-$(command -v uv || echo .uv/bin/uv)}"
# 1980-01-01: the earliest time a zip entry can hold; the wheel's entries all get it.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-315532800}"
export NPM_CONFIG_AUDIT=false NPM_CONFIG_FUND=false NPM_CONFIG_UPDATE_NOTIFIER=false

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$OUT"

echo "== wheel: $SDK_PY"
"$UV" build --quiet --wheel --out-dir "$work" "$SDK_PY"

if command -v npm >/dev/null; then
  echo "== npm tarball: $SDK_TS"
  if [[ ! -d "$SDK_TS/node_modules" ]]; then
    (cd "$SDK_TS" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  # Rebuild dist/ only when a source is newer: tests may be reading it at this moment.
  if [[ ! -f "$SDK_TS/dist/index.js" ]] \
    || [[ -n "$(find "$SDK_TS/src" "$SDK_TS/package.json" -newer "$SDK_TS/dist/index.js" -print -quit)" ]]; then
    (cd "$SDK_TS" && npm run --silent build)
  fi
  # --ignore-scripts: dist/ is current; `prepack` would wipe and rebuild it.
  (cd "$SDK_TS" && npm pack --silent --ignore-scripts --pack-destination "$work" >/dev/null)
else
  echo "warning: npm not found; the TypeScript SDK's tarball is not built" >&2
fi

# Replace the folder's builds with this run's: no stale version stays served.
find "$OUT" -maxdepth 1 -type f \( -name 'apaygate-*.tgz' -o -name 'apaygate-*.whl' \) -delete
mv "$work"/apaygate-* "$OUT"/
(cd "$OUT" && sha256sum apaygate-*)
