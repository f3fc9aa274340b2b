#!/usr/bin/env bash
# scripts/start.sh — build everything and run the demo (`npm start` runs scripts/setup.sh first).
#
#   1. the browser module into pkg/ (scripts/build.sh, wasm-bindgen --target web);
#   2. the server (cargo build --release -p im-revoke-server);
#   3. the server on 127.0.0.1:$PORT (default 8080) with its SQLite database in ./data/,
#      dev-mode UserSigs on (loopback only), the demo (www/) at / and the module at /pkg/,
#      and /ws open only to pages of the demo's origin (http://127.0.0.1:$PORT, localhost).
#
# Environment: PORT (default 8080), REVOKE_TIME_LIMIT (seconds, default 120),
# IMR_LOG (server log filter, default info). Ctrl-C stops the server cleanly: the signal is
# forwarded to it, and the script waits until it has committed its last batch and exited.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export PATH

PORT="${PORT:-8080}"
REVOKE_TIME_LIMIT="${REVOKE_TIME_LIMIT:-120}"
case "$PORT" in
  '' | *[!0-9]*) echo "[start] PORT must be a number, got '$PORT'" >&2; exit 2 ;;
esac
case "$REVOKE_TIME_LIMIT" in
  '' | *[!0-9]*) echo "[start] REVOKE_TIME_LIMIT must be a number of seconds, got '$REVOKE_TIME_LIMIT'" >&2; exit 2 ;;
esac

say() { printf '[start] %s\n' "$*"; }
START=$SECONDS

say "building the browser module (pkg/)"
bash scripts/build.sh

say "building the server"
cargo build --release -p im-revoke-server
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/im-revoke-server"
[ -x "$BIN" ] || { echo "[start] $BIN was not built" >&2; exit 1; }

mkdir -p data
say "built in $((SECONDS - START)) s; starting the server"

"$BIN" serve \
  --listen "127.0.0.1:$PORT" \
  --db "data/im-revoke.db" \
  --dev \
  --static-dir www \
  --pkg-dir pkg \
  --allowed-origin "http://127.0.0.1:$PORT" \
  --allowed-origin "http://localhost:$PORT" \
  --revoke-time-limit "$REVOKE_TIME_LIMIT" &
SERVER_PID=$!

# Forward Ctrl-C / SIGTERM to the server (a background child of a non-interactive shell
# ignores SIGINT, so it gets SIGTERM, which it handles the same way: a graceful shutdown).
stopping=0
stop() {
  if [ "$stopping" -eq 0 ]; then
    stopping=1
    printf '\n'
    say "stopping the server (pid $SERVER_PID)"
  fi
  kill -TERM "$SERVER_PID" 2>/dev/null || true
}
trap stop INT TERM HUP

# Wait until it accepts connections, then say where to go.
ready=0
for _ in $(seq 1 100); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    break
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.1
done

if [ "$ready" -eq 1 ]; then
  URL="http://127.0.0.1:$PORT/"
  printf '\n  im-revoke demo is running (%s s). Open:\n\n' "$((SECONDS - START))"
  printf '    %-44s %s\n' \
    "${URL}" "alice and bob side by side, over the server" \
    "${URL}?users=alice,bob,carol" "with carol, for the group (bob is its admin)" \
    "${URL}?user=carol" "one user per tab: other devices, third parties" \
    "${URL}?mode=local" "the embedded LocalHub, no server"
  printf '\n  database %s, revoke time limit %s s. Ctrl-C to stop.\n\n' \
    "$ROOT/data/im-revoke.db" "$REVOKE_TIME_LIMIT"
fi

# `wait` returns early when a trapped signal arrives: keep waiting until the server is gone.
rc=0
while :; do
  if wait "$SERVER_PID"; then
    rc=0
  else
    rc=$?
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || break
done
trap - INT TERM HUP

if [ "$stopping" -eq 1 ]; then
  say "server stopped"
  exit 0
fi
if [ "$ready" -eq 0 ]; then
  echo "[start] the server did not start (exit $rc); is port $PORT already in use? Try PORT=8081 npm start" >&2
fi
exit "$rc"
