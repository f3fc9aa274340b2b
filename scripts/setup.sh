#!/usr/bin/env bash
# scripts/setup.sh [PHASE...] — install everything the build and the tests need, and nothing else.
#
# Idempotent: every step checks first and is skipped when already satisfied, so a warm run takes
# seconds. The phases, all of them when none is named:
#
#   toolchain  Rust: target wasm32-unknown-unknown, components rustfmt + clippy (rustup)
#   system     apt: chromium, chromium-driver, postgresql, fonts-wqy-microhei (CJK for screenshots)
#              PyPI: moto[server] in a venv of its own (the S3-compatible server of the multi-node
#              attachment test): ${XDG_DATA_HOME:-~/.local/share}/im-revoke/moto-venv
#              npm: `npm ci` when node_modules is missing or older than package.json /
#              package-lock.json; this brings wasm-opt (npm `binaryen`, 132: Debian's 108 corrupts
#              the wasm-bindgen externref table, so scripts/build.sh puts node_modules/.bin first)
#   tools      the wasm-bindgen CLI (`wasm-bindgen`, `wasm-bindgen-test-runner`) at exactly the
#              `wasm-bindgen` version in Cargo.lock: crates/wasm-tools, built into target/debug/
#              (scripts/tools.sh); one `cargo build`, the only compile of the set-up
#
# `npm test` (scripts/test.sh) runs `toolchain` first, then `system` while the workspace compiles,
# and leaves `tools` to the tests' build, which compiles the CLI together with the workspace (the
# crates both use once); `npm start`, `npm run build` and `npm run bench` run all three.
# Nothing is exported beyond this process: PATH gets ~/.cargo/bin for the script's own use only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/tools.sh
. "$ROOT/scripts/tools.sh"

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

PHASES=" ${*:-toolchain system tools} "
for p in $PHASES; do
  case "$p" in toolchain|system|tools) ;; *) die "unknown phase '$p' (toolchain, system, tools)" ;; esac
done
want_phase() { case "$PHASES" in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

START=$SECONDS
CHANGED=0

# --- Rust toolchain -------------------------------------------------------------------------------
if want_phase toolchain; then
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
fi

if want_phase system; then
  # --- Debian packages ----------------------------------------------------------------------------
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

  # --- moto_server (S3-compatible storage for tests/attachments_pg.rs) -----------------------------
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

  # --- npm dependencies ---------------------------------------------------------------------------
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
fi

# --- wasm-bindgen CLI, built in the workspace -----------------------------------------------------
if want_phase tools; then
  say "wasm-bindgen CLI (crates/wasm-tools)"
  command -v cargo >/dev/null 2>&1 || die "cargo not found on PATH ($CARGO_BIN)"
  if [ ! -f Cargo.lock ]; then
    say "  Cargo.lock missing: generating it"
    run cargo generate-lockfile
  fi
  WB_VERSION="$(wasm_tools_want)"
  [ -n "$WB_VERSION" ] || die "no wasm-bindgen package in Cargo.lock"
  if wasm_tools_ready; then
    ok "wasm-bindgen $WB_VERSION (= Cargo.lock) in $WASM_TOOLS_DIR"
  else
    say "  building wasm-bindgen $WB_VERSION into $WASM_TOOLS_DIR"
    wasm_tools_build ||
      die "cargo build -p im-revoke-wasm-tools failed, or its binaries are not wasm-bindgen $WB_VERSION"
    CHANGED=1
    ok "wasm-bindgen $WB_VERSION (= Cargo.lock) in $WASM_TOOLS_DIR"
  fi
fi

# --------------------------------------------------------------------------------------------------
if [ "$CHANGED" -eq 0 ]; then
  say "everything is present ($((SECONDS - START)) s)"
else
  say "done ($((SECONDS - START)) s)"
fi
