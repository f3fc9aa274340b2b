#!/usr/bin/env bash
# scripts/crash.sh [KILLS] [CLIENTS] — crash durability (docs/RELIABILITY.md).
#
# Builds the release server and `im-revoke-chaos`, then runs `im-revoke-chaos crash`: it starts
# the server itself on 127.0.0.1 (free port) with a fresh SQLite database in a temporary
# directory, drives a storm of sends and revokes from CLIENTS clients (one-to-one and one group),
# SIGKILLs the server at random moments KILLS times (restarting it on the same database), and
# at the end checks every acknowledged send and revoke, every client's event log (1..head, no
# duplicate, none missing) and every revoke callback. Exit status 1 on any violation.
# Defaults: 20 kills, 20 clients; about 1-2 minutes. Loopback only; bounded (`timeout`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export PATH

KILLS="${1:-20}"
CLIENTS="${2:-20}"
case "$KILLS$CLIENTS" in *[!0-9]*|'') echo "usage: scripts/crash.sh [KILLS] [CLIENTS]" >&2; exit 2 ;; esac

echo "[crash] building the release server and im-revoke-chaos"
cargo build --release -q -p im-revoke-server -p im-revoke-loadgen

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

TMP="$(mktemp -d "${TMPDIR:-/tmp}/imr-crash.XXXXXX")"
KEEP=0
cleanup() {
  if [ "$KEEP" = 1 ]; then
    echo "[crash] kept $TMP (database and server.log) for inspection"
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT

set +e
timeout -k 10 420 target/release/im-revoke-chaos crash \
  --server-bin target/release/im-revoke-server \
  --dir "$TMP" --kills "$KILLS" --clients "$CLIENTS" \
  --out "$TMP/crash.json" ${CHAOS_SEED:+--seed "$CHAOS_SEED"}
RC=$?
set -e
mkdir -p target/reliability
cp "$TMP/crash.json" target/reliability/crash.json 2>/dev/null || true
if [ "$RC" != 0 ]; then
  KEEP=1
  echo "[crash] FAILED (exit $RC)"
fi
exit "$RC"
