#!/usr/bin/env node
// A/B of builds of the module on the client revoke feed, in one headless Chromium page:
//
//   node bench/browser/ab.mjs [--rounds 8] [--n 100000] NAME=PKG_DIR NAME=PKG_DIR ...
//
// Each build is loaded side by side (its own copy of bench/browser/bench.js importing its own
// pkg, so its own wasm instance), and the builds and the plain-JS baseline take turns, the order
// rotated every round: load that drifts during the run falls on all of them alike. Per round
// and build: `prepare`, the `n` newMessage frames, then the `n` messageRevoked frames timed
// (the same frames and work as run.mjs). Printed per build: the medians of wall-clock
// revokes/s and, on Linux, of the renderer processes' CPU time (utime + stime from /proc,
// 10 ms ticks) over each revoke feed, with the baseline's divided by each. On a machine shared
// with other builds CPU time moves far less than wall time (the process is not charged while it
// waits for a core); use `n` large enough for a feed to take a second or more.

import { createServer } from "node:http";
import { readFileSync, existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const a = { rounds: 8, n: 100_000, builds: [] };
for (let i = 2; i < process.argv.length; i++) {
  const k = process.argv[i];
  if (k === "--rounds") a.rounds = +process.argv[++i];
  else if (k === "--n") a.n = +process.argv[++i];
  else if (k.includes("=")) {
    const [name, dir] = k.split("=");
    a.builds.push({ name, dir: path.resolve(dir) });
  } else throw new Error(`unknown argument ${k}`);
}
if (a.builds.length === 0) throw new Error("usage: ab.mjs [--rounds R] [--n N] NAME=PKG_DIR ...");

const benchSrc = readFileSync(path.join(HERE, "bench.js"), "utf8");
const types = { ".js": "text/javascript", ".wasm": "application/wasm" };
const server = createServer((req, res) => {
  const u = new URL(req.url, "http://x").pathname;
  let m;
  if (u === "/") {
    res.setHeader("content-type", "text/html");
    return res.end("<!doctype html><title>im-revoke a/b</title>");
  }
  if ((m = u.match(/^\/b\/([^/]+)\/bench\.js$/))) {
    res.setHeader("content-type", "text/javascript");
    return res.end(benchSrc.replace('"/pkg/im_revoke.js"', `"/p/${m[1]}/im_revoke.js"`));
  }
  const b = (m = u.match(/^\/p\/([^/]+)\/(.+)$/)) && a.builds.find((x) => x.name === m[1]);
  const f = b && path.join(b.dir, path.normalize(m[2]));
  if (!f || !f.startsWith(b.dir) || !existsSync(f)) {
    res.statusCode = 404;
    return res.end();
  }
  res.setHeader("content-type", types[path.extname(f)] ?? "application/octet-stream");
  res.end(readFileSync(f));
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));

/** CPU time (ms) of Chromium's renderer processes so far; null where /proc is not there. */
function rendererCpuMs() {
  if (!existsSync("/proc/self/stat")) return null;
  let ticks = 0;
  for (const line of execFileSync("ps", ["-e", "-o", "pid=,args="], { encoding: "utf8" }).split("\n")) {
    if (!line.includes("--type=renderer")) continue;
    try {
      const f = readFileSync(`/proc/${line.trim().split(/\s+/)[0]}/stat`, "utf8").split(") ")[1].split(" ");
      ticks += +f[11] + +f[12];
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--js-flags=--expose-gc"] });
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  for (const b of a.builds) {
    await page.evaluate(async (name) => {
      const m = await import(`/b/${name}/bench.js`);
      await m.boot();
      (window.B ??= {})[name] = m;
    }, b.name);
  }
  const kinds = [...a.builds.map((b) => ({ name: b.name, mod: b.name, kind: "wasm" })), { name: "js", mod: a.builds[0].name, kind: "js" }];
  const wall = Object.fromEntries(kinds.map((k) => [k.name, []]));
  const cpu = Object.fromEntries(kinds.map((k) => [k.name, []]));
  for (let r = 0; r < a.rounds; r++) {
    const order = kinds.slice(r % kinds.length).concat(kinds.slice(0, r % kinds.length));
    for (const k of order) {
      await page.evaluate(async ([m, kind, n]) => {
        await window.B[m].prepare(kind, n);
        window.B[m].feedNew();
        globalThis.gc?.();
      }, [k.mod, k.kind, a.n]);
      const c0 = rendererCpuMs();
      const ms = await page.evaluate((m) => window.B[m].feedRevokes(), k.mod);
      const c1 = rendererCpuMs();
      const fin = await page.evaluate((m) => window.B[m].finish(), k.mod);
      if (!fin.applied) throw new Error(`${k.name}: the revokes were not applied to the store`);
      wall[k.name].push(a.n / (ms / 1000));
      if (c0 !== null) cpu[k.name].push(c1 - c0);
    }
  }
  const med = (xs) => {
    const s = [...xs].sort((x, y) => x - y);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  console.log(`a/b: ${a.rounds} rounds x ${a.n} messageRevoked events, builds and plain JS in turn`);
  for (const k of kinds) {
    const w = med(wall[k.name]);
    let line = `  ${k.name.padEnd(10)} wall ${Math.round(w).toLocaleString("en")} revokes/s (${(w / med(wall.js)).toFixed(2)}x plain JS)`;
    if (cpu[k.name].length) {
      const c = med(cpu[k.name]);
      line += `, cpu ${c} ms = ${((c * 1000) / a.n).toFixed(2)} µs/event (${(med(cpu.js) / c).toFixed(2)}x plain JS); rounds ${cpu[k.name].join(" ")} ms`;
    }
    console.log(line);
  }
} finally {
  await browser.close();
  server.close();
}
