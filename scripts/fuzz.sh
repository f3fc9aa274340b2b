#!/usr/bin/env bash
# Runs every fuzz target under fuzz/ (cargo-fuzz, libFuzzer) for a bounded time, locally.
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]     # default 60
#   FUZZ_TARGETS="hub_ops" bash scripts/fuzz.sh 300   # only some targets
#
# - Installs cargo-fuzz if it is missing (and the nightly toolchain it needs, if missing).
# - Reads the committed seed corpus fuzz/corpus/<target>/ but writes what libFuzzer finds to
#   fuzz/target/corpus-work/<target>/, so the committed corpus stays small.
# - Prints executions and exec/s per target, and the path of every crash, leak, timeout or
#   out-of-memory input found (fuzz/artifacts/<target>/). Reproduce one with
#   `cargo +nightly fuzz run <target> <path>` and turn it into a regression test (see
#   fuzz/README.md).
# - Exits non-zero if any target found something (or failed to build/run).
# Nothing here touches the network except installing cargo-fuzz from crates.io.
set -euo pipefail

SECS="${1:-60}"
if ! [[ "$SECS" =~ ^[0-9]+$ ]] || [ "$SECS" -lt 1 ]; then
    echo "usage: bash scripts/fuzz.sh [SECONDS_PER_TARGET]" >&2
    exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGETS="${FUZZ_TARGETS:-frame_decode server_decode usersig hub_ops}"
TOOLCHAIN="${FUZZ_TOOLCHAIN:-nightly}"

if ! rustup toolchain list | grep -q "^${TOOLCHAIN}"; then
    echo "==> installing the ${TOOLCHAIN} toolchain (cargo-fuzz needs -Z flags)"
    rustup toolchain install "$TOOLCHAIN" --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked || cargo install cargo-fuzz
fi
echo "==> $(cargo fuzz --version), $(rustc +"$TOOLCHAIN" --version)"

# Build options per target. hub_ops exercises only safe Rust (im-revoke-core has no `unsafe`),
# where AddressSanitizer finds nothing and costs a factor of ~4 in speed: it runs without a
# sanitizer (overflow checks and debug assertions stay on), in its own target directory so
# the two builds do not evict each other. The decoders keep ASan (their dependencies use
# `unsafe`).
build_opts() {
    case "$1" in
        hub_ops) echo "--sanitizer none --target-dir fuzz/target/nosan" ;;
        *) echo "" ;;
    esac
}

echo "==> building ${TARGETS}"
for t in $TARGETS; do
    # shellcheck disable=SC2046
    cargo +"$TOOLCHAIN" fuzz build $(build_opts "$t") "$t"
done

LOGS="fuzz/target/fuzz-logs"
mkdir -p "$LOGS"
failed=0
summary=()
for t in $TARGETS; do
    work="fuzz/target/corpus-work/$t"
    seeds="fuzz/corpus/$t"
    arts="fuzz/artifacts/$t"
    mkdir -p "$work" "$seeds" "$arts"
    before="$(ls -1 "$arts" 2>/dev/null | sort || true)"
    log="$LOGS/$t.log"
    echo "==> fuzzing $t for ${SECS}s (log: $log)"
    # hub_ops decodes one op per few bytes: let it use long inputs from the start.
    extra=()
    if [ "$t" = hub_ops ]; then extra=(-max_len=2048 -len_control=0); fi
    rc=0
    # shellcheck disable=SC2046
    cargo +"$TOOLCHAIN" fuzz run $(build_opts "$t") "$t" "$work" "$seeds" -- \
        -max_total_time="$SECS" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
        "${extra[@]}" >"$log" 2>&1 || rc=$?
    runs="$(grep -E '^stat::number_of_executed_units:' "$log" | tail -1 | awk '{print $2}')"
    rate="$(grep -E '^stat::average_exec_per_sec:' "$log" | tail -1 | awk '{print $2}')"
    cov="$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')"
    after="$(ls -1 "$arts" 2>/dev/null | sort || true)"
    new="$(comm -13 <(echo "$before") <(echo "$after") | sed '/^$/d' || true)"
    status="ok"
    if [ "$rc" -ne 0 ] || [ -n "$new" ]; then
        status="FOUND (exit $rc)"
        failed=1
        echo "---- $t: last lines of $log"
        grep -E 'panicked at|ERROR: libFuzzer|SUMMARY|^thread' "$log" | head -5 || true
        tail -n 15 "$log"
        for f in $new; do echo "CRASH $t: $arts/$f"; done
    fi
    summary+=("$(printf '%-14s %12s execs %8s exec/s  cov %-6s %s' "$t" "${runs:-?}" "${rate:-?}" "${cov:-?}" "$status")")
done

echo "==> summary (${SECS}s per target)"
printf '%s\n' "${summary[@]}"
exit "$failed"
