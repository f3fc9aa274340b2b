#!/usr/bin/env bash
# scripts/soak.sh [CLIENTS] [SECONDS] — soak (docs/RELIABILITY.md).
#
# Builds the release server and `im-revoke-chaos`, then runs `im-revoke-chaos soak`: it starts
# the server on 127.0.0.1 (free port) with a fresh SQLite database in a temporary directory,
# connects CLIENTS clients (from 127.0.0.2-127.0.0.5) that each act about every 2 s for SECONDS
# seconds: sends to random peers, sends in a few groups (10 groups of 20), revokes of their own
# messages within the window. Then a quiet period, a final sync of every client, a clean stop of
# the server and the checks: zero lost events (applied seqs = 1..head of each user), zero
# duplicates, a revoke event for every revoked message each client had, every acknowledged send
# and revoke in the database. Prints the figures (and revoke -> event latency); exit status 1 on
# any violation. Defaults: 1000 clients, 60 s. Loopback only; bounded (`timeout`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export PATH

CLIENTS="${1:-1000}"
SECS="${2:-60}"
case "$CLIENTS$SECS" in *[!0-9]*|'') echo "usage: scripts/soak.sh [CLIENTS] [SECONDS]" >&2; exit 2 ;; esac

echo "[soak] building the release server and im-revoke-chaos"
cargo build --release -q -p im-revoke-server -p im-revoke-loadgen

# One descriptor per client on each side (both processes inherit this limit).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "[soak] open-file limit $(ulimit -n)"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/imr-soak.XXXXXX")"
KEEP=0
cleanup() {
  if [ "$KEEP" = 1 ]; then
    echo "[soak] kept $TMP (database and server.log) for inspection"
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT

set +e
timeout -k 10 $((SECS + 300)) target/release/im-revoke-chaos soak \
  --server-bin target/release/im-revoke-server \
  --dir "$TMP" --clients "$CLIENTS" --secs "$SECS" --sources 4 \
  --max-secs $((SECS + 240)) \
  --out "$TMP/soak.json" ${CHAOS_SEED:+--seed "$CHAOS_SEED"}
RC=$?
set -e
mkdir -p target/reliability
cp "$TMP/soak.json" target/reliability/soak.json 2>/dev/null || true
if [ "$RC" != 0 ]; then
  KEEP=1
  echo "[soak] FAILED (exit $RC)"
fi
exit "$RC"
