# scripts/bench-rest.sh — the REST API and webhook figures of `npm run bench`. Sourced by
# scripts/bench.sh after its own scenarios (not run alone): it uses bench.sh's LOADGEN,
# SERVER_BIN, TMP, RAW, KEY, SDKAPPID, QUICK, TP_CLIENTS, TP_SECS, LG and say, and records the pids
# it starts in REST_PIDS, which bench.sh's cleanup stops.
#
# Each run gets a server of its own (fresh SQLite database, same flags as the main one):
#   rest.json               admin sendmsg then admin_msgwithdraw of each (--rest-rate 0: the
#                           server's capacity, not Tencent's 200/s quota), req/s and p50/p99;
#   webhooks-none-1.json    the `revokes` throughput scenario, no --callback-url (baseline);
#   webhooks-fast.json      the same, webhooks to a receiver that answers at once (0 ms): what
#                           the outbox and a deliverer that keeps up cost;
#   webhooks-slow.json      the same, webhooks to a receiver that answers after 500 ms;
#   webhooks-down.json      the same, webhooks to a loopback port where nothing listens;
#   webhooks-none-2.json    the baseline again (the baseline is the mean of both: a busy machine
#                           drifts);
#   webhooks-*-metrics.txt  the server's imr_webhooks_* metrics after each run.
#
# Alone, `bash scripts/bench-rest.sh [--quick]` runs only these figures, with the release binaries
# that bench.sh builds (built here the same way when missing or stale), and prints their rows of
# the table (raw files in bench/out/rest/). With SERVER_BIN and LOADGEN set to built binaries
# it builds nothing (to compare two servers); REST_RUNS="fast slow" runs only those webhook
# configurations (the two runs without are always added), and REST_SKIP_API=1 skips rest.json.

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  cd "$ROOT"
  PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
  QUICK=0
  [ "${1:-}" = "--quick" ] && QUICK=1
  if [ "$QUICK" = 1 ]; then TP_CLIENTS=100; TP_SECS=2; else TP_CLIENTS=500; TP_SECS=10; fi
  say() { printf '\n[bench] %s\n' "$*"; }
  if [ -z "${SERVER_BIN:-}" ] || [ -z "${LOADGEN:-}" ]; then
    SERVER_BIN="$ROOT/target/release/im-revoke-server"
    LOADGEN="$ROOT/target/loadgen/release/im-revoke-loadgen"
    cargo build --release -p im-revoke-server
    CARGO_TARGET_DIR="$ROOT/target/loadgen" cargo build --release -p im-revoke-loadgen \
      --bin im-revoke-loadgen --config 'profile.release.opt-level=3' --config 'profile.release.lto="thin"' \
      --config 'profile.release.codegen-units=16'
  fi
  TMP="$(mktemp -d "${TMPDIR:-/tmp}/imr-bench-rest.XXXXXX")"
  RAW="${RAW:-$ROOT/bench/out/rest}"
  rm -rf "$RAW"
  mkdir -p "$RAW"
  KEY="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  SDKAPPID=1400000000
  export IMR_SECRET_KEY="$KEY" IMR_SDKAPPID="$SDKAPPID"
  LG() { local secs="$1"; shift; timeout --kill-after=10 "$((secs + 30))" "$LOADGEN" "$@" --max-secs "$secs"; }
  rest_cleanup() {
    local rc=$?
    for pid in ${REST_PIDS:-}; do kill -KILL "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
    exit "$rc"
  }
  trap rest_cleanup EXIT
  trap 'exit 130' INT TERM
  REST_ALONE=1
  echo "[bench] load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

REST_PIDS=""
if [ "$QUICK" = 1 ]; then REST_MSGS=2000; else REST_MSGS=20000; fi

rest_server() { # rest_server NAME FLAGS... : starts a server, sets RS_PID and RS_ADDR
  local name="$1"; shift
  IMR_LOG=warn "$SERVER_BIN" --listen 127.0.0.1:0 --db "$TMP/$name.db" \
    --sdkappid "$SDKAPPID" --secret-key "$KEY" --revoke-time-limit 3600 \
    --max-connections 30000 "$@" >"$TMP/$name.out" 2>"$TMP/$name.log" &
  RS_PID=$!
  REST_PIDS="$REST_PIDS $RS_PID"
  RS_ADDR=""
  for _ in $(seq 1 300); do
    RS_ADDR="$(sed -n 's|^im-revoke-server listening on http://||p' "$TMP/$name.out" | head -n1)"
    [ -n "$RS_ADDR" ] && return 0
    kill -0 "$RS_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$TMP/$name.log" >&2
  echo "[bench] the $name server did not start" >&2
  exit 1
}

rest_stop() { # rest_stop PID
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

if [ "${REST_SKIP_API:-0}" != 1 ]; then
  say "extra: REST API: $REST_MSGS admin sends (openim/sendmsg), then admin recalls (admin_msgwithdraw) of each"
  rest_server rest --rest-rate 0
  LG 300 rest --http "http://$RS_ADDR" --messages "$REST_MSGS" --concurrency 16 --out "$RAW/rest.json"
  rest_stop "$RS_PID"
fi

receiver() { # receiver NAME DELAY_MS : starts a webhook receiver, sets RECV_PID and RECV_URL
  "$LOADGEN" webhook-receiver --listen 127.0.0.1:0 --delay-ms "$2" --max-secs 900 \
    --out "$RAW/webhook-receiver-$1.json" >"$TMP/receiver-$1.out" &
  RECV_PID=$!
  REST_PIDS="$REST_PIDS $RECV_PID"
  RECV_URL=""
  for _ in $(seq 1 100); do
    RECV_URL="$(sed -n 's|^webhook-receiver listening on ||p' "$TMP/receiver-$1.out" | head -n1)"
    [ -n "$RECV_URL" ] && break
    sleep 0.1
  done
  [ -n "$RECV_URL" ] || { echo "[bench] the webhook receiver did not start" >&2; exit 1; }
}
# The fast receiver answers at once; the slow one after 500 ms.
receiver fast 0
FAST_PID=$RECV_PID FAST_URL=$RECV_URL
receiver slow 500
SLOW_PID=$RECV_PID SLOW_URL=$RECV_URL
# The dead receiver: a loopback port that refuses connections (checked).
DOWN_PORT=1
if (exec 3<>"/dev/tcp/127.0.0.1/$DOWN_PORT") 2>/dev/null; then
  echo "[bench] something listens on 127.0.0.1:$DOWN_PORT; the 'down' receiver is not down" >&2
  exit 1
fi

for run in none-1 ${REST_RUNS:-fast slow down} none-2; do
  case "$run" in
    none-*) flags=() ;;
    fast) flags=(--callback-url "${FAST_URL}hook" --callback-token bench-token) ;;
    slow) flags=(--callback-url "${SLOW_URL}hook" --callback-token bench-token) ;;
    down) flags=(--callback-url "http://127.0.0.1:$DOWN_PORT/hook" --callback-token bench-token) ;;
  esac
  say "extra: webhooks ($run): durable sends, then revokes ($TP_CLIENTS users, ${TP_SECS} s each) ${flags[*]:-(no --callback-url)}"
  rest_server "wh-$run" "${flags[@]}"
  LG 240 revokes --url "ws://$RS_ADDR/ws" --clients "$TP_CLIENTS" --window 8 --send-secs "$((TP_SECS + 2))" \
    --secs "$TP_SECS" --out "$RAW/webhooks-$run.json"
  curl -s --max-time 5 "http://$RS_ADDR/metrics" | grep '^imr_webhooks' >"$RAW/webhooks-$run-metrics.txt" || true
  sed 's/^/  /' "$RAW/webhooks-$run-metrics.txt"
  rest_stop "$RS_PID"
done
rest_stop "$FAST_PID"
rest_stop "$SLOW_PID"

if [ "${REST_ALONE:-0}" = 1 ]; then
  say "report (REST API and webhooks only); load average now $(cut -d' ' -f1-3 /proc/loadavg)"
  RAW="$RAW" node --input-type=module -e '
    import { restFigures, restRows } from "./bench/report-rest.mjs";
    import { existsSync, readFileSync } from "node:fs";
    const read = (n) => { const f = `${process.env.RAW}/${n}`; if (!existsSync(f)) return null; const j = JSON.parse(readFileSync(f, "utf8")); return j.result ?? j; };
    for (const x of restRows(restFigures(read))) {
      const ok = x.ok === null ? "" : x.ok ? "  [meets target]" : "  [MISSES target]";
      console.log(`\n${x.figure}${ok}\n    target    ${x.target}\n    measured  ${x.measured}\n    baseline  ${x.baseline}` + (x.ratio ? `\n    ratio     ${x.ratio.toFixed(2)}x` : ""));
    }'
fi
