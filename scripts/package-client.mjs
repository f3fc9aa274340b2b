// Folds the client-only build (pkg/client, built without the embedded LocalHub) into the npm
// package as the `im-revoke/client` entry. Apps that talk to a server import it and load a
// smaller wasm; `im-revoke` itself stays the full module (LocalHub included). Adds the
// `im-revoke/tencent` entry too: the hand-written layer in js/ with Tencent's web SDK shape,
// over the client build (or the full one, for an embedded LocalHub).
import { readFileSync, writeFileSync, rmSync, existsSync, readdirSync, copyFileSync } from "node:fs";
import { minify } from "terser";

const pkgDir = new URL("../pkg/", import.meta.url);
const pkgJson = new URL("package.json", pkgDir);
const client = new URL("client/", pkgDir);

for (const f of ["package.json", "README.md", "LICENSE-MIT", "LICENSE-APACHE", ".gitignore"]) {
  const p = new URL(f, client);
  if (existsSync(p)) rmSync(p);
}
const pkg = JSON.parse(readFileSync(pkgJson, "utf8"));
const clientFiles = ["client/im_revoke_bg.wasm", "client/im_revoke.js", "client/im_revoke.d.ts", "tencent.js", "tencent.d.ts"];
for (const f of ["tencent.js", "tencent.d.ts"]) copyFileSync(new URL(`../js/${f}`, import.meta.url), new URL(f, pkgDir));
if (existsSync(new URL("snippets", client))) clientFiles.push("client/snippets");
pkg.files = [...new Set([...pkg.files, ...clientFiles])];
pkg.exports = {
  ".": { types: "./im_revoke.d.ts", default: "./im_revoke.js" },
  "./client": { types: "./client/im_revoke.d.ts", default: "./client/im_revoke.js" },
  "./tencent": { types: "./tencent.d.ts", default: "./tencent.js" },
  "./package.json": "./package.json",
};
pkg.sideEffects = [...new Set([...(pkg.sideEffects || []), "./client/snippets/*"])];
writeFileSync(pkgJson, JSON.stringify(pkg, null, 2) + "\n");
console.log("pkg/package.json: entries . (with LocalHub), ./client (server only) and ./tencent");

// The JS glue and its snippets (inline_js) ship minified (the documentation lives in the .d.ts
// files, which stay as generated): smaller for apps that load the module without a bundler.
const snippets = (dir) => {
  const root = new URL(dir, pkgDir);
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true })
    .filter((f) => f.endsWith(".js"))
    .map((f) => `${dir}${f}`);
};
for (const f of ["im_revoke.js", "client/im_revoke.js", "tencent.js", ...snippets("snippets/"), ...snippets("client/snippets/")]) {
  const p = new URL(f, pkgDir);
  const src = readFileSync(p, "utf8");
  const out = await minify(src, { module: true, compress: true, mangle: true, format: { comments: false } });
  writeFileSync(p, out.code);
  console.log(`pkg/${f}: ${src.length} -> ${out.code.length} bytes (minified)`);
}
