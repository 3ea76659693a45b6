#!/usr/bin/env bash
# The merchant SDKs' TypeScript side: install npm dependencies from the committed lock files,
# build @apaygate/sdk, then run its checks and the examples' builds.
#
#   bash scripts/test-sdk.sh            install, then every TypeScript check below
#   bash scripts/test-sdk.sh --install  install and build only (what tests/sdk/ needs)
#
# `make test` runs `--install` only: tests/sdk runs each check below as a test, and the
# suites that need a live gateway (Node and Python SDKs against the sandbox, real
# postbacks in workerd) besides: `.venv/bin/pytest tests/sdk`.
set -euo pipefail
cd "$(dirname "$0")/.."

export NPM_CONFIG_AUDIT=false NPM_CONFIG_FUND=false NPM_CONFIG_UPDATE_NOTIFIER=false
SDK=sdk/typescript
EXAMPLES=(examples/sveltekit examples/cloudflare-worker)

npm_install() {
  # `npm ci` installs exactly the lock file and never rewrites it (it fails instead when the
  # lock file no longer matches package.json: run `npm install` there and commit the lock).
  # It wipes node_modules, so skip it while the installed tree matches the lock file.
  local dir=$1
  if [[ ! -f "$dir/node_modules/.package-lock.json" || "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]]; then
    echo "== npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# The SDK and the examples install side by side (the examples link the SDK's folder, they
# do not need its build to install); any failure fails the script.
pids=()
for dir in "$SDK" "${EXAMPLES[@]}"; do npm_install "$dir" & pids+=($!); done
for pid in "${pids[@]}"; do wait "$pid"; done
echo "== build $SDK"
(cd "$SDK" && npm run --silent build)
[[ "${1:-}" == "--install" ]] && exit 0

echo "== tsc --noEmit (strict) in $SDK"
(cd "$SDK" && npx --no-install tsc --noEmit -p tsconfig.json)

echo "== node --test in $SDK (unit, and workerd through miniflare; live tests skip without GATEWAY_URL)"
(cd "$SDK" && node --test test/)

echo "== npm pack: the tarball carries dist/"
pack_dir=$(mktemp -d)
trap 'rm -rf "$pack_dir"' EXIT
(cd "$SDK" && npm pack --silent --pack-destination "$pack_dir" >/dev/null)
tarball=$(ls "$pack_dir"/apaygate-sdk-*.tgz)
listing=$(tar -tzf "$tarball")
for want in package/dist/index.js package/dist/index.d.ts package/README.md package/CHANGELOG.md; do
  grep -qx "$want" <<<"$listing" || { echo "missing $want in $tarball" >&2; exit 1; }
done
if grep -qE '^package/(src|test|node_modules)/' <<<"$listing"; then
  echo "$tarball ships sources or tests" >&2
  exit 1
fi

if [[ -x .venv/bin/python ]]; then
  echo "== generated API types match the gateway's schema"
  bash "$SDK/scripts/generate-types.sh" --check
fi

echo "== examples/sveltekit: type check, vite build (adapter-cloudflare), the app in workerd"
(cd examples/sveltekit && npm run --silent check && npm run --silent build >/dev/null)
test -f examples/sveltekit/.svelte-kit/cloudflare/_worker.js
(cd examples/sveltekit && npm test --silent)

echo "== examples/cloudflare-worker: type check, bundle, run in workerd"
(cd examples/cloudflare-worker && npm run --silent check && npm test --silent)

echo "TypeScript SDK checks passed"
