#!/usr/bin/env node
// Runs the browser benchmarks (bench/browser/bench.js) in headless Chromium with playwright-core
// and writes their figures as JSON.
//
//   node bench/browser/run.mjs --out bench/out/browser.json [--quick] [--only conv-list]
//        [--url ws://127.0.0.1:PORT/ws --server-bin target/release/im-revoke-server
//         --secret-key KEY --sdkappid N]          (end-to-end over the real server)
//        [--pkg DIR]                                (the built module; default pkg/)
//        [--echo-url ws://127.0.0.1:PORT/]          (a bare WebSocket echo server: the browser's
//                                                    own round trip, baseline of the latency)
//        [--profile FILE.cpuprofile]                (CPU profile of the module's revoke feed,
//                                                    for Chrome DevTools; top functions printed)
//
// The page and pkg/ are served by a small static server started here on 127.0.0.1:0, with
// COOP/COEP headers so that the page is cross-origin isolated (performance.now() at 5 µs
// resolution instead of 100 µs). Everything stops by itself (--max-secs).

import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");

function args() {
  const a = { quick: false, maxSecs: 600, perUserRate: 90 };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    const k = v[i];
    const next = () => v[++i];
    if (k === "--quick") a.quick = true;
    else if (k === "--out") a.out = next();
    else if (k === "--url") a.url = next();
    else if (k === "--server-bin") a.serverBin = next();
    else if (k === "--secret-key") a.secretKey = next();
    else if (k === "--sdkappid") a.sdkappid = next();
    else if (k === "--max-secs") a.maxSecs = Number(next());
    else if (k === "--chromium") a.chromium = next();
    else if (k === "--pkg") a.pkg = path.resolve(next());
    else if (k === "--per-user-rate") a.perUserRate = Number(next());
    else if (k === "--pkg-note") a.pkgNote = next();
    else if (k === "--profile") a.profile = next();
    else if (k === "--echo-url") a.echoUrl = next();
    else if (k === "--only") a.only = next();
    else throw new Error(`unknown argument ${k}`);
  }
  a.secretKey ??= process.env.IMR_SECRET_KEY;
  a.sdkappid ??= process.env.IMR_SDKAPPID ?? "1400000000";
  a.chromium ??= process.env.CHROMIUM ?? "/usr/bin/chromium";
  a.pkg ??= path.join(ROOT, "pkg");
  return a;
}

function loopbackOnly(url) {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, "");
  const ok = u.protocol === "ws:" && (host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host));
  if (!ok) throw new Error(`refusing ${url}: the bench only targets ws:// on loopback`);
}

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".ts": "text/plain",
};

/** Serves /pkg/* from pkg/ and everything else from bench/browser/, on 127.0.0.1:0. */
function staticServer(pkg) {
  const server = createServer(async (req, res) => {
    const p = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (p === "/favicon.ico") {
      res.writeHead(204).end();
      return;
    }
    const file = p.startsWith("/pkg/")
      ? path.join(pkg, path.normalize(p.slice(5)))
      : path.join(HERE, path.normalize(p === "/" ? "index.html" : p.slice(1)));
    if (!file.startsWith(pkg) && !file.startsWith(HERE)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        "content-type": MIME[path.extname(file)] ?? "application/octet-stream",
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-embedder-policy": "require-corp",
        "cross-origin-resource-policy": "same-origin",
        "cache-control": "no-store",
      });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

function usersig(a, user) {
  return execFileSync(a.serverBin, ["usersig", "--user", user, "--secret-key", a.secretKey, "--sdkappid", String(a.sdkappid)], {
    encoding: "utf8",
    timeout: 10000,
  }).trim();
}

function summarize(samplesMs) {
  const s = [...samplesMs].sort((x, y) => x - y);
  const pick = (p) => (s.length ? s[Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length))) - 1] : 0);
  const r4 = (x) => Math.round(x * 1e4) / 1e4;
  // Log-spaced buckets, 10 per decade from 1 µs (as the load generator's).
  const b = (ms) => Math.floor(Math.log10(Math.max(ms * 1000, 1)) * 10);
  const hist = { lower_ms: [], counts: [] };
  if (s.length) {
    const b0 = b(s[0]);
    const b1 = b(s[s.length - 1]);
    for (let i = b0; i <= b1; i++) {
      hist.lower_ms.push(10 ** (i / 10) / 1000);
      hist.counts.push(0);
    }
    for (const x of s) hist.counts[b(x) - b0]++;
  }
  return {
    count: s.length,
    min_ms: r4(s[0] ?? 0),
    p50_ms: r4(pick(50)),
    p90_ms: r4(pick(90)),
    p99_ms: r4(pick(99)),
    p999_ms: r4(pick(99.9)),
    max_ms: r4(s[s.length - 1] ?? 0),
    mean_ms: r4(s.reduce((x, y) => x + y, 0) / Math.max(1, s.length)),
    histogram: hist,
  };
}

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : 0;
};

async function main() {
  const a = args();
  if (!a.out) throw new Error("--out FILE is required");
  if (a.url) loopbackOnly(a.url);
  const n = a.quick ? 20_000 : 100_000; // messages cached / events per round
  const rounds = a.quick ? 2 : 5;
  const lookups = a.quick ? 200_000 : 1_000_000;
  const e2eSamples = a.quick ? 200 : 1000;
  const e2eWarmup = a.quick ? 20 : 100;

  const http = await staticServer(a.pkg);
  const base = `http://127.0.0.1:${http.address().port}/`;
  // (playwright gives the browser a fresh temporary profile directory of its own)
  const browser = await chromium.launch({
    executablePath: a.chromium,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--enable-precise-memory-info",
    ],
    timeout: 60000,
  });
  const out = { n, rounds, lookups };
  try {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    page.on("pageerror", (e) => console.error("[page error]", e.message));
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") console.error(`[page ${m.type()}]`, m.text());
    });
    await page.goto(base, { timeout: 30000 });
    await page.waitForFunction(() => window.benchReady === true, null, { timeout: 30000 });
    let info;
    try {
      info = await page.evaluate(() => window.bench.boot());
    } catch (e) {
      // Exit 3: the module does not instantiate (scripts/bench.sh then tries a --no-opt build).
      console.error(`browser bench: the module in ${a.pkg} does not load: ${e.message.split("\n")[0]}`);
      await browser.close().catch(() => {});
      process.exit(3);
    }
    out.browser = { version: browser.version(), ...info };
    out.pkg = { dir: path.relative(ROOT, a.pkg) || a.pkg, note: a.pkgNote ?? null };
    const cdp = await ctx.newCDPSession(page);
    const heap = async () => {
      await cdp.send("HeapProfiler.collectGarbage");
      await cdp.send("HeapProfiler.collectGarbage");
      const { usedSize } = await cdp.send("Runtime.getHeapUsage");
      const wasmBytes = await page.evaluate(() => window.bench.wasmMemoryBytes());
      return { js: usedSize, wasm: wasmBytes };
    };

    if (a.only !== "conv-list") {
      // (a) + (b): client throughput, lookup, memory; wasm and JS baseline alternate.
      console.log(`browser: client throughput, ${rounds} rounds x ${n} events (module vs plain-JS baseline)`);
      const per = { wasm: [], js: [] };
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? ["wasm", "js"] : ["js", "wasm"];
        for (const kind of order) {
          await page.evaluate(([k, n]) => window.bench.prepare(k, n), [kind, n]);
          const h0 = await heap();
          const newMs = await page.evaluate(() => window.bench.feedNew());
          const h1 = await heap();
          const lk = await page.evaluate((k) => window.bench.lookup(k), lookups);
          const revMs = await page.evaluate(() => window.bench.feedRevokes());
          const fin = await page.evaluate(() => window.bench.finish());
          if (!fin.applied) throw new Error(`${kind}: the revokes were not applied to the store`);
          const row = {
            newPerSec: n / (newMs / 1000),
            revokesPerSec: n / (revMs / 1000),
            nsPerLookup: lk.nsPerLookup,
            bareMapGetNs: lk.bareMapGetNs,
            jsHeapPerMessage: (h1.js - h0.js) / n,
            wasmMemoryPerMessage: (h1.wasm - h0.wasm) / n,
            bytesPerMessage: (h1.js - h0.js + h1.wasm - h0.wasm) / n,
          };
          per[kind].push(row);
          console.log(
            `  round ${r + 1} ${kind.padEnd(4)}: revokes ${Math.round(row.revokesPerSec).toLocaleString("en")}/s, ` +
              `new ${Math.round(row.newPerSec).toLocaleString("en")}/s, lookup ${row.nsPerLookup.toFixed(0)} ns, ` +
              `${row.bytesPerMessage.toFixed(0)} B/message (js heap ${row.jsHeapPerMessage.toFixed(0)} + wasm ${row.wasmMemoryPerMessage.toFixed(0)})`,
          );
        }
      }
      const agg = (rows) => ({
        revokesPerSec: median(rows.map((x) => x.revokesPerSec)),
        newPerSec: median(rows.map((x) => x.newPerSec)),
        nsPerLookup: median(rows.map((x) => x.nsPerLookup)),
        bareMapGetNs: rows[0].bareMapGetNs === null ? null : median(rows.map((x) => x.bareMapGetNs)),
        // Memory from the first round only: the wasm linear memory never shrinks, so later rounds
        // reuse pages freed by the earlier ones and show less growth.
        bytesPerMessage: rows[0].bytesPerMessage,
        jsHeapPerMessage: rows[0].jsHeapPerMessage,
        wasmMemoryPerMessage: rows[0].wasmMemoryPerMessage,
        rounds: rows,
      });
      out.client = { module: agg(per.wasm), baseline: agg(per.js) };
      if (a.profile) {
        await page.evaluate(([k, n]) => window.bench.prepare(k, n), ["wasm", n]);
        await page.evaluate(() => window.bench.feedNew());
        await cdp.send("Profiler.enable");
        await cdp.send("Profiler.setSamplingInterval", { interval: 50 });
        await cdp.send("Profiler.start");
        await page.evaluate(() => window.bench.feedRevokes());
        const { profile } = await cdp.send("Profiler.stop");
        await page.evaluate(() => window.bench.finish());
        writeFileSync(a.profile, JSON.stringify(profile));
        const byId = new Map(profile.nodes.map((x) => [x.id, x]));
        const self = new Map();
        for (const id of profile.samples) {
          const name = byId.get(id).callFrame.functionName || "(anonymous)";
          self.set(name, (self.get(name) ?? 0) + 1);
        }
        console.log(`  profile of the module's revoke feed written to ${a.profile}; top self time:`);
        for (const [name, c] of [...self].sort((x, y) => y[1] - x[1]).slice(0, 12)) {
          console.log(`    ${((100 * c) / profile.samples.length).toFixed(1).padStart(5)}%  ${name.slice(0, 110)}`);
        }
      }
      // (d) soak: 100,000 messages and their revokes through one client (quick: 20,000), heap and
      // wasm memory after GC every 10,000; flat past the message LRU (5,000) is the goal.
      {
        const total = a.quick ? 20_000 : 100_000;
        const step = 10_000;
        console.log(`browser: soak, ${total.toLocaleString("en")} messages and their revokes through one client`);
        await page.evaluate((st) => window.bench.soakStart(st), step);
        const points = [];
        const h0 = await heap();
        points.push({ messages: 0, jsHeap: h0.js, wasmMemory: h0.wasm, ms: 0 });
        for (let done = 0; done < total; ) {
          const r = await page.evaluate(() => window.bench.soakStep());
          done = r.done;
          const h = await heap();
          points.push({ messages: done, jsHeap: h.js, wasmMemory: h.wasm, ms: r.ms });
          console.log(
            `  ${done.toLocaleString("en").padStart(7)}: js heap ${(h.js / 1e6).toFixed(2)} MB, wasm ${(h.wasm / 1e6).toFixed(2)} MB, ` +
              `step ${r.ms.toFixed(0)} ms`,
          );
        }
        await page.evaluate(() => window.bench.soakEnd());
        // Growth over the second half of the soak (well past the LRU), per 10,000 messages.
        const mid = points[Math.floor((points.length - 1) / 2)];
        const last = points[points.length - 1];
        const per10k = (x) => ((last[x] - mid[x]) * 10_000) / Math.max(1, last.messages - mid.messages);
        out.soak = {
          total,
          step,
          points,
          secondHalfGrowthPer10k: { jsHeap: per10k("jsHeap"), wasmMemory: per10k("wasmMemory") },
        };
        console.log(
          `  second half: js heap ${(out.soak.secondHalfGrowthPer10k.jsHeap / 1e3).toFixed(1)} KB, ` +
            `wasm ${(out.soak.secondHalfGrowthPer10k.wasmMemory / 1e3).toFixed(1)} KB per 10,000 messages`,
        );
      }
      out.memoryMethod =
        "CDP HeapProfiler.collectGarbage then Runtime.getHeapUsage (JS heap usedSize) plus the growth of the module's WebAssembly.Memory buffer, before and after caching n messages; first round";
    }
    await page.close();

    // (c) end-to-end revoke latency, LocalHub and (when a server is given) the real server.
    const page2 = await ctx.newPage();
    page2.on("pageerror", (e) => console.error("[page error]", e.message));
    await page2.goto(base, { timeout: 30000 });
    await page2.waitForFunction(() => window.benchReady === true, null, { timeout: 30000 });
    await page2.evaluate(() => window.bench.boot());
    if (a.only !== "conv-list") {
      console.log(`browser: end-to-end revoke latency, ${e2eSamples} revokes one at a time`);
      const local = await page2.evaluate((o) => window.bench.e2eLocal(o), { samples: e2eSamples, warmup: e2eWarmup, perUserRate: a.perUserRate });
      out.e2eLocal = { toEvent: summarize(local.toEvent), toAck: summarize(local.toAck) };
      console.log(`  LocalHub: revoke → onRecvMessageRevoked p50 ${out.e2eLocal.toEvent.p50_ms} ms, p99 ${out.e2eLocal.toEvent.p99_ms} ms`);
      if (a.url) {
        const tag = Date.now().toString(36);
        const au = `br-${tag}-a`;
        const bu = `br-${tag}-b`;
        const o = {
          url: a.url,
          a: { userID: au, userSig: usersig(a, au) },
          b: { userID: bu, userSig: usersig(a, bu) },
          samples: e2eSamples,
          warmup: e2eWarmup,
          perUserRate: a.perUserRate,
        };
        const r = await page2.evaluate((o) => window.bench.e2eServer(o), o);
        out.e2eServer = { toEvent: summarize(r.toEvent), toAck: summarize(r.toAck) };
        console.log(`  server:   revoke → onRecvMessageRevoked p50 ${out.e2eServer.toEvent.p50_ms} ms, p99 ${out.e2eServer.toEvent.p99_ms} ms`);
      }
      if (a.echoUrl) {
        loopbackOnly(a.echoUrl);
        const rtt = await page2.evaluate((o) => window.bench.echoRtt(o), { url: a.echoUrl, samples: e2eSamples, warmup: e2eWarmup });
        out.echo = { rtt: summarize(rtt) };
        console.log(`  baseline: this page's WebSocket to a bare echo server and back p50 ${out.echo.rtt.p50_ms} ms, p99 ${out.echo.rtt.p99_ms} ms`);
      }
    }
    // (e) the first page of a 1,000-conversation list on a device that has just logged in.
    const convN = a.quick ? 200 : 1000;
    const convSamples = a.quick ? 5 : 20;
    console.log(`browser: conversation list, first page of 100 of ${convN}, ${convSamples} new devices`);
    const cl = await page2.evaluate((o) => window.bench.convListLocal(o), { n: convN, samples: convSamples, warmup: 2, perUserRate: a.perUserRate });
    out.convList = { conversations: convN, page: 100, local: summarize(cl) };
    console.log(`  LocalHub: first page p50 ${out.convList.local.p50_ms} ms, p99 ${out.convList.local.p99_ms} ms`);
    if (a.url) {
      const owner = `cv-${Date.now().toString(36)}-o`;
      const r = await page2.evaluate((o) => window.bench.convListServer(o), {
        url: a.url,
        owner: { userID: owner, userSig: usersig(a, owner) },
        n: convN,
        samples: convSamples,
        warmup: 2,
        perUserRate: a.perUserRate,
      });
      out.convList.server = summarize(r);
      console.log(`  server:   first page p50 ${out.convList.server.p50_ms} ms, p99 ${out.convList.server.p99_ms} ms`);
    }
    await ctx.close();
  } finally {
    await browser.close().catch(() => {});
    http.close();
  }
  writeFileSync(a.out, JSON.stringify(out, null, 2) + "\n");
}

const a0 = args();
const killer = setTimeout(() => {
  console.error(`browser bench: still running after ${a0.maxSecs} s, giving up`);
  process.exit(2);
}, a0.maxSecs * 1000);
killer.unref();
main().then(
  () => process.exit(0),
  (e) => {
    console.error("browser bench failed:", e);
    process.exit(1);
  },
);
