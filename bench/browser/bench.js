// im-revoke browser benchmarks, run in headless Chromium by bench/browser/run.mjs.
//
// Client throughput and lookups drive the real module through its public API: `ChatClient.connect`
// is given a fake `WebSocket` (the module looks `WebSocket` up when it connects), and the bench
// calls the socket's `onmessage` with the very frames the server sends. So what is timed is the
// module's own work per frame: JSON decode, the core client (seq check, message store), conversion
// to JS objects and the call of the JS listener, without any network in between.
//
// The baseline does the same work in idiomatic plain JavaScript (JSON.parse, a Map as the
// message store, a listener list) on the same frames, in the same page.
//
// End-to-end latency uses two real clients over the real server (or an embedded LocalHub).

import init, { ChatClient, LocalHub } from "/pkg/im_revoke.js";

let wasm = null;

/** Loads the module. */
export async function boot() {
  wasm = await init();
  return {
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    userAgent: navigator.userAgent,
  };
}

/** Bytes of the module's linear memory (grows in 64 KiB pages, never shrinks). */
export function wasmMemoryBytes() {
  return wasm ? wasm.memory.buffer.byteLength : 0;
}

// ---------------------------------------------------------------------------------------------
// Frames, exactly as the server encodes them (serde, field order of crates/core).

const LIMITS = { revokeTimeLimitMs: 3_600_000, adminRevokeTimeLimitMs: null, maxTextBytes: 12288, maxReasonBytes: 256 };

function newMessageFrame(seq, i, t) {
  return `{"type":"event","seq":${seq},"event":{"kind":"newMessage","message":{"msgID":"bench-msg-${i}","sender":"alice","receiver":"bob","groupID":null,"timeMs":${t},"seq":${i + 1},"elem":{"elemType":"text","text":"bench message ${i} xxxxxxxxxx"},"revoke":null}}}`;
}

function revokeFrame(seq, i, t) {
  return `{"type":"event","seq":${seq},"event":{"kind":"messageRevoked","msgID":"bench-msg-${i}","sender":"alice","receiver":"bob","groupID":null,"seq":${i + 1},"revoke":{"userID":"alice","role":"sender","reason":"bench","timeMs":${t + 1},"reqId":"bench-r-${i}"}}}`;
}

/** A string as a WebSocket hands it over: flat, one sequential run of characters. (A template
 *  literal is a tree of pieces that V8 joins on first read; that join is not part of
 *  receiving a frame, for the module nor for the baseline.) */
function flat(s) {
  s.charCodeAt(0); // V8 flattens a concatenated string in place on first character access
  return s;
}

/** `n` newMessage events (seq 1..n), then `n` messageRevoked events (seq n+1..2n), as the
 *  `MessageEvent`-like objects a socket hands to `onmessage`. */
function makeFrames(n, t) {
  const news = new Array(n);
  const revokes = new Array(n);
  for (let i = 0; i < n; i++) news[i] = { data: flat(newMessageFrame(i + 1, i, t)) };
  for (let i = 0; i < n; i++) revokes[i] = { data: flat(revokeFrame(n + i + 1, i, t)) };
  return { news, revokes };
}

// ---------------------------------------------------------------------------------------------
// A fake WebSocket: answers login and ping like the server, and lets the bench deliver frames.

const BINARY = "im-revoke.bin";
const utf8 = new TextEncoder();

/** The frames as a socket that chose `im-revoke.bin` hands them over: an `ArrayBuffer` of the
 *  frame's UTF-8 each (made before timing, as the strings are). */
function asBinary(list) {
  for (let i = 0; i < list.length; i++) list[i] = { data: utf8.encode(list[i].data).buffer };
}

class FakeSocket {
  static last = null;
  constructor(url, protocols) {
    this.url = url;
    // Like the server: the subprotocol `im-revoke.bin` chosen when offered (frames then come
    // as binary frames of the same JSON).
    const offered = typeof protocols === "string" ? [protocols] : protocols || [];
    this.protocol = offered.includes(BINARY) ? BINARY : "";
    this.readyState = 0;
    this.binaryType = "blob";
    this.onopen = null;
    this.onmessage = null;
    this.onclose = null;
    this.onerror = null;
    FakeSocket.last = this;
    setTimeout(() => {
      this.readyState = 1;
      if (this.onopen) this.onopen({ type: "open" });
    }, 0);
  }
  send(text) {
    const f = JSON.parse(text);
    if (f.type === "login") {
      const ok = { type: "loginOk", v: 1, userID: f.userID, serverTime: Date.now(), headSeq: 0, limits: LIMITS };
      setTimeout(() => this.deliver(JSON.stringify(ok)), 0);
    } else if (f.type === "ping") {
      const pong = { type: "pong", t: f.t, serverTime: Date.now() };
      setTimeout(() => this.deliver(JSON.stringify(pong)), 0);
    }
  }
  deliver(text) {
    if (this.onmessage) this.onmessage({ data: this.protocol === BINARY ? utf8.encode(text).buffer : text });
  }
  close() {
    this.readyState = 3;
  }
  addEventListener() {}
  removeEventListener() {}
}

async function fakeConnectedClient(userID) {
  const Real = globalThis.WebSocket;
  globalThis.WebSocket = FakeSocket;
  try {
    // In-memory store: what is timed is the module's own work per frame (IndexedDB writes are
    // measured on their own, below).
    const client = await ChatClient.connect({ url: "ws://127.0.0.1:9/ws", userID, userSig: "unused", storage: "memory" });
    return { client, socket: FakeSocket.last };
  } finally {
    globalThis.WebSocket = Real;
  }
}

// ---------------------------------------------------------------------------------------------
// The baseline: an idiomatic plain-JavaScript client doing the same work per frame.

class JsClient {
  constructor(user) {
    this.user = user;
    this.store = new Map();
    this.listeners = [];
    this.cursor = 0;
    this.early = new Map(); // events after a gap, until the gap is filled
    this.onmessage = (e) => this.frame(JSON.parse(e.data));
  }
  addAdvancedMsgListener(l) {
    if (!this.listeners.includes(l)) this.listeners.push(l);
  }
  frame(f) {
    if (f.type !== "event") return;
    if (f.seq <= this.cursor) return;
    if (f.seq !== this.cursor + 1) {
      this.early.set(f.seq, f.event);
      return;
    }
    this.cursor = f.seq;
    this.apply(f.event);
  }
  view(m) {
    const revoked = m.revoke !== null;
    return {
      msgID: m.msgID,
      sender: m.sender,
      userID: m.groupID === null ? (m.sender === this.user ? m.receiver : m.sender) : null,
      groupID: m.groupID,
      timestamp: Math.floor(m.timeMs / 1000),
      timeMs: m.timeMs,
      seq: m.seq,
      status: revoked ? 6 : 2,
      isSelf: m.sender === this.user,
      elemType: 1,
      textElem: m.elem ? { text: m.elem.text } : null,
      isRevoked: revoked,
      revokerInfo: revoked ? { userID: m.revoke.userID, role: m.revoke.role } : null,
      revokeReason: revoked ? m.revoke.reason : null,
      revokeTimeMs: revoked ? m.revoke.timeMs : null,
    };
  }
  apply(ev) {
    const listeners = this.listeners.slice();
    if (ev.kind === "newMessage") {
      const v = this.view(ev.message);
      this.store.set(v.msgID, v);
      for (const l of listeners) {
        if (typeof l.onRecvNewMessage !== "function") continue;
        try {
          l.onRecvNewMessage({ ...v, textElem: v.textElem && { ...v.textElem } });
        } catch (e) {
          queueMicrotask(() => { throw e; });
        }
      }
    } else if (ev.kind === "messageRevoked") {
      const r = ev.revoke;
      const m = this.store.get(ev.msgID);
      if (m) {
        m.status = 6;
        m.isRevoked = true;
        m.revokerInfo = { userID: r.userID, role: r.role };
        m.revokeReason = r.reason;
        m.revokeTimeMs = r.timeMs;
        if (m.sender !== this.user) m.textElem = null;
      }
      for (const l of listeners) {
        if (typeof l.onRecvMessageRevoked !== "function") continue;
        try {
          l.onRecvMessageRevoked(ev.msgID, { userID: r.userID, role: r.role }, r.reason);
        } catch (e) {
          queueMicrotask(() => { throw e; });
        }
      }
    }
  }
  canRevoke(msgID, now) {
    const m = this.store.get(msgID);
    if (!m) return { allowed: false, remainingMs: 0, code: 20022 };
    if (m.isRevoked) return { allowed: false, remainingMs: 0, code: 20023 };
    if (m.sender !== this.user) return { allowed: false, remainingMs: 0, code: 300001 };
    const left = m.timeMs + LIMITS.revokeTimeLimitMs - now;
    return left >= 0 ? { allowed: true, remainingMs: left, code: null } : { allowed: false, remainingMs: 0, code: 20016 };
  }
}

// ---------------------------------------------------------------------------------------------
// Client throughput, in steps so that the runner can force GC and read the heap in between.

let round = null;

/** Sets up one round for `kind` ("wasm" or "js") with `n` messages. */
export async function prepare(kind, n) {
  const t = Date.now();
  const frames = makeFrames(n, t);
  const ids = new Array(n);
  for (let i = 0; i < n; i++) ids[i] = `bench-msg-${(i * 7919) % n}`; // a fixed shuffle
  const counts = { news: 0, revokes: 0, lastRevoked: "" };
  const listener = {
    onRecvNewMessage(msg) { counts.news++; },
    onRecvMessageRevoked(msgID, revokerInfo, reason) { counts.revokes++; counts.lastRevoked = msgID; },
  };
  if (kind === "wasm") {
    if (!wasm) await boot();
    const { client, socket } = await fakeConnectedClient("bob");
    if (socket.protocol === BINARY) {
      asBinary(frames.news);
      asBinary(frames.revokes);
    }
    const mm = client.getMessageManager();
    mm.addAdvancedMsgListener(listener);
    round = { kind, n, frames, ids, counts, client, mm, deliver: socket.onmessage, canRevoke: (id) => mm.canRevoke(id) };
  } else {
    const c = new JsClient("bob");
    c.addAdvancedMsgListener(listener);
    round = { kind, n, frames, ids, counts, client: c, deliver: c.onmessage, canRevoke: (id) => c.canRevoke(id, Date.now()) };
  }
  return true;
}

function feed(list) {
  const deliver = round.deliver;
  const t0 = performance.now();
  for (let i = 0; i < list.length; i++) deliver(list[i]);
  return performance.now() - t0;
}

/** Delivers the `n` newMessage frames; returns ms. */
export function feedNew() {
  const ms = feed(round.frames.news);
  if (round.counts.news !== round.n) throw new Error(`${round.kind}: ${round.counts.news} of ${round.n} new messages dispatched`);
  return ms;
}

/** `k` lookups by msgID of cached messages (`canRevoke(msgID)` / its JS equivalent); ns per
 *  lookup. Also a bare `Map.get` for scale. */
export function lookup(k) {
  const { ids, canRevoke } = round;
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < k; i++) {
    const v = canRevoke(ids[i % ids.length]);
    if (v.allowed) sink++;
  }
  const ms = performance.now() - t0;
  let bare = null;
  if (round.kind === "js") {
    const store = round.client.store;
    const t1 = performance.now();
    for (let i = 0; i < k; i++) if (store.get(ids[i % ids.length]).isSelf) sink++;
    bare = ((performance.now() - t1) * 1e6) / k;
  }
  return { nsPerLookup: (ms * 1e6) / k, bareMapGetNs: bare, sink };
}

/** Delivers the `n` messageRevoked frames; returns ms. */
export function feedRevokes() {
  const ms = feed(round.frames.revokes);
  if (round.counts.revokes !== round.n) throw new Error(`${round.kind}: ${round.counts.revokes} of ${round.n} revokes dispatched`);
  return ms;
}

/** Checks that the revokes were applied to the store; frees the round. */
export async function finish() {
  const r = round;
  round = null;
  let applied;
  if (r.kind === "wasm") {
    // canRevoke of a revoked message answers 20023 from the local store.
    applied = r.mm.canRevoke(`bench-msg-${r.n - 1}`).code === 20023;
    await r.client.logout();
    r.mm.free();
    r.client.free();
  } else {
    applied = r.client.store.get(`bench-msg-${r.n - 1}`).isRevoked === true;
  }
  r.frames = null;
  return { applied };
}

// ---------------------------------------------------------------------------------------------
// Soak: `total` messages and their revokes through one client, in steps, so that the runner can
// force GC and read the JS heap and the wasm memory between steps. The client keeps an LRU of
// messages (default 5,000) and bounded dedup sets: past the LRU's size both should stay flat.

let soakState = null;

/** Starts a soak client (in-memory store: the bound under test is the module's own memory). */
export async function soakStart(step) {
  if (!wasm) await boot();
  const Real = globalThis.WebSocket;
  globalThis.WebSocket = FakeSocket;
  let client;
  try {
    client = await ChatClient.connect({ url: "ws://127.0.0.1:9/ws", userID: "bob", userSig: "unused", storage: "memory" });
  } finally {
    globalThis.WebSocket = Real;
  }
  const counts = { news: 0, revokes: 0 };
  const mm = client.getMessageManager();
  mm.addAdvancedMsgListener({
    onRecvNewMessage() { counts.news++; },
    onRecvMessageRevoked() { counts.revokes++; },
  });
  const socket = FakeSocket.last;
  const onmessage = socket.onmessage;
  // Frames as the socket hands them over (binary when the module chose `im-revoke.bin`).
  const deliver = socket.protocol === BINARY ? (e) => onmessage({ data: utf8.encode(e.data).buffer }) : onmessage;
  soakState = { client, mm, deliver, counts, step, done: 0, seq: 0 };
  return true;
}

/** One step: `step` new messages, then their `step` revokes (frames made here, then dropped). */
export function soakStep() {
  const st = soakState;
  const t = Date.now();
  const base = st.done;
  const t0 = performance.now();
  for (let i = 0; i < st.step; i++) st.deliver({ data: flat(newMessageFrame(++st.seq, base + i, t)) });
  for (let i = 0; i < st.step; i++) st.deliver({ data: flat(revokeFrame(++st.seq, base + i, t)) });
  const ms = performance.now() - t0;
  st.done += st.step;
  if (st.counts.news !== st.done || st.counts.revokes !== st.done) {
    throw new Error(`soak: ${st.counts.news} new / ${st.counts.revokes} revokes dispatched of ${st.done}`);
  }
  return { done: st.done, ms };
}

export async function soakEnd() {
  const st = soakState;
  soakState = null;
  await st.client.logout();
  st.mm.free();
  st.client.free();
  return true;
}

// ---------------------------------------------------------------------------------------------
// End-to-end revoke latency: revokeMessage on A → onRecvMessageRevoked on B.

function withTimeout(p, ms, what) {
  let timer;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms); }),
  ]);
}

/** Spaces one user's requests at most `rate` per second (the hub limits each user: 100/s,
 *  burst 200, then 60018). */
function pacer(rate) {
  const interval = rate > 0 ? 1000 / rate : 0;
  let next = 0;
  return async () => {
    const now = performance.now();
    if (now < next) await new Promise((r) => setTimeout(r, next - now));
    next = Math.max(performance.now(), next) + interval;
  };
}

async function e2e(A, B, bUser, samples, warmup, perUserRate) {
  const am = A.getMessageManager();
  const bm = B.getMessageManager();
  const n = samples + warmup;
  const waiting = new Map();
  let received = 0;
  let allReceived;
  const allIn = new Promise((r) => { allReceived = r; });
  bm.addAdvancedMsgListener({
    onRecvNewMessage() {
      if (++received === n) allReceived();
    },
    onRecvMessageRevoked(msgID) {
      const t = performance.now();
      const w = waiting.get(msgID);
      if (w) {
        waiting.delete(msgID);
        w(t);
      }
    },
  });
  // Setup: n messages A → B (paced); B must have them all.
  const pace = pacer(perUserRate);
  const sends = [];
  for (let i = 0; i < n; i++) {
    await pace();
    sends.push(am.sendMessage(am.createTextMessage(`e2e ${i}`), bUser, null));
  }
  const msgs = await withTimeout(Promise.all(sends), 60000, "setup sends");
  await withTimeout(allIn, 60000, "B receiving the setup messages");
  // One revoke at a time.
  const toEvent = [];
  const toAck = [];
  for (let i = 0; i < n; i++) {
    const id = msgs[i].msgID;
    const got = new Promise((r) => waiting.set(id, r));
    await pace();
    const t0 = performance.now();
    const acked = am.revokeMessage(id, "bench").then(() => performance.now());
    const [tEvent, tAck] = await withTimeout(Promise.all([got, acked]), 10000, `revoke ${i}`);
    if (i >= warmup) {
      toEvent.push(tEvent - t0);
      toAck.push(tAck - t0);
    }
  }
  return { toEvent, toAck };
}

/** Two clients in this page over the real server (durable SQLite). */
export async function e2eServer({ url, a, b, samples, warmup, perUserRate }) {
  const A = await ChatClient.connect({ url, userID: a.userID, userSig: a.userSig });
  const B = await ChatClient.connect({ url, userID: b.userID, userSig: b.userSig });
  try {
    return await e2e(A, B, b.userID, samples, warmup, perUserRate);
  } finally {
    await A.logout();
    await B.logout();
  }
}

/** Two clients in this page over an embedded LocalHub. */
export async function e2eLocal({ samples, warmup, perUserRate }) {
  if (!wasm) await boot();
  const hub = new LocalHub({ revokeTimeLimit: 3600 });
  const A = await ChatClient.local(hub, "alice");
  const B = await ChatClient.local(hub, "bob");
  try {
    return await e2e(A, B, "bob", samples, warmup, perUserRate);
  } finally {
    await A.logout();
    await B.logout();
  }
}

/** The browser's own floor for the same trip: a frame of the size of a revoke event sent from
 *  this page to a bare WebSocket echo server on loopback and back, one at a time (one send from
 *  the page and one receive, as revoke on A → event on B). */
export async function echoRtt({ url, samples, warmup }) {
  const ws = new WebSocket(url);
  await withTimeout(new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = () => fail(new Error(`cannot open ${url}`)); }), 10000, "echo open");
  const frame = revokeFrame(1, 0, Date.now());
  let answer = null;
  ws.onmessage = () => { const a = answer; answer = null; if (a) a(performance.now()); };
  const rtt = [];
  try {
    for (let i = 0; i < samples + warmup; i++) {
      const back = new Promise((r) => { answer = r; });
      const t0 = performance.now();
      ws.send(frame);
      const t1 = await withTimeout(back, 10000, `echo ${i}`);
      if (i >= warmup) rtt.push(t1 - t0);
      // Spaced as the revokes are (the pacer's 90/s).
      await new Promise((r) => setTimeout(r, 11));
    }
  } finally {
    ws.close();
  }
  return rtt;
}

// ---------------------------------------------------------------------------------------------
// Conversation list: a user with 1,000 conversations; a device that has just logged in loads the
// first page (100, newest activity first), as a chat UI does on start. Timed: the call of
// `getConversationList(0, 100)` → its promise resolved with the 100 conversations (the request to
// the authority, its answer decoded, the JS objects built). Each sample is a new device of that
// user (a fresh login, in-memory storage), so nothing is cached in the client beforehand.

async function seedConversations(owner, n, perUserRate) {
  const om = owner.getMessageManager();
  const pace = pacer(perUserRate);
  const sends = [];
  for (let i = 0; i < n; i++) {
    await pace();
    sends.push(om.sendMessage(om.createTextMessage(`hello ${i}`), `cv-peer-${i}`, null));
  }
  await withTimeout(Promise.all(sends), 120000, "conversation seeding sends");
}

async function firstPages(login, n, samples, warmup) {
  const cold = [];
  for (let i = 0; i < warmup + samples; i++) {
    const dev = await login();
    try {
      const cm = dev.getConversationManager();
      const t0 = performance.now();
      const page = await withTimeout(cm.getConversationList(0, 100), 10000, `first page ${i}`);
      const dt = performance.now() - t0;
      const list = page.conversationList;
      if (list.length !== Math.min(100, n)) throw new Error(`first page has ${list.length} conversations, not ${Math.min(100, n)}`);
      if (page.isFinished !== n <= 100) throw new Error(`first page isFinished ${page.isFinished} with ${n} conversations`);
      if (i >= warmup) cold.push(dt);
    } finally {
      await dev.logout();
    }
  }
  return cold;
}

/** The first page of a 1,000-conversation list on an embedded LocalHub. */
export async function convListLocal({ n, samples, warmup, perUserRate }) {
  if (!wasm) await boot();
  const hub = new LocalHub({ revokeTimeLimit: 3600 });
  const owner = await ChatClient.local(hub, "cv-owner");
  try {
    await seedConversations(owner, n, perUserRate);
    return await firstPages(() => ChatClient.local(hub, "cv-owner"), n, samples, warmup);
  } finally {
    await owner.logout();
  }
}

/** The same over the real server (durable SQLite); `owner` is { userID, userSig }. */
export async function convListServer({ url, owner, n, samples, warmup, perUserRate }) {
  const login = () => ChatClient.connect({ url, userID: owner.userID, userSig: owner.userSig, storage: "memory" });
  const first = await login();
  try {
    await seedConversations(first, n, perUserRate);
    return await firstPages(login, n, samples, warmup);
  } finally {
    await first.logout();
  }
}
