#!/usr/bin/env bash
# scripts/build.sh — build the browser module into pkg/ (wasm-pack --target web).
# Run `bash scripts/setup.sh` first (`npm run build` does): `--mode no-install` makes wasm-pack use
# the wasm-bindgen CLI on PATH (pinned to Cargo.lock by setup.sh) and never try a download.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# wasm-opt comes from npm `binaryen` (node_modules/.bin, first on PATH): Debian's binaryen 108
# corrupts the externref table that wasm-bindgen emits (the module then fails in `init()`).
PATH="$ROOT/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export PATH

# wasm-pack leaves old inline_js snippets behind: start from an empty pkg/.
rm -rf pkg
set -x
# --profile wasm-release: the size-optimized profile of Cargo.toml (the release profile is the
# speed-optimized one of the server).
wasm-pack build --profile wasm-release --target web --out-dir pkg --weak-refs --mode no-install
# The `im-revoke/client` entry: the same module without the embedded LocalHub (smaller), for
# apps that only talk to a server.
wasm-pack build --profile wasm-release --target web --out-dir pkg/client --weak-refs --mode no-install \
  -- --no-default-features --features console_error_panic_hook
node scripts/package-client.mjs
