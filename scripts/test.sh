#!/usr/bin/env bash
# scripts/test.sh — set up, then run every test suite; exit non-zero if any failed. `npm test`.
#
# The set-up (scripts/setup.sh) is part of the run: its `toolchain` phase first (seconds; the
# compile needs clippy), then its `system` phase (apt, PyPI, npm: mostly download and unpack) as
# a suite of its own while the workspace compiles. The wasm-bindgen CLI (crates/wasm-tools) is
# compiled by the clippy suite's build together with the workspace, so the crates both use are
# compiled once.
#
# The suites run on three tracks at once, each track in its own order:
#   setup: setup
#   rust:  fmt, clippy, cargo-test (cargo-test after setup: PostgreSQL, moto)
#   wasm:  build-wasm, types, wasm-browser, e2e (after setup: Chromium, npm; build-wasm compiles
#          first and then waits for the set-up and the CLI)
# The tracks share no cargo build lock while they compile (wasm-release is a profile and target
# of its own; cargo test holds the dev lock only while it builds, not while its tests run), and
# most of a warm run is waiting (tests, browsers, servers), so the tracks on two cores take about
# as long as the longest one. Each suite's output goes to a log of its own; the logs are printed
# whole, in the order below, as soon as a suite and all before it are done, each with its
# PASSED/FAILED line (its seconds do not count the wait for the suites it needs). TEST_JOBS=1
# runs every suite one after the other, in that order.
#
# To add a suite: one line `suite TRACK NAME COMMAND ARGS...` below (and NEEDS[NAME] if it needs
# another suite done first). Every suite runs even after an earlier one failed, but for one whose
# needed suite failed; the last line is the summary "suites: N passed, N failed".
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export PATH

# The toolchain first: everything below compiles with it (clippy-driver, the wasm32 target).
bash scripts/setup.sh toolchain || { echo "suites: 0 passed, 1 failed (set-up: the Rust toolchain)"; exit 1; }

# On CI (a fresh clone, built once) incremental compilation only costs disk: its caches roughly
# double the dev target. Print the free space first, so a full disk is seen as such.
if [ -n "${CI:-}" ]; then
  export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
fi
printf 'disk free: %s\n' "$(df -h --output=avail "$ROOT" 2>/dev/null | tail -n 1 | tr -d ' ') in $ROOT, $(df -h --output=avail /tmp 2>/dev/null | tail -n 1 | tr -d ' ') in /tmp"

TEST_JOBS="${TEST_JOBS:-2}"
LOGS="$(mktemp -d "${TMPDIR:-/tmp}/im-revoke-test-XXXXXX")"
TRACK_PIDS=()
cleanup() {
  for pid in "${TRACK_PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
  rm -rf "$LOGS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

NAMES=()       # every suite, in printing order
declare -A TRACK_OF CMD_OF NEEDS
TRACKS=()      # track names, in order of first appearance

# suite TRACK NAME CMD [ARGS...]: declare a suite.
suite() {
  local track="$1" name="$2"
  shift 2
  NAMES+=("$name")
  TRACK_OF[$name]="$track"
  CMD_OF[$name]="$(printf '%q ' "$@")"
  case " ${TRACKS[*]} " in *" $track "*) ;; *) TRACKS+=("$track") ;; esac
}

# await_suites NAME: wait until the suites NAME needs are done; false if one of them failed.
await_suites() {
  local need
  for need in ${NEEDS[$1]:-}; do
    while [ ! -f "$LOGS/$need.s" ]; do sleep 0.5; done
    if [ "$(cat "$LOGS/$need.rc")" != 0 ]; then
      printf 'not run: it needs suite %s, which failed\n' "$need"
      return 1
    fi
  done
}
# And for scripts/wasm-build.sh (build-wasm): it compiles before the set-up is done and waits for
# it (npm's wasm-opt) and for the CLI only where it needs them (scripts/tools.sh,
# wasm_build_await).
export IMR_SUITES_DIR="$LOGS"

# run_suite NAME: run it (after what it needs), its output (and a header) into $LOGS/NAME.log, its
# status into $LOGS/NAME.rc and its seconds into $LOGS/NAME.s (written last: the suite is done).
run_suite() {
  local name="$1" start rc=0
  {
    printf '\n==================== suite: %s ====================\n' "$name"
    printf '$ %s\n' "${CMD_OF[$name]% }"
  } >"$LOGS/$name.log"
  if await_suites "$name" >>"$LOGS/$name.log" 2>&1; then
    start=$SECONDS
    eval "${CMD_OF[$name]}" >>"$LOGS/$name.log" 2>&1 </dev/null || rc=$?
  else
    start=$SECONDS
    rc=1
  fi
  echo "$rc" >"$LOGS/$name.rc"
  echo "$((SECONDS - start))" >"$LOGS/$name.s.tmp" && mv "$LOGS/$name.s.tmp" "$LOGS/$name.s"
}

# --- clippy in the one build ----------------------------------------------------------------------
# `cargo clippy` is rustc with clippy's lints (clippy-driver) run by cargo as the workspace's
# compiler wrapper in check mode: a build of its own, dependencies included (metadata only), and
# then `cargo test` compiled everything again. Here clippy-driver is the workspace wrapper of every
# cargo build this script runs, with the arguments `cargo clippy -- -D warnings` gives it: the
# clippy suite builds what `cargo test --all-targets` needs (scripts/tests-build.sh; the lints
# run as it compiles; a warning fails the build), cargo-test runs those very artifacts, and the
# browser tests' build of the module (wasm32, dev profile) is linted too. Not the shipped module
# (build-wasm): clippy-driver compiles with MIR optimizations off (its lints read unoptimized
# MIR), which made the client's wasm 821 bytes bigger; scripts/build.sh runs without the wrapper
# and builds what it always did.
# Set IMR_NO_CLIPPY_WRAPPER=1 to run plain `cargo clippy` instead.
CLIPPY_DRIVER="$(rustc --print sysroot 2>/dev/null)/bin/clippy-driver"
if [ -z "${IMR_NO_CLIPPY_WRAPPER:-}" ] && [ -x "$CLIPPY_DRIVER" ]; then
  export RUSTC_WORKSPACE_WRAPPER="$CLIPPY_DRIVER"
  export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
  CLIPPY_CMD=(bash scripts/tests-build.sh)
else
  CLIPPY_CMD=(cargo clippy --workspace --all-targets -- -D warnings)
fi

# --- the suites -----------------------------------------------------------------------------------
# The set-up's system packages (apt: Chromium, PostgreSQL; PyPI: moto; npm) while the rust track
# compiles; the suites that use them wait for it.
suite setup setup bash scripts/setup.sh system

suite rust fmt    cargo fmt --all -- --check
suite rust clippy "${CLIPPY_CMD[@]}"
# (not the root package: its tests are the browser's, scripts/tests-build.sh)
suite rust cargo-test cargo test --workspace --exclude im-revoke
NEEDS[cargo-test]="setup"

# Browser tests of the JS API (tests/*.rs, wasm-bindgen-test) in headless Chromium, the server
# cases against a live dev server that the script starts and stops:
suite wasm wasm-browser bash scripts/browser-tests.sh
NEEDS[wasm-browser]="setup"

# The browser module into pkg/, then its TypeScript types checked by tests/types/usage.ts:
suite wasm build-wasm env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS bash scripts/build.sh
suite wasm types npx --no-install tsc --noEmit -p tests/types
NEEDS[types]="setup"

# End-to-end: the demo (www/) in headless Chromium against real servers, ?mode=local, and the
# Vite example on the packed module (tests/e2e/run.mjs; screenshots in test-results/). Last on
# its track: it uses pkg/ and the debug server that the suites before it built.
suite wasm e2e node tests/e2e/run.mjs
NEEDS[e2e]="setup"

# The order each track runs its suites in: the wasm track builds pkg/ first (the wasm-release
# profile, which waits on no lock of the rust track), so that its dev-profile builds come after
# cargo-test has built its own.
RUN_ORDER=(setup fmt clippy cargo-test build-wasm types wasm-browser e2e)

# --- running --------------------------------------------------------------------------------------
run_track() {
  local track="$1" name
  for name in "${RUN_ORDER[@]}"; do
    [ "${TRACK_OF[$name]}" = "$track" ] && run_suite "$name"
  done
  return 0
}

if [ "$TEST_JOBS" -le 1 ]; then
  printf 'suites: one after the other (TEST_JOBS=%s)\n' "$TEST_JOBS"
  ( for name in "${RUN_ORDER[@]}"; do run_suite "$name"; done ) &
  TRACK_PIDS+=($!)
else
  printf 'suites: %d tracks at once (%s; TEST_JOBS=1 for one after the other); logs printed in order\n' \
    "${#TRACKS[@]}" "$(for t in "${TRACKS[@]}"; do printf '%s ' "$t:"; for n in "${RUN_ORDER[@]}"; do [ "${TRACK_OF[$n]}" = "$t" ] && printf '%s,' "$n"; done; printf ' '; done | sed 's/, / /g; s/ *$//')"
  set -m # each track in a process group of its own (stopped whole on Ctrl-C)
  for t in "${TRACKS[@]}"; do
    run_track "$t" &
    TRACK_PIDS+=($!)
  done
  set +m
fi

PASSED=()
FAILED=()
for name in "${NAMES[@]}"; do
  while [ ! -f "$LOGS/$name.s" ]; do
    # A track that died without finishing its suites (killed) leaves them unfinished.
    alive=0
    for pid in "${TRACK_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    if [ "$alive" -eq 0 ] && [ ! -f "$LOGS/$name.s" ]; then
      echo "did not run (its track stopped)" >>"$LOGS/$name.log"
      echo 1 >"$LOGS/$name.rc"
      echo 0 >"$LOGS/$name.s"
      break
    fi
    sleep 0.5
  done
  cat "$LOGS/$name.log" 2>/dev/null
  rc="$(cat "$LOGS/$name.rc")"
  secs="$(cat "$LOGS/$name.s")"
  if [ "$rc" -eq 0 ]; then
    printf -- '---- suite %s: PASSED (%d s)\n' "$name" "$secs"
    PASSED+=("$name")
  else
    printf -- '---- suite %s: FAILED, exit %d (%d s)\n' "$name" "$rc" "$secs"
    FAILED+=("$name")
  fi
done
wait

# --- summary --------------------------------------------------------------------------------------
printf '\n==================== summary ====================\n'
if [ "${#PASSED[@]}" -gt 0 ]; then printf 'passed: %s\n' "${PASSED[*]}"; fi
if [ "${#FAILED[@]}" -gt 0 ]; then printf 'FAILED: %s\n' "${FAILED[*]}"; fi
printf 'wall time: %d s\n' "$SECONDS"
printf 'suites: %d passed, %d failed\n' "${#PASSED[@]}" "${#FAILED[@]}"
[ "${#FAILED[@]}" -eq 0 ]
