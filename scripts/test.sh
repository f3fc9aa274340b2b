#!/usr/bin/env bash
# scripts/test.sh — run every test suite in order; exit non-zero if any failed.
# Run `bash scripts/setup.sh` first (`npm test` does).
#
# To add a suite: one line `suite NAME COMMAND ARGS...` below. Every suite runs even after an
# earlier one failed; the last line is the summary "suites: N passed, N failed".
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export PATH

# On CI (a fresh clone, built once) incremental compilation only costs disk: its caches roughly
# double the dev target. Print the free space first, so a full disk is seen as such.
if [ -n "${CI:-}" ]; then
  export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
fi
printf 'disk free: %s\n' "$(df -h --output=avail "$ROOT" 2>/dev/null | tail -n 1 | tr -d ' ') in $ROOT, $(df -h --output=avail /tmp 2>/dev/null | tail -n 1 | tr -d ' ') in /tmp"

PASSED=()
FAILED=()

# suite NAME CMD [ARGS...]: run CMD with a header, record pass/fail.
suite() {
  local name="$1"
  shift
  local start=$SECONDS
  printf '\n==================== suite: %s ====================\n' "$name"
  printf '$ %s\n' "$*"
  if "$@"; then
    printf -- '---- suite %s: PASSED (%d s)\n' "$name" "$((SECONDS - start))"
    PASSED+=("$name")
  else
    local rc=$?
    printf -- '---- suite %s: FAILED, exit %d (%d s)\n' "$name" "$rc" "$((SECONDS - start))"
    FAILED+=("$name")
  fi
}

# --- the suites, in order -------------------------------------------------------------------------
suite fmt    cargo fmt --all -- --check
suite clippy cargo clippy --workspace --all-targets -- -D warnings
suite cargo-test cargo test --workspace

# Browser tests of the JS API (tests/*.rs, wasm-bindgen-test) in headless Chromium:
# (wasm-bindgen-test-runner as cargo's runner for the wasm target: headless Chromium through
# chromedriver; what `wasm-pack test --headless --chrome` ran, without installing wasm-pack.)
suite wasm-browser env CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=120 \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test --target wasm32-unknown-unknown

# The browser module into pkg/, then its TypeScript types checked by tests/types/usage.ts:
suite build-wasm bash scripts/build.sh
suite types npx --no-install tsc --noEmit -p tests/types

# End-to-end: the demo (www/) in headless Chromium against real servers, ?mode=local, and the
# Vite example on the packed module (tests/e2e/run.mjs; screenshots in test-results/):
suite e2e node tests/e2e/run.mjs

# --- summary --------------------------------------------------------------------------------------
printf '\n==================== summary ====================\n'
if [ "${#PASSED[@]}" -gt 0 ]; then printf 'passed: %s\n' "${PASSED[*]}"; fi
if [ "${#FAILED[@]}" -gt 0 ]; then printf 'FAILED: %s\n' "${FAILED[*]}"; fi
printf 'suites: %d passed, %d failed\n' "${#PASSED[@]}" "${#FAILED[@]}"
[ "${#FAILED[@]}" -eq 0 ]
