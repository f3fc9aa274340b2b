#!/usr/bin/env bash
# scripts/bench.sh — measure every performance target of DESIGN.md, side by side with a baseline
# measured in the same run (`npm run bench`; `npm run bench -- --quick` for a smoke run).
#
# Builds what is missing or stale (release server, load generator, pkg/), starts the release
# server on 127.0.0.1 (free port) with a temporary SQLite database and a random secret key, runs
# every scenario against it, stops it, and writes:
#   bench/results.json   every figure + machine, commit, date (bench/out/*.json: the raw files)
#   bench/latency.svg    latency histograms
# and prints the table figure / target / measured / baseline / ratio. See BENCHMARKS.md.
#
# `--before REV` (a commit, tag or branch) also builds that revision's release server (from
# `git archive`, in target/before/) and runs the durable-revoke and 10,000-member fan-out
# scenarios against it and against this server, each on a fresh database, with the same load
# generator and sizes, so the report shows the cost of what changed since REV from one run.
#
# Loopback only; every step is bounded (counts and `timeout`); the server and any helper are
# stopped on exit, whatever happens.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export PATH

QUICK=0
BEFORE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --before) BEFORE="${2:?--before needs a revision}"; shift ;;
    -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1 (use --quick, --before REV)" >&2; exit 2 ;;
  esac
  shift
done

say() { printf '\n[bench] %s\n' "$*"; }
START=$SECONDS

# 10,000 connections on each side of loopback: raise the descriptor limit as far as allowed.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FDS="$(ulimit -n)"

# --- sizes of the run -----------------------------------------------------------------------------
if [ "$QUICK" = 1 ]; then
  IDLE_N=2000;   IDLE_HOLD=1
  TP_CLIENTS=100; TP_SECS=2
  LAT_N=200;     LAT_WARM=20
  FAN_M=1000;    FAN_R=10
  FLOOD_M=2000;  FLOOD_N=200
  CONV_N=10;     ATT_N=5
  SQL_SECS=0.3;  SQL_BATCHES=256
  BROWSER_FLAG=--quick
else
  IDLE_N=10000;  IDLE_HOLD=5
  TP_CLIENTS=500; TP_SECS=10
  LAT_N=1000;    LAT_WARM=100
  FAN_M=10000;   FAN_R=50
  FLOOD_M=6000;  FLOOD_N=1000
  CONV_N=50;     ATT_N=30
  SQL_SECS=3;    SQL_BATCHES=16,256,1024
  BROWSER_FLAG=
fi
# Each scenario needs one descriptor per connection (plus the server's own in its process).
if [ "$FDS" -lt $((IDLE_N + 200)) ]; then
  echo "[bench] warning: open-file limit $FDS < $((IDLE_N + 200)); idle and fan-out will be cut to fit" >&2
  IDLE_N=$((FDS - 200)); FAN_M=$((FDS - 200))
fi

# --- build ----------------------------------------------------------------------------------------
say "build: release server (the workspace's release profile, as shipped)"
cargo build --release -p im-revoke-server
SERVER_BIN="$ROOT/target/release/im-revoke-server"

say "build: load generator (own target dir, opt-level 3, so that it is not the bottleneck)"
CARGO_TARGET_DIR="$ROOT/target/loadgen" cargo build --release -p im-revoke-loadgen --bin im-revoke-loadgen \
  --config 'profile.release.opt-level=3' --config 'profile.release.lto="thin"' \
  --config 'profile.release.codegen-units=16'
LOADGEN="$ROOT/target/loadgen/release/im-revoke-loadgen"

BEFORE_BIN=""
if [ -n "$BEFORE" ]; then
  BEFORE_REV="$(git rev-parse --verify --quiet "$BEFORE^{commit}")" || { echo "bench.sh: no such revision: $BEFORE" >&2; exit 2; }
  BEFORE_SRC="$ROOT/target/before/src-$BEFORE_REV"
  say "build: the release server of $BEFORE ($BEFORE_REV) for the before/after figures"
  if [ ! -f "$BEFORE_SRC/Cargo.toml" ]; then
    rm -rf "$BEFORE_SRC.part" && mkdir -p "$BEFORE_SRC.part"
    git archive "$BEFORE_REV" | tar -x -C "$BEFORE_SRC.part"
    mv "$BEFORE_SRC.part" "$BEFORE_SRC"
  fi
  CARGO_TARGET_DIR="$ROOT/target/before/target" cargo build --release -p im-revoke-server \
    --manifest-path "$BEFORE_SRC/Cargo.toml"
  BEFORE_BIN="$ROOT/target/before/target/release/im-revoke-server"
fi

stale_pkg() {
  [ -f pkg/im_revoke_bg.wasm ] || return 0
  [ -n "$(find src crates/core/src Cargo.toml Cargo.lock -newer pkg/im_revoke_bg.wasm -print -quit 2>/dev/null)" ]
}
if stale_pkg; then
  say "build: browser module (pkg/ missing or older than its sources)"
  bash scripts/build.sh
else
  say "build: pkg/ is up to date"
fi

# --- the server -----------------------------------------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/imr-bench.XXXXXX")"
RAW="$ROOT/bench/out"
rm -rf "$RAW"
mkdir -p "$RAW"
SERVER_PID=""
ECHO_PID=""
FLOOD_PID=""
cleanup() {
  local rc=$?
  for pid in $ECHO_PID $FLOOD_PID $SERVER_PID ${BEFORE_PID:-} ${REST_PIDS:-}; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

KEY="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
SDKAPPID=1400000000
export IMR_SECRET_KEY="$KEY" IMR_SDKAPPID="$SDKAPPID"

# The fan-out figure is for a 10,000-member group, above the default group cap (6,000) and
# fan-out budget: this server lifts both. The flood figure runs on a second server with the
# defaults (scenario 7).
FANOUT_FLAGS="--max-group-members 20000 --user-fanout-rate 0"
say "server: $SERVER_BIN on 127.0.0.1, database $TMP/bench.db"
IMR_LOG=warn "$SERVER_BIN" --listen 127.0.0.1:0 --db "$TMP/bench.db" \
  --sdkappid "$SDKAPPID" --secret-key "$KEY" --revoke-time-limit 3600 \
  --max-connections 30000 $FANOUT_FLAGS >"$TMP/server.out" 2>"$TMP/server.log" &
SERVER_PID=$!
ADDR=""
for _ in $(seq 1 300); do
  ADDR="$(sed -n 's|^im-revoke-server listening on http://||p' "$TMP/server.out" | head -n1)"
  [ -n "$ADDR" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log" >&2; echo "[bench] the server did not start" >&2; exit 1; }
  sleep 0.1
done
[ -n "$ADDR" ] || { echo "[bench] the server did not say where it listens" >&2; exit 1; }
URL="ws://$ADDR/ws"
echo "[bench] server pid $SERVER_PID at $URL"

LG() { # LG SECONDS SUBCOMMAND ARGS... : one bounded load-generator run
  local secs="$1"; shift
  timeout --kill-after=10 "$((secs + 30))" "$LOADGEN" "$@" --max-secs "$secs"
}

# Machine and run facts (cores, memory, CPU, kernel, load, versions).
cat >"$RAW/run.json" <<EOF
{"mode": "$([ "$QUICK" = 1 ] && echo quick || echo full)", "started": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
 "loadavg_at_start": "$(cut -d' ' -f1-3 /proc/loadavg)", "open_files_limit": $FDS,
 "server_bin": "target/release/im-revoke-server", "server_flags": "--revoke-time-limit 3600 --max-connections 30000 $FANOUT_FLAGS",
 "chromium": "$(/usr/bin/chromium --version 2>/dev/null | tr -d '"' || echo unknown)"}
EOF

# --- scenarios ------------------------------------------------------------------------------------
say "1/8 idle: $IDLE_N connections logged in and held; server RSS"
LG 240 idle --url "$URL" --connections "$IDLE_N" --hold "$IDLE_HOLD" --server-pid "$SERVER_PID" \
  --sources 8 --out "$RAW/idle.json"

# A bare tokio-tungstenite echo server (baseline): sets ECHO_PID and ECHO_URL. Started directly,
# not under `timeout`: its pid must be the echo server's; --max-secs bounds it.
start_echo() { # start_echo MAX_SECS [ECHO-SERVER ARGS...]
  "$LOADGEN" echo-server --listen 127.0.0.1:0 --max-secs "$1" "${@:2}" >"$TMP/echo.out" &
  ECHO_PID=$!
  ECHO_URL=""
  for _ in $(seq 1 100); do
    ECHO_URL="$(sed -n 's|^echo-server listening on ||p' "$TMP/echo.out" | head -n1)"
    [ -n "$ECHO_URL" ] && break
    sleep 0.1
  done
}
stop_echo() {
  kill -TERM "$ECHO_PID" 2>/dev/null || true
  wait "$ECHO_PID" 2>/dev/null || true
  ECHO_PID=""
}

say "2/8 idle baseline: a bare tokio-tungstenite echo server with tungstenite's default buffers"
start_echo 240
LG 240 idle --url "$ECHO_URL" --connections "$IDLE_N" --hold "$IDLE_HOLD" --server-pid "$ECHO_PID" \
  --no-login --sources 8 --out "$RAW/idle-echo.json"
stop_echo

say "3/8 sqlite-baseline: raw SQLite commits on the same disk (WAL, synchronous=FULL)"
timeout 300 "$LOADGEN" sqlite-baseline --dir "$TMP" --secs "$SQL_SECS" --batches "$SQL_BATCHES" \
  --out "$RAW/sqlite.json"

say "4/8 latency: revoke on A -> messageRevoked at B ($LAT_N samples) + WebSocket echo baseline"
LG 240 latency --url "$URL" --samples "$LAT_N" --warmup "$LAT_WARM" --out "$RAW/latency.json"

say "5/8 revokes: sustained durable sends, then revokes ($TP_CLIENTS users, ${TP_SECS} s each)"
LG 240 revokes --url "$URL" --clients "$TP_CLIENTS" --window 8 --send-secs "$((TP_SECS + 2))" \
  --secs "$TP_SECS" --out "$RAW/revokes.json"

say "6/8 fanout: group of $FAN_M online members, $FAN_R revokes; then the same rounds through a bare broadcasting tokio-tungstenite server (baseline)"
# The baseline server: a process of its own (its sockets are not the load generator's), with the
# im-revoke server's buffer sizes and a worker per core.
start_echo 400 --broadcast --read-buffer 2048 --write-buffer 0
LG 400 fanout --url "$URL" --members "$FAN_M" --revokes "$FAN_R" --sources 8 \
  --baseline-url "$ECHO_URL" --out "$RAW/fanout.json"
stop_echo

# pair_run NAME BIN: the revokes and fan-out scenarios against BIN on a fresh database (only the
# fan-out flags BIN has: an older server had no group cap or fan-out budget), into
# $RAW/NAME-revokes.json and $RAW/NAME-fanout.json.
pair_run() {
  local name="$1" bin="$2" flags=() help addr=""
  help="$("$bin" --help 2>&1 || true)"
  set -- $FANOUT_FLAGS
  while [ $# -ge 2 ]; do
    if grep -q -- "$1" <<<"$help"; then flags+=("$1" "$2"); fi
    shift 2
  done
  IMR_LOG=warn "$bin" --listen 127.0.0.1:0 --db "$TMP/$name.db" \
    --sdkappid "$SDKAPPID" --secret-key "$KEY" --revoke-time-limit 3600 \
    --max-connections 30000 "${flags[@]}" >"$TMP/$name.out" 2>"$TMP/$name.log" &
  BEFORE_PID=$!
  for _ in $(seq 1 300); do
    addr="$(sed -n 's|^im-revoke-server listening on http://||p' "$TMP/$name.out" | head -n1)"
    [ -n "$addr" ] && break
    kill -0 "$BEFORE_PID" 2>/dev/null || { cat "$TMP/$name.log" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$addr" ] || { echo "[bench] the $name server did not say where it listens" >&2; exit 1; }
  LG 240 revokes --url "ws://$addr/ws" --clients "$TP_CLIENTS" --window 8 --send-secs "$((TP_SECS + 2))" \
    --secs "$TP_SECS" --out "$RAW/$name-revokes.json"
  LG 400 fanout --url "ws://$addr/ws" --members "$FAN_M" --revokes "$FAN_R" --sources 8 \
    --out "$RAW/$name-fanout.json"
  kill -TERM "$BEFORE_PID" 2>/dev/null || true
  wait "$BEFORE_PID" 2>/dev/null || true
  BEFORE_PID=""
}

if [ -n "$BEFORE_BIN" ]; then
  # Both servers on a fresh database each, one after the other (the main server above has run
  # scenarios 1-4 on its own): the before/after rows compare these two runs.
  say "5-6/8 before/after: the same revokes and fan-out, the server of $BEFORE then this one, fresh databases"
  pair_run before "$BEFORE_BIN"
  pair_run after "$SERVER_BIN"
  printf '{"rev": "%s", "name": "%s"}\n' "$BEFORE_REV" "$BEFORE" >"$RAW/before.json"
fi

say "extra: conv-list: the first page of a 1,000-conversation list"
LG 240 conv-list --url "$URL" --conversations 1000 --samples "$CONV_N" --out "$RAW/conv-list.json"

say "extra: attach: a 5 MB attachment's upload and download, and revoke → URL gone ($ATT_N rounds)"
LG 120 attach --url "$URL" --rounds "$ATT_N" --bytes 5000000 --dir "$TMP" --out "$RAW/attach.json"

say "7/8 flood: a well-behaved user's sends, quiet and while another floods a $FLOOD_M-member group (a second server, default limits)"
IMR_LOG=warn "$SERVER_BIN" --listen 127.0.0.1:0 --db "$TMP/flood.db" \
  --sdkappid "$SDKAPPID" --secret-key "$KEY" >"$TMP/flood-server.out" 2>"$TMP/flood-server.log" &
FLOOD_PID=$!
FLOOD_ADDR=""
for _ in $(seq 1 300); do
  FLOOD_ADDR="$(sed -n 's|^im-revoke-server listening on http://||p' "$TMP/flood-server.out" | head -n1)"
  [ -n "$FLOOD_ADDR" ] && break
  sleep 0.1
done
[ -n "$FLOOD_ADDR" ] || { echo "[bench] the flood server did not start" >&2; exit 1; }
LG 240 flood --url "ws://$FLOOD_ADDR/ws" --members "$FLOOD_M" --samples "$FLOOD_N" --out "$RAW/flood.json"
kill -TERM "$FLOOD_PID" 2>/dev/null || true
wait "$FLOOD_PID" 2>/dev/null || true
FLOOD_PID=""

say "8/8 browser: client throughput, lookups, memory, end-to-end latency (headless Chromium)"
# The browser's own WebSocket round trip, the baseline of its latency: a bare echo server again.
start_echo 900
BROWSER_ARGS=(--url "$URL" --server-bin "$SERVER_BIN" --secret-key "$KEY" --sdkappid "$SDKAPPID" --max-secs 850)
[ -n "$ECHO_URL" ] && BROWSER_ARGS+=(--echo-url "$ECHO_URL")
set +e
timeout --kill-after=10 900 node bench/browser/run.mjs $BROWSER_FLAG --out "$RAW/browser.json" "${BROWSER_ARGS[@]}"
rc=$?
set -e
if [ "$rc" = 3 ]; then
  # The shipped pkg/ does not instantiate in Chromium. Measure the module's code all the same
  # from a build without wasm-opt (same sources, same wasm-release profile), and say so in the
  # results; the bundle figures stay those of the shipped pkg/.
  say "browser: pkg/ does not load in Chromium; rerunning on a build without wasm-opt ($TMP/pkg-noopt)"
  bash scripts/wasm-build.sh "$TMP/pkg-noopt" --no-opt >"$TMP/pkg-noopt.log" 2>&1 \
    || { tail -n 20 "$TMP/pkg-noopt.log" >&2; exit 1; }
  timeout --kill-after=10 900 node bench/browser/run.mjs $BROWSER_FLAG --out "$RAW/browser.json" "${BROWSER_ARGS[@]}" \
    --pkg "$TMP/pkg-noopt" --pkg-note "pkg/ (wasm-opt) failed to instantiate in Chromium; measured a --no-opt build of the same sources"
elif [ "$rc" != 0 ]; then
  echo "[bench] the browser bench failed (exit $rc)" >&2
  exit "$rc"
fi

stop_echo

# Multi-node: three nodes on PostgreSQL (the example starts its own PostgreSQL on loopback).
say "extra: multi-node on PostgreSQL (3 nodes, LISTEN/NOTIFY): cross-node latency, durable revokes/s"
timeout --kill-after=10 600 cargo run --release -q -p im-revoke-server --example multi_node_bench -- \
  --revokes "$([ "$QUICK" = 1 ] && echo 50 || echo 300)" | tee "$RAW/multi_node.txt" \
  || echo "[bench] the multi-node bench failed (is PostgreSQL installed? scripts/setup.sh does it)" >&2

# REST API and webhooks: admin recalls/s, and the message path with a slow and a dead receiver.
# shellcheck source=scripts/bench-rest.sh
source "$ROOT/scripts/bench-rest.sh"

# Server health after all that: still up, and its final RSS.
if kill -0 "$SERVER_PID" 2>/dev/null; then
  echo "[bench] server still up; VmRSS $(grep VmRSS /proc/$SERVER_PID/status | awk '{print $2, $3}')"
else
  echo "[bench] WARNING: the server died during the run" >&2
  tail -n 20 "$TMP/server.log" >&2 || true
fi
grep -ciE '\b(warn|error)\b' "$TMP/server.log" >/dev/null 2>&1 && {
  echo "[bench] server warnings/errors (last 5):"; grep -iE '\b(warn|error)\b' "$TMP/server.log" | tail -n 5
} || true

# --- report ---------------------------------------------------------------------------------------
say "report"
node bench/report.mjs --raw "$RAW" $([ "$QUICK" = 1 ] && echo --quick)
echo "[bench] done in $((SECONDS - START)) s"
