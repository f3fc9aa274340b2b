#!/usr/bin/env bash
# scripts/build.sh — build the browser module into pkg/ (wasm-bindgen --target web, both entries).
# Run `bash scripts/setup.sh` first (`npm run build` does): it builds the wasm-bindgen CLI of
# Cargo.lock's version (crates/wasm-tools) and installs npm `binaryen` (wasm-opt).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# wasm-opt comes from npm `binaryen` (node_modules/.bin, first on PATH): Debian's binaryen 108
# corrupts the externref table that wasm-bindgen emits (the module then fails in `init()`).
PATH="$ROOT/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export PATH

# Start from an empty pkg/ (no stale JS snippets).
rm -rf pkg
ENTRIES="${CARGO_TARGET_DIR:-$ROOT/target}/wasm-entries"
set -x
# Both entries compiled first (they write the same file, so each is copied aside), then made into
# packages at once: in `npm test` the compiles run while the wasm-bindgen CLI is still being
# built (scripts/tools.sh, wasm_build_await), and the two wasm-opt runs (node, one core each)
# side by side.
# The size-optimized wasm-release profile of Cargo.toml (the release profile is the server's).
bash scripts/wasm-build.sh --compile-only "$ENTRIES/full.wasm"
# The `im-revoke/client` entry: the same module without the embedded LocalHub (smaller), for
# apps that only talk to a server.
bash scripts/wasm-build.sh --compile-only "$ENTRIES/client.wasm" -- --no-default-features --features console_error_panic_hook
set +x
bash scripts/wasm-build.sh pkg --from "$ENTRIES/full.wasm" >"$ENTRIES/full.log" 2>&1 &
FULL=$!
bash scripts/wasm-build.sh pkg/client --from "$ENTRIES/client.wasm" >"$ENTRIES/client.log" 2>&1 &
CLIENT=$!
rc=0
wait "$FULL" || rc=$?
sed 's/^/[pkg] /' "$ENTRIES/full.log"
wait "$CLIENT" || rc=$?
sed 's/^/[pkg\/client] /' "$ENTRIES/client.log"
[ "$rc" -eq 0 ] || { echo "build: a package failed (exit $rc)" >&2; exit "$rc"; }
set -x
node scripts/package-client.mjs
