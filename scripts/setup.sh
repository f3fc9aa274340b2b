#!/usr/bin/env bash
# scripts/setup.sh — install everything the build and the tests need, and nothing else.
#
# Idempotent: every step checks first and is skipped when already satisfied, so a warm run takes
# seconds. A cold run on a fresh machine takes a few minutes (one `cargo install`: wasm-bindgen-cli,
# run in the background while apt, pip and npm work; wasm-pack is not needed, scripts/wasm-build.sh
# does its three steps).
#
#   Rust:    target wasm32-unknown-unknown, components rustfmt + clippy
#   cargo:   wasm-bindgen-cli at exactly the `wasm-bindgen` version in Cargo.lock (wasm-bindgen and
#            wasm-bindgen-test-runner, the browser tests' runner)
#   apt:     chromium, chromium-driver, postgresql, fonts-wqy-microhei (CJK for screenshots)
#   PyPI:    moto[server] in a venv of its own (the S3-compatible server of the multi-node
#            attachment test): ${XDG_DATA_HOME:-~/.local/share}/im-revoke/moto-venv
#   npm:     `npm ci` when node_modules is missing or older than package.json / package-lock.json;
#            this brings wasm-opt (npm `binaryen`, 132: Debian's 108 corrupts the wasm-bindgen
#            externref table, so scripts/build.sh puts node_modules/.bin first on PATH)
#
# Nothing is exported beyond this process: PATH gets ~/.cargo/bin for the script's own use only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
case ":$PATH:" in
  *":$CARGO_BIN:"*) ;;
  *) PATH="$CARGO_BIN:$PATH" ;;
esac
export PATH

say()  { printf '[setup] %s\n' "$*"; }
ok()   { printf '[setup]   ok: %s\n' "$*"; }
run()  { printf '[setup]   $ %s\n' "$*"; "$@"; }
die()  { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

START=$SECONDS
CHANGED=0
# The wasm-bindgen CLI's install runs in the background while the other steps run; stopped if
# this script stops first.
WB_PID=""
WB_LOG=""
trap 'if [ -n "$WB_PID" ]; then kill "$WB_PID" 2>/dev/null || true; fi; if [ -n "$WB_LOG" ]; then rm -f "$WB_LOG"; fi' EXIT

# --- Rust toolchain -------------------------------------------------------------------------------
say "Rust toolchain"
command -v rustup >/dev/null 2>&1 || die "rustup not found (install Rust via rustup first)"
command -v cargo  >/dev/null 2>&1 || die "cargo not found on PATH ($CARGO_BIN)"

if rustup target list --installed | grep -qx 'wasm32-unknown-unknown'; then
  ok "target wasm32-unknown-unknown"
else
  run rustup target add wasm32-unknown-unknown
  CHANGED=1
fi

installed_components="$(rustup component list --installed)"
for comp in rustfmt clippy; do
  if grep -q "^${comp}\(-\|$\)" <<<"$installed_components"; then
    ok "component $comp"
  else
    run rustup component add "$comp"
    CHANGED=1
  fi
done

# --- wasm-bindgen CLI, pinned to Cargo.lock -------------------------------------------------------
say "wasm-bindgen CLI"
lock_versions=""
WB_SOURCE="Cargo.lock"
if [ ! -f Cargo.lock ]; then
  say "  Cargo.lock missing: generating it"
  if ! run cargo generate-lockfile; then
    # The workspace may not parse while it is being edited; the exact pin `wasm-bindgen = "=X"`
    # in Cargo.toml names the same version, so use it rather than stop here.
    lock_versions="$(sed -n 's/^wasm-bindgen *= *{\{0,1\} *\(version *= *\)\{0,1\}"=\([0-9][^"]*\)".*/\2/p' Cargo.toml | head -n1)"
    [ -n "$lock_versions" ] ||
      die "cannot generate Cargo.lock and Cargo.toml has no exact pin wasm-bindgen = \"=X\""
    WB_SOURCE="Cargo.toml pin"
    say "  warning: could not generate Cargo.lock; using the pin in Cargo.toml: $lock_versions"
  fi
fi

if [ -f Cargo.lock ]; then
  # Version of the `wasm-bindgen` package in Cargo.lock (first one if there are several).
  lock_versions="$(awk '
    /^\[\[package\]\]/ { name = "" }
    /^name = /         { name = $3 }
    /^version = /      { if (name == "\"wasm-bindgen\"") { v = $3; gsub(/"/, "", v); print v } }
  ' Cargo.lock)"
fi
WB_VERSION="$(head -n1 <<<"$lock_versions")"

wasm_bindgen_version() {
  # "wasm-bindgen 0.2.130" -> "0.2.130"; empty if not installed
  if command -v wasm-bindgen >/dev/null 2>&1; then
    wasm-bindgen --version 2>/dev/null | awk '{ print $2 }'
  fi
}

if [ -z "$WB_VERSION" ]; then
  say "  note: no wasm-bindgen package in Cargo.lock; nothing to pin"
else
  if [ "$(wc -l <<<"$lock_versions")" -gt 1 ]; then
    say "  warning: several wasm-bindgen versions in Cargo.lock ($(tr '\n' ' ' <<<"$lock_versions")); using $WB_VERSION"
  fi
  have="$(wasm_bindgen_version)"
  if [ "$have" != "$WB_VERSION" ]; then
    # Another shell may be installing it right now; wait for that rather than race it.
    if command -v pgrep >/dev/null 2>&1; then
      while pids="$(pgrep -f 'cargo install wasm-bindgen-cli' || true)"; [ -n "$pids" ]; do
        say "  waiting for an install already running (pid $(tr '\n' ' ' <<<"$pids"))"
        sleep 10
      done
      have="$(wasm_bindgen_version)"
    fi
  fi
  if [ "$have" = "$WB_VERSION" ]; then
    ok "wasm-bindgen $have (= $WB_SOURCE)"
  else
    say "  have '${have:-none}', $WB_SOURCE wants $WB_VERSION: installing in the background"
    # The one compile of the set-up runs while apt, pip and npm download and unpack (mostly
    # network and disk); its log is printed and its result checked at the end.
    # --locked first; it can fail when a locked dependency of the CLI is no longer in the
    # registry (seen: webpki-roots for 0.2.130), then resolve afresh.
    # Optimized are only the crates where the CLI spends its run time (walrus, gimli and
    # wasm-bindgen-cli-support: reading, rewriting and writing the module); the ~200 others
    # (clap, regex, serde, the HTTP client and server of the test runner...) are compiled
    # without optimizations or debug info. The install costs a third less CPU than a release
    # build (352 against ~530 s here), the tools' output is byte-identical, and
    # wasm-bindgen runs ~0.4 s longer on a browser-test binary (BENCHMARKS.md, "npm test time").
    WB_PROFILE=(--debug
      --config 'profile.dev.debug=0' --config 'profile.dev.debug-assertions=false'
      --config 'profile.dev.overflow-checks=false' --config 'profile.dev.incremental=false'
      --config 'profile.dev.package.walrus.opt-level=3'
      --config 'profile.dev.package.gimli.opt-level=3'
      --config 'profile.dev.package."wasm-bindgen-cli-support".opt-level=3')
    WB_LOG="$(mktemp "${TMPDIR:-/tmp}/im-revoke-wasm-bindgen-XXXXXX")"
    (
      set +e
      run cargo install wasm-bindgen-cli --version "$WB_VERSION" "${WB_PROFILE[@]}" --locked --force && exit 0
      say "  --locked install failed; retrying without --locked"
      run cargo install wasm-bindgen-cli --version "$WB_VERSION" "${WB_PROFILE[@]}" --force
    ) >"$WB_LOG" 2>&1 </dev/null &
    WB_PID=$!
    CHANGED=1
  fi
fi

# --- Debian packages ------------------------------------------------------------------------------
say "System packages (apt)"
# package  a file it installs that must exist (a binary, or the font file)
APT_WANTED=(
  "chromium:/usr/bin/chromium"
  "chromium-driver:/usr/bin/chromedriver"
  "postgresql:/usr/bin/pg_lsclusters"
  # A CJK font, so that the demo's Chinese text renders in the e2e screenshots instead of boxes
  # (1.6 MB; fonts-noto-cjk would be 57 MB to download on every fresh machine).
  "fonts-wqy-microhei:/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
)
apt_missing=()
for entry in "${APT_WANTED[@]}"; do
  pkg="${entry%%:*}"
  bin="${entry#*:}"
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' && [ -e "$bin" ]; then
    ok "$pkg ($bin)"
  else
    apt_missing+=("$pkg")
  fi
done

if [ "${#apt_missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: ${apt_missing[*]}"
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "not root and no sudo; install by hand: ${apt_missing[*]}"
    SUDO=(sudo)
  fi
  say "  installing: ${apt_missing[*]}"
  run "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  run "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${apt_missing[@]}"
  CHANGED=1
fi

if command -v sqlite3 >/dev/null 2>&1; then
  ok "sqlite3 CLI (optional)"
else
  say "  note: sqlite3 CLI not present (optional, only for inspecting databases by hand)"
fi

# --- moto_server (S3-compatible storage for tests/attachments_pg.rs) -------------------------------
say "moto_server (PyPI moto[server])"
MOTO_VENV="${XDG_DATA_HOME:-$HOME/.local/share}/im-revoke/moto-venv"
if "$MOTO_VENV/bin/moto_server" --help >/dev/null 2>&1; then
  ok "$MOTO_VENV/bin/moto_server"
else
  command -v python3 >/dev/null 2>&1 || die "python3 not found (needed for moto_server)"
  if ! python3 -m venv --help >/dev/null 2>&1 || ! run python3 -m venv "$MOTO_VENV"; then
    # Debian without python3-venv: install it, then the venv.
    SUDO=()
    [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
    run "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
    run python3 -m venv "$MOTO_VENV"
  fi
  run "$MOTO_VENV/bin/python" -m pip install -q 'moto[server]>=5,<6'
  "$MOTO_VENV/bin/moto_server" --help >/dev/null 2>&1 || die "moto_server does not run from $MOTO_VENV"
  CHANGED=1
  ok "$MOTO_VENV/bin/moto_server"
fi

# --- npm dependencies -----------------------------------------------------------------------------
say "npm dependencies"
command -v node >/dev/null 2>&1 || die "node not found (Node.js >= 20.19 is required)"
command -v npm  >/dev/null 2>&1 || die "npm not found"
STAMP="node_modules/.setup-stamp"
if [ ! -f package-lock.json ]; then
  die "package-lock.json missing (run 'npm install' once and commit the lock)"
elif [ -d node_modules ] && [ -f "$STAMP" ] && [ ! package-lock.json -nt "$STAMP" ] && [ ! package.json -nt "$STAMP" ]; then
  ok "node_modules up to date with package-lock.json"
else
  run npm ci --no-audit --no-fund
  touch "$STAMP"
  CHANGED=1
fi

# --- wasm-bindgen CLI: the background install, if one was started --------------------------------
if [ -n "$WB_PID" ]; then
  say "wasm-bindgen CLI: waiting for the install started above"
  wb_rc=0
  wait "$WB_PID" || wb_rc=$?
  WB_PID=""
  sed 's/^/[setup]   | /' "$WB_LOG"
  rm -f "$WB_LOG"
  [ "$wb_rc" -eq 0 ] || die "cargo install wasm-bindgen-cli $WB_VERSION failed (exit $wb_rc)"
  have="$(wasm_bindgen_version)"
  [ "$have" = "$WB_VERSION" ] ||
    die "wasm-bindgen on PATH is '${have:-none}' after install, expected $WB_VERSION ($(command -v wasm-bindgen || true))"
  ok "wasm-bindgen $have (= $WB_SOURCE)"
fi

# --------------------------------------------------------------------------------------------------
if [ "$CHANGED" -eq 0 ]; then
  say "everything is present ($((SECONDS - START)) s)"
else
  say "done ($((SECONDS - START)) s)"
fi
