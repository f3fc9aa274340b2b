#!/usr/bin/env bash
# scripts/browser-tests.sh [CARGO_TEST_ARGS...] — the browser tests (tests/*.rs, wasm-bindgen-test)
# in headless Chromium, with a live server for the cases that need one.
#
# Starts a dev server (the debug binary; cargo builds it if stale) on an ephemeral loopback port
# with a database in a temporary directory, mints UserSigs for "alice" and "bob", and builds the
# tests with IMR_TEST_WS_URL / IMR_TEST_USERSIG_ALICE / IMR_TEST_USERSIG_BOB set, so that
# tests/ws_live.rs, tests/rich.rs and tests/conversations.rs run their server cases too. The
# server is stopped on exit, whatever happens. wasm-bindgen-test-runner is cargo's runner for the
# wasm target (what `wasm-pack test --headless --chrome` ran).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export PATH

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/im-revoke-browser-XXXXXX")"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

cargo build -q -p im-revoke-server
BIN="$TARGET_DIR/debug/im-revoke-server"

IMR_LOG=warn "$BIN" serve --listen 127.0.0.1:0 --db "$TMP/browser.db" --dev >"$TMP/out.log" 2>"$TMP/err.log" &
SERVER_PID=$!
URL=""
for _ in $(seq 1 200); do
  URL="$(grep -o 'listening on http://[0-9.:]*' "$TMP/out.log" 2>/dev/null | head -n 1 | sed 's|listening on http://||' || true)"
  [ -n "$URL" ] && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "browser-tests: the server exited before listening:" >&2
    cat "$TMP/err.log" >&2
    exit 1
  fi
  sleep 0.1
done
[ -n "$URL" ] || { echo "browser-tests: the server did not start in 20 s" >&2; cat "$TMP/err.log" >&2; exit 1; }

IMR_TEST_WS_URL="ws://$URL/ws"
IMR_TEST_USERSIG_ALICE="$("$BIN" usersig --dev --user alice)"
IMR_TEST_USERSIG_BOB="$("$BIN" usersig --dev --user bob)"
export IMR_TEST_WS_URL IMR_TEST_USERSIG_ALICE IMR_TEST_USERSIG_BOB
echo "browser-tests: live server at $IMR_TEST_WS_URL"

CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=120 \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test --target wasm32-unknown-unknown "$@"
