// scripts/inline-snippets.mjs OUT_DIR — the module's JS snippets folded into its glue.
//
// wasm-bindgen writes each `inline_js` block (src/js.rs, src/storage.rs, src/attachment.rs) to
// its own file under `snippets/`, which the glue imports: four files to fetch and, gzipped one
// by one, four dictionaries and four sets of headers. This puts each snippet into the glue as a
// function scope of its own (its names cannot clash with the glue's or another snippet's),
// returning what it exported, replaces the glue's imports of it by reads of that object, and
// deletes `snippets/`. The glue's own exports are unchanged. Run after scripts/short-names.mjs
// (scripts/wasm-build.sh). Fails loudly if a snippet or the glue is not laid out as expected.
import { readFileSync, writeFileSync, rmSync, existsSync, readdirSync } from "node:fs";
import path from "node:path";

const out = process.argv[2];
const jsPath = path.join(out, "im_revoke.js");
const dir = path.join(out, "snippets");
const fail = (why) => {
  throw new Error(`inline-snippets: ${why} (${out})`);
};
if (!existsSync(dir)) {
  console.log(`inline-snippets: no snippets (${out})`);
  process.exit(0);
}
let js = readFileSync(jsPath, "utf8");

// Every snippet file, by its path as the glue imports it ("./snippets/<crate>-<hash>/inlineN.js").
const files = readdirSync(dir, { recursive: true })
  .filter((f) => f.endsWith(".js"))
  .map((f) => `./snippets/${f.split(path.sep).join("/")}`)
  .sort();

const scopes = [];
files.forEach((spec, i) => {
  let src = readFileSync(path.join(out, spec), "utf8");
  if (/^\s*import\b/m.test(src)) fail(`${spec} imports something`);
  const names = [];
  src = src.replace(/^export (async function|function|const|let|class) ([A-Za-z_$][\w$]*)/gm, (_, kind, name) => {
    names.push(name);
    return `${kind} ${name}`;
  });
  if (/^\s*export\b/m.test(src)) fail(`${spec} exports in a way this script does not know`);
  const v = `__imRevokeSnippet${i}`;
  scopes.push({ spec, v, code: `const ${v} = (() => {\n${src}\nreturn { ${names.join(", ")} };\n})();\n` });
});

// The glue's imports of the snippets: named (`import { a, b } from '…';`) or as a namespace
// (`import * as importN from "…"`), each on a line of its own at the top.
const bySpec = new Map(scopes.map((s) => [s.spec, s]));
let first = -1;
const reads = [];
js = js.replace(/^import (\{[^}]*\}|\* as [\w$]+) from (['"])(\.\/snippets\/[^'"]+)\2;?\n/gm, (line, what, _q, spec, at) => {
  const s = bySpec.get(spec) || fail(`the glue imports ${spec}, which is not there`);
  if (first < 0) first = at;
  if (what.startsWith("*")) {
    reads.push(`const ${what.slice(5).trim()} = ${s.v};\n`);
  } else {
    const names = what.slice(1, -1).split(",").map((n) => n.trim()).filter(Boolean);
    const binds = names.map((n) => {
      const m = /^([\w$]+)(?:\s+as\s+([\w$]+))?$/.exec(n) || fail(`unexpected import "${n}"`);
      return m[2] ? `${m[1]}: ${m[2]}` : m[1];
    });
    reads.push(`const { ${binds.join(", ")} } = ${s.v};\n`);
  }
  return "";
});
if (first < 0) fail("the glue imports no snippet");
if (js.includes("./snippets/")) fail("the glue still names a snippet");
js = js.slice(0, first) + scopes.map((s) => s.code).join("") + reads.join("") + js.slice(first);
writeFileSync(jsPath, js);
rmSync(dir, { recursive: true });
console.log(`inline-snippets: ${scopes.length} snippets folded into the glue (${out})`);
