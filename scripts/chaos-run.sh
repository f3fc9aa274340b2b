# scripts/chaos-run.sh — sourced by crash.sh and soak.sh: builds the release server and
# im-revoke-chaos, then `chaos_run NAME TIMEOUT ARGS...` runs `im-revoke-chaos NAME ARGS...` in a
# fresh temporary directory (kept, with the database and server.log, if the run fails), copies its
# JSON summary to target/reliability/NAME.json and exits with its status.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export PATH

chaos_run() {
  local name="$1" limit="$2"
  shift 2
  echo "[$name] building the release server and im-revoke-chaos"
  cargo build --release -q -p im-revoke-server -p im-revoke-loadgen
  # One descriptor per client on each side (both processes inherit this limit).
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  echo "[$name] open-file limit $(ulimit -n)"

  TMP="$(mktemp -d "${TMPDIR:-/tmp}/imr-$name.XXXXXX")"
  KEEP=0
  CHAOS_NAME="$name"
  trap 'if [ "$KEEP" = 1 ]; then echo "[$CHAOS_NAME] kept $TMP (database and server.log) for inspection"; else rm -rf "$TMP"; fi' EXIT

  set +e
  timeout -k 10 "$limit" target/release/im-revoke-chaos "$name" \
    --server-bin target/release/im-revoke-server \
    --dir "$TMP" --out "$TMP/$name.json" ${CHAOS_SEED:+--seed "$CHAOS_SEED"} "$@"
  local rc=$?
  set -e
  mkdir -p target/reliability
  cp "$TMP/$name.json" "target/reliability/$name.json" 2>/dev/null || true
  if [ "$rc" != 0 ]; then
    KEEP=1
    echo "[$name] FAILED (exit $rc)"
  fi
  exit "$rc"
}
