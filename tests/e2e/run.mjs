#!/usr/bin/env node
// End-to-end tests: the demo (www/) in headless Chromium against the real server, the
// embedded LocalHub mode, and the Vite example app built on the packed module.
//
//   node tests/e2e/run.mjs            all specs
//   E2E_GREP=offline node tests/e2e/run.mjs   only specs whose name matches
//
// It builds what is missing or stale (pkg/ with scripts/build.sh, the server with cargo),
// starts its own servers on ephemeral loopback ports with temporary databases — one with the
// default revoke limit, one with a short one for the time-limit spec — runs the specs, prints
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
      c.kill("SIGKILL");
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
 * The server binary: the release build if there is one (what `npm start` uses), else the
 * debug one (what `cargo test` leaves), else a new release build. Cargo rebuilds it if stale.
 */
function ensureServer() {
  const target = process.env.CARGO_TARGET_DIR || path.join(ROOT, "target");
  const profile =
    process.env.E2E_PROFILE ||
    (fs.existsSync(path.join(target, "release", "im-revoke-server"))
      ? "release"
      : fs.existsSync(path.join(target, "debug", "im-revoke-server"))
        ? "debug"
        : "release");
  const args = ["build", "-p", "im-revoke-server"];
  if (profile === "release") args.push("--release");
  run("cargo", args);
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

// ----- the specs -----------------------------------------------------------------------------

const specs = [];
function spec(name, fn, timeoutMs = SPEC_TIMEOUT_MS) {
  specs.push({ name, fn, timeoutMs });
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

tencentSpecs(spec, () => ({ A, B, SHORT_LIMIT_S, PKG, expect }));

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

async function main() {
  const started = Date.now();
  let passed = 0;
  let failed = 0;
  const selected = specs.filter((s) => !GREP || GREP.test(s.name));
  fs.mkdirSync(RESULTS, { recursive: true });
  for (const f of fs.readdirSync(RESULTS)) {
    if (f.startsWith("failed-")) fs.rmSync(path.join(RESULTS, f)); // from an earlier run
  }
  try {
    ensurePkg();
    const bin = ensureServer();
    [A, B] = await Promise.all([startServer(bin, "default", 120), startServer(bin, "short", SHORT_LIMIT_S)]);
    log(`servers: ${A.url} (revoke limit 120 s), ${B.url} (${SHORT_LIMIT_S} s); data in ${TMP}`);
    context = await chromium.launchPersistentContext(path.join(TMP, "chromium-profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 800 },
    });
    const browser = context.browser();
    for (const s of selected) {
      const t0 = Date.now();
      // Each spec in its own browser context: its own storage, nothing shared.
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      let pages = [];
      try {
        pages = (await withTimeout(s.fn(ctx), s.timeoutMs, "spec")) || [];
        const errors = pages.flatMap((p) => p.errors || []);
        if (errors.length) throw new Check(`uncaught errors in the page: ${errors.join(" | ")}`);
        passed++;
        log(`  ✓ ${s.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      } catch (e) {
        failed++;
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
      } finally {
        for (const c of extraContexts.splice(0)) await c.close().catch(() => {});
        await ctx.close().catch(() => {});
      }
    }
  } catch (e) {
    failed++;
    log(`  ✗ set-up: ${e.stack || e}`);
  } finally {
    await context?.close().catch(() => {});
    for (const s of httpServers) s.close();
    for (const c of [...children]) await stopChild(c);
    for (const srv of [A, B]) {
      if (!srv || failed === 0) continue;
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
  log(`\ne2e: ${selected.length} specs in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

main();
