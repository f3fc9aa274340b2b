// End-to-end specs of `im-revoke/tencent`: examples/tencent-app, a small app written against
// Tencent's web SDK that imports "im-revoke/tencent" instead of "@tencentcloud/chat", is built
// by Vite on the packed module (as an app installs it) and runs in Chromium on the embedded
// LocalHub and against the server. Registered by run.mjs, which owns the servers and the browser:
//
//   import { tencentSpecs } from "./tencent.mjs";
//   tencentSpecs(spec, () => ({ A, B, SHORT_LIMIT_S, PKG, expect }));
//
// The built app is served from a loopback server of its own (a page from loopback may open a
// WebSocket to the loopback test servers), which each spec stops when it ends.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const APP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../examples/tencent-app");
const RESULTS = path.resolve(APP, "../../test-results");
const LOCAL_SHORT_LIMIT_S = 2;
const MIME = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".wasm": "application/wasm" };

function sh(cmd, args, opts = {}) {
  console.log(`$ ${cmd} ${args.join(" ")}`);
  const r = spawnSync(cmd, args, { cwd: APP, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status ?? r.signal})`);
  return r.stdout;
}

let built = null;
/** Packs `pkg` into the example (vendor/im-revoke.tgz), installs its lock and builds it; once per run. */
function buildApp(pkg) {
  if (built) return built;
  const vendor = path.join(APP, "vendor");
  fs.mkdirSync(vendor, { recursive: true });
  const file = JSON.parse(sh("npm", ["pack", pkg, "--pack-destination", vendor, "--json"]))[0].filename;
  fs.renameSync(path.join(vendor, path.basename(file)), path.join(vendor, "im-revoke.tgz"));
  sh("npm", ["ci", "--no-audit", "--no-fund", "--prefer-offline"], { stdio: ["ignore", "ignore", "inherit"] });
  sh("npx", ["--no-install", "vite", "build", "--logLevel", "warn"], { stdio: ["ignore", "inherit", "inherit"] });
  built = path.join(APP, "dist");
  return built;
}

/** Serves `dir` on 127.0.0.1; resolves with `{ url, close }`. */
function serveDir(dir) {
  const server = http.createServer((req, res) => {
    let file = path.normalize(path.join(dir, decodeURIComponent(new URL(req.url, "http://x").pathname)));
    if (file === dir || file === dir + path.sep) file = path.join(dir, "index.html");
    if (!file.startsWith(dir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": MIME[path.extname(file)] || "application/octet-stream" });
    res.end(fs.readFileSync(file));
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        close: () => {
          server.close();
          server.closeAllConnections();
        },
      }),
    );
  });
}

async function openApp(ctx, web) {
  const page = await ctx.newPage();
  page.setDefaultTimeout(10_000);
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  await page.goto(`${web.url}/`);
  await page.waitForSelector('body[data-loaded="true"]', { state: "attached" });
  return page;
}

/** Two fresh userIDs (the server is shared with the other specs) and how they log in. */
async function users(server, mode) {
  const tag = Math.random().toString(36).slice(2, 8);
  const [a, b] = [`tc-alice-${tag}`, `tc-bob-${tag}`];
  if (mode === "local") return { a, b, sigs: { [a]: "", [b]: "" } };
  const sig = async (u) => (await (await fetch(`${server.url}/dev/usersig?userID=${u}`)).json()).userSig;
  return { a, b, sigs: { [a]: await sig(a), [b]: await sig(b) } };
}

function config(server, mode, sigs, limit) {
  return { mode, sigs, limit, url: server.url.replace(/^http/, "ws") + "/ws" };
}

/** Waits until `user`'s bubble of `ID` reads exactly `text`. */
async function bubble(page, user, ID, text, expect) {
  const li = page.locator(`section[data-user="${user}"] .messages li[data-id="${ID}"]`);
  await li.waitFor();
  await page
    .waitForFunction(([sel, t]) => document.querySelector(sel)?.textContent === t, [`section[data-user="${user}"] .messages li[data-id="${ID}"]`, text])
    .catch(async () => expect(false, `${user}'s bubble of ${ID} reads "${text}"; it reads "${await li.textContent()}"`));
}

/** `tapp.outcome(f)` in the page, where `f` is the source of a function of `(tapp, arg)`. */
function attempt(page, body, arg) {
  return page.evaluate(([body, arg]) => window.tapp.outcome(() => new Function("tapp", "arg", body)(window.tapp, arg)), [body, arg]);
}

async function expectCode(page, what, body, arg, code, expect) {
  const r = await attempt(page, body, arg);
  expect(r.code === code && r.isError, `${what}: a real Error with code ${code}; got ${JSON.stringify(r)}`);
  return r;
}

function moduleHas(page, feature) {
  return page.evaluate((f) => window.tapp.moduleHas(f), feature);
}

/** The whole app over one host: send, receive, revoke, history, conversations, codes, logout. */
async function scenario(ctx, web, server, mode, expect) {
  const page = await openApp(ctx, web);
  const { a, b, sigs } = await users(server, mode);
  const started = await page.evaluate((cfg) => window.tapp.start(cfg), config(server, mode, sigs));
  for (const u of [a, b]) {
    expect(started[u].code === 0 && started[u].repeatLogin === false && started[u].ready, `${u} logged in: ${JSON.stringify(started[u])}`);
  }
  const again = await page.evaluate(
    async ([a, sig]) => (await window.tapp.windows[a].chat.login({ userID: a, userSig: sig })).data.repeatLogin,
    [a, sigs[a]],
  );
  expect(again === true, "a second login of the same user answers repeatLogin: true");
  const net = await page.evaluate((a) => window.tapp.windows[a].netStates, a);
  expect(net[0] === "connected", `NET_STATE_CHANGE said "connected" at login, got ${JSON.stringify(net)}`);

  // Send and receive, both ways.
  const hello = await page.evaluate(([a, b]) => window.tapp.windows[a].send(b, "hello, are you there?"), [a, b]);
  expect(hello.code === 0 && hello.same && hello.status === "success" && hello.flow === "out", `sendMessage resolved { code: 0, data: { message } } with the same object: ${JSON.stringify(hello)}`);
  expect(hello.conversationID === `C2C${b}`, `conversationID is C2C<userID>: ${hello.conversationID}`);
  await bubble(page, b, hello.ID, `${a}: hello, are you there?`, expect);
  const reply = await page.evaluate(([a, b]) => window.tapp.windows[b].send(a, "yes, here"), [a, b]);
  await bubble(page, a, reply.ID, `${b}: yes, here`, expect);

  // getMessageList: oldest first, paged with nextReqMessageID, the objects the app holds.
  const history = await page.evaluate(
    async ([a, b, helloID]) => {
      const w = window.tapp.windows[a];
      const first = await w.chat.getMessageList({ conversationID: `C2C${b}`, count: 1 });
      const second = await w.chat.getMessageList({ conversationID: `C2C${b}`, nextReqMessageID: first.data.nextReqMessageID, count: 1 });
      const all = await w.chat.getMessageList({ conversationID: `C2C${b}` });
      return {
        first: first.data.messageList.map((m) => m.ID),
        next: first.data.nextReqMessageID,
        second: second.data.messageList.map((m) => m.ID),
        all: all.data.messageList.map((m) => m.ID),
        completed: all.data.isCompleted,
        held: all.data.messageList.find((m) => m.ID === helloID) === w.held.get(helloID),
      };
    },
    [a, b, hello.ID],
  );
  expect(JSON.stringify(history.all) === JSON.stringify([hello.ID, reply.ID]) && history.completed, `getMessageList is oldest first: ${JSON.stringify(history)}`);
  expect(history.first[0] === reply.ID && history.next === reply.ID && history.second[0] === hello.ID, `paging with nextReqMessageID goes back in time: ${JSON.stringify(history)}`);
  expect(history.held, "getMessageList hands out the object the app already holds");

  // Revoke: the receiver's object flips in place and its bubble swaps.
  const revoked = await page.evaluate(([a, id]) => window.tapp.windows[a].revoke(id), [a, hello.ID]);
  expect(revoked.code === 0 && revoked.isRevoked && revoked.same, `revokeMessage resolved with the same, revoked object: ${JSON.stringify(revoked)}`);
  await bubble(page, a, hello.ID, "You revoked a message", expect);
  await bubble(page, b, hello.ID, `${a} revoked a message`, expect);
  const heard = await page.evaluate(
    ([b, id]) => {
      const w = window.tapp.windows[b];
      return { events: w.revokedEvents, found: w.chat.findMessage(id) === w.held.get(id) };
    },
    [b, hello.ID],
  );
  expect(
    heard.events.length === 1 && heard.events[0].ID === hello.ID && heard.events[0].sameObject && heard.events[0].isRevoked && heard.events[0].revoker === a && heard.events[0].text === "",
    `MESSAGE_REVOKED once, on the object bob holds, isRevoked, revoker, text gone: ${JSON.stringify(heard.events)}`,
  );
  expect(heard.found, "findMessage returns that same object");

  // Refusals, with Tencent's codes (the module's own documented ones where Tencent has none).
  const other = await page.evaluate(([a, b]) => window.tapp.windows[a].send(b, "only I may take this back"), [a, b]);
  await bubble(page, b, other.ID, `${a}: only I may take this back`, expect);
  const notSender = await expectCode(page, "revoking another's message", "return tapp.windows[arg.b].revoke(arg.id)", { b, id: other.ID }, 300001, expect);
  expect(notSender.hasDataMessage, "a refused revoke carries data.message");
  await expectCode(page, "revoking twice", "return tapp.windows[arg.a].revoke(arg.id)", { a, id: hello.ID }, 20023, expect);
  await expectCode(page, "sendMessage of a plain object", "return tapp.windows[arg].chat.sendMessage({ ID: 'x' })", a, 2105, expect);
  await expectCode(page, "revokeMessage(null)", "return tapp.windows[arg].chat.revokeMessage(null)", a, 2105, expect);
  await expectCode(page, "a bad conversationType", "return tapp.windows[arg].chat.createTextMessage({ to: 'x', conversationType: 'P2P', payload: { text: 'x' } })", a, 2106, expect);
  await expectCode(page, "a non-string text", "return tapp.windows[arg].chat.createTextMessage({ to: 'x', conversationType: 'C2C', payload: { text: 5 } })", a, 6017, expect);
  await expectCode(page, "no payload", "return tapp.windows[arg].chat.createTextMessage({ to: 'x', conversationType: 'C2C' })", a, 6017, expect);
  await expectCode(page, "a malformed conversationID", "return tapp.windows[arg].chat.getMessageList({ conversationID: 'bob' })", a, 2503, expect);
  await expectCode(page, "an unknown nextReqMessageID", "return tapp.windows[arg.a].chat.getMessageList({ conversationID: 'C2C' + arg.b, nextReqMessageID: 'nope' })", { a, b }, 6017, expect);
  await expectCode(page, "getMessageList()", "return tapp.windows[arg].chat.getMessageList()", a, 6017, expect);
  await expectCode(page, "on() without a handler", "return tapp.windows[arg].chat.on(tapp.TencentCloudChat.EVENT.MESSAGE_RECEIVED)", a, 6017, expect);
  await expectCode(page, "create() without SDKAppID", "return tapp.TencentCloudChat.create({ url: 'ws://127.0.0.1:1/ws' })", null, 2000, expect);
  await expectCode(page, "create() without url or hub", "return tapp.TencentCloudChat.create({ SDKAppID: 1 })", null, 6017, expect);
  await expectCode(page, "login() without userID", "return tapp.TencentCloudChat.create({ SDKAppID: 1, url: 'ws://127.0.0.1:1/ws' }).login({ userSig: 'x' })", null, 2002, expect);
  await expectCode(page, "login() without userSig", "return tapp.TencentCloudChat.create({ SDKAppID: 1, url: 'ws://127.0.0.1:1/ws' }).login({ userID: 'x' })", null, 2003, expect);
  await expectCode(
    page,
    "a call before login",
    "const c = tapp.TencentCloudChat.create({ SDKAppID: 1, url: 'ws://127.0.0.1:1/ws' }); return c.getMessageList({ conversationID: 'C2Cx' })",
    null,
    2999,
    expect,
  );

  // Conversations: the preview and the unread badge follow the revoke (where the module has them).
  if (await moduleHas(page, "conversations")) {
    const last = await page.evaluate(([a, b]) => window.tapp.windows[a].send(b, "did you see my last one?"), [a, b]);
    const conv = page.locator(`section[data-user="${b}"] .conversations li[data-conv="C2C${a}"]`);
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent.includes("did you see my last one?"), `section[data-user="${b}"] .conversations li[data-conv="C2C${a}"]`);
    const before = Number(await conv.getAttribute("data-unread"));
    expect(before >= 1, `bob's conversation counts the unread message: ${before}`);
    await page.evaluate(([a, id]) => window.tapp.windows[a].revoke(id), [a, last.ID]);
    await page.waitForFunction(
      ([sel, text, n]) => {
        const li = document.querySelector(sel);
        return li && li.textContent.includes(text) && Number(li.dataset.unread) === n;
      },
      [`section[data-user="${b}"] .conversations li[data-conv="C2C${a}"]`, `${a} revoked a message`, before - 1],
    );
    const read = await page.evaluate(
      async ([a, b]) => {
        const chat = window.tapp.windows[b].chat;
        const res = await chat.setMessageRead({ conversationID: `C2C${a}` });
        const profile = await chat.getConversationProfile(`C2C${a}`);
        return { code: res.code, unread: profile.data.conversation.unreadCount, forShow: profile.data.conversation.lastMessage.messageForShow };
      },
      [a, b],
    );
    expect(read.code === 0 && read.unread === 0 && read.forShow === "", `setMessageRead clears the badge, the revoked preview shows nothing: ${JSON.stringify(read)}`);
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === "0", `section[data-user="${b}"] .total .badge`);
  } else {
    await expectCode(page, "getConversationList on a module without conversations", "return tapp.windows[arg].chat.getConversationList()", b, 2905, expect);
  }

  // An image (on the embedded hub: its Blob stays in the page), where the module has attachments.
  if (mode === "local" && (await moduleHas(page, "attachments"))) {
    const img = await page.evaluate(([a, b]) => window.tapp.sendImage(window.tapp.windows[a], b), [a, b]);
    const urls = img.info.map((i) => i.url);
    expect(img.code === 0 && img.same && img.type === "TIMImageElem", `an image message is sent: ${JSON.stringify(img)}`);
    expect(img.info.length === 3 && img.info[0].type === 0 && img.info[2].type === 2 && urls.every(Boolean), `imageInfoArray holds the original, large and small: ${JSON.stringify(img.info)}`);
    expect(img.progress.every((p) => p >= 0 && p <= 1) && (img.progress.length === 0 || img.progress.at(-1) === 1), `onProgress heard fractions: ${JSON.stringify(img.progress)}`);
    await page.waitForFunction(([b, id]) => window.tapp.windows[b].held.get(id)?.type === "TIMImageElem", [b, img.ID]);
    await page.evaluate(([a, id]) => window.tapp.windows[a].revoke(id), [a, img.ID]);
    await page.waitForFunction(
      ([b, id]) => {
        const m = window.tapp.windows[b].held.get(id);
        return m.isRevoked && m.payload.imageInfoArray.length === 0;
      },
      [b, img.ID],
    );
  } else if (!(await moduleHas(page, "attachments"))) {
    await expectCode(
      page,
      "createImageMessage on a module without attachments",
      "return tapp.windows[arg.a].chat.createImageMessage({ to: arg.b, conversationType: 'C2C', payload: { file: new File(['x'], 'x.png') } })",
      { a, b },
      2905,
      expect,
    );
  }
  await expectCode(page, "createImageMessage without a file", "return tapp.windows[arg].chat.createImageMessage({ to: 'x', conversationType: 'C2C', payload: {} })", a, 2251, expect);
  await expectCode(page, "createFileMessage without a file", "return tapp.windows[arg].chat.createFileMessage({ to: 'x', conversationType: 'C2C', payload: { file: 'x' } })", a, 2401, expect);

  // Logout: SDK_NOT_READY, then calls are refused until the next login.
  const out = await page.evaluate(async (b) => {
    const w = window.tapp.windows[b];
    const res = await w.chat.logout();
    return { code: res.code, ready: w.chat.isReady(), events: w.events };
  }, b);
  expect(out.code === 0 && !out.ready && out.events.join() === "ready,not-ready", `logout: ${JSON.stringify(out)}`);
  await expectCode(page, "getMessageList after logout", "return tapp.windows[arg].chat.getMessageList({ conversationID: 'C2Cx' })", b, 2999, expect);
  return page;
}

/** The app as a person uses it: opened with `query`, `a` types and sends, then clicks "revoke". */
async function clickThrough(ctx, web, query, a, b, expect) {
  const page = await ctx.newPage();
  page.setDefaultTimeout(10_000);
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  await page.goto(`${web.url}/${query}`);
  await page.locator("#status", { hasText: `${a} and ${b} logged in` }).waitFor();
  const text = `typed by ${a} ${Math.random().toString(36).slice(2, 6)}`;
  await page.locator(`section[data-user="${a}"] input`).fill(text);
  await page.locator(`section[data-user="${a}"] button`, { hasText: "Send" }).click();
  const theirs = page.locator(`section[data-user="${b}"] .messages li`, { hasText: text });
  await theirs.waitFor();
  const ID = await theirs.getAttribute("data-id");
  await page.locator(`section[data-user="${a}"] .messages li[data-id="${ID}"] button`, { hasText: "revoke" }).click();
  await bubble(page, b, ID, `${a} revoked a message`, expect);
  await bubble(page, a, ID, "You revoked a message", expect);
  await page.screenshot({ path: path.join(RESULTS, `tencent-app-${query.startsWith("?mode=local") ? "local" : "server"}.png`) });
  return page;
}

/** Past the revoke window: 20016 (the sender's estimate or the server), nothing changes for the receiver. */
async function timeLimit(ctx, web, server, mode, limitS, expect) {
  const page = await openApp(ctx, web);
  const { a, b, sigs } = await users(server, mode);
  await page.evaluate((cfg) => window.tapp.start(cfg), config(server, mode, sigs, limitS));
  const sent = await page.evaluate(([a, b]) => window.tapp.windows[a].send(b, "too late to take back"), [a, b]);
  await bubble(page, b, sent.ID, `${a}: too late to take back`, expect);
  await page.waitForTimeout((limitS + 1.5) * 1000); // let the window pass
  const late = await expectCode(page, "revoking after the time limit", "return tapp.windows[arg.a].revoke(arg.id)", { a, id: sent.ID }, 20016, expect);
  expect(late.hasDataMessage, "the refusal carries data.message");
  await page.waitForTimeout(300); // room for a wrong revoke event to arrive
  await bubble(page, b, sent.ID, `${a}: too late to take back`, expect);
  return page;
}

/** Runs `f(web)` with the built app served. */
async function withApp(pkg, f) {
  const web = await serveDir(buildApp(pkg));
  try {
    return await f(web);
  } finally {
    web.close();
  }
}

export function tencentSpecs(spec, env) {
  spec(
    "im-revoke/tencent on LocalHub: a Tencent-style app (Vite, packed module) sends, revokes, pages history, gets Tencent's codes",
    async (ctx) => {
      const { A, PKG, expect } = env();
      return withApp(PKG, async (web) => [
        await scenario(ctx, web, A, "local", expect),
        await clickThrough(ctx, web, "?mode=local", "alice", "bob", expect),
      ]);
    },
    240_000, // the first spec builds the app
  );
  spec("im-revoke/tencent against the server: the same app, unchanged", async (ctx) => {
    const { A, PKG, expect } = env();
    const { a, b, sigs } = await users(A, "server");
    const query = `?url=${encodeURIComponent(config(A, "server", sigs).url)}&users=${encodeURIComponent(`${a}:${sigs[a]},${b}:${sigs[b]}`)}`;
    return withApp(PKG, async (web) => [await scenario(ctx, web, A, "server", expect), await clickThrough(ctx, web, query, a, b, expect)]);
  });
  spec("im-revoke/tencent revoke time limit: 20016 on LocalHub and from the server", async (ctx) => {
    const { B, PKG, SHORT_LIMIT_S, expect } = env();
    return withApp(PKG, async (web) => [
      await timeLimit(ctx, web, B, "local", LOCAL_SHORT_LIMIT_S, expect),
      await timeLimit(ctx, web, B, "server", SHORT_LIMIT_S, expect),
    ]);
  });
}
