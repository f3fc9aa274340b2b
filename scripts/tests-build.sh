#!/usr/bin/env bash
# scripts/tests-build.sh — the native build of the tests: every test binary of the workspace and
# the binaries they run (the server, the wasm-bindgen CLI), into target/debug. One command for
# all who need it (scripts/test.sh's clippy suite, scripts/browser-tests.sh and tests/e2e/run.mjs
# for the debug server), so that cargo resolves the dependencies' features once: `cargo build -p
# im-revoke-server` resolved them for the server alone and compiled ~30 of them a second time.
#
# Not the root package (`im-revoke`, the browser module): its library and its tests/*.rs are for
# wasm32 (scripts/browser-tests.sh builds and lints them there); natively they hold no test, and
# building them compiled js-sys, wasm-bindgen-test and 9 empty test binaries for nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo test --workspace --exclude im-revoke --all-targets --no-run "$@"
