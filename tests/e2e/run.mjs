#!/usr/bin/env node
// End-to-end tests: the demo (www/) in headless Chromium against the real server, the
// embedded LocalHub mode, and the Vite example app built on the packed module.
//
//   node tests/e2e/run.mjs            all specs
//   E2E_GREP=offline node tests/e2e/run.mjs   only specs whose name matches
//   E2E_PROFILE=release node tests/e2e/run.mjs  against the release server (default: debug)
//   E2E_LANES=1 node tests/e2e/run.mjs  all specs in one process (default: 2 lanes)
//
// It builds what is missing or stale (pkg/ with scripts/build.sh, the debug server with cargo),
// starts its own servers on ephemeral loopback ports with temporary databases — one with the
// default revoke limit, one with a short one for the time-limit spec; with lanes, each lane
// process its own two and its own Chromium, taking specs from one queue — runs the specs, prints
// "N passed, M failed" as its last line, exits non-zero on failure, and always stops its
// servers and the browser. Chromium is /usr/bin/chromium (never downloaded) with a fresh
// user-data-dir. Screenshots go to test-results/ (gitignored).

import { chromium } from "playwright-core";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { tencentSpecs } from "./tencent.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const RESULTS = path.join(ROOT, "test-results");
/** The built module; E2E_PKG_DIR points elsewhere (then it is used as is, never rebuilt). */
const PKG = process.env.E2E_PKG_DIR ? path.resolve(process.env.E2E_PKG_DIR) : path.join(ROOT, "pkg");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** The short revoke window of the second server (seconds), for the time-limit spec. */
const SHORT_LIMIT_S = 5;
const SPEC_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 10_000;
const GREP = process.env.E2E_GREP ? new RegExp(process.env.E2E_GREP, "i") : null;

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "im-revoke-e2e-"));
const children = new Set();
const httpServers = new Set();
let context = null;

function log(...a) {
  console.log(...a);
}

// ----- cleanup, also on failure and on Ctrl-C -----------------------------------------------

function killChildrenNow() {
  for (const c of children) {
    try {
      c.kill(c.isLane ? "SIGTERM" : "SIGKILL"); // a lane stops its own servers and browser
    } catch {
      // already gone
    }
  }
}

process.on("exit", () => {
  killChildrenNow();
  try {
    fs.rmSync(TMP, { recursive: true, force: true });
  } catch {
    // best effort
  }
});
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    log(`\n${sig}: stopping`);
    killChildrenNow();
    process.exit(130);
  });
}

async function stopChild(c) {
  if (c.exitCode !== null || c.signalCode !== null) {
    children.delete(c);
    return;
  }
  const gone = new Promise((r) => c.once("exit", r));
  c.kill("SIGTERM");
  const t = setTimeout(() => c.kill("SIGKILL"), 5000);
  await gone;
  clearTimeout(t);
  children.delete(c);
}

// ----- building ------------------------------------------------------------------------------

function run(cmd, args, opts = {}) {
  log(`$ ${cmd} ${args.join(" ")}`);
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"], ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status ?? r.signal})`);
}

function newestMtime(p) {
  if (!fs.existsSync(p)) return 0;
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const e of fs.readdirSync(p)) m = Math.max(m, newestMtime(path.join(p, e)));
  return m;
}

/** pkg/ is built by scripts/build.sh when missing or older than its sources. */
function ensurePkg() {
  if (process.env.E2E_PKG_DIR) {
    log(`module: ${PKG} (E2E_PKG_DIR)`);
    return;
  }
  const wasm = path.join(PKG, "im_revoke_bg.wasm");
  const sources = Math.max(
    newestMtime(path.join(ROOT, "src")),
    newestMtime(path.join(ROOT, "crates", "core", "src")),
    newestMtime(path.join(ROOT, "Cargo.toml")),
    newestMtime(path.join(ROOT, "crates", "core", "Cargo.toml")),
    newestMtime(path.join(ROOT, "js")),
  );
  if (fs.existsSync(wasm) && fs.statSync(wasm).mtimeMs >= sources) {
    log("pkg/ is up to date");
    return;
  }
  run("bash", ["scripts/build.sh"]);
}

/**
 * The server binary: the debug build (what `cargo test` and scripts/browser-tests.sh leave in
 * target/debug; cargo rebuilds it if stale), or the release one with E2E_PROFILE=release.
 * Not the release build just because target/release has one: that binary is only as fresh as
 * the last `npm start`, so after any change to the server the e2e suite spent ~2 minutes on a
 * release build (LTO, one codegen unit) that the dev build already made unnecessary.
 */
function ensureServer() {
  const target = process.env.CARGO_TARGET_DIR || path.join(ROOT, "target");
  const profile = process.env.E2E_PROFILE || "debug";
  // The debug binary as the tests' build makes it (scripts/tests-build.sh, a no-op after it):
  // `cargo build -p im-revoke-server` resolves its dependencies' features for the server alone
  // and compiled ~30 of them a second time.
  if (profile === "release") run("cargo", ["build", "--release", "-p", "im-revoke-server"]);
  else if (profile === "debug") run("bash", ["scripts/tests-build.sh", "-q"]);
  else throw new Error(`E2E_PROFILE must be debug or release, got "${profile}"`);
  return path.join(target, profile, "im-revoke-server");
}

// ----- servers -------------------------------------------------------------------------------

/** Starts a server on an ephemeral loopback port; resolves with its base URL. */
function startServer(bin, name, revokeLimitS) {
  const dir = path.join(TMP, name);
  fs.mkdirSync(dir, { recursive: true });
  const logPath = path.join(dir, "server.log");
  const logFile = fs.openSync(logPath, "w");
  const child = spawn(
    bin,
    [
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--db",
      path.join(dir, "e2e.db"),
      "--dev",
      "--static-dir",
      path.join(ROOT, "www"),
      "--pkg-dir",
      PKG,
      "--revoke-time-limit",
      String(revokeLimitS),
    ],
    { cwd: dir, stdio: ["ignore", "pipe", logFile], env: { ...process.env, IMR_LOG: "warn" } },
  );
  children.add(child);
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      reject(new Error(`${name} server did not start in 20 s; log: ${logPath}`));
    }, 20_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[0-9.:\[\]]+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], child, logPath, name });
      }
    });
    child.once("exit", (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${name} server exited (${code ?? sig}) before listening:\n${fs.readFileSync(logPath, "utf8")}`));
    });
  });
}

// ----- a tiny static server for the Vite example's build -------------------------------------

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".svg": "image/svg+xml",
};

function serveStatic(dir) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    let p = path.normalize(path.join(dir, decodeURIComponent(url.pathname)));
    if (!p.startsWith(dir)) {
      res.writeHead(403).end();
      return;
    }
    if (fs.existsSync(p) && fs.statSync(p).isDirectory()) p = path.join(p, "index.html");
    fs.readFile(p, (err, data) => {
      if (err) {
        res.writeHead(404).end("not found");
        return;
      }
      res.writeHead(200, { "content-type": MIME[path.extname(p)] || "application/octet-stream" });
      res.end(data);
    });
  });
  httpServers.add(server);
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${server.address().port}`));
  });
}

// ----- page helpers --------------------------------------------------------------------------

class Check extends Error {}

function expect(cond, what) {
  if (!cond) throw new Check(what);
}

/** Opens the demo with `query`; collects uncaught page errors and dialogs (none expected). */
async function openDemo(ctx, base, query = "") {
  const page = await ctx.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.errors = [];
  page.dialogs = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  // Frames the page's sockets receive, by kind: the module offers `im-revoke.bin`, so the
  // server's frames should all be binary.
  page.wsFrames = { binary: 0, text: 0 };
  page.on("websocket", (ws) => ws.on("framereceived", ({ payload }) => {
    page.wsFrames[typeof payload === "string" ? "text" : "binary"]++;
  }));
  page.on("dialog", (d) => {
    page.dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  const sep = query.includes("lang=") ? "" : `${query ? "&" : "?"}lang=en`;
  await page.goto(`${base}/${query}${sep}`);
  // Ready, or the page's own start-up error (e.g. the module failed to instantiate).
  await page.waitForSelector('body[data-ready="true"], .boot-error');
  const bootError = page.locator(".boot-error");
  if (await bootError.count()) throw new Check(`the demo did not start: ${await bootError.textContent()}`);
  return page;
}

function pane(page, user, nth = 0) {
  return page.locator(`section.pane[data-user="${user}"]`).nth(nth);
}

async function waitOnline(p) {
  await p.locator('.status:text-is("online")').waitFor();
}

async function openConv(p, name) {
  await p.getByRole("tab", { name }).click();
}

/** Types `text` into the pane's input and sends it; returns the new message's msgID. */
async function send(p, text) {
  const input = p.getByRole("textbox", { name: /^Message to / });
  await input.fill(text);
  await p.getByRole("button", { name: /^Send as / }).click();
  const row = p.locator(".row.self", { hasText: text }).last();
  await row.waitFor();
  // Sent: the "sending…" label is gone (and it did not fail).
  await row.locator(".state:not(.failed)").waitFor({ state: "detached" });
  if (await row.locator(".state.failed").count()) {
    const err = await p.locator(".error").textContent().catch(() => "");
    throw new Check(`sending "${text}" failed: ${err}`);
  }
  return row.getAttribute("data-msg-id");
}

function row(p, msgID) {
  return p.locator(`.row[data-msg-id="${msgID}"]`);
}

async function revoke(p, msgID, reason = "") {
  const r = row(p, msgID);
  await r.getByRole("button", { name: /^Revoke this message/ }).click();
  if (reason) await r.getByRole("textbox", { name: "Reason (optional)" }).fill(reason);
  await r.getByRole("button", { name: "Confirm revoke" }).click();
}

function exactly(text) {
  return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
}

/** Waits for the revoked notice of `msgID` in pane `p` to read exactly `text`. */
async function expectNotice(p, msgID, text) {
  const n = row(p, msgID).locator(".notice-text", { hasText: exactly(text) });
  await n.waitFor().catch(async () => {
    const got = await row(p, msgID)
      .textContent({ timeout: 1000 })
      .catch(() => "(no such message)");
    throw new Check(`expected the notice "${text}" in ${await p.getAttribute("data-user")}'s pane, got: ${got}`);
  });
}

/** Contexts made by specs besides their own; the runner closes them after the spec. */
const extraContexts = [];
async function extraContext(ctx) {
  const c = await ctx.browser().newContext({ viewport: { width: 1280, height: 800 } });
  extraContexts.push(c);
  return c;
}

/**
 * Watches `user`'s pane from inside the page: which listener calls it gets (per msgID), how
 * often it asks for history or looks messages up, and which client object it holds — so a
 * spec can tell a notice that came through the live listener path from one rendered by a
 * history reload.
 */
async function watchPane(page, user) {
  await page.evaluate((user) => {
    const p = window.demo.panes.find((p) => p.user === user);
    const w = { heard: [], historyCalls: 0, findCalls: 0, client: p.client, mm: p.mm };
    for (const k of ["onRecvNewMessage", "onRecvMessageRevoked"]) {
      const f = p.listener[k];
      p.listener[k] = (...a) => {
        w.heard.push([k, typeof a[0] === "string" ? a[0] : a[0].msgID]);
        return f(...a);
      };
    }
    const mm = p.mm;
    const history = mm.getHistoryMessageList.bind(mm);
    const find = mm.findMessages.bind(mm);
    mm.getHistoryMessageList = (...a) => (w.historyCalls++, history(...a));
    mm.findMessages = (...a) => (w.findCalls++, find(...a));
    (window.watched ||= {})[user] = w;
  }, user);
}

/** What `watchPane` saw: `heard` (listener calls about `msgID`), the counts, same client. */
async function watched(page, user, msgID) {
  return page.evaluate(
    ([user, msgID]) => {
      const w = window.watched[user];
      const p = window.demo.panes.find((p) => p.user === user);
      return {
        heard: w.heard.filter(([, id]) => id === msgID).map(([k]) => k),
        historyCalls: w.historyCalls,
        findCalls: w.findCalls,
        sameClient: p.client === w.client && p.mm === w.mm,
      };
    },
    [user, msgID],
  );
}

/** Bob's offline/online round trip was served by the listeners alone, each event once. */
async function expectLiveCatchUp(page, user, msgID) {
  await page.waitForTimeout(300); // room for a duplicate to show up
  const w = await watched(page, user, msgID);
  expect(
    JSON.stringify(w.heard) === JSON.stringify(["onRecvNewMessage", "onRecvMessageRevoked"]),
    `${user}'s listener heard the message, then its revoke, once each; got ${JSON.stringify(w.heard)}`,
  );
  expect(w.historyCalls === 0 && w.findCalls === 0, `no history reload (history ${w.historyCalls}, find ${w.findCalls})`);
  expect(w.sameClient, `${user}'s pane kept its ChatClient (disconnect/reconnect, not logout/login)`);
}

function uniq(prefix) {
  return `${prefix} ${Math.random().toString(36).slice(2, 8)}`;
}

/** What pane number `nth` of `user` heard about `msgID` (listener method names, in order). */
async function heardBy(page, user, msgID, nth = 0) {
  return page.evaluate(
    ([user, msgID, nth]) =>
      window.demo.panes
        .filter((p) => p.user === user)
        [nth].log.filter(([, id]) => id === msgID)
        .map(([k]) => k),
    [user, msgID, nth],
  );
}

/** Waits for pane `p`'s entry of `convID` in the conversation list to match `want`. */
async function expectConv(p, convID, { preview, unread }) {
  const entry = p.locator(`.conv[data-conv="${convID}"]`);
  const read = async () => ({
    preview: (await entry.locator(".preview").textContent({ timeout: 1000 }).catch(() => null)) ?? "(none)",
    unread: Number((await entry.locator(".badge").textContent({ timeout: 200 }).catch(() => "0")) || 0),
  });
  try {
    if (preview !== undefined) await entry.locator(".preview", { hasText: exactly(preview) }).waitFor();
    if (unread !== undefined) {
      if (unread) await entry.locator(".badge", { hasText: exactly(String(unread)) }).waitFor();
      else await entry.locator(".badge").waitFor({ state: "detached" });
    }
  } catch {
    const got = await read();
    throw new Check(
      `${await p.getAttribute("data-user")}'s ${convID}: expected ${JSON.stringify({ preview, unread })}, got ${JSON.stringify(got)}`,
    );
  }
}

/** Waits for pane `p`'s total unread badge to read `n` (no badge for 0). */
async function expectTotal(p, n) {
  const badge = p.locator(".badge.total");
  try {
    if (n) await p.locator(`.badge.total[aria-label="${n} unread"]`).waitFor();
    else await badge.waitFor({ state: "hidden" });
  } catch {
    const got = (await badge.isVisible()) ? await badge.textContent() : "none";
    throw new Check(`${await p.getAttribute("data-user")}'s total badge: expected ${n}, got ${got}`);
  }
}

/** The total unread of pane `nth` of `user` as its module says (`getTotalUnreadMessageCount`). */
async function moduleTotal(page, user, nth = 0) {
  return page.evaluate(
    ([user, nth]) => window.demo.panes.filter((p) => p.user === user)[nth].cm.getTotalUnreadMessageCount(),
    [user, nth],
  );
}

/** A `w`×`h` PNG drawn by the page's canvas. */
async function pngBytes(page, w, h) {
  const b64 = await page.evaluate(
    ([w, h]) => {
      const c = document.createElement("canvas");
      c.width = w;
      c.height = h;
      const g = c.getContext("2d");
      g.fillStyle = "#2f6bff";
      g.fillRect(0, 0, w, h);
      g.fillStyle = "#ffd23f";
      g.beginPath();
      g.arc(w / 2, h / 2, Math.min(w, h) / 3, 0, 2 * Math.PI);
      g.fill();
      return c.toDataURL("image/png").split(",")[1];
    },
    [w, h],
  );
  return Buffer.from(b64, "base64");
}

/** The HTTP status a fetch of `url` from the page gets, or "error" if it fails outright. */
async function fetchStatus(page, url) {
  return page.evaluate(
    (url) =>
      fetch(url, { cache: "no-store" }).then(
        (r) => r.status,
        () => "error",
      ),
    url,
  );
}

/**
 * Makes the page able to pretend it is hidden (`document.visibilityState`), and wraps
 * `window.Notification` to record each notification made (title, body, tag) and its close.
 * For a context: every page opened afterwards.
 */
async function watchNotifications(ctx) {
  await ctx.addInitScript(() => {
    const Real = window.Notification;
    window.__hidden = false;
    window.__notes = [];
    for (const [k, v] of [
      ["visibilityState", () => (window.__hidden ? "hidden" : "visible")],
      ["hidden", () => window.__hidden],
    ]) {
      Object.defineProperty(Document.prototype, k, { get: v, configurable: true });
    }
    if (!Real) return;
    class Watched extends Real {
      constructor(title, options = {}) {
        super(title, options);
        this.rec = { title, body: options.body, tag: options.tag, closed: false };
        window.__notes.push(this.rec);
      }
      close() {
        this.rec.closed = true;
        super.close();
      }
    }
    Object.defineProperty(Watched, "permission", { get: () => Real.permission });
    Watched.requestPermission = (...a) => Real.requestPermission(...a);
    window.Notification = Watched;
  });
}

async function setHidden(page, hidden) {
  await page.evaluate((hidden) => {
    window.__hidden = hidden;
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

/** `user`'s IndexedDB store as the page sees it: `{ meta, texts }` (record texts), or null. */
async function storeOf(page, user) {
  return page.evaluate(async (user) => {
    const dbs = await indexedDB.databases();
    const d = dbs.find((x) => x.name.startsWith("im-revoke|") && x.name.endsWith(`|${user}`));
    if (!d) return null;
    const db = await new Promise((ok, no) => {
      const r = indexedDB.open(d.name);
      r.onsuccess = () => ok(r.result);
      r.onerror = () => no(r.error);
    });
    try {
      const t = db.transaction(["meta", "msgs"], "readonly");
      const get = (req) => new Promise((ok, no) => ((req.onsuccess = () => ok(req.result)), (req.onerror = () => no(req.error))));
      const [meta, recs] = await Promise.all([get(t.objectStore("meta").get("meta")), get(t.objectStore("msgs").getAll())]);
      return { meta: meta || null, texts: recs.map((r) => r.j) };
    } finally {
      db.close();
    }
  }, user);
}

/** Polls `user`'s store until `test(store)` holds (each poll is a fresh read). */
async function waitStore(page, user, test, what) {
  for (let i = 0; i < 100; i++) {
    const s = await storeOf(page, user);
    if (s && test(s)) return s;
    await page.waitForTimeout(100);
  }
  throw new Check(`${user}'s IndexedDB store never ${what}`);
}

// ----- the specs -----------------------------------------------------------------------------

const specs = [];
function spec(name, fn, timeoutMs = SPEC_TIMEOUT_MS) {
  specs.push({ name, fn, timeoutMs, group: specGroup });
}
/**
 * Specs declared inside `inGroup(name, f)` always run in one lane, one after the other in
 * their order (the Tencent-style app specs: the first one builds examples/tencent-app, which
 * the others reuse; two lanes must not build it at once).
 */
let specGroup = null;
function inGroup(name, f) {
  specGroup = name;
  try {
    f();
  } finally {
    specGroup = null;
  }
}

let A; // server with the default revoke limit
let B; // server with the short revoke limit

spec("send, receive, revoke: both sides see the notice (server)", async (ctx) => {
  const page = await openDemo(ctx, A.url);
  const alice = pane(page, "alice");
  const bob = pane(page, "bob");
  await waitOnline(alice);
  await waitOnline(bob);
  const hi = uniq("hi alice, got a minute?");
  const hiID = await send(bob, hi);
  await row(alice, hiID).locator(".bubble", { hasText: hi }).waitFor();
  const text = uniq("sure: the launch moved to friday");
  const id = await send(alice, text);
  await row(bob, id).locator(".bubble", { hasText: text }).waitFor();
  // The revoke button counts down (mm:ss) while the window lasts.
  const btn = row(alice, id).getByRole("button", { name: /^Revoke this message/ });
  await btn.waitFor();
  expect(/0[12]:\d\d/.test(await btn.textContent()), `countdown shows mm:ss, got "${await btn.textContent()}"`);
  expect((await row(bob, id).getByRole("button", { name: /^Revoke/ }).count()) === 0, "bob has no revoke button on alice's message");
  await revoke(alice, id, "typo");
  await expectNotice(alice, id, "You revoked a message");
  await expectNotice(bob, id, "alice revoked a message");
  await row(bob, id).locator(".reason", { hasText: "Reason: typo" }).waitFor();
  expect((await bob.locator(".bubble", { hasText: text }).count()) === 0, "the text is gone from bob's pane");
  expect(page.wsFrames.binary >= 6 && page.wsFrames.text === 0,
    `the server's frames came as binary frames (im-revoke.bin): ${JSON.stringify(page.wsFrames)}`);
  const fix = uniq("sorry, wrong date: the launch is on monday");
  const fixID = await send(alice, fix);
  await row(bob, fixID).locator(".bubble", { hasText: fix }).waitFor();
  await page.screenshot({ path: path.join(RESULTS, "revoked.png") });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(RESULTS, "revoked-phone.png"), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  // Reloading shows the same state from history (status 6 on the server).
  const again = await openDemo(ctx, A.url);
  await expectNotice(pane(again, "bob"), id, "alice revoked a message");
  await expectNotice(pane(again, "alice"), id, "You revoked a message");
  return [page, again];
});

spec("language switch: the notices in Chinese", async (ctx) => {
  const page = await openDemo(ctx, A.url);
  const alice = pane(page, "alice");
  const bob = pane(page, "bob");
  await waitOnline(bob);
  const id = await send(alice, uniq("你好"));
  await row(bob, id).locator(".bubble").waitFor();
  await revoke(alice, id);
  await expectNotice(bob, id, "alice revoked a message");
  await page.getByRole("button", { name: "Switch the language to Chinese" }).click();
  await expectNotice(alice, id, "你撤回了一条消息");
  await expectNotice(bob, id, "对方撤回了一条消息");
  await page.screenshot({ path: path.join(RESULTS, "revoked-zh.png") });
  await page.getByRole("button", { name: "切换为英文" }).click();
  await expectNotice(bob, id, "alice revoked a message");
  return [page];
});

spec(`time limit: the revoke button goes after ${SHORT_LIMIT_S} s, a late attempt shows the coded error`, async (ctx) => {
  const page = await openDemo(ctx, B.url);
  const alice = pane(page, "alice");
  const bob = pane(page, "bob");
  await waitOnline(bob);
  const text = uniq("too late to take back");
  const id = await send(alice, text);
  const btn = row(alice, id).getByRole("button", { name: /^Revoke this message/ });
  await btn.waitFor();
  const label = await btn.textContent();
  expect(new RegExp(`00:0[0-${SHORT_LIMIT_S}]`).test(label), `countdown under ${SHORT_LIMIT_S} s, got "${label}"`);
  // Open the reason prompt, then let the window pass.
  await btn.click();
  await row(bob, id).locator(".bubble", { hasText: text }).waitFor();
  await btn.waitFor({ state: "hidden", timeout: (SHORT_LIMIT_S + 3) * 1000 });
  await page.waitForTimeout(1200); // well past the window, beyond the clock estimate's slack
  await row(alice, id).getByRole("button", { name: "Confirm revoke" }).click();
  const err = alice.getByRole("alert");
  await err.waitFor();
  const errText = await err.textContent();
  expect(/Error (20016|6223)/.test(errText), `a coded time-limit error, got "${errText}"`);
  await page.screenshot({ path: path.join(RESULTS, "time-limit.png") });
  // Nothing changed for bob.
  await page.waitForTimeout(300);
  expect((await row(bob, id).locator(".bubble", { hasText: text }).count()) === 1, "bob still has the message");
  expect((await row(bob, id).locator(".notice").count()) === 0, "no revoke notice at bob");
  return [page];
});

spec("offline then online: bob gets the revoke made while he was away", async (ctx) => {
  const page = await openDemo(ctx, A.url);
  const alice = pane(page, "alice");
  const bob = pane(page, "bob");
  await waitOnline(bob);
  await watchPane(page, "bob");
  await bob.getByRole("button", { name: "Take bob offline" }).click();
  await bob.locator('.status:text-is("offline")').waitFor();
  const text = uniq("sent while bob was away");
  const id = await send(alice, text);
  await revoke(alice, id, "wrong chat");
  await expectNotice(alice, id, "You revoked a message");
  expect((await row(bob, id).count()) === 0, "offline bob saw nothing yet");
  await bob.getByRole("button", { name: "Bring bob back online" }).click();
  await waitOnline(bob);
  await expectNotice(bob, id, "alice revoked a message");
  await row(bob, id).locator(".reason", { hasText: "wrong chat" }).waitFor();
  expect((await bob.locator(".bubble", { hasText: text }).count()) === 0, "bob never sees the text");
  await expectLiveCatchUp(page, "bob", id);
  // And live delivery works again after the reconnect.
  const text2 = uniq("welcome back");
  const id2 = await send(alice, text2);
  await row(bob, id2).locator(".bubble", { hasText: text2 }).waitFor();
  await revoke(alice, id2);
  await expectNotice(bob, id2, "alice revoked a message");
  return [page];
});

spec("group: bob (admin) revokes carol's message", async (ctx) => {
  const page = await openDemo(ctx, A.url, "?users=alice,bob,carol");
  const alice = pane(page, "alice");
  const bob = pane(page, "bob");
  const carol = pane(page, "carol");
  for (const p of [alice, bob, carol]) {
    await waitOnline(p);
    await openConv(p, /Demo group/);
  }
  await bob.locator(".roster", { hasText: "admin bob" }).waitFor();
  const text = uniq("carol's group message");
  const id = await send(carol, text);
  await row(bob, id).locator(".bubble", { hasText: text }).waitFor();
  await row(alice, id).locator(".bubble", { hasText: text }).waitFor();
  // Bob is an admin: no time limit for admins by default, so no countdown.
  await revoke(bob, id, "off topic");
  await expectNotice(alice, id, "bob (admin) revoked carol's message");
  await expectNotice(bob, id, "You revoked carol's message");
  await expectNotice(carol, id, "bob (admin) revoked your message");
  await row(alice, id).locator(".reason", { hasText: "off topic" }).waitFor();
  // Carol (a member) may not revoke alice's (the owner's) message.
  // Carol (a member) and bob (an admin) may not revoke alice's (the owner's) message.
  const id2 = await send(alice, uniq("owner's message"));
  await row(carol, id2).locator(".bubble").waitFor();
  await row(bob, id2).locator(".bubble").waitFor();
  await page.waitForTimeout(600); // a few countdown ticks
  for (const [who, p] of [["carol", carol], ["bob", bob]]) {
    const b = row(p, id2).getByRole("button", { name: /^Revoke/ });
    expect(!(await b.isVisible()), `${who} has no revoke button on the owner's message`);
  }
  expect(await row(alice, id2).getByRole("button", { name: /^Revoke this message/ }).isVisible(), "alice may revoke her own");
  await page.screenshot({ path: path.join(RESULTS, "group-admin-revoke.png") });
  await page.getByRole("button", { name: "Switch the language to Chinese" }).click();
  await expectNotice(alice, id, "管理员 bob 撤回了成员 carol 的一条消息");
  await expectNotice(bob, id, "你撤回了成员 carol 的一条消息");
  await expectNotice(carol, id, "管理员 bob 撤回了你的一条消息");
  return [page];
});

spec("re-edit: the sender puts the revoked text back into the input", async (ctx) => {
  const page = await openDemo(ctx, A.url);
  const alice = pane(page, "alice");
  const bob = pane(page, "bob");
  await waitOnline(bob);
  const text = uniq("let me rephrase");
  const id = await send(alice, text);
  await revoke(alice, id);
  await expectNotice(alice, id, "You revoked a message");
  await expectNotice(bob, id, "alice revoked a message");
  expect((await row(bob, id).getByRole("button", { name: /Re-edit|revoked text back/ }).count()) === 0, "bob cannot re-edit");
  await row(alice, id).getByRole("button", { name: "Put the revoked text back into the input" }).click();
  const input = alice.getByRole("textbox", { name: /^Message to / });
  expect((await input.inputValue()) === text, `the input holds the text again, got "${await input.inputValue()}"`);
  await input.fill(`${text}, better`);
  await alice.getByRole("button", { name: /^Send as / }).click();
  await bob.locator(".bubble", { hasText: `${text}, better` }).waitFor();
  return [page];
});

spec("an HTML injection attempt shows as text", async (ctx) => {
  const page = await openDemo(ctx, A.url);
  const alice = pane(page, "alice");
  const bob = pane(page, "bob");
  await waitOnline(bob);
  const evil = `<img src=x onerror=alert(1)> ${Math.random().toString(36).slice(2, 6)}`;
  const id = await send(alice, evil);
  const bubble = row(bob, id).locator(".bubble");
  await bubble.waitFor();
  expect((await bubble.textContent()) === evil, "bob sees the exact text");
  expect((await page.locator(".messages img").count()) === 0, "no <img> element was made");
  await revoke(alice, id, "<b>bold</b><script>alert(2)</script>");
  await row(bob, id).locator(".reason").waitFor();
  expect((await row(bob, id).locator(".reason").textContent()).includes("<b>bold</b>"), "the reason is text too");
  expect((await page.locator(".notice b, .notice script").count()) === 0, "no markup in notices");
  await page.waitForTimeout(300);
  expect(page.dialogs.length === 0, `no script ran (dialogs: ${page.dialogs.join(", ")})`);
  return [page];
});

spec("multi-device: alice's other tab sees her message and its revoke", async (ctx) => {
  const page = await openDemo(ctx, A.url);
  // Another device: its own browser context (its own window, storage and connection).
  const other = await openDemo(await extraContext(ctx), A.url, "?user=alice");
  const alice = pane(page, "alice");
  const bob = pane(page, "bob");
  const alice2 = pane(other, "alice");
  await waitOnline(bob);
  await waitOnline(alice2);
  const text = uniq("from my laptop");
  const id = await send(alice, text);
  await row(alice2, id).locator(".bubble", { hasText: text }).waitFor();
  await revoke(alice, id);
  await expectNotice(alice2, id, "You revoked a message");
  await expectNotice(bob, id, "alice revoked a message");
  await other.screenshot({ path: path.join(RESULTS, "other-device.png") });
  return [page, other];
});

spec("embedded LocalHub (?mode=local): send, revoke, notices", async (ctx) => {
  const page = await openDemo(ctx, A.url, "?mode=local");
  expect((await page.locator("#mode").getAttribute("data-mode")) === "local", "local mode badge");
  const alice = pane(page, "alice");
  const bob = pane(page, "bob");
  await waitOnline(alice);
  await waitOnline(bob);
  const text = uniq("no server needed");
  const id = await send(alice, text);
  await row(bob, id).locator(".bubble", { hasText: text }).waitFor();
  await revoke(alice, id, "oops");
  await expectNotice(alice, id, "You revoked a message");
  await expectNotice(bob, id, "alice revoked a message");
  await row(bob, id).locator(".reason", { hasText: "oops" }).waitFor();
  // Offline / online on the embedded hub too.
  await watchPane(page, "bob");
  await bob.getByRole("button", { name: "Take bob offline" }).click();
  await bob.locator('.status:text-is("offline")').waitFor();
  const id2 = await send(alice, uniq("while away"));
  await revoke(alice, id2);
  await expectNotice(alice, id2, "You revoked a message");
  await bob.getByRole("button", { name: "Bring bob back online" }).click();
  await waitOnline(bob);
  await expectNotice(bob, id2, "alice revoked a message");
  await expectLiveCatchUp(page, "bob", id2);
  return [page];
});

spec("embedded LocalHub time limit (?mode=local&limit=4)", async (ctx) => {
  const page = await openDemo(ctx, A.url, "?mode=local&limit=4");
  const alice = pane(page, "alice");
  await waitOnline(alice);
  const id = await send(alice, uniq("quick"));
  const btn = row(alice, id).getByRole("button", { name: /^Revoke this message/ });
  await btn.click();
  await btn.waitFor({ state: "hidden", timeout: 8000 });
  await page.waitForTimeout(1200);
  await row(alice, id).getByRole("button", { name: "Confirm revoke" }).click();
  const errText = await alice.getByRole("alert").textContent();
  expect(/Error (20016|6223)/.test(errText), `a coded time-limit error, got "${errText}"`);
  return [page];
});

// ----- every place a revoked message lives (conversations, replies, search, notifications,
// attachments, reload) -----

/**
 * The conversation list of alice and two devices of bob: previews, badges, the revoked
 * preview, a revoked unread message leaving the counts, a read on one device clearing the other.
 * `total0` is bob's total unread elsewhere (other conversations), unchanged by this.
 */
async function conversationChecks(page, alice, bob, bob2, total0) {
  for (const p of [bob, bob2]) await openConv(p, /Demo group/);
  const t1 = uniq("first of two");
  await send(alice, t1);
  const t2 = uniq("second of two");
  const id2 = await send(alice, t2);
  await expectConv(alice, "c2c_bob", { preview: t2, unread: 0 });
  for (const p of [bob, bob2]) {
    await expectConv(p, "c2c_alice", { preview: t2, unread: 2 });
    await expectTotal(p, total0 + 2);
  }
  await page.screenshot({ path: path.join(RESULTS, `conversations-${page.url().includes("mode=local") ? "local" : "server"}.png`) });
  // Revoking the last message, unread on both of bob's devices.
  await revoke(alice, id2);
  await expectConv(alice, "c2c_bob", { preview: "You revoked a message" });
  for (const p of [bob, bob2]) {
    await expectConv(p, "c2c_alice", { preview: "alice revoked a message", unread: 1 });
    await expectTotal(p, total0 + 1);
    expect((await p.locator(".convs", { hasText: t2 }).count()) === 0, "the revoked text is in no preview");
  }
  // Opening the conversation on one device reads it on both.
  await openConv(bob, /^alice/);
  for (const p of [bob, bob2]) {
    await expectConv(p, "c2c_alice", { unread: 0 });
    await expectTotal(p, total0);
  }
  await page.getByRole("button", { name: "Switch the language to Chinese" }).click();
  await expectConv(alice, "c2c_bob", { preview: "你撤回了一条消息" });
  await expectConv(bob, "c2c_alice", { preview: "对方撤回了一条消息" });
  await page.screenshot({ path: path.join(RESULTS, `conversations-zh-${page.url().includes("mode=local") ? "local" : "server"}.png`) });
  await page.getByRole("button", { name: "切换为英文" }).click();
}

spec("conversation list: previews, unread badges, revoked preview, read on one device clears the other (server)", async (ctx) => {
  const page = await openDemo(ctx, A.url);
  const other = await openDemo(await extraContext(ctx), A.url, "?user=bob");
  const alice = pane(page, "alice");
  const bob = pane(page, "bob");
  const bob2 = pane(other, "bob");
  for (const p of [alice, bob, bob2]) await waitOnline(p);
  // What bob has unread elsewhere (earlier specs' conversations) stays as it is.
  await openConv(bob, /Demo group/);
  await expectConv(bob, "group_demo-group", { unread: 0 });
  await expectConv(bob, "c2c_alice", { unread: 0 });
  const total0 = await moduleTotal(page, "bob");
  await expectTotal(bob2, total0);
  await conversationChecks(page, alice, bob, bob2, total0);
  return [page, other];
});

spec("conversation list on LocalHub (?mode=local): the same, bob on two panes", async (ctx) => {
  const page = await openDemo(ctx, A.url, "?mode=local&users=alice,bob,bob");
  const alice = pane(page, "alice");
  const bob = pane(page, "bob", 0);
  const bob2 = pane(page, "bob", 1);
  for (const p of [alice, bob, bob2]) await waitOnline(p);
  await conversationChecks(page, alice, bob, bob2, 0);
  return [page];
});

/** Bob replies to alice's message; alice revokes the original: the quote reads as revoked. */
async function replyChecks(page, alice, bob) {
  const original = uniq("the meeting is at 3");
  const id = await send(alice, original);
  await row(bob, id).locator(".bubble", { hasText: original }).waitFor();
  await row(bob, id).getByRole("button", { name: "Reply to this message" }).click();
  await bob.locator(".reply-bar", { hasText: "Replying to alice" }).waitFor();
  const answer = uniq("see you there");
  const rid = await send(bob, answer);
  expect(await bob.locator(".reply-bar").isHidden(), "the reply bar closes after sending");
  for (const p of [alice, bob]) {
    const q = row(p, rid).locator(".quote");
    await q.locator(".quote-text", { hasText: original }).waitFor();
    expect((await q.locator(".quote-sender").textContent()) === "alice", "the quote names the original's sender");
  }
  await page.screenshot({ path: path.join(RESULTS, `reply-${page.url().includes("mode=local") ? "local" : "server"}.png`) });
  await revoke(alice, id);
  await expectNotice(bob, id, "alice revoked a message");
  for (const p of [alice, bob]) {
    await row(p, rid).locator(".quote.revoked .quote-text", { hasText: exactly("Original message revoked") }).waitFor();
    await row(p, rid).locator(".bubble", { hasText: answer }).waitFor();
  }
  expect((await page.locator(".quote", { hasText: original }).count()) === 0, "no quote holds the revoked text");
  await page.waitForTimeout(300); // room for a second onRecvMessageModified
  for (const u of ["alice", "bob"]) {
    const heard = (await heardBy(page, u, rid)).filter((k) => k === "onRecvMessageModified");
    expect(heard.length === 1, `${u} heard onRecvMessageModified for the reply once, got ${heard.length}`);
  }
  await page.getByRole("button", { name: "Switch the language to Chinese" }).click();
  await row(bob, rid).locator(".quote-text", { hasText: exactly("原消息已撤回") }).waitFor();
  await page.getByRole("button", { name: "切换为英文" }).click();
  return { id, rid, original };
}

spec("reply: the quote of the original, and 'revoked' in every pane once it is revoked (server)", async (ctx) => {
  const page = await openDemo(ctx, A.url);
  const alice = pane(page, "alice");
  const bob = pane(page, "bob");
  await waitOnline(alice);
  await waitOnline(bob);
  const { rid, original } = await replyChecks(page, alice, bob);
  // Another device loading the history later sees the revoked quote too.
  const other = await openDemo(await extraContext(ctx), A.url, "?user=alice");
  const q = row(pane(other, "alice"), rid).locator(".quote.revoked .quote-text", { hasText: exactly("Original message revoked") });
  await q.waitFor();
  expect((await other.locator(".quote", { hasText: original }).count()) === 0, "history has no quote of the revoked text");
  return [page, other];
});

spec("reply on LocalHub (?mode=local): quote, then revoked quote", async (ctx) => {
  const page = await openDemo(ctx, A.url, "?mode=local");
  const alice = pane(page, "alice");
  const bob = pane(page, "bob");
  await waitOnline(alice);
  await waitOnline(bob);
  await replyChecks(page, alice, bob);
  return [page];
});

async function searchFor(p, user, q) {
  await p.getByRole("searchbox", { name: `Search ${user}'s messages` }).fill(q);
}

/** Alice sends two messages with a keyword and revokes one: search never finds its text. */
async function searchChecks(page, alice, bob) {
  const kw = `kw${Math.random().toString(36).slice(2, 8)}`;
  const id1 = await send(alice, `the first ${kw} of two`);
  const id2 = await send(alice, `and the second ${kw}`);
  await row(bob, id2).locator(".bubble").waitFor();
  for (const [u, p] of [["alice", alice], ["bob", bob]]) {
    await searchFor(p, u, kw);
    await p.locator(".search-count", { hasText: `2 messages with “${kw}”` }).waitFor();
    for (const id of [id1, id2]) await p.locator(`.search-hit[data-msg-id="${id}"]`).waitFor();
  }
  await page.screenshot({ path: path.join(RESULTS, `search-${page.url().includes("mode=local") ? "local" : "server"}.png`) });
  await revoke(alice, id1);
  await expectNotice(bob, id1, "alice revoked a message");
  for (const [u, p] of [["alice", alice], ["bob", bob]]) {
    // The open results drop it at once; a new search does not find it either.
    await p.locator(`.search-hit[data-msg-id="${id1}"]`).waitFor({ state: "detached" });
    await p.locator(".search-count", { hasText: `1 message with “${kw}”` }).waitFor();
    await searchFor(p, u, "");
    await p.locator(".search-results").waitFor({ state: "hidden" });
    await searchFor(p, u, `first ${kw}`);
    await p.locator(".search-count", { hasText: `No messages with “first ${kw}”` }).waitFor();
    await searchFor(p, u, kw);
    await p.locator(`.search-hit[data-msg-id="${id2}"]`).waitFor();
    expect((await p.locator(`.search-hit[data-msg-id="${id1}"]`).count()) === 0, `${u}: the revoked message is not found`);
  }
  // A hit opens its conversation at the message.
  await openConv(bob, /Demo group/);
  await bob.locator(`.search-hit[data-msg-id="${id2}"]`).click();
  await row(bob, id2).locator(".bubble").waitFor();
  expect((await bob.getByRole("tab", { selected: true }).getAttribute("data-conv")) === "c2c_alice", "the hit opened alice's conversation");
}

spec("search: local search finds messages, never revoked text (server)", async (ctx) => {
  const page = await openDemo(ctx, A.url);
  const alice = pane(page, "alice");
  const bob = pane(page, "bob");
  await waitOnline(alice);
  await waitOnline(bob);
  await searchChecks(page, alice, bob);
  return [page];
});

spec("search on LocalHub (?mode=local): revoked text is never found", async (ctx) => {
  const page = await openDemo(ctx, A.url, "?mode=local");
  const alice = pane(page, "alice");
  const bob = pane(page, "bob");
  await waitOnline(alice);
  await waitOnline(bob);
  await searchChecks(page, alice, bob);
  return [page];
});

/** While the page is hidden, bob gets a notification per message (tag = msgID); a revoke closes it. */
async function notificationChecks(page, alice, bob) {
  const chip = page.locator(".chip.notify");
  expect((await chip.textContent()) === "Notifications on", `the permission granted shows, got "${await chip.textContent()}"`);
  const notes = () => page.evaluate(() => window.__notes.map((n) => ({ ...n })));
  const before = (await notes()).length;
  await setHidden(page, true);
  const text1 = uniq("are you there?");
  const id1 = await send(alice, text1);
  const text2 = uniq("call me back");
  const id2 = await send(alice, text2);
  await page.waitForFunction((n) => window.__notes.length >= n + 2, before);
  let got = (await notes()).slice(before);
  expect(got.length === 2, `two notifications, got ${JSON.stringify(got)}`);
  expect(got[0].tag === id1 && got[0].body === text1 && got[0].title === "alice", `the first is tagged with its msgID: ${JSON.stringify(got[0])}`);
  expect(got[1].tag === id2 && !got[1].closed, `the second: ${JSON.stringify(got[1])}`);
  await revoke(alice, id1);
  await expectNotice(bob, id1, "alice revoked a message");
  await page.waitForFunction((id) => window.__notes.some((n) => n.tag === id && n.closed), id1);
  got = (await notes()).slice(before);
  expect(got.length === 2 && got[0].closed && !got[1].closed, `only the revoked one closed: ${JSON.stringify(got)}`);
  // Seen again: no notification for what arrives now.
  await setHidden(page, false);
  const id3 = await send(alice, uniq("back?"));
  await row(bob, id3).locator(".bubble").waitFor();
  await page.waitForTimeout(200);
  expect((await notes()).length === before + 2, "no notification while the page is visible");
  await revoke(alice, id2);
  await page.waitForFunction((id) => window.__notes.some((n) => n.tag === id && n.closed), id2);
}

spec("notification: a hidden tab shows one per message (tag = msgID), revoking closes it (server)", async (ctx) => {
  await ctx.grantPermissions(["notifications"], { origin: A.url });
  await watchNotifications(ctx);
  const page = await openDemo(ctx, A.url);
  const alice = pane(page, "alice");
  const bob = pane(page, "bob");
  await waitOnline(alice);
  await waitOnline(bob);
  await notificationChecks(page, alice, bob);
  return [page];
});

spec("notification on LocalHub (?mode=local): shown while hidden, closed on revoke", async (ctx) => {
  await ctx.grantPermissions(["notifications"], { origin: A.url });
  await watchNotifications(ctx);
  const page = await openDemo(ctx, A.url, "?mode=local");
  const alice = pane(page, "alice");
  const bob = pane(page, "bob");
  await waitOnline(alice);
  await waitOnline(bob);
  await notificationChecks(page, alice, bob);
  return [page];
});

/** Records the upload progress pane `user` is told (onProgress through the demo). */
async function watchProgress(page, user) {
  await page.evaluate((user) => {
    const p = window.demo.panes.find((p) => p.user === user);
    const set = p.setProgress.bind(p);
    window.__progress = [];
    p.setProgress = (id, f) => (window.__progress.push(f), set(id, f));
  }, user);
}

/** Alice sends an image (button), bob a file (drag-and-drop); both revoked; returns the URLs bob and alice had. */
async function attachmentChecks(page, alice, bob, server) {
  await watchProgress(page, "alice");
  await alice.locator('input[type="file"]').setInputFiles({ name: "photo.png", mimeType: "image/png", buffer: await pngBytes(page, 320, 240) });
  const mine = alice.locator(".row.self", { has: page.locator("img.thumb") }).last();
  await mine.waitFor();
  await mine.locator(".state").waitFor({ state: "detached" });
  const id = await mine.getAttribute("data-msg-id");
  const progress = await page.evaluate(() => window.__progress);
  expect(progress.length > 0 && progress.at(-1) === 1, `upload progress reported up to 1, got ${JSON.stringify(progress)}`);
  expect(progress.every((f, i) => i === 0 || f >= progress[i - 1]), `progress never goes back: ${JSON.stringify(progress)}`);
  const img = row(bob, id).locator("img.thumb");
  await img.waitFor();
  await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
  const thumbURL = await img.evaluate((el) => el.src);
  const originalURL = await row(bob, id).locator(".bubble.image a").evaluate((el) => el.href);
  for (const u of [thumbURL, originalURL]) {
    expect((await fetchStatus(page, u)) === 200, `bob's image URL loads before the revoke: ${u}`);
  }
  // A file dropped onto bob's pane.
  const content = "notes for the meeting\n".repeat(100);
  const dt = await page.evaluateHandle((content) => {
    const d = new DataTransfer();
    d.items.add(new File([content], "notes.txt", { type: "text/plain" }));
    return d;
  }, content);
  await bob.locator(".messages").dispatchEvent("dragenter", { dataTransfer: dt });
  expect(await bob.evaluate((el) => el.classList.contains("dropping")), "the pane shows where to drop");
  await bob.locator(".messages").dispatchEvent("drop", { dataTransfer: dt });
  const card = alice.locator(".bubble.file", { hasText: "notes.txt" }).last();
  await card.waitFor();
  const fid = await card.evaluate((el) => el.closest(".row").dataset.msgId);
  expect((await card.locator(".file-size").textContent()) === `${(content.length / 1024).toFixed(1)} KB`, "the card shows the size");
  const fileURL = await card.locator("a.file-link").evaluate((el) => el.href);
  const body = await page.evaluate((u) => fetch(u).then((r) => r.text()), fileURL);
  expect(body === content, "alice downloads the file's bytes");
  await page.screenshot({ path: path.join(RESULTS, `attachments-${server ? "server" : "local"}.png`) });
  // Revoked: gone from every pane, and the URLs the receiver had stop serving.
  await revoke(alice, id);
  await revoke(bob, fid);
  for (const p of [alice, bob]) {
    await row(p, id).locator(".notice").waitFor();
    await row(p, fid).locator(".notice").waitFor();
    expect((await row(p, id).locator("img").count()) === 0, "no image left in the row");
    expect((await row(p, fid).locator(".bubble.file").count()) === 0, "no file card left in the row");
  }
  for (const u of [thumbURL, originalURL, fileURL]) {
    const st = await fetchStatus(page, u);
    expect(server ? st === 410 || st === 404 : st === "error", `${u} after the revoke: ${st}`);
  }
}

spec("attachment: image (button) and file (drag-and-drop), progress, then gone after revoke, URLs 410/404 (server)", async (ctx) => {
  const page = await openDemo(ctx, A.url);
  const alice = pane(page, "alice");
  const bob = pane(page, "bob");
  await waitOnline(alice);
  await waitOnline(bob);
  await attachmentChecks(page, alice, bob, true);
  return [page];
});

spec("attachment on LocalHub (?mode=local): object URLs revoked with the message", async (ctx) => {
  const page = await openDemo(ctx, A.url, "?mode=local");
  const alice = pane(page, "alice");
  const bob = pane(page, "bob");
  await waitOnline(alice);
  await waitOnline(bob);
  await attachmentChecks(page, alice, bob, false);
  return [page];
});

/**
 * Opens the demo with every frame from the server after `loginOk` held back until
 * `held.release()`: what the page shows meanwhile came from the browser's store.
 */
async function openHeld(ctx, base, query) {
  const page = await ctx.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  const held = { on: true, frames: [], release: () => {} };
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => server.send(m));
    server.onMessage((m) => {
      if (held.on && !String(m).includes('"type":"loginOk"')) held.frames.push(m);
      else ws.send(m);
    });
    held.release = () => {
      held.on = false;
      for (const m of held.frames.splice(0)) ws.send(m);
    };
  });
  await page.goto(`${base}/${query}&lang=en`);
  return { page, held };
}

spec("reload: a revoke made while the page was closed is told once, the tombstone comes from the store; an offline message is sent once after a reload", async (ctx) => {
  const alicePage = await openDemo(ctx, A.url, "?user=alice");
  const alice = pane(alicePage, "alice");
  let bobPage = await openDemo(ctx, A.url, "?user=bob");
  await waitOnline(alice);
  await waitOnline(pane(bobPage, "bob"));
  const text = uniq("shown, then revoked while bob was away");
  const id = await send(alice, text);
  await row(pane(bobPage, "bob"), id).locator(".bubble", { hasText: text }).waitFor();
  await waitStore(bobPage, "bob", (s) => s.texts.some((j) => j.includes(text)), "held the message");
  await bobPage.close();
  await revoke(alice, id, "not for you");
  await expectNotice(alice, id, "You revoked a message");
  // Bob's page again: every render is watched from the first, for the text and the message's row.
  await ctx.addInitScript(
    ({ text, id }) => {
      const seen = (window.__seen = { text: false, firstRow: null });
      new MutationObserver(() => {
        if (!document.body) return;
        if (!seen.text && document.body.textContent.includes(text)) seen.text = true;
        if (seen.firstRow === null) {
          const r = document.querySelector(`.row[data-msg-id="${id}"]`);
          if (r) seen.firstRow = r.querySelector(".notice") ? "notice" : r.textContent;
        }
      }).observe(document, { childList: true, subtree: true, characterData: true });
    },
    { text, id },
  );
  // 1. Reopened: the store's copy shows at once (the server's frames are held back), then the
  //    revoke made meanwhile arrives once and the text leaves the store.
  let opened = await openHeld(ctx, A.url, "?user=bob");
  bobPage = opened.page;
  let bob = pane(bobPage, "bob");
  await row(bob, id)
    .waitFor()
    .catch(() => {
      throw new Check(`before the server answered, bob's page did not show the stored history (${opened.held.frames.length} frames held)`);
    });
  const first = await bobPage.evaluate(() => window.__seen);
  opened.held.release();
  await expectNotice(bob, id, "alice revoked a message");
  await row(bob, id).locator(".reason", { hasText: "not for you" }).waitFor();
  await bobPage.waitForSelector('body[data-ready="true"]');
  await bobPage.waitForTimeout(300); // room for a duplicate
  let heard = (await heardBy(bobPage, "bob", id)).filter((k) => k === "onRecvMessageRevoked");
  expect(heard.length === 1, `after the reopen onRecvMessageRevoked came ${heard.length} times`);
  await waitStore(bobPage, "bob", (s) => !s.texts.some((j) => j.includes(text)), "dropped the revoked text");
  log(`      first render after the reopen, before the server answered: ${first.firstRow === "notice" ? "the notice" : "the stored message"}`);
  // 2. Reloaded: the tombstone is in the store, shown before the server says anything; no
  //    second revoke event.
  opened.held.on = true;
  await bobPage.reload();
  await row(bob, id)
    .locator(".notice")
    .waitFor()
    .catch(() => {
      throw new Check(`before the server answered, bob's page did not show the stored tombstone (${opened.held.frames.length} frames held)`);
    });
  const seen = await bobPage.evaluate(() => window.__seen);
  expect(seen.firstRow === "notice", `the first render of the message is the notice, got ${JSON.stringify(seen.firstRow)}`);
  expect(!seen.text, "the revoked text never showed");
  opened.held.release();
  await bobPage.waitForSelector('body[data-ready="true"]');
  await waitOnline(bob);
  await bobPage.waitForTimeout(300); // room for a duplicate
  heard = (await heardBy(bobPage, "bob", id)).filter((k) => k === "onRecvMessageRevoked");
  expect(heard.length === 0, `after the second reload onRecvMessageRevoked came ${heard.length} times (once in all)`);
  expect(!(await bobPage.evaluate(() => window.__seen.text)), "the revoked text never showed");
  await bobPage.screenshot({ path: path.join(RESULTS, "reload-tombstone.png") });
  // 3. Offline: a message typed and sent, and a revoke of one sent before, wait in the outbox;
  //    a reload keeps both; each goes out once, the revoke after the reload too.
  opened.held.on = false;
  const earlier = uniq("sent, then revoked while offline");
  const eid = await send(bob, earlier);
  await row(alice, eid).locator(".bubble", { hasText: earlier }).waitFor();
  await bob.getByRole("button", { name: "Take bob offline" }).click();
  await bob.locator('.status:text-is("offline")').waitFor();
  const queued = uniq("typed while offline");
  await bob.getByRole("textbox", { name: /^Message to / }).fill(queued);
  await bob.getByRole("button", { name: /^Send as / }).click();
  const qrow = bob.locator(".row.self", { hasText: queued });
  await qrow.locator(".state", { hasText: "sending…" }).waitFor();
  const qid = await qrow.getAttribute("data-msg-id");
  await revoke(bob, eid, "queued revoke");
  await waitStore(bobPage, "bob", (s) => JSON.stringify(s.meta?.outbox || []).includes(qid), "kept the unsent message in its outbox");
  await waitStore(
    bobPage,
    "bob",
    (s) => (JSON.stringify(s.meta?.outbox || []).match(new RegExp(eid, "g")) || []).length > 0,
    "kept the queued revoke in its outbox",
  );
  expect((await row(alice, qid).count()) === 0, "alice has nothing yet");
  expect((await row(alice, eid).locator(".notice").count()) === 0, "alice has no revoke yet");
  await bobPage.reload();
  await bobPage.waitForSelector('body[data-ready="true"]');
  await waitOnline(bob);
  await row(alice, qid).locator(".bubble", { hasText: queued }).waitFor();
  await row(bob, qid).locator(".bubble", { hasText: queued }).waitFor();
  await row(bob, qid).locator(".state").waitFor({ state: "detached" });
  await expectNotice(alice, eid, "bob revoked a message");
  await row(alice, eid).locator(".reason", { hasText: "queued revoke" }).waitFor();
  await expectNotice(bob, eid, "You revoked a message");
  await alicePage.waitForTimeout(300); // room for a duplicate
  const got = (await heardBy(alicePage, "alice", qid)).filter((k) => k === "onRecvNewMessage");
  expect(got.length === 1, `alice heard the queued message ${got.length} times`);
  const gotRevoke = (await heardBy(alicePage, "alice", eid)).filter((k) => k === "onRecvMessageRevoked");
  expect(gotRevoke.length === 1, `alice heard the queued revoke ${gotRevoke.length} times`);
  expect((await alice.locator(".bubble", { hasText: queued }).count()) === 1, "one bubble at alice");
  // The server has it once: a fresh load of alice's history.
  const fresh = await openDemo(await extraContext(ctx), A.url, "?user=alice");
  await row(pane(fresh, "alice"), qid).locator(".bubble", { hasText: queued }).waitFor();
  expect((await pane(fresh, "alice").locator(".bubble", { hasText: queued }).count()) === 1, "history holds it once");
  return [alicePage, bobPage, fresh];
});

spec("storage blocked: no IndexedDB, the client runs in memory, says so, and chat works (server)", async (ctx) => {
  const alicePage = await openDemo(ctx, A.url, "?user=alice");
  const alice = pane(alicePage, "alice");
  // Bob's browser refuses storage, as a private window or a blocked site does.
  const blocked = await extraContext(ctx);
  await blocked.addInitScript(() => {
    Object.defineProperty(window, "indexedDB", {
      configurable: true,
      get() {
        throw new DOMException("storage is blocked (test)", "SecurityError");
      },
    });
  });
  const told = [];
  const bobPage = await blocked.newPage();
  bobPage.on("console", (m) => told.push(m.text()));
  bobPage.setDefaultTimeout(STEP_TIMEOUT_MS);
  bobPage.errors = [];
  bobPage.on("pageerror", (e) => bobPage.errors.push(String(e)));
  await bobPage.goto(`${A.url}/?user=bob&lang=en`);
  await bobPage.waitForSelector('body[data-ready="true"], .boot-error');
  expect((await bobPage.locator(".boot-error").count()) === 0, "the demo started without storage");
  const bob = pane(bobPage, "bob");
  await waitOnline(alice);
  await waitOnline(bob);
  const storage = await bobPage.evaluate(() => window.demo.panes.find((p) => p.user === "bob").client.storage);
  expect(storage === "memory", `the client runs in memory (storage: ${storage})`);
  expect(told.some((t) => /storage/i.test(t)), `the page was told why (${told.join(" | ")})`);
  const text = uniq("no store, still chatting");
  const id = await send(bob, text);
  await row(alice, id).locator(".bubble", { hasText: text }).waitFor();
  await revoke(bob, id, "blocked store");
  await expectNotice(alice, id, "bob revoked a message");
  await expectNotice(bob, id, "You revoked a message");
  // A reload with no store: history comes from the server, the revoke included.
  await bobPage.reload();
  await bobPage.waitForSelector('body[data-ready="true"]');
  await waitOnline(bob);
  await expectNotice(bob, id, "You revoked a message");
  expect(bobPage.errors.length === 0, `no page errors: ${bobPage.errors.join(" | ")}`);
  return [alicePage, bobPage];
});

spec("two tabs: when the writing tab closes, the reading tab takes the store over and sends what the closed tab left unsent, once (server)", async (ctx) => {
  const alicePage = await openDemo(ctx, A.url, "?user=alice");
  const alice = pane(alicePage, "alice");
  const tab1 = await openDemo(ctx, A.url, "?user=bob");
  const bob1 = pane(tab1, "bob");
  await waitOnline(alice);
  await waitOnline(bob1);
  const tab2 = await openDemo(ctx, A.url, "?user=bob");
  const told = [];
  tab2.on("console", (m) => told.push(m.text()));
  const bob2 = pane(tab2, "bob");
  await waitOnline(bob2);
  const storageOf = (page) => page.evaluate(() => window.demo.panes.find((p) => p.user === "bob").client.storage);
  expect((await storageOf(tab1)) === "indexeddb", "the first tab writes the store");
  expect((await storageOf(tab2)) === "memory", "the second tab only reads it");
  // The writing tab goes offline with a message typed: it waits in that tab's outbox.
  await bob1.getByRole("button", { name: "Take bob offline" }).click();
  await bob1.locator('.status:text-is("offline")').waitFor();
  const queued = uniq("typed in the tab that then closed");
  await bob1.getByRole("textbox", { name: /^Message to / }).fill(queued);
  await bob1.getByRole("button", { name: /^Send as / }).click();
  const qrow = bob1.locator(".row.self", { hasText: queued });
  await qrow.locator(".state", { hasText: "sending…" }).waitFor();
  const qid = await qrow.getAttribute("data-msg-id");
  await waitStore(tab1, "bob", (s) => JSON.stringify(s.meta?.outbox || []).includes(qid), "kept the unsent message in its outbox");
  await tab1.close();
  // The reading tab gets the lock, takes the store over, and the message goes out from there.
  await row(alice, qid).locator(".bubble", { hasText: queued }).waitFor();
  await alicePage.waitForTimeout(300); // room for a duplicate
  const got = (await heardBy(alicePage, "alice", qid)).filter((k) => k === "onRecvNewMessage");
  expect(got.length === 1, `alice heard the closed tab's message ${got.length} times`);
  expect((await storageOf(tab2)) === "indexeddb", "the second tab now writes the store");
  expect(told.some((t) => t.includes("storage writer")), `the second tab was told it writes the store now (${told.filter((t) => t.includes("storage")).join(" | ")})`);
  await waitStore(
    tab2,
    "bob",
    (s) => !JSON.stringify(s.meta?.outbox || []).includes(qid) && s.texts.some((j) => j.includes(queued)),
    "was written by the new writer (the message kept, the outbox empty)",
  );
  return [alicePage, tab2];
});

spec(
  "Vite example app on the packed module: logs in, sends, revokes, sees the revoke",
  async (ctx) => {
    const app = path.join(ROOT, "examples", "vite-app");
    const vendor = path.join(app, "vendor");
    fs.mkdirSync(vendor, { recursive: true });
    // A fresh tarball of pkg/, under a fixed name (package.json: "file:vendor/im-revoke.tgz").
    const packed = spawnSync("npm", ["pack", PKG, "--pack-destination", vendor, "--json"], {
      cwd: app,
      encoding: "utf8",
    });
    if (packed.status !== 0) throw new Error(`npm pack failed:\n${packed.stderr}`);
    const file = JSON.parse(packed.stdout)[0].filename;
    fs.renameSync(path.join(vendor, path.basename(file)), path.join(vendor, "im-revoke.tgz"));
    // npm ci installs exactly the lock; the lock holds no checksum for the local tarball, so
    // the fresh one is unpacked every time.
    run("npm", ["ci", "--no-audit", "--no-fund", "--prefer-offline"], { cwd: app });
    run("npx", ["--no-install", "vite", "build", "--logLevel", "warn"], { cwd: app });
    const base = await serveStatic(path.join(app, "dist"));
    const outcomes = [];
    // Over the embedded hub, then over the test server with dev UserSigs minted here.
    const sig = async (u) => (await (await fetch(`${A.url}/dev/usersig?userID=${u}`)).json()).userSig;
    const ws = A.url.replace(/^http/, "ws") + "/ws";
    const queries = [
      "",
      `?ws=${encodeURIComponent(ws)}&aliceSig=${encodeURIComponent(await sig("vite-alice"))}&bobSig=${encodeURIComponent(await sig("vite-bob"))}`,
    ];
    const pages = [];
    for (const q of queries) {
      const page = await ctx.newPage();
      page.setDefaultTimeout(STEP_TIMEOUT_MS);
      page.errors = [];
      page.on("pageerror", (e) => page.errors.push(String(e)));
      await page.goto(`${base}/${q}`);
      const out = page.locator("#outcome[data-status]");
      await out.waitFor();
      const status = await out.getAttribute("data-status");
      const detail = await out.textContent();
      outcomes.push(`${q ? "server" : "local"}: ${status}`);
      expect(status === "pass", `example app (${q ? "server" : "local"}) says: ${detail}`);
      pages.push(page);
    }
    log(`      ${outcomes.join(", ")}`);
    return pages;
  },
  240_000,
);

inGroup("tencent-app", () => tencentSpecs(spec, () => ({ A, B, SHORT_LIMIT_S, PKG, expect })));

// ----- runner --------------------------------------------------------------------------------

async function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Each spec in its own browser context: its own storage, nothing shared. Returns passed. */
async function runSpec(browser, s) {
  const t0 = Date.now();
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  let pages = [];
  try {
    pages = (await withTimeout(s.fn(ctx), s.timeoutMs, "spec")) || [];
    const errors = pages.flatMap((p) => p.errors || []);
    if (errors.length) throw new Check(`uncaught errors in the page: ${errors.join(" | ")}`);
    log(`  ✓ ${s.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return true;
  } catch (e) {
    log(`  ✗ ${s.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n      ${String(e.message || e).split("\n").join("\n      ")}`);
    try {
      fs.mkdirSync(RESULTS, { recursive: true });
      const open = ctx.pages();
      for (let i = 0; i < open.length; i++) {
        const shot = path.join(RESULTS, `failed-${specs.indexOf(s) + 1}-${i}.png`);
        await open[i].screenshot({ path: shot, fullPage: true, timeout: 5000 });
        log(`      screenshot: ${path.relative(ROOT, shot)}`);
      }
    } catch {
      // no screenshot then
    }
    return false;
  } finally {
    for (const c of extraContexts.splice(0)) await c.close().catch(() => {});
    await ctx.close().catch(() => {});
  }
}

/** This process's two servers (default and short revoke limit) and its Chromium. */
async function setUp(bin) {
  [A, B] = await Promise.all([startServer(bin, "default", 120), startServer(bin, "short", SHORT_LIMIT_S)]);
  log(`servers: ${A.url} (revoke limit 120 s), ${B.url} (${SHORT_LIMIT_S} s); data in ${TMP}`);
  context = await chromium.launchPersistentContext(path.join(TMP, "chromium-profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
  });
  return context.browser();
}

/** Stops the browser and the servers; after a failure, prints the servers' warnings. */
async function tearDown(failed) {
  await context?.close().catch(() => {});
  for (const s of httpServers) s.close();
  for (const c of [...children]) await stopChild(c);
  for (const srv of [A, B]) {
    if (!srv || !failed) continue;
    const text = fs.existsSync(srv.logPath)
      ? fs
          .readFileSync(srv.logPath, "utf8")
          .split("\n")
          .filter((l) => l.trim() && !l.startsWith("*")) // not the dev-mode banner
          .join("\n")
      : "";
    if (text) log(`--- ${srv.name} server log (warnings and errors) ---\n${text.split("\n").slice(-30).join("\n")}`);
  }
}

// ----- lanes: the specs spread over several processes ----------------------------------------
//
// With E2E_LANES=N (default 2), N lane processes (this file with E2E_LANE set) each start their
// own two servers (own ports, own databases) and their own Chromium, and take specs from a
// queue: the parent writes "RUN i j ..." (spec indices) to a lane's stdin, the lane runs them and
// ends their output with a line "<MARK>DONE passed failed"; its output is printed whole per
// batch, so no two specs' lines are interleaved. A spec counts as passed only when its lane
// said so: one that a lane never ran (set-up failed, lane died) counts as failed.

const MARK = "\u001e e2e-lane ";
const LANES = Math.max(1, Number(process.env.E2E_LANES || 2) || 1);

/** A lane process: set up, then run the batches its stdin names until stdin ends. */
async function laneMain() {
  let failed = 0;
  try {
    const browser = await setUp(process.env.E2E_SERVER_BIN);
    process.stdout.write(`${MARK}READY\n`);
    const rl = (await import("node:readline")).createInterface({ input: process.stdin });
    for await (const line of rl) {
      if (!line.startsWith("RUN ")) continue;
      let p = 0;
      let f = 0;
      for (const i of line.slice(4).trim().split(" ").map(Number)) {
        if (await runSpec(browser, specs[i])) p++;
        else f++;
      }
      failed += f;
      process.stdout.write(`${MARK}DONE ${p} ${f}\n`);
    }
  } catch (e) {
    failed++;
    log(`  ✗ set-up: ${e.stack || e}`);
    process.stdout.write(`${MARK}FAILED\n`);
  } finally {
    await tearDown(failed > 0);
  }
  process.exitCode = failed ? 1 : 0;
}

/** The parent: starts the lanes, hands out batches (largest first), prints, counts. */
async function runLanes(selected, bin, nLanes) {
  // Batches: a group's specs together, in their order; every other spec on its own.
  const batches = [];
  const byGroup = new Map();
  for (const s of selected) {
    const i = specs.indexOf(s);
    if (!s.group) batches.push([i]);
    else if (byGroup.has(s.group)) byGroup.get(s.group).push(i);
    else {
      const b = [i];
      byGroup.set(s.group, b);
      batches.push(b);
    }
  }
  batches.sort((x, y) => y.length - x.length); // stable: the groups first, then in order
  const queue = [...batches];
  let passed = 0;
  let setUpFailed = 0;
  const lanes = [];
  for (let n = 1; n <= nLanes; n++) {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
      cwd: ROOT,
      stdio: ["pipe", "pipe", "inherit"],
      env: { ...process.env, E2E_LANE: String(n), E2E_SERVER_BIN: bin },
    });
    child.isLane = true;
    children.add(child);
    lanes.push(
      new Promise((resolve) => {
        let buf = "";
        let pending = "";
        const next = () => {
          const b = queue.shift();
          if (b) child.stdin.write(`RUN ${b.join(" ")}\n`);
          else child.stdin.end();
        };
        const flush = () => {
          if (buf) process.stdout.write(buf.replace(/\n$/, "").split("\n").map((l) => `[lane ${n}] ${l}\n`).join(""));
          buf = "";
        };
        child.stdout.on("data", (d) => {
          pending += d;
          let k;
          while ((k = pending.indexOf("\n")) >= 0) {
            const line = pending.slice(0, k);
            pending = pending.slice(k + 1);
            if (!line.startsWith(MARK)) {
              buf += line + "\n";
              continue;
            }
            const [what, p] = line.slice(MARK.length).split(" ");
            if (what === "READY") flush();
            if (what === "DONE") {
              passed += Number(p);
              flush();
            }
            if (what === "FAILED") {
              setUpFailed++;
              flush();
              continue;
            }
            next();
          }
        });
        child.once("exit", (code, sig) => {
          buf += pending;
          flush();
          if (code !== 0 && code !== 1) log(`[lane ${n}] exited (${code ?? sig})`);
          children.delete(child);
          resolve();
        });
      }),
    );
  }
  await Promise.all(lanes);
  return { passed, failed: selected.length - passed + setUpFailed };
}

async function main() {
  const started = Date.now();
  let passed = 0;
  let failed = 0;
  const selected = specs.filter((s) => !GREP || GREP.test(s.name));
  fs.mkdirSync(RESULTS, { recursive: true });
  for (const f of fs.readdirSync(RESULTS)) {
    if (f.startsWith("failed-")) fs.rmSync(path.join(RESULTS, f)); // from an earlier run
  }
  const nLanes = Math.min(LANES, new Set(selected.map((s) => s.group || s.name)).size);
  if (nLanes > 1) {
    try {
      ensurePkg();
      const bin = ensureServer();
      log(`e2e: ${selected.length} specs in ${nLanes} lanes (E2E_LANES=1 for one), each with its own servers and Chromium`);
      ({ passed, failed } = await runLanes(selected, bin, nLanes));
    } catch (e) {
      failed = Math.max(failed, 1);
      log(`  ✗ set-up: ${e.stack || e}`);
    }
  } else {
    try {
      ensurePkg();
      const browser = await setUp(ensureServer());
      for (const s of selected) {
        if (await runSpec(browser, s)) passed++;
        else failed++;
      }
    } catch (e) {
      failed++;
      log(`  ✗ set-up: ${e.stack || e}`);
    } finally {
      await tearDown(failed > 0);
    }
  }
  log(`\ne2e: ${selected.length} specs in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

if (process.env.E2E_LANE) laneMain();
else main();
