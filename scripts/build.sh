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
set -x
# The size-optimized wasm-release profile of Cargo.toml (the release profile is the server's).
bash scripts/wasm-build.sh pkg
# The `im-revoke/client` entry: the same module without the embedded LocalHub (smaller), for
# apps that only talk to a server.
bash scripts/wasm-build.sh pkg/client -- --no-default-features --features console_error_panic_hook
node scripts/package-client.mjs
