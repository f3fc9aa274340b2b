# scripts/tools.sh — sourced (not run) by the scripts that use the wasm-bindgen CLI.
#
# The CLI is built in the workspace (crates/wasm-tools: `wasm-bindgen`, `wasm-bindgen-test-runner`)
# into the dev target directory, by the tests' build (scripts/tests-build.sh, which builds the
# binaries for crates/wasm-tools/tests) or by `bash scripts/setup.sh tools`.
#
#   WASM_BINDGEN, WASM_BINDGEN_TEST_RUNNER   the two binaries' paths (set them to use others)
#   wasm_tools_want                          the `wasm-bindgen` version in Cargo.lock
#   wasm_tools_ready                         true when both binaries are there and of that version
#   wasm_tools_build                         build them (cargo build -p im-revoke-wasm-tools)
#   wasm_build_await                         what a wasm build needs besides cargo: wait or build
# Needs ROOT (the repository) set by the sourcing script.

WASM_TOOLS_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
WASM_BINDGEN="${WASM_BINDGEN:-$WASM_TOOLS_DIR/wasm-bindgen}"
WASM_BINDGEN_TEST_RUNNER="${WASM_BINDGEN_TEST_RUNNER:-$WASM_TOOLS_DIR/wasm-bindgen-test-runner}"

wasm_tools_want() {
  awk '
    /^\[\[package\]\]/ { name = "" }
    /^name = /         { name = $3 }
    /^version = /      { if (name == "\"wasm-bindgen\"") { v = $3; gsub(/"/, "", v); print v; exit } }
  ' "$ROOT/Cargo.lock" 2>/dev/null
}

wasm_tools_ready() {
  local want
  want="$(wasm_tools_want)"
  [ -n "$want" ] &&
    [ "$("$WASM_BINDGEN" --version 2>/dev/null)" = "wasm-bindgen $want" ] &&
    [ "$("$WASM_BINDGEN_TEST_RUNNER" --version 2>/dev/null | awk '{ print $NF }')" = "$want" ]
}

wasm_tools_build() {
  (cd "$ROOT" && cargo build -p im-revoke-wasm-tools --bins) && wasm_tools_ready
}

# wasm_build_await: in a run of scripts/test.sh (IMR_SUITES_DIR: its suites' status files), wait
# for its set-up suite (npm's wasm-opt) and for the CLI, which its clippy suite's build compiles;
# then, and outside test.sh, build the CLI if it is still not there.
wasm_build_await() {
  local d="${IMR_SUITES_DIR:-}" start=$SECONDS
  if [ -n "$d" ]; then
    while [ ! -f "$d/setup.s" ]; do sleep 1; done
    [ "$(cat "$d/setup.rc")" = 0 ] || { echo "the set-up suite failed" >&2; return 1; }
    until wasm_tools_ready || [ -f "$d/clippy.s" ]; do sleep 1; done
  fi
  if ! wasm_tools_ready; then
    echo "the wasm-bindgen CLI $(wasm_tools_want) is not built: building it"
    wasm_tools_build || { echo "the wasm-bindgen CLI's build failed" >&2; return 1; }
  fi
  [ "$((SECONDS - start))" -eq 0 ] || echo "(waited $((SECONDS - start)) s for the set-up and the wasm-bindgen CLI)"
}
