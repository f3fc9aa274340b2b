#!/usr/bin/env bash
# scripts/wasm-build.sh OUT_DIR [--no-opt] [--from WASM | -- CARGO_ARGS...] — one browser module
# into OUT_DIR (with --from: from a module step 1 already built, e.g. scripts/build.sh's).
# scripts/wasm-build.sh --compile-only WASM [-- CARGO_ARGS...] — step 1 alone, its module copied
# to WASM (scripts/build.sh compiles both entries so before packaging them).
#
# What `wasm-pack build --profile wasm-release --target web --weak-refs` did, in its three steps,
# without wasm-pack itself (a cold `cargo install wasm-pack` took over five minutes of set-up):
#   1. cargo build --target wasm32-unknown-unknown --profile wasm-release (CARGO_ARGS added: the
#      client entry passes `--no-default-features --features console_error_panic_hook`);
#   2. wasm-bindgen --target web --weak-refs (the CLI of crates/wasm-tools, scripts/tools.sh);
#   3. wasm-opt -Os --converge --low-memory-unused (npm `binaryen`, node_modules/.bin), unless
#      --no-opt; its output for an unchanged input is reused from $TARGET_DIR/wasm-opt-cache;
#   4. short import and export names in the wasm and its glue (scripts/short-names.mjs);
#   5. the JS snippets (inline_js) folded into the glue (scripts/inline-snippets.mjs);
# then package.json from the crate's metadata, the npm README and the licences.
# Called by scripts/build.sh (both entries) and scripts/bench.sh (a --no-opt fallback).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PATH="$ROOT/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export PATH
# shellcheck source=scripts/tools.sh
. "$ROOT/scripts/tools.sh"

[ $# -ge 1 ] || { echo "usage: $0 OUT_DIR [--no-opt] [--from WASM | -- CARGO_ARGS...] | --compile-only WASM [-- CARGO_ARGS...]" >&2; exit 2; }
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
# Step 1: the module, for the given cargo arguments.
compile() {
  cargo build --lib --target wasm32-unknown-unknown --profile wasm-release "$@"
  echo "$TARGET_DIR/wasm32-unknown-unknown/wasm-release/im_revoke.wasm"
}
if [ "$1" = "--compile-only" ]; then
  DEST="${2:?--compile-only needs a file}"
  shift 2
  if [ "${1:-}" = "--" ]; then shift; fi
  mkdir -p "$(dirname "$DEST")"
  BUILT="$(compile "$@")"
  cp "$BUILT" "$DEST"
  exit 0
fi
OUT="$1"
shift
OPT=1
if [ "${1:-}" = "--no-opt" ]; then
  OPT=0
  shift
fi
WASM=""
if [ "${1:-}" = "--from" ]; then
  WASM="${2:?--from needs a file}"
  shift 2
fi
if [ "${1:-}" = "--" ]; then shift; fi

if [ -z "$WASM" ]; then
  WASM="$(compile "$@")"
fi

mkdir -p "$OUT"
wasm_build_await
"$WASM_BINDGEN" --target web --weak-refs --out-dir "$OUT" --out-name im_revoke "$WASM"
if [ "$OPT" = 1 ]; then
  # The same settings as [package.metadata.wasm-pack.profile.custom]. -Os, not -Oz: its gzipped
  # output is smaller here (-Oz's extra shrinking makes less repetitive code). Rust puts the
  # stack first (it grows down from 1 MB towards 0; data and heap lie above it), so nothing
  # lives in the lowest 1 KB short of a stack overflow: `--low-memory-unused` lets wasm-opt fold
  # address arithmetic into load/store offsets.
  # Also drops the tool sections (`producers`, `target_features`): nothing reads them at run time.
  WASM_OPT_ARGS=(--low-memory-unused -Os --converge
    --enable-reference-types --enable-bulk-memory --enable-nontrapping-float-to-int
    --enable-sign-ext --enable-mutable-globals --strip-producers --strip-target-features)
  # wasm-opt is the slow step (-Os --converge: 20-26 s a module on a 2-core machine at load 4-5),
  # and its output depends only on its input, its version and these arguments: an unchanged
  # module is taken from a cache under the target directory (the newest 8 kept).
  CACHE="$TARGET_DIR/wasm-opt-cache"
  KEY="$( { wasm-opt --version; printf '%s\n' "${WASM_OPT_ARGS[@]}"; cat "$OUT/im_revoke_bg.wasm"; } | sha256sum | cut -c1-32)"
  if [ -f "$CACHE/$KEY.wasm" ]; then
    echo "wasm-opt: unchanged input, output from $CACHE/$KEY.wasm"
    cp "$CACHE/$KEY.wasm" "$OUT/im_revoke_bg.wasm"
    touch "$CACHE/$KEY.wasm"
  else
    wasm-opt "$OUT/im_revoke_bg.wasm" -o "$OUT/im_revoke_bg.wasm" "${WASM_OPT_ARGS[@]}"
    mkdir -p "$CACHE"
    cp "$OUT/im_revoke_bg.wasm" "$CACHE/$KEY.wasm.tmp.$$" && mv "$CACHE/$KEY.wasm.tmp.$$" "$CACHE/$KEY.wasm"
    # shellcheck disable=SC2012
    ls -t "$CACHE"/*.wasm 2>/dev/null | tail -n +9 | xargs -r rm -f
  fi
fi
# Short import and export names in the wasm and the glue (wasm-bindgen's carry a 16-hex-digit
# hash each).
node scripts/short-names.mjs "$OUT"
# One JS file: the snippets into the glue (gzipped, one file is smaller than four).
node scripts/inline-snippets.mjs "$OUT"

# package.json as wasm-pack wrote it (name, version, description, licence, files, module,
# types, sideEffects); scripts/package-client.mjs adds the entries afterwards.
node - "$OUT" <<'EOF'
const fs = require("node:fs");
const path = require("node:path");
const { execFileSync } = require("node:child_process");
const out = process.argv[2];
const meta = JSON.parse(execFileSync("cargo", ["metadata", "--no-deps", "--format-version", "1"], { encoding: "utf8" }));
const crate = meta.packages.find((p) => p.name === "im-revoke");
const files = ["im_revoke_bg.wasm", "im_revoke.js", "im_revoke.d.ts"];
if (fs.existsSync(path.join(out, "snippets"))) files.push("snippets");
const pkg = {
  name: crate.name,
  type: "module",
  description: crate.description,
  version: crate.version,
  license: crate.license,
  ...(crate.repository ? { repository: { type: "git", url: crate.repository } } : {}),
  files,
  main: "im_revoke.js",
  types: "im_revoke.d.ts",
  sideEffects: ["./snippets/*"],
};
fs.writeFileSync(path.join(out, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
if (crate.readme) fs.copyFileSync(path.resolve(path.dirname(crate.manifest_path), crate.readme), path.join(out, "README.md"));
for (const f of ["LICENSE-MIT", "LICENSE-APACHE"]) {
  const p = path.join(path.dirname(crate.manifest_path), f);
  if (fs.existsSync(p)) fs.copyFileSync(p, path.join(out, f));
}
EOF
