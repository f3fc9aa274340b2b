# scripts/chaos-run.sh — sourced by crash.sh and soak.sh: builds the release server and
# im-revoke-chaos, then `chaos_run NAME TIMEOUT ARGS...` runs `im-revoke-chaos NAME ARGS...` in a
# fresh temporary directory (kept, with the database and server.log, if the run fails), copies its
# JSON summary to target/reliability/NAME.json and exits with its status.
# With CHAOS_PG=1 the server runs on PostgreSQL instead of SQLite: a throw-away cluster of its
# own (initdb into a temporary directory, 127.0.0.1 at a free port; as the system user
# imrevoke-pg when run as root, as the tests do), stopped and removed at the end; CHAOS_NODES=N
# (with CHAOS_PG=1) runs N server nodes on it, the clients spread over them.
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
  PG_DIR=""
  trap 'chaos_pg_stop; if [ "$KEEP" = 1 ]; then echo "[$CHAOS_NAME] kept $TMP (database and server.log) for inspection"; else rm -rf "$TMP"; fi' EXIT
  local db=()
  if [ "${CHAOS_PG:-0}" = 1 ]; then
    chaos_pg_start
    db=(--db-url "$PG_URL" --nodes "${CHAOS_NODES:-1}")
  fi

  set +e
  timeout -k 10 "$limit" target/release/im-revoke-chaos "$name" \
    --server-bin target/release/im-revoke-server \
    --dir "$TMP" --out "$TMP/$name.json" ${CHAOS_SEED:+--seed "$CHAOS_SEED"} "${db[@]}" "$@"
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

# A PostgreSQL cluster for the run: sets PG_DIR, PG_URL and PG_AS (the command prefix that runs
# its tools as the cluster's owner).
chaos_pg_start() {
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "[$CHAOS_NAME] CHAOS_PG=1 needs PostgreSQL (bash scripts/setup.sh installs it)" >&2
    exit 2
  fi
  PG_BIN="$bin"
  PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/imr-$CHAOS_NAME-pg.XXXXXX")"
  PG_AS=()
  if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root.
    id -u imrevoke-pg >/dev/null 2>&1 ||
      useradd --system --no-create-home --shell /usr/sbin/nologin imrevoke-pg
    chown imrevoke-pg: "$PG_DIR"
    PG_AS=(runuser -u imrevoke-pg --)
  fi
  (cd "$PG_DIR" && LC_ALL=C "${PG_AS[@]}" "$bin/initdb" -D "$PG_DIR/data" -U postgres \
    --auth=trust -E UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1) ||
    { cat "$PG_DIR/initdb.log" >&2; exit 1; }
  local port
  port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  (cd "$PG_DIR" && "${PG_AS[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 \
    -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=100" start >/dev/null) ||
    { cat "$PG_DIR/postgres.log" >&2; exit 1; }
  PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "[$CHAOS_NAME] PostgreSQL $("$bin/postgres" --version | awk '{print $3}') at $PG_URL"
}

chaos_pg_stop() {
  [ -n "${PG_DIR:-}" ] || return 0
  (cd "$PG_DIR" && "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1) || true
  # Its log (deadlocks, lock timeouts) is kept beside the summary, a slow run being no violation.
  mkdir -p target/reliability
  cp "$PG_DIR/postgres.log" "target/reliability/$CHAOS_NAME-postgres.log" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then
    echo "[$CHAOS_NAME] kept $PG_DIR (the PostgreSQL cluster and its log)"
  else
    rm -rf "$PG_DIR"
  fi
  PG_DIR=""
}
