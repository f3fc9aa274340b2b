// scripts/short-names.mjs OUT_DIR — short import and export names for a module wasm-bindgen
// built.
//
// wasm-bindgen names every function the wasm imports `__wbg_<name>_<16 hex digits>`, under the
// module `./im_revoke_bg.js` or a snippet's path, and the JS glue's import object repeats each
// name: about 80 long names in the wasm's import section and again in the glue, their hashes
// incompressible (~2 KB of the gzipped module). This renames them, in both files, to short ones
// (`a`, `b`, … `ba`, …) under one module `a`.
//
// Exports likewise (`messagemanager_sendMessage`, `wasm_bindgen__convert__closures_____invoke__`
// with a hash, …), everywhere the glue reads them (`wasm.<name>`) and in the two `.d.ts` files
// that list them; except `memory`, which the benchmarks read from what `init()` returns. Run
// after wasm-opt (scripts/wasm-build.sh), before the glue is minified
// (scripts/package-client.mjs). Fails loudly if the glue is not laid out as the pinned
// wasm-bindgen writes it.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const out = process.argv[2];
const wasmPath = path.join(out, "im_revoke_bg.wasm");
const jsPath = path.join(out, "im_revoke.js");
const bytes = readFileSync(wasmPath);
let js = readFileSync(jsPath, "utf8");

const fail = (why) => {
  throw new Error(`short-names: ${why} (${out})`);
};

// --- the wasm's import section ---------------------------------------------------------------
function leb(buf, at) {
  let n = 0;
  let shift = 0;
  for (;;) {
    const b = buf[at++];
    n += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) return [n, at];
  }
}
function toLeb(n) {
  const o = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    o.push(b);
  } while (n > 0);
  return o;
}
const text = new TextDecoder();
const enc = new TextEncoder();
function name(buf, at) {
  const [len, p] = leb(buf, at);
  return [text.decode(buf.subarray(p, p + len)), p + len];
}
const nameBytes = (s) => {
  const b = enc.encode(s);
  return [...toLeb(b.length), ...b];
};
// The byte length of an import's descriptor at `at` (func, table, memory, global, tag).
function descEnd(buf, at) {
  const kind = buf[at++];
  const limits = (p) => {
    const flags = buf[p++];
    let [, q] = leb(buf, p);
    if (flags & 1) [, q] = leb(buf, q);
    return q;
  };
  if (kind === 0 || kind === 4) return leb(buf, kind === 4 ? at + 1 : at)[1];
  if (kind === 1) return limits(at + 1);
  if (kind === 2) return limits(at);
  if (kind === 3) return at + 2;
  return fail(`unknown import kind ${kind}`);
}

let at = 8;
const sections = [];
while (at < bytes.length) {
  const id = bytes[at];
  const [size, start] = leb(bytes, at + 1);
  sections.push({ id, head: at, start, end: start + size });
  at = start + size;
}
const sec = sections.find((s) => s.id === 2) || fail("no import section");
let [count, p] = leb(bytes, sec.start);
const imports = [];
for (let i = 0; i < count; i++) {
  let module, field;
  [module, p] = name(bytes, p);
  [field, p] = name(bytes, p);
  const end = descEnd(bytes, p);
  imports.push({ module, field, desc: bytes.subarray(p, end) });
  p = end;
}

// Short identifiers: a..z, A..Z, then two characters and more.
const ALPHA = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const short = (i) => {
  let s = "";
  do {
    s = ALPHA[i % 52] + s;
    i = Math.floor(i / 52) - 1;
  } while (i >= 0);
  return s;
};
const renamed = new Map(); // "module\0field" -> short name
for (const im of imports) {
  const key = `${im.module}\0${im.field}`;
  if (!renamed.has(key)) renamed.set(key, short(renamed.size));
  im.short = renamed.get(key);
}

const body = [...toLeb(imports.length)];
for (const im of imports) body.push(...nameBytes("a"), ...nameBytes(im.short), ...im.desc);
const newSec = [2, ...toLeb(body.length), ...body];

// --- the wasm's export section ---------------------------------------------------------------
const exp = sections.find((s) => s.id === 7) || fail("no export section");
let [expCount, q] = leb(bytes, exp.start);
const exportsRenamed = new Map(); // long name -> short name
const expBody = [...toLeb(expCount)];
for (let i = 0; i < expCount; i++) {
  let field;
  [field, q] = name(bytes, q);
  const kind = bytes[q];
  const [, end] = leb(bytes, q + 1);
  let s = field;
  if (field !== "memory") {
    s = short(exportsRenamed.size);
    exportsRenamed.set(field, s);
  }
  expBody.push(...nameBytes(s), ...bytes.subarray(q, end));
  q = end;
}
if (exp.start < sec.end) fail("the export section comes before the import section");
const newExp = [7, ...toLeb(expBody.length), ...expBody];
writeFileSync(
  wasmPath,
  Buffer.concat([
    bytes.subarray(0, sec.head),
    Buffer.from(newSec),
    bytes.subarray(sec.end, exp.head),
    Buffer.from(newExp),
    bytes.subarray(exp.end),
  ]),
);

// --- the glue's import object ----------------------------------------------------------------
const GLUE = "./im_revoke_bg.js";
const start = js.indexOf("function __wbg_get_imports() {");
if (start < 0) fail("no __wbg_get_imports in the glue");
// The return statement: `return { __proto__: null, "<module>": importN, … };`.
const ret = /\n    return \{\n        __proto__: null,\n((?:        "[^"]+": import\d+,\n)+)    \};\n\}/g;
ret.lastIndex = start;
const m = ret.exec(js);
if (!m) fail("the import object's return is not as expected");
const vars = new Map();
for (const line of m[1].trim().split("\n")) {
  const [, mod, v] = /"([^"]+)": (import\d+),/.exec(line.trim());
  vars.set(mod, v);
}
if (vars.get(GLUE) !== "import0") fail("the glue's own imports are not import0");
let head = js.slice(0, m.index);
const extra = [];
for (const [key, s] of renamed) {
  const [mod, field] = key.split("\0");
  if (mod === GLUE) {
    // A key of import0's literal, written once as `        <field>: function`.
    const k = `\n        ${field}: function`;
    const i = head.indexOf(k, start);
    if (i < 0 || head.indexOf(k, i + 1) >= 0) fail(`import ${field} not found once in the glue`);
    head = head.slice(0, i) + `\n        ${s}: function` + head.slice(i + k.length);
  } else {
    const v = vars.get(mod) || fail(`no namespace import of ${mod}`);
    extra.push(`    import0.${s} = ${v}[${JSON.stringify(field)}];\n`);
  }
}
js = head + "\n" + extra.join("") + "    return { __proto__: null, a: import0 };\n}" + js.slice(m.index + m[0].length);

// --- the glue's uses of the exports, and their declarations ----------------------------------
const escape = (s) => s.replace(/[$]/g, "\\$&");
// Exports the glue never reads (wasm-bindgen's `__instance_terminated` and `__abort_handler`
// statics) are neither declared: renamed in the wasm alone.
const read = new Set();
for (const [field, s] of exportsRenamed) {
  const uses = new RegExp(`\\bwasm\\.${escape(field)}\\b`, "g");
  if (!uses.test(js)) continue;
  read.add(field);
  js = js.replace(uses, `wasm.${s}`);
  // Read some other way (`exports.<name>`, `["<name>"]`)? A JS function of the same name (the
  // start function's) is the glue's own export, not a read of the wasm's.
  if (new RegExp(`[.'"]${escape(field)}\\b`).test(js)) fail(`export ${field} is read otherwise in the glue`);
}
writeFileSync(jsPath, js);
const declared = (file, prefix) => {
  const p = path.join(out, file);
  let d = readFileSync(p, "utf8");
  for (const [field, s] of exportsRenamed) {
    const k = `${prefix}${field}:`;
    if (!d.includes(k)) {
      if (read.has(field)) fail(`${file} does not declare ${field}`);
      continue;
    }
    d = d.replace(k, `${prefix}${s}:`);
  }
  writeFileSync(p, d);
};
declared("im_revoke.d.ts", "readonly ");
declared("im_revoke_bg.wasm.d.ts", "export const ");
console.log(`short-names: ${imports.length} imports and ${exportsRenamed.size} exports renamed (${out})`);
