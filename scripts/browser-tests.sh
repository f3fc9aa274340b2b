#!/usr/bin/env bash
# scripts/browser-tests.sh [CARGO_TEST_ARGS...] — the browser tests (tests/*.rs, wasm-bindgen-test)
# in headless Chromium, with a live server for the cases that need one.
#
# Starts a dev server (the debug binary; cargo builds it if stale) on an ephemeral loopback port
# with a database in a temporary directory, mints UserSigs for "alice" and "bob", and builds the
# tests with IMR_TEST_WS_URL / IMR_TEST_USERSIG_ALICE / IMR_TEST_USERSIG_BOB set, so that
# tests/ws_live.rs, tests/rich.rs and tests/conversations.rs run their server cases too. The
# server is stopped on exit, whatever happens. wasm-bindgen-test-runner (crates/wasm-tools,
# scripts/tools.sh) is cargo's runner for the wasm target (what `wasm-pack test --headless
# --chrome` ran); Chromium reaches the runner's page through scripts/browser-proxy.mjs, which
# keeps the runner's small HTTP server from stalling.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export PATH
# shellcheck source=scripts/tools.sh
. "$ROOT/scripts/tools.sh"

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/im-revoke-browser-XXXXXX")"
SERVER_PID=""
PROXY_PID=""
cleanup() {
  for pid in $SERVER_PID $PROXY_PID; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

# The server binary as the tests' build makes it (scripts/tests-build.sh, the clippy suite's
# command in scripts/test.sh: a no-op there).
bash scripts/tests-build.sh -q
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

# Chromium reaches the runner's page through scripts/browser-proxy.mjs (one connection per
# request; see there why), with the flags of webdriver.json plus the proxy's; the dev server is
# reached directly (its WebSockets, uploads and downloads are the browser's own, untouched).
node scripts/browser-proxy.mjs >"$TMP/proxy.log" 2>"${BROWSER_PROXY_LOG:-/dev/null}" &
PROXY_PID=$!
PROXY=""
for _ in $(seq 1 100); do
  PROXY="$(grep -o 'listening on 127.0.0.1:[0-9]*' "$TMP/proxy.log" 2>/dev/null | sed 's/listening on //' || true)"
  [ -n "$PROXY" ] && break
  kill -0 "$PROXY_PID" 2>/dev/null || { echo "browser-tests: the proxy exited:" >&2; cat "$TMP/proxy.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$PROXY" ] || { echo "browser-tests: the proxy did not start in 10 s" >&2; exit 1; }
node -e '
  const fs = require("fs");
  const w = JSON.parse(fs.readFileSync("webdriver.json", "utf8"));
  const o = (w["goog:chromeOptions"] ||= {});
  o.args = [...(o.args || []), "--proxy-server=http://" + process.argv[1],
    "--proxy-bypass-list=<-loopback>;" + process.argv[3]];
  fs.writeFileSync(process.argv[2], JSON.stringify(w, null, 1));
' "$PROXY" "$TMP/webdriver.json" "$URL"
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$TMP/webdriver.json"
echo "browser-tests: Chromium through the proxy at $PROXY"

CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=120 \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$WASM_BINDGEN_TEST_RUNNER" \
  cargo test --target wasm32-unknown-unknown "$@"
