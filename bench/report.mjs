#!/usr/bin/env node
// Gathers the raw figures of one bench run (the JSON files that scripts/bench.sh had the load
// generator and the browser runner write into a directory), measures the bundle, and writes:
//   bench/results.json — every figure, with the machine, commit and date;
//   bench/latency.svg  — latency histograms (hand-written SVG);
// and prints the table figure / target / measured / baseline / ratio.
//
//   node bench/report.mjs --raw DIR [--quick] [--results bench/results.json] [--svg bench/latency.svg]

import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";
import { restFigures, restRows } from "./report-rest.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..");

function args() {
  const a = { quick: false, results: path.join(HERE, "results.json"), svg: path.join(HERE, "latency.svg"), pkg: path.join(ROOT, "pkg") };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    if (v[i] === "--raw") a.raw = v[++i];
    else if (v[i] === "--quick") a.quick = true;
    else if (v[i] === "--results") a.results = v[++i];
    else if (v[i] === "--svg") a.svg = v[++i];
    else if (v[i] === "--pkg") a.pkg = v[++i];
    else if (v[i] === "--extra") a.extra = v[++i];
    else throw new Error(`unknown argument ${v[i]}`);
  }
  if (!a.raw) throw new Error("--raw DIR is required");
  return a;
}

const read = (dir, name) => {
  const f = path.join(dir, name);
  if (!existsSync(f)) return null;
  const j = JSON.parse(readFileSync(f, "utf8"));
  return j.result ?? j;
};

const sh = (cmd, args, opts = {}) => {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", timeout: 20000, stdio: ["ignore", "pipe", "ignore"], ...opts }).trim();
  } catch {
    return null;
  }
};

function machine() {
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  const model = (cpuinfo.match(/^model name\s*:\s*(.+)$/m) ?? [])[1] ?? os.cpus()[0]?.model ?? "unknown";
  const commit = sh("git", ["-C", ROOT, "rev-parse", "HEAD"]);
  const dirty = sh("git", ["-C", ROOT, "status", "--porcelain", "--untracked-files=no"]);
  return {
    cores: os.cpus().length,
    memory_bytes: os.totalmem(),
    cpu_model: model.trim(),
    kernel: `${os.type()} ${os.release()}`,
    loadavg_at_report: os.loadavg().map((x) => Math.round(x * 100) / 100),
    rustc: sh("rustc", ["--version"]),
    node: process.version,
    commit,
    commit_dirty: dirty === null ? null : dirty.length > 0,
  };
}

/** wasm + JS glue of the built module: raw, gzip -9 (the gzip program), brotli (node's zlib,
 *  quality 11, window 22: what `brotli -q 11` writes). One entry per directory of pkg/ that holds
 *  a `*_bg.wasm` (pkg/ itself: the full module; e.g. pkg/client: a smaller entry), each with its
 *  glue and its snippets (inline_js), which ship with it. */
function bundle(pkg) {
  if (!existsSync(pkg)) return null;
  const measure = (file) => {
    const buf = readFileSync(file);
    const out = sh("sh", ["-c", `gzip -9 -c < '${file}' | wc -c`]);
    const gz = out !== null ? Number(out) : zlib.gzipSync(buf, { level: 9 }).length;
    const br = zlib.brotliCompressSync(buf, {
      params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_LGWIN]: 22, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: buf.length },
    }).length;
    return { raw: buf.length, gzip9: gz, brotli11: br };
  };
  const walk = (d) => readdirSync(d, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]);
  const entryDirs = walk(pkg).filter((f) => f.endsWith("_bg.wasm")).map((f) => path.dirname(f)).sort();
  const entries = entryDirs.map((dir) => {
    const own = (f) => {
      // A file belongs to the entry of the deepest entry directory above it.
      const owner = entryDirs.filter((d) => f.startsWith(d + path.sep)).sort((x, y) => y.length - x.length)[0];
      return owner === dir;
    };
    const files = walk(dir).filter((f) => own(f) && (f.endsWith("_bg.wasm") || f.endsWith(".js")));
    const rows = files.sort().map((f) => ({ file: path.relative(pkg, f), ...measure(f) }));
    const sum = (k) => rows.reduce((x, r) => x + r[k], 0);
    const wasm = files.find((f) => f.endsWith("_bg.wasm"));
    return {
      entry: path.relative(pkg, dir) || ".",
      files: rows,
      total: { raw: sum("raw"), gzip9: sum("gzip9"), brotli11: sum("brotli11") },
      wasm_built: statSync(wasm).mtime.toISOString(),
    };
  });
  return {
    entries,
    // The full module (pkg/ itself) is the headline figure.
    total: (entries.find((e) => e.entry === ".") ?? entries[0])?.total ?? null,
    method: "gzip -9 (the gzip program, stdin so no file name in the header); brotli quality 11, window 22, via Node's built-in zlib (no extra install)",
  };
}

// ---------------------------------------------------------------------------------------------

const KB = (b) => b / 1000;
const fmt = (x, d = 0) =>
  x === null || x === undefined || Number.isNaN(x) ? "—" : Number(x).toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });

function rows(r) {
  const t = [];
  const add = (o) => t.push(o);
  for (const e of r.bundle?.entries ?? [{ entry: ".", total: null }]) {
    const b = e.total;
    const name = e.entry === "." ? "browser module (pkg/, with the embedded LocalHub)" : `browser module, entry pkg/${e.entry}`;
    add({
      id: `bundle_gzip${e.entry === "." ? "" : "_" + e.entry}`,
      figure: `${name}: wasm + JS glue, gzip -9`,
      target: "<= 60 KB (milestone 80 KB)",
      ok: b ? KB(b.gzip9) <= 60 : null,
      gap: b ? KB(b.gzip9) / 60 : null,
      measured: b ? `${fmt(KB(b.gzip9), 1)} KB (raw ${fmt(KB(b.raw), 1)} KB, brotli ${fmt(KB(b.brotli11), 1)} KB)` : "not built",
      baseline: "Tencent @tencentcloud/chat 127 KB (published, 1:1 chat)",
      ratio: b ? KB(b.gzip9) / 127 : null,
    });
  }
  const e2e = r.browser?.e2eServer?.toEvent;
  const echo = r.latency?.echo_rtt;
  // The browser's own floor: the same page's WebSocket to a bare echo server and back.
  const pageEcho = r.browser?.echo?.rtt;
  for (const [p, target] of [["p50", 1], ["p99", 5]]) {
    const base = pageEcho ?? echo;
    add({
      id: `e2e_${p}`,
      figure: `revoke → other browser's onRecvMessageRevoked, via server, durable, ${p}`,
      target: `<= ${target} ms`,
      ok: e2e ? e2e[`${p}_ms`] <= target : null,
      gap: e2e ? e2e[`${p}_ms`] / target : null,
      measured: e2e ? `${fmt(e2e[`${p}_ms`], 3)} ms (n=${e2e.count})` : "not run",
      baseline: pageEcho
        ? `the page's own WebSocket round trip to a bare echo server ${p} ${fmt(pageEcho[`${p}_ms`], 3)} ms (Rust client: ${fmt(echo?.[`${p}_ms`], 3)} ms)`
        : echo ? `bare loopback WebSocket echo RTT ${p} ${fmt(echo[`${p}_ms`], 3)} ms` : "—",
      ratio: e2e && base ? e2e[`${p}_ms`] / base[`${p}_ms`] : null,
    });
  }
  const lat = r.latency?.revoke_to_event;
  if (lat) {
    add({
      id: "loadgen_latency",
      figure: "revoke → other client's event, Rust clients via server, durable, p50 / p99",
      target: "(same target, no browser)",
      ok: lat.p50_ms <= 1 && lat.p99_ms <= 5,
      gap: lat.p99_ms / 5,
      measured: `${fmt(lat.p50_ms, 3)} / ${fmt(lat.p99_ms, 3)} ms`,
      baseline: echo ? `echo RTT ${fmt(echo.p50_ms, 3)} / ${fmt(echo.p99_ms, 3)} ms; SQLite commit p50 ${fmt(r.sqlite?.single_commit_latency?.p50_ms, 3)} ms` : "—",
      ratio: echo ? lat.p50_ms / echo.p50_ms : null,
    });
  }
  const cm = r.browser?.client?.module;
  const cb = r.browser?.client?.baseline;
  add({
    id: "client_revokes_per_sec",
    figure: "client: revoke events decoded, applied, dispatched to a JS listener",
    target: ">= 1,000,000 / s",
    ok: cm ? cm.revokesPerSec >= 1e6 : null,
    gap: cm ? 1e6 / cm.revokesPerSec : null,
    measured: cm ? `${fmt(cm.revokesPerSec)} / s` : "not run",
    baseline: cb ? `plain JS (JSON.parse + Map + listener) ${fmt(cb.revokesPerSec)} / s` : "—",
    ratio: cm && cb ? cm.revokesPerSec / cb.revokesPerSec : null,
  });
  if (cm) {
    add({
      id: "client_new_per_sec",
      figure: "client: new-message events decoded, cached, dispatched (for scale)",
      target: "—",
      ok: null,
      gap: null,
      measured: `${fmt(cm.newPerSec)} / s`,
      baseline: cb ? `plain JS ${fmt(cb.newPerSec)} / s` : "—",
      ratio: cb ? cm.newPerSec / cb.newPerSec : null,
    });
    add({
      id: "client_lookup",
      figure: `client: canRevoke(msgID) lookup, ${fmt(r.browser.n)} messages cached`,
      target: "—",
      ok: null,
      gap: null,
      measured: `${fmt(cm.nsPerLookup)} ns`,
      baseline: cb ? `plain JS Map ${fmt(cb.nsPerLookup)} ns (bare Map.get ${fmt(cb.bareMapGetNs)} ns)` : "—",
      ratio: cb ? cm.nsPerLookup / cb.nsPerLookup : null,
    });
    add({
      id: "client_memory",
      figure: "client: memory per cached message",
      target: "—",
      ok: null,
      gap: null,
      measured: `${fmt(cm.bytesPerMessage)} B (wasm ${fmt(cm.wasmMemoryPerMessage)} + JS heap ${fmt(cm.jsHeapPerMessage)})`,
      baseline: cb ? `plain JS ${fmt(cb.bytesPerMessage)} B` : "—",
      ratio: cb ? cm.bytesPerMessage / cb.bytesPerMessage : null,
    });
  }
  const soak = r.browser?.soak;
  if (soak) {
    const g = soak.secondHalfGrowthPer10k;
    const first = soak.points[0];
    const last = soak.points[soak.points.length - 1];
    add({
      id: "client_soak",
      figure: `client soak: ${fmt(soak.total)} messages and their revokes through one client, growth over the second half`,
      target: "flat (LRU of 5,000 messages, bounded dedup sets)",
      // Flat: under 64 KiB (one wasm page) and 64 KB of JS heap per 10,000 messages.
      ok: g.wasmMemory < 65536 && g.jsHeap < 65536,
      gap: null,
      measured: `wasm ${fmt(g.wasmMemory / 1e3, 1)} KB, JS heap ${fmt(g.jsHeap / 1e3, 1)} KB per 10,000`,
      baseline: `totals at the end: wasm ${fmt(last.wasmMemory / 1e6, 2)} MB, JS heap ${fmt(last.jsHeap / 1e6, 2)} MB (start ${fmt(first.wasmMemory / 1e6, 2)} / ${fmt(first.jsHeap / 1e6, 2)} MB)`,
      ratio: null,
    });
  }
  const idle = r.idle;
  const idleEcho = r.idle_echo;
  if (idle) {
    const mb = idle.rss_after_bytes / 1e6;
    const n = idle.connected;
    const per = idle.bytes_per_connection;
    const at10k = per !== null ? ((idle.rss_before_bytes + per * 10000) / 1e6) : null;
    add({
      id: "idle_rss",
      figure: `server: idle WebSocket connections (${fmt(n)} logged in), RSS`,
      target: "10,000 in <= 100 MB",
      ok: n >= 10000 ? mb <= 100 : at10k !== null ? at10k <= 100 : null,
      gap: n >= 10000 ? mb / 100 : at10k !== null ? at10k / 100 : null,
      measured: `${fmt(mb, 1)} MB (${fmt(per)} B/connection)${n < 10000 && at10k !== null ? `; ${fmt(at10k, 1)} MB at 10k extrapolated` : ""}`,
      baseline: idleEcho ? `tungstenite defaults (128 KiB buffers) ${fmt(idleEcho.bytes_per_connection)} B/connection` : "published: ~1.3 GB for 10k (tungstenite defaults)",
      ratio: idleEcho ? per / idleEcho.bytes_per_connection : null,
    });
  }
  const tp = r.revokes;
  if (tp?.revokes) {
    const best = r.sqlite?.batched_revokes?.reduce((m, x) => (x.per_sec > (m?.per_sec ?? 0) ? x : m), null);
    const capped = tp.offered_per_sec && tp.revokes.per_sec >= 0.95 * tp.offered_per_sec;
    add({
      id: "revokes_per_sec",
      figure: `server: sustained durable revokes (${tp.clients} users)`,
      target: ">= 20,000 / s on 2 cores",
      ok: tp.revokes.per_sec >= 20000,
      gap: 20000 / tp.revokes.per_sec,
      measured: `${fmt(tp.revokes.per_sec)} / s${capped ? " (= offered load: server kept up)" : ""}; ack p50 ${fmt(tp.revokes.ack_latency.p50_ms, 1)} ms, p99 ${fmt(tp.revokes.ack_latency.p99_ms, 1)} ms`,
      baseline: best ? `raw SQLite, the server's revoke writes in batches of ${best.batch}: ${fmt(best.per_sec)} / s; 1 commit each: ${fmt(r.sqlite.single_commits_per_sec)} / s` : "—",
      ratio: best ? tp.revokes.per_sec / best.per_sec : null,
    });
    add({
      id: "sends_per_sec",
      figure: "server: sustained durable sends (for comparison)",
      target: "—",
      ok: null,
      gap: null,
      measured: `${fmt(tp.sends.per_sec)} / s; ack p50 ${fmt(tp.sends.ack_latency.p50_ms, 1)} ms, p99 ${fmt(tp.sends.ack_latency.p99_ms, 1)} ms`,
      baseline: r.sqlite ? `raw SQLite 1 insert/commit ${fmt(r.sqlite.single_commits_per_sec)} / s` : "—",
      ratio: null,
    });
  }
  const fo = r.fanout;
  if (fo) {
    add({
      id: "fanout_p99",
      figure: `server: one revoke fanned out to a ${fmt(fo.members)}-member group, all online, completion p99`,
      target: "p99 <= 200 ms (10,000 members)",
      ok: fo.members >= 10000 ? fo.revoke_completion.p99_ms <= 200 : null,
      gap: fo.revoke_completion.p99_ms / 200,
      measured: `${fmt(fo.revoke_completion.p99_ms, 1)} ms (p50 ${fmt(fo.revoke_completion.p50_ms, 1)}; per delivery p50 ${fmt(fo.revoke_delivery.p50_ms, 1)}, p99 ${fmt(fo.revoke_delivery.p99_ms, 1)}; n=${fo.revoke_completion.count})`,
      baseline: fo.baseline
        ? `bare tokio-tungstenite broadcast of the same event frame to the same ${fmt(fo.baseline.members)} readers (no rules, no storage): p99 ${fmt(fo.baseline.completion.p99_ms, 1)} ms (p50 ${fmt(fo.baseline.completion.p50_ms, 1)}); send fan-out p99 ${fmt(fo.send_completion.p99_ms, 1)} ms`
        : `send fan-out p99 ${fmt(fo.send_completion.p99_ms, 1)} ms; published: Centrifugo p99 200 ms at 1M connections`,
      ratio: fo.baseline
        ? fo.revoke_completion.p99_ms / fo.baseline.completion.p99_ms
        : fo.revoke_completion.p99_ms / fo.send_completion.p99_ms,
    });
  }
  const bf = r.before;
  // The pair's own "after" run (fresh database, as the base's); an older raw set has only the
  // main server's figures.
  const atp = bf?.after?.revokes ?? tp;
  const afo = bf?.after?.fanout ?? fo;
  if (bf?.revokes?.revokes && atp?.revokes) {
    const ratio = atp.revokes.per_sec / bf.revokes.revokes.per_sec;
    add({
      id: "revokes_before_after",
      figure: `server: sustained durable revokes (${atp.clients} users), now vs ${bf.name} (${bf.rev.slice(0, 7)}), same run`,
      target: "no more than 10% worse (>= 0.9x)",
      ok: ratio >= 0.9,
      gap: 0.9 / ratio,
      measured: `${fmt(atp.revokes.per_sec)} / s (ack p99 ${fmt(atp.revokes.ack_latency.p99_ms, 1)} ms)${bf.after?.revokes ? ", fresh database as the base's" : ""}`,
      baseline: `${bf.name}: ${fmt(bf.revokes.revokes.per_sec)} / s (ack p99 ${fmt(bf.revokes.revokes.ack_latency.p99_ms, 1)} ms)`,
      ratio,
    });
  }
  if (bf?.fanout?.revoke_completion && afo?.revoke_completion) {
    const ratio = afo.revoke_completion.p99_ms / bf.fanout.revoke_completion.p99_ms;
    add({
      id: "fanout_before_after",
      figure: `server: ${fmt(afo.members)}-member group revoke completion p99, now vs ${bf.name} (${bf.rev.slice(0, 7)}), same run`,
      target: "no more than 10% worse (<= 1.1x)",
      ok: ratio <= 1.1,
      gap: ratio / 1.1,
      measured: `${fmt(afo.revoke_completion.p99_ms, 1)} ms (p50 ${fmt(afo.revoke_completion.p50_ms, 1)})`,
      baseline: `${bf.name}: ${fmt(bf.fanout.revoke_completion.p99_ms, 1)} ms (p50 ${fmt(bf.fanout.revoke_completion.p50_ms, 1)})`,
      ratio,
    });
  }
  const cl = r.conv_list;
  if (cl) {
    add({
      id: "conv_list_first_page",
      figure: `server: first page (100) of a ${fmt(cl.conversations)}-conversation list, request → answer, p50`,
      target: "< 50 ms (the browser's figure adds the client's own work)",
      ok: cl.conversations >= 1000 ? cl.first_page.p50_ms < 50 : null,
      gap: cl.first_page.p50_ms / 50,
      measured: `${fmt(cl.first_page.p50_ms, 2)} ms (p99 ${fmt(cl.first_page.p99_ms, 2)}; n=${cl.first_page.count})`,
      baseline: `whole list in pages of 100 (a new device's first load): p50 ${fmt(cl.whole_list.p50_ms, 1)} ms`,
      ratio: null,
    });
  }
  const at = r.attach;
  if (at) {
    const mb = fmt(at.bytes / 1e6, 1);
    add({
      id: "attach_upload_download",
      figure: `server: ${mb} MB attachment over loopback, upload (POST /upload) and download (GET /file/…) MB/s at p50, ÷ a file copy + fsync on the same disk`,
      target: "a ratio, upload ÷ copy (no target set; 1 = as fast as the copy)",
      ok: null,
      gap: null,
      measured: `upload ${fmt(at.upload.mb_per_s_p50)} MB/s (p99 ${fmt(at.upload.mb_per_s_p99)}; ${fmt(at.upload.time.p50_ms, 1)} ms), download ${fmt(at.download.mb_per_s_p50)} MB/s (p99 ${fmt(at.download.mb_per_s_p99)}; ${fmt(at.download.time.p50_ms, 1)} ms); download ÷ copy ${fmt(at.download_vs_copy, 2)}; n=${at.rounds}`,
      baseline: `fs::copy + fsync ${fmt(at.file_copy_fsync.mb_per_s_p50)} MB/s (no fsync ${fmt(at.file_copy.mb_per_s_p50)}); loopback TCP ${fmt(at.tcp_loopback.mb_per_s_p50)} MB/s`,
      ratio: at.upload_vs_copy,
    });
    add({
      id: "attach_revoke_url_gone",
      figure: "server: revoke → the receiver's attachment URL answers 410 (revokeOk decoded → first 410 read), p50",
      target: "gone when the revoke is acked (first poll after the ack: 410)",
      ok: at.gone_at_first_poll === at.rounds,
      gap: null,
      measured: `${fmt(at.ack_to_gone.p50_ms, 2)} ms (p99 ${fmt(at.ack_to_gone.p99_ms, 2)}); gone at the first poll ${at.gone_at_first_poll}/${at.rounds}; revoke written → 410 p50 ${fmt(at.revoke_to_gone.p50_ms, 2)} ms (p99 ${fmt(at.revoke_to_gone.p99_ms, 2)})`,
      baseline: `revoke → revokeOk p50 ${fmt(at.revoke_ack.p50_ms, 2)} ms (p99 ${fmt(at.revoke_ack.p99_ms, 2)})`,
      ratio: null,
    });
  }
  const bcl = r.browser?.convList;
  if (bcl?.server || bcl?.local) {
    const main = bcl.server ?? bcl.local;
    add({
      id: "conv_list_browser",
      figure: `browser: a device just logged in loads the first page (100) of a ${fmt(bcl.conversations)}-conversation list, ${bcl.server ? "via server" : "LocalHub"}, p50 / p99`,
      target: "< 50 ms",
      ok: bcl.conversations >= 1000 ? main.p99_ms < 50 : null,
      gap: main.p99_ms / 50,
      measured: `${fmt(main.p50_ms, 2)} / ${fmt(main.p99_ms, 2)} ms (n=${main.count})`,
      baseline: bcl.server && bcl.local ? `LocalHub p50 ${fmt(bcl.local.p50_ms, 2)} / p99 ${fmt(bcl.local.p99_ms, 2)} ms` : "—",
      ratio: null,
    });
  }
  const fl = r.flood;
  if (fl) {
    add({
      id: "flood_p99_ratio",
      figure: `server: a well-behaved user's send round trip p99 while another floods a ${fmt(fl.members)}-member group`,
      target: "<= 3x the same without the flood",
      ok: fl.p99_ratio <= 3,
      gap: fl.p99_ratio / 3,
      measured: `${fmt(fl.flooded.p99_ms, 2)} ms (p50 ${fmt(fl.flooded.p50_ms, 2)}; flood sends accepted ${fmt(fl.flood_accepted)}, refused ${fmt(fl.flood_refused)} in ${fmt(fl.flood_secs, 1)} s)`,
      baseline: `no flood: p99 ${fmt(fl.quiet.p99_ms, 2)} ms (p50 ${fmt(fl.quiet.p50_ms, 2)})`,
      ratio: fl.p99_ratio,
    });
  }
  const lh = r.browser?.e2eLocal?.toEvent;
  if (lh) {
    add({
      id: "e2e_local",
      figure: "revoke → other client's onRecvMessageRevoked, embedded LocalHub, p50 / p99",
      target: "—",
      ok: null,
      gap: null,
      measured: `${fmt(lh.p50_ms, 3)} / ${fmt(lh.p99_ms, 3)} ms`,
      baseline: e2e ? `via server ${fmt(e2e.p50_ms, 3)} / ${fmt(e2e.p99_ms, 3)} ms` : "—",
      ratio: null,
    });
  }
  return t;
}

function printTable(t) {
  const cols = [
    ["figure", (x) => x.figure],
    ["target", (x) => x.target],
    ["measured", (x) => x.measured],
    ["ok", (x) => (x.ok === null ? "" : x.ok ? "yes" : "NO")],
    ["baseline", (x) => x.baseline],
    ["ratio", (x) => (x.ratio === null || x.ratio === undefined ? "" : `${x.ratio >= 10 ? fmt(x.ratio, 0) : fmt(x.ratio, 2)}x`)],
  ];
  // One block per figure: a table wider than a terminal reads worse than this.
  console.log("\n================ im-revoke bench: figure / target / measured / baseline / ratio ================");
  for (const x of t) {
    const ok = x.ok === null ? "" : x.ok ? "  [meets target]" : `  [MISSES target${x.gap ? `, off by ${fmt(x.gap, 2)}x` : ""}]`;
    console.log(`\n${x.figure}${ok}`);
    for (const [name, f] of cols.slice(1)) {
      if (name === "ok") continue;
      const v = f(x);
      if (v && v !== "—") console.log(`    ${name.padEnd(9)} ${v}`);
    }
  }
  console.log("\n(ratio = measured ÷ baseline)");
}

// ---------------------------------------------------------------------------------------------
// The latency picture: log-x histograms (share of samples per bucket), one line per series.

function svg(series, title) {
  const W = 900;
  const m = { l: 60, r: 20, t: 40, b: 60 + 18 * series.length };
  const H = 300 + m.t + m.b;
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const all = series.flatMap((s) => s.h.lower_ms);
  if (!all.length) return null;
  const lo = Math.log10(Math.min(...all));
  const hi = Math.log10(Math.max(...series.flatMap((s) => s.h.lower_ms.map((x) => x * 10 ** 0.1))));
  const x0 = Math.floor(lo);
  const x1 = Math.ceil(hi);
  const X = (ms) => m.l + ((Math.log10(ms) - x0) / (x1 - x0)) * pw;
  const frac = series.map((s) => {
    const n = s.h.counts.reduce((a, b) => a + b, 0) || 1;
    return s.h.counts.map((c) => c / n);
  });
  const ymax = Math.max(...frac.flat(), 0.01);
  const Y = (f) => m.t + ph - (f / ymax) * ph;
  const colors = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`);
  // grid + axes
  for (let d = x0; d <= x1; d++) {
    const x = X(10 ** d);
    out.push(`<line x1="${x}" y1="${m.t}" x2="${x}" y2="${m.t + ph}" stroke="#ddd"/>`);
    const label = 10 ** d >= 1 ? `${10 ** d} ms` : `${Math.round(10 ** d * 1000)} µs`;
    out.push(`<text x="${x}" y="${m.t + ph + 16}" text-anchor="middle">${label}</text>`);
  }
  for (let i = 0; i <= 4; i++) {
    const f = (ymax * i) / 4;
    const y = Y(f);
    out.push(`<line x1="${m.l}" y1="${y}" x2="${m.l + pw}" y2="${y}" stroke="#eee"/>`);
    out.push(`<text x="${m.l - 6}" y="${y + 4}" text-anchor="end">${Math.round(f * 100)}%</text>`);
  }
  out.push(`<line x1="${m.l}" y1="${m.t + ph}" x2="${m.l + pw}" y2="${m.t + ph}" stroke="black"/>`);
  out.push(`<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${m.t + ph}" stroke="black"/>`);
  out.push(`<text x="${m.l + pw / 2}" y="${m.t + ph + 34}" text-anchor="middle">latency (log scale, 10 buckets per decade)</text>`);
  out.push(`<text x="16" y="${m.t + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${m.t + ph / 2})">share of samples</text>`);
  // target markers
  for (const [ms, label] of [[1, "target p50 1 ms"], [5, "target p99 5 ms"]]) {
    if (Math.log10(ms) >= x0 && Math.log10(ms) <= x1) {
      const x = X(ms);
      out.push(`<line x1="${x}" y1="${m.t}" x2="${x}" y2="${m.t + ph}" stroke="#444" stroke-dasharray="5,4"/>`);
      out.push(`<text x="${x + 4}" y="${m.t + 12}" fill="#444">${label}</text>`);
    }
  }
  series.forEach((s, i) => {
    const c = colors[i % colors.length];
    let d = "";
    s.h.lower_ms.forEach((lo, j) => {
      const xa = X(lo);
      const xb = X(lo * 10 ** 0.1);
      const y = Y(frac[i][j]);
      d += `${j === 0 ? `M${xa},${Y(0)} L${xa},${y}` : ` L${xa},${y}`} L${xb},${y}`;
      if (j === s.h.lower_ms.length - 1) d += ` L${xb},${Y(0)}`;
    });
    out.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="2"/>`);
    const ly = m.t + ph + 56 + i * 18;
    const lx = m.l;
    out.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 24}" y2="${ly - 4}" stroke="${c}" stroke-width="3"/>`);
    out.push(`<text x="${lx + 30}" y="${ly}">${esc(s.label)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

// ---------------------------------------------------------------------------------------------

const a = args();
const runInfo = read(a.raw, "run.json");
const r = {
  date: runInfo?.started ?? new Date().toISOString(),
  mode: a.quick ? "quick" : "full",
  machine: machine(),
  bundle: bundle(a.pkg),
  sqlite: read(a.raw, "sqlite.json"),
  latency: read(a.raw, "latency.json"),
  revokes: read(a.raw, "revokes.json"),
  idle: read(a.raw, "idle.json"),
  idle_echo: read(a.raw, "idle-echo.json"),
  fanout: read(a.raw, "fanout.json"),
  conv_list: read(a.raw, "conv-list.json"),
  attach: read(a.raw, "attach.json"),
  flood: read(a.raw, "flood.json"),
  browser: read(a.raw, "browser.json"),
  run: runInfo,
};
const before = read(a.raw, "before.json");
if (before) {
  r.before = {
    ...before,
    revokes: read(a.raw, "before-revokes.json"),
    fanout: read(a.raw, "before-fanout.json"),
    after: { revokes: read(a.raw, "after-revokes.json"), fanout: read(a.raw, "after-fanout.json") },
  };
}
r.rest_api = restFigures((name) => read(a.raw, name));
const table = [...rows(r), ...restRows(r.rest_api)];
r.table = table;
r.notes = [];
if (r.browser?.pkg?.note) r.notes.push(`browser figures: ${r.browser.pkg.note}`);
const load = Number(String(r.run?.loadavg_at_start ?? "0").split(" ")[0]);
if (load > 0.5 * r.machine.cores) {
  r.notes.push(`the machine was busy when the run started (load average ${r.run.loadavg_at_start} on ${r.machine.cores} cores): figures are pessimistic`);
}
writeFileSync(a.results, JSON.stringify(r, null, 2) + "\n");
printTable(table);
for (const n of r.notes) console.log(`NOTE: ${n}`);

const series = [];
const pick = (label, s) => s && s.histogram && s.histogram.counts.length && series.push({ label: `${label} (p50 ${fmt(s.p50_ms, 3)}, p99 ${fmt(s.p99_ms, 3)} ms)`, h: s.histogram });
pick("browser ↔ server, revoke → onRecvMessageRevoked", r.browser?.e2eServer?.toEvent);
pick("Rust clients ↔ server, revoke → event", r.latency?.revoke_to_event);
pick("browser, LocalHub, revoke → onRecvMessageRevoked", r.browser?.e2eLocal?.toEvent);
pick("baseline: bare WebSocket echo RTT", r.latency?.echo_rtt);
pick("baseline: the browser page's WebSocket echo RTT", r.browser?.echo?.rtt);
pick("baseline: SQLite commit (1 insert, fsync)", r.sqlite?.single_commit_latency);
const pic = svg(series, `im-revoke revoke latency — ${r.date.slice(0, 10)}, ${r.machine.commit?.slice(0, 10) ?? "?"}${r.mode === "quick" ? " (quick run)" : ""}`);
if (pic) writeFileSync(a.svg, pic);

// The same table as Markdown, for BENCHMARKS.md ("Latest results").
const md = [];
const m = r.machine;
md.push(`Run of ${r.date} (${r.mode}), commit \`${m.commit?.slice(0, 12) ?? "?"}\`${m.commit_dirty ? " plus uncommitted changes" : ""}; ` +
  `${m.cores} cores (${m.cpu_model}), ${fmt(m.memory_bytes / 2 ** 30, 1)} GiB, ${m.kernel}; load average at the start ${r.run?.loadavg_at_start ?? "?"}; ` +
  `${r.browser?.browser?.version ? `Chromium ${r.browser.browser.version}` : ""}.`);
md.push("");
md.push("| figure | target | measured | met | baseline (same run) | ratio |");
md.push("| --- | --- | --- | --- | --- | --- |");
const cell = (x) => String(x ?? "").replace(/\|/g, "\\|");
for (const x of table) {
  const ok = x.ok === null ? "" : x.ok ? "yes" : `**no** (${fmt(x.gap, 2)}x off)`;
  const ratio = x.ratio === null || x.ratio === undefined ? "" : `${x.ratio >= 10 ? fmt(x.ratio, 0) : fmt(x.ratio, 2)}x`;
  md.push(`| ${cell(x.figure)} | ${cell(x.target)} | ${cell(x.measured)} | ${ok} | ${cell(x.baseline)} | ${ratio} |`);
}
for (const n of r.notes) md.push("", `Note: ${n}`);
writeFileSync(path.join(a.raw, "results.md"), md.join("\n") + "\n");
console.log(`\nwrote ${path.relative(process.cwd(), a.results)}${pic ? ` and ${path.relative(process.cwd(), a.svg)}` : ""}`);
