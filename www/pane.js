// One chat pane: one user, one ChatClient: a conversation list (last message, unread badges),
// a search box, bubbles (text, replies with their quote, images, files), revoke, a composer
// (reply bar, attach button, drag-and-drop), and system notifications while the tab is hidden.
//
// One file on purpose: a pane is one UI component whose parts share its state (the messages,
// the conversations, the active one); the notifications live in notify.js.
//
// Every piece of text that comes from a user (message text, reasons, userIDs, file names) is
// put into the page with textContent, never innerHTML.

import { t, revokeNotice, mmss } from "./i18n.js";
import * as notifier from "./notify.js";

/** How long after revoking their message the sender may put its text back ("Re-edit"). */
export const REEDIT_WINDOW_MS = 2 * 60 * 1000;

let paneCount = 0;

const STATUS_SENDING = 1;
const STATUS_FAILED = 3;
const STATUS_REVOKED = 6;
const ELEM_CUSTOM = 2;
const ELEM_IMAGE = 3;
const ELEM_FILE = 6;
/** Listener calls kept in `pane.log` (for devtools and the end-to-end specs). */
const LOG_SIZE = 500;

/** `el("div", { class: "x", "aria-label": "y" }, child, "text")`: a DOM element. */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "style") e.style.cssText = v; // CSSOM: allowed by the page's CSP (style-src 'self')
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function hhmm(ms) {
  if (!ms) return "";
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** The conversationID of a message, as this user sees it ("c2c_bob" or "group_demo-group"). */
function convKeyOf(msg) {
  if (msg.groupID) return `group_${msg.groupID}`;
  if (msg.userID) return `c2c_${msg.userID}`;
  return null;
}

/** 1536 -> "1.5 KB". */
export function fmtSize(n) {
  if (!(n >= 0)) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** "report.pdf" -> "PDF": the file card's icon. */
function fileKind(name) {
  const m = /\.([A-Za-z0-9]{1,4})$/.exec(name || "");
  return m ? m[1].toUpperCase() : "FILE";
}

/** The picture to show in a bubble: the thumbnail (type 2) if there is one, else the original. */
function thumbOf(imageElem) {
  const list = (imageElem && imageElem.imageList) || [];
  return list.find((i) => i.type === 2 && i.url) || list.find((i) => i.url) || null;
}

export class Pane {
  /**
   * @param {object} app   { backend, group, cast, onConnected(pane), onClose(pane) | null }
   * @param {string} user  this pane's userID
   */
  constructor(app, user, { closable = false } = {}) {
    this.app = app;
    this.user = user;
    this.closable = closable;
    this.client = null;
    this.mm = null;
    /** The conversation manager, where the module has one (`client.getConversationManager()`). */
    this.cm = null;
    /** What the module offers: conversations (+ replies), search, images and files. */
    this.features = { conv: false, search: false, rich: false };
    this.status = "connecting"; // "connecting" | "online" | "offline"
    /** Whether the user wants this pane online (the offline toggle). */
    this.wantOnline = true;
    this.closed = false;
    /** msgID -> latest message object (a plain object from the module, maybe updated here). */
    this.messages = new Map();
    /** msgID -> conversationID (known before the server stamps a sent message). */
    this.convOf = new Map();
    /** msgID -> row DOM of the active conversation. */
    this.rows = new Map();
    /** msgIDs whose revoke form is open, with the reason typed so far. */
    this.openForms = new Map();
    /** conversationID -> the module's conversation object (unreadCount, lastMessage, orderKey). */
    this.convInfo = new Map();
    /** Total unread, as the module last said (`onTotalUnreadMessageCountChanged`). */
    this.total = 0;
    /** Without a conversation manager: unread counts kept here, per conversationID. */
    this.unread = new Map();
    /** conversationIDs being marked read (one request at a time each). */
    this.cleaning = new Set();
    /** The message the composer replies to: { msgID, sender, text } or null. */
    this.replyTo = null;
    /** msgID -> object URL of an image being sent (the sender's preview until it is uploaded). */
    this.previews = new Map();
    /** msgID -> upload progress 0..1 of an attachment being sent. */
    this.progress = new Map();
    /** The search box: the query shown, its answer, and a counter that drops stale answers. */
    this.search = { query: "", result: null, seq: 0 };
    /** [listener method, msgID] of the last listener calls, oldest first. */
    this.log = [];
    this.group = null; // the demo group as this client last heard it
    this.error = null;
    this.listener = this.makeListener();
    this.connListener = this.makeConnListener();
    this.convListener = this.makeConvListener();
    this.convs = this.conversations();
    this.active = this.convs[0].key;
    this.drafts = new Map();
    this.build();
  }

  // ----- conversations -----

  /** The demo's cast: a one-to-one conversation with each other user, and the demo group. */
  conversations() {
    const list = this.app.cast
      .filter((u) => u !== this.user)
      .map((u) => ({ key: `c2c_${u}`, userID: u, groupID: null }));
    if (this.app.cast.includes(this.user)) {
      const g = this.app.group.groupID;
      list.push({ key: `group_${g}`, userID: null, groupID: g });
    }
    return list;
  }

  conv(key = this.active) {
    return this.convs.find((c) => c.key === key);
  }

  convTitle(c) {
    return c.groupID ? (c.groupID === this.app.group.groupID ? t("groupName") : c.groupID) : c.userID;
  }

  /** Newest activity first (the module's orderKey); conversations not begun yet keep the cast's order. */
  orderedConvs() {
    const key = (c) => {
      const info = this.convInfo.get(c.key);
      if (info) return Number(info.orderKey) || 0;
      const last = this.lastMessageOf(c.key);
      return last ? last.timeMs || Number.MAX_SAFE_INTEGER : -1;
    };
    return this.convs
      .map((c, i) => ({ c, i, k: key(c) }))
      .sort((a, b) => b.k - a.k || a.i - b.i)
      .map((x) => x.c);
  }

  unreadOf(key) {
    if (this.cm) return Number(this.convInfo.get(key)?.unreadCount) || 0;
    return this.unread.get(key) || 0;
  }

  totalUnread() {
    if (this.cm) return Number(this.total) || 0;
    let n = 0;
    for (const v of this.unread.values()) n += v;
    return n;
  }

  /** The conversation's newest message: the module's `lastMessage`, else the newest one held here. */
  lastMessageOf(key) {
    if (this.cm) return this.convInfo.get(key)?.lastMessage || null;
    let last = null;
    for (const m of this.messages.values()) {
      if (this.convOf.get(m.msgID) !== key) continue;
      if (!last || (m.seq || Infinity) > (last.seq || Infinity) || ((m.seq || Infinity) === (last.seq || Infinity) && (m.timeMs || 0) > (last.timeMs || 0))) last = m;
    }
    return last;
  }

  /** One line for a message: the conversation list's preview, a notification, the reply bar. */
  previewText(m, withSender = false) {
    if (!m) return "";
    if (m.isRevoked || m.status === STATUS_REVOKED) return revokeNotice(this.user, m, m.revokerInfo);
    let body;
    if (m.elemType === ELEM_IMAGE) body = t("previewImage");
    else if (m.elemType === ELEM_FILE) body = t("previewFile")(m.fileElem ? m.fileElem.fileName : "");
    else if (m.elemType === ELEM_CUSTOM) body = t("previewCustom");
    else body = m.textElem ? m.textElem.text : "";
    if (withSender && m.groupID && m.sender !== this.user) return `${m.sender}: ${body}`;
    return body;
  }

  /** A conversation object from the module (a page, or a listener's list). */
  setConv(c) {
    const key = c.conversationID;
    this.convInfo.set(key, c);
    // The newest message may be one no other listener told of: this device's own message sent
    // from the outbox after a reload.
    if (c.lastMessage) this.upsert(c.lastMessage, key);
    if (!this.conv(key)) {
      this.convs.push({ key, userID: c.userID || null, groupID: c.groupID || null });
      this.reload(this.conv(key)).then(() => this.render());
    }
    this.touched?.add(key);
  }

  /** The conversation list and the total, once per login (later the listener keeps them). */
  async loadConversations() {
    if (!this.cm) return;
    const cm = this.cm;
    this.touched = new Set();
    this.totalTouched = false;
    try {
      let seq = 0;
      for (let i = 0; i < 20; i++) {
        const page = await cm.getConversationList(seq, 100);
        // A conversation the listener changed meanwhile is newer than the page.
        for (const c of page.conversationList) if (!this.touched.has(c.conversationID)) this.setConv(c);
        if (page.isFinished) break;
        seq = page.nextSeq;
      }
      const total = await cm.getTotalUnreadMessageCount();
      if (!this.totalTouched) this.total = total;
    } catch (e) {
      this.showError(e);
    } finally {
      this.touched = null;
    }
    this.render();
    this.markRead(this.active);
  }

  /**
   * Marks `key` read (`cleanConversationUnreadMessageCount`) while it is open and the page is
   * seen: the badge clears here and, through the server, on this user's other devices.
   */
  markRead(key) {
    if (key !== this.active || document.visibilityState === "hidden" || this.status !== "online") return;
    if (!this.cm) {
      this.unread.delete(key);
      return;
    }
    if (this.unreadOf(key) === 0 || this.cleaning.has(key)) return;
    this.cleaning.add(key);
    this.cm
      .cleanConversationUnreadMessageCount(key, 0, 0)
      .catch((e) => this.showError(e))
      .finally(() => {
        this.cleaning.delete(key);
        // More may have come in while the request was on its way.
        if (this.unreadOf(key) > 0 && !this.closed) this.markRead(key);
      });
  }

  // ----- connection -----

  /**
   * The first login of this pane's client: listeners, the demo group as the server has it,
   * the conversation list, then each conversation's history. Going offline and back later
   * keeps the client (`goOffline`/`goOnline`): what happens meanwhile arrives through the
   * listeners.
   */
  async connect() {
    this.wantOnline = true;
    this.setStatus("connecting");
    try {
      const client = await this.app.backend.login(this.user);
      if (!this.wantOnline || this.closed) {
        // Went offline (or closed) while logging in: there is nothing to keep yet.
        await client.logout();
        return;
      }
      this.client = client;
      this.mm = client.getMessageManager();
      this.features = {
        conv: typeof client.getConversationManager === "function",
        search: typeof this.mm.searchLocalMessages === "function",
        rich: typeof this.mm.createImageMessage === "function" && typeof this.mm.createFileMessage === "function",
      };
      this.mm.addAdvancedMsgListener(this.listener);
      client.addConnectionListener(this.connListener);
      if (this.features.conv) {
        this.cm = client.getConversationManager();
        this.cm.addConversationListener(this.convListener);
      }
      this.setStatus("online");
      this.renderAll();
      await Promise.all([this.loadGroup(), this.reloadAll(), this.loadConversations()]);
      this.app.onConnected(this);
    } catch (e) {
      this.setStatus("offline");
      this.showError(e);
    }
  }

  /** Offline, keeping the client: `disconnect()` closes the connection, nothing else. */
  async goOffline() {
    this.wantOnline = false;
    this.setStatus("offline");
    try {
      await this.client?.disconnect();
    } catch (e) {
      this.showError(e);
    }
  }

  /**
   * Back online with the same client: `reconnect()` logs in again, sends what was asked for
   * meanwhile, and the listeners hear what was missed (no history reload).
   */
  async goOnline() {
    const client = this.client;
    this.wantOnline = true;
    this.setStatus("connecting");
    try {
      await client.reconnect();
      if (this.wantOnline && this.client === client) this.setStatus("online");
    } catch (e) {
      if (!this.wantOnline) return; // went offline again before it was done (9508)
      if (client.getLoginStatus() === 3) {
        // The server refused the login (e.g. an expired UserSig): start over next time.
        this.client = null;
        this.mm = null;
        this.cm = null;
      }
      this.setStatus("offline");
      this.showError(e);
    }
  }

  async toggleOnline() {
    if (this.status !== "offline") await this.goOffline();
    else if (this.client) await this.goOnline();
    else await this.connect();
  }

  /** The demo group as the server has it now (owner, admins), for the roster line. */
  async loadGroup() {
    const before = this.group;
    try {
      const groups = await this.client.getGroupManager().getJoinedGroupList();
      const g = groups.find((g) => g.groupID === this.app.group.groupID);
      // onGroupChanged may have brought a newer copy while this was on its way.
      if (g && this.group === before) {
        this.group = g;
        this.render();
      }
    } catch (e) {
      this.showError(e);
    }
  }

  heard(method, msgID) {
    this.log.push([method, msgID]);
    if (this.log.length > LOG_SIZE) this.log.splice(0, this.log.length - LOG_SIZE);
  }

  makeListener() {
    return {
      onRecvNewMessage: (msg) => {
        this.heard("onRecvNewMessage", msg.msgID);
        const key = convKeyOf(msg);
        this.upsert(msg, key);
        if (!this.cm && msg.sender !== this.user && key !== this.active) {
          this.unread.set(key, (this.unread.get(key) || 0) + 1);
        }
        if (msg.sender !== this.user && !msg.isRevoked) this.notifyOf(msg, key);
        this.render();
        this.searchAgain();
      },
      onRecvMessageRevoked: (msgID, revokerInfo, reason) => {
        this.heard("onRecvMessageRevoked", msgID);
        this.applyRevoke(msgID, revokerInfo, reason);
      },
      onRecvMessageModified: (msg) => {
        // A reply whose original was revoked: its quote now reads "revoked".
        this.heard("onRecvMessageModified", msg.msgID);
        this.upsert(msg);
        this.render();
      },
      onGroupChanged: (group) => {
        if (group.groupID === this.app.group.groupID) {
          this.group = group;
          this.render();
        }
      },
    };
  }

  makeConnListener() {
    // After goOffline(), `disconnect()` is reported as a failure (9508): the pane stays offline.
    const live = () => this.client && this.wantOnline;
    return {
      onConnecting: () => live() && this.setStatus("connecting"),
      onConnectSuccess: () => live() && this.setStatus("online"),
      onConnectFailed: () => live() && this.setStatus("connecting"),
      onUserSigExpired: () => {
        // The client is logged out: the next "online" logs in afresh.
        this.client = null;
        this.mm = null;
        this.cm = null;
        this.setStatus("offline");
        this.showError({ code: 70001, desc: "UserSig expired: go online again" });
      },
      onStorageWarning: (kind, desc) => console.info(`[${this.user}] storage ${kind}: ${desc}`),
    };
  }

  makeConvListener() {
    const changed = (list) => {
      for (const c of list) this.setConv(c);
      this.render();
      this.markRead(this.active);
    };
    return {
      onNewConversation: changed,
      onConversationChanged: changed,
      onTotalUnreadMessageCountChanged: (total) => {
        this.total = total;
        this.totalTouched = true;
        this.renderHeader();
      },
    };
  }

  setStatus(s) {
    this.status = s;
    this.renderHeader();
    this.renderComposer();
    if (s === "online") this.markRead(this.active); // what came in meanwhile, if it is open
  }

  /** Shows a system notification of `msg` while the tab is hidden (tag = msgID). */
  notifyOf(msg, key) {
    const c = this.conv(key);
    const where = c && c.groupID ? this.convTitle(c) : null;
    notifier.notify(msg.msgID, t("notifyTitle")(msg.sender, where), this.previewText(msg), () => {
      if (c) this.switchTo(c.key);
    });
  }

  // ----- messages -----

  upsert(msg, key) {
    const k = key || convKeyOf(msg) || this.convOf.get(msg.msgID);
    if (k) this.convOf.set(msg.msgID, k);
    const old = this.messages.get(msg.msgID);
    // Never let an older copy undo a revoke, nor lose the sender's own text.
    if (old && old.isRevoked && !msg.isRevoked) return;
    if (old && old.textElem && !msg.textElem && msg.sender === this.user) {
      msg = { ...msg, textElem: old.textElem };
    }
    this.messages.set(msg.msgID, msg);
    const preview = this.previews.get(msg.msgID);
    if (preview && (msg.isRevoked || thumbOf(msg.imageElem))) {
      // Uploaded (the bubble shows the stored copy now) or revoked: the local copy goes.
      URL.revokeObjectURL(preview);
      this.previews.delete(msg.msgID);
    }
  }

  async reloadAll() {
    await Promise.all(this.convs.map((c) => this.reload(c)));
    this.render();
  }

  async reload(c) {
    if (!this.mm) return;
    c.loaded = true;
    try {
      const page = await this.mm.getHistoryMessageList(
        c.groupID ? { groupID: c.groupID, count: 50 } : { userID: c.userID, count: 50 },
      );
      for (const m of page.messageList) this.upsert(m, c.key);
      // Shown as soon as it is here (from the browser's store, often before the server answers).
      if (c.key === this.active) this.render();
    } catch (e) {
      // 10010 / 10007: the demo group does not exist yet or this user is not in it.
      if (!(c.groupID && (e.code === 10010 || e.code === 10007))) this.showError(e);
    }
  }

  applyRevoke(msgID, revokerInfo, reason) {
    notifier.close(msgID);
    if (this.replyTo && this.replyTo.msgID === msgID) {
      this.replyTo = null;
      this.renderReplyBar();
    }
    const m = this.messages.get(msgID);
    if (!m) {
      // Not loaded here (another conversation's old message): ask the server.
      this.mm?.findMessages([msgID]).then(
        (list) => {
          for (const x of list) this.upsert(x);
          this.render();
        },
        (e) => this.showError(e),
      );
      this.searchAgain();
      return;
    }
    this.openForms.delete(msgID);
    const mine = m.sender === this.user;
    this.upsert({
      ...m,
      status: STATUS_REVOKED,
      isRevoked: true,
      revokerInfo,
      revokeReason: reason,
      revokeTimeMs: this.serverNow(),
      textElem: mine ? m.textElem : null,
      customElem: mine ? m.customElem : null,
      imageElem: null,
      fileElem: null,
    });
    this.render();
    this.searchAgain();
  }

  serverNow() {
    try {
      return this.client ? this.client.getServerTime() : Date.now();
    } catch {
      return Date.now();
    }
  }

  myRole() {
    const g = this.group;
    if (!g) return null;
    if (g.owner === this.user) return "owner";
    if ((g.admins || []).includes(this.user)) return "admin";
    return "member";
  }

  async send() {
    const c = this.conv();
    const text = this.input.value;
    if (!text.trim() || !this.mm) return;
    const mm = this.mm;
    const reply = this.replyTo;
    let msg;
    try {
      msg = reply ? mm.createTextMessage(text, { replyTo: reply.msgID }) : mm.createTextMessage(text);
    } catch (e) {
      this.showError(e);
      return;
    }
    this.upsert(msg, c.key);
    this.input.value = "";
    this.drafts.delete(c.key);
    this.replyTo = null;
    this.renderReplyBar();
    this.render(true);
    await this.deliver(mm, msg, c);
  }

  /** `sendMessage` and what follows: the sent copy, or "not sent" with the error. */
  async deliver(mm, msg, c, options) {
    try {
      const sent = await (options ? mm.sendMessage(msg, c.userID, c.groupID, options) : mm.sendMessage(msg, c.userID, c.groupID));
      this.upsert(sent, c.key);
    } catch (e) {
      const m = this.messages.get(msg.msgID);
      if (m && !m.isRevoked) this.messages.set(msg.msgID, { ...m, status: STATUS_FAILED });
      this.showError(e);
    }
    this.progress.delete(msg.msgID);
    this.render();
  }

  /** An image (shown with a thumbnail) or any other file, from the attach button or a drop. */
  async sendFile(file) {
    const mm = this.mm;
    if (!mm || !this.features.rich) return;
    const c = this.conv();
    const isImage = /^image\//.test(file.type);
    let msg;
    try {
      msg = await (isImage ? mm.createImageMessage(file) : mm.createFileMessage(file));
    } catch (e) {
      this.showError(e);
      return;
    }
    if (isImage && !thumbOf(msg.imageElem)) this.previews.set(msg.msgID, URL.createObjectURL(file));
    this.progress.set(msg.msgID, 0);
    this.upsert(msg, c.key);
    this.render(true);
    await this.deliver(mm, msg, c, { onProgress: (f) => this.setProgress(msg.msgID, f) });
  }

  setProgress(msgID, fraction) {
    this.progress.set(msgID, fraction);
    const row = this.rows.get(msgID);
    if (row && row.progressEl) {
      const pct = Math.round(Math.max(0, Math.min(1, fraction)) * 100);
      row.progressEl.value = fraction;
      row.progressLabel.textContent = t("uploading")(pct);
    }
  }

  async revoke(msgID, reason) {
    if (!this.mm) return;
    const m = this.messages.get(msgID);
    try {
      await this.mm.revokeMessage(msgID, reason || null);
      this.openForms.delete(msgID);
      notifier.close(msgID);
      const cur = this.messages.get(msgID) || m;
      if (cur && !cur.isRevoked) {
        const role = cur.sender === this.user ? "sender" : this.myRole() === "owner" ? "owner" : "admin";
        this.upsert({
          ...cur,
          status: STATUS_REVOKED,
          isRevoked: true,
          revokerInfo: { userID: this.user, role },
          revokeReason: reason || "",
          revokeTimeMs: this.serverNow(),
          imageElem: cur.sender === this.user ? cur.imageElem : null,
          fileElem: cur.sender === this.user ? cur.fileElem : null,
        });
      }
    } catch (e) {
      // Too late, or already revoked: nothing left to confirm, so the prompt closes. Other
      // failures (e.g. the network) keep it open for another try.
      if ([6223, 20016, 10031, 20023].includes(e.code)) this.closeForm(msgID);
      this.showError(e);
    }
    this.render();
    this.searchAgain();
  }

  closeForm(msgID) {
    this.openForms.delete(msgID);
    const row = this.rows.get(msgID);
    if (row && row.form) {
      row.form.remove();
      row.form = null;
    }
  }

  reedit(msgID) {
    const m = this.messages.get(msgID);
    if (!m || !m.textElem) return;
    this.input.value = m.textElem.text;
    this.input.focus();
    this.input.setSelectionRange(this.input.value.length, this.input.value.length);
  }

  startReply(msgID) {
    const m = this.messages.get(msgID);
    if (!m || m.isRevoked) return;
    this.replyTo = { msgID, sender: m.sender, text: this.previewText(m) };
    this.renderReplyBar();
    this.input.focus();
  }

  /** Scrolls to a message of the active conversation and flashes it. */
  jumpTo(msgID) {
    const row = this.rows.get(msgID);
    if (!row) return;
    row.el.scrollIntoView({ block: "center" });
    row.el.classList.remove("flash");
    void row.el.offsetWidth; // restart the animation
    row.el.classList.add("flash");
  }

  // ----- search -----

  async runSearch() {
    const q = this.searchInput.value.trim();
    const seq = ++this.search.seq;
    if (!q || !this.mm || !this.features.search) {
      this.search = { query: "", result: null, seq };
      this.renderSearch();
      return;
    }
    try {
      const result = await this.mm.searchLocalMessages({ keywordList: [q] });
      if (seq !== this.search.seq) return; // a newer query is on its way
      this.search = { query: q, result, seq };
    } catch (e) {
      if (seq !== this.search.seq) return;
      this.search = { query: q, result: null, seq };
      this.showError(e);
    }
    this.renderSearch();
  }

  /** A revoke or a new message while results are shown: ask again (revoked text drops out). */
  searchAgain() {
    if (!this.search.query || this.searchQueued) return;
    this.searchQueued = true;
    queueMicrotask(() => {
      this.searchQueued = false;
      this.runSearch();
    });
  }

  closeSearch() {
    this.searchInput.value = "";
    this.runSearch();
  }

  renderSearch() {
    const { query, result } = this.search;
    if (!query) {
      this.searchPanel.hidden = true;
      this.searchPanel.replaceChildren();
      return;
    }
    this.searchPanel.hidden = false;
    const items = (result && result.messageSearchResultItems) || [];
    const found = [];
    for (const item of items) for (const m of item.messageList || []) found.push([item.conversationID, m]);
    const n = result ? Number(result.totalCount ?? found.length) : 0;
    this.searchPanel.replaceChildren(
      el(
        "div",
        { class: "search-head" },
        el("span", { class: "search-count", text: n ? t("searchCount")(n, query) : t("searchNone")(query) }),
        el("button", { type: "button", class: "icon-btn", "aria-label": t("searchClose"), text: "×", onclick: () => this.closeSearch() }),
      ),
      ...found.map(([convID, m]) => {
        const c = this.conv(convID) || { key: convID, userID: m.userID, groupID: m.groupID };
        return el(
          "button",
          {
            type: "button",
            class: "search-hit",
            "data-msg-id": m.msgID,
            onclick: () => {
              if (this.conv(convID)) {
                this.switchTo(convID);
                this.jumpTo(m.msgID);
              }
            },
          },
          el("span", { class: "hit-where", text: `${c.groupID ? "# " : ""}${this.convTitle(c)} · ${m.sender} · ${hhmm(m.timeMs)}` }),
          el("span", { class: "hit-text", text: this.previewText(m) }),
        );
      }),
    );
  }

  // ----- errors -----

  showError(e) {
    const code = e && e.code !== undefined ? e.code : "?";
    const desc = (e && (e.desc || e.message)) || String(e);
    this.error = { code, desc };
    this.renderError();
    console.warn(`[${this.user}] error ${code}: ${desc}`);
  }

  // ----- DOM -----

  build() {
    const u = this.user;
    this.root = el("section", {
      class: "pane",
      "data-user": u,
      "aria-label": u,
      style: `--user-hue: ${hue(u)}`,
    });
    this.avatar = el("span", { class: "avatar", "aria-hidden": "true", text: u.slice(0, 1).toUpperCase() });
    this.nameEl = el("h2", { class: "user-name", text: u });
    this.totalEl = el("span", { class: "badge total", hidden: true });
    this.statusEl = el("span", { class: "status" });
    this.toggleBtn = el("button", {
      type: "button",
      class: "toggle",
      onclick: () => this.toggleOnline(),
    });
    this.closeBtn = this.closable
      ? el("button", { type: "button", class: "icon-btn close", text: "×", onclick: () => this.close() })
      : null;
    this.header = el(
      "header",
      { class: "pane-header" },
      this.avatar,
      el("div", { class: "who" }, el("div", { class: "name-line" }, this.nameEl, this.totalEl), this.statusEl),
      this.toggleBtn,
      this.closeBtn,
    );
    this.searchInput = el("input", {
      type: "search",
      class: "search-input",
      oninput: () => {
        clearTimeout(this.searchTimer);
        this.searchTimer = setTimeout(() => this.runSearch(), 150);
      },
      onkeydown: (e) => {
        if (e.key === "Escape") this.closeSearch();
      },
    });
    this.searchForm = el(
      "form",
      {
        class: "search",
        role: "search",
        hidden: true,
        onsubmit: (e) => {
          e.preventDefault();
          clearTimeout(this.searchTimer);
          this.runSearch();
        },
      },
      this.searchInput,
    );
    this.searchPanel = el("div", { class: "search-results", role: "region", hidden: true });
    this.tabs = el("nav", { class: "convs", role: "tablist", "aria-orientation": "vertical" });
    this.roster = el("div", { class: "roster" });
    this.list = el("div", {
      class: "messages",
      id: `messages-${++paneCount}`,
      role: "log",
      "aria-live": "polite",
      tabindex: "0",
    });
    this.errorEl = el("div", { class: "error", role: "alert", hidden: true });
    this.replyBar = el("div", { class: "reply-bar", hidden: true });
    this.input = el("textarea", {
      class: "input",
      rows: "1",
      onkeydown: (e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          this.send();
        }
        if (e.key === "Escape" && this.replyTo) {
          this.replyTo = null;
          this.renderReplyBar();
        }
      },
      oninput: () => this.drafts.set(this.active, this.input.value),
    });
    this.fileInput = el("input", {
      type: "file",
      multiple: true,
      class: "file-input",
      hidden: true,
      onchange: () => {
        const files = [...this.fileInput.files];
        this.fileInput.value = "";
        for (const f of files) this.sendFile(f);
      },
    });
    this.attachBtn = el("button", {
      type: "button",
      class: "attach",
      hidden: true,
      onclick: () => this.fileInput.click(),
    });
    this.sendBtn = el("button", { type: "submit", class: "send" });
    this.composer = el(
      "form",
      {
        class: "composer",
        onsubmit: (e) => {
          e.preventDefault();
          this.send();
        },
      },
      this.attachBtn,
      this.fileInput,
      this.input,
      this.sendBtn,
    );
    this.root.append(
      this.header,
      this.searchForm,
      this.searchPanel,
      this.tabs,
      this.roster,
      this.list,
      this.errorEl,
      this.replyBar,
      this.composer,
    );
    this.wireDrop();
    this.renderAll();
  }

  /** Drag-and-drop of files onto the pane sends them to the open conversation. */
  wireDrop() {
    const hasFiles = (e) => !!e.dataTransfer && [...e.dataTransfer.types].includes("Files");
    const over = (e) => {
      if (!hasFiles(e) || !this.mm || !this.features.rich) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
      this.root.classList.add("dropping");
    };
    this.root.addEventListener("dragenter", over);
    this.root.addEventListener("dragover", over);
    this.root.addEventListener("dragleave", (e) => {
      if (!this.root.contains(e.relatedTarget)) this.root.classList.remove("dropping");
    });
    this.root.addEventListener("drop", (e) => {
      this.root.classList.remove("dropping");
      if (!hasFiles(e) || !this.mm || !this.features.rich) return;
      e.preventDefault();
      for (const f of e.dataTransfer.files) this.sendFile(f);
    });
  }

  close() {
    this.closed = true;
    this.wantOnline = false;
    const client = this.client;
    this.client = null;
    this.mm = null;
    this.cm = null;
    for (const url of this.previews.values()) URL.revokeObjectURL(url);
    this.previews.clear();
    client?.logout().catch((e) => console.warn(e));
    this.root.remove();
    this.app.onClose?.(this);
  }

  renderAll() {
    this.renderHeader();
    this.renderTabs();
    this.renderComposer();
    this.renderReplyBar();
    this.renderError();
    this.renderSearchBox();
    this.renderSearch();
    this.render();
  }

  renderHeader() {
    const s = this.status;
    this.root.dataset.status = s;
    this.statusEl.textContent = t(s);
    this.toggleBtn.textContent = s === "offline" ? t("goOnline") : t("goOffline");
    this.toggleBtn.setAttribute("aria-label", s === "offline" ? t("goOnlineLabel")(this.user) : t("goOfflineLabel")(this.user));
    this.toggleBtn.setAttribute("aria-pressed", String(s === "offline"));
    if (this.closeBtn) this.closeBtn.setAttribute("aria-label", t("closePane")(this.user));
    const total = this.totalUnread();
    this.totalEl.hidden = !total;
    this.totalEl.textContent = total > 99 ? "99+" : String(total);
    this.totalEl.setAttribute("aria-label", t("totalUnread")(total));
    this.totalEl.title = t("totalUnread")(total);
  }

  renderSearchBox() {
    this.searchForm.hidden = !this.features.search;
    this.searchInput.placeholder = t("searchPlaceholder");
    this.searchInput.setAttribute("aria-label", t("searchLabel")(this.user));
    this.searchPanel.setAttribute("aria-label", t("searchResults")(this.user));
  }

  renderTabs() {
    const ordered = this.orderedConvs();
    const rows = ordered.map((c) => {
      const last = this.lastMessageOf(c.key);
      return [c, this.unreadOf(c.key), this.previewText(last, true), last ? last.timeMs : 0];
    });
    const sig = JSON.stringify([this.active, rows.map(([c, n, p, tm]) => [c.key, n, p, tm]), document.documentElement.lang]);
    if (sig === this.tabsSig) return;
    this.tabsSig = sig;
    this.tabs.setAttribute("aria-label", t("conversations")(this.user));
    this.tabs.replaceChildren(
      ...rows.map(([c, n, preview, tm]) => {
        const title = this.convTitle(c);
        const revoked = !!preview && this.lastMessageOf(c.key)?.isRevoked;
        return el(
          "button",
          {
            type: "button",
            role: "tab",
            class: c.groupID ? "conv group" : "conv",
            "aria-selected": String(c.key === this.active),
            "aria-controls": this.list.id,
            "aria-label": t("convLabel")(c.groupID ? `# ${title}` : title, preview, n),
            "data-conv": c.key,
            onclick: () => this.switchTo(c.key),
          },
          el(
            "span",
            { class: "conv-line" },
            el("span", { class: "conv-name", text: c.groupID ? `# ${title}` : title }),
            el("time", { class: "conv-time", text: hhmm(tm) }),
          ),
          el(
            "span",
            { class: "conv-line" },
            el("span", { class: `preview${revoked ? " revoked" : ""}`, text: preview }),
            n ? el("span", { class: "badge", text: n > 99 ? "99+" : String(n) }) : null,
          ),
        );
      }),
    );
    this.renderHeader();
  }

  switchTo(key) {
    if (key === this.active) return;
    this.drafts.set(this.active, this.input.value);
    this.active = key;
    this.replyTo = null;
    this.renderReplyBar();
    this.markRead(key);
    this.rows.clear();
    this.list.replaceChildren();
    this.input.value = this.drafts.get(key) || "";
    const c = this.conv();
    if (c && !c.loaded) this.reload(c).then(() => this.render());
    this.renderTabs();
    this.renderComposer();
    this.render(true);
  }

  renderComposer() {
    const c = this.conv();
    const title = this.convTitle(c);
    const offline = this.status !== "online";
    // Offline, a message waits in the client's outbox and goes out on the next login.
    this.input.placeholder = offline && this.mm ? t("placeholderOffline") : t("placeholder")(title);
    this.input.setAttribute("aria-label", t("inputLabel")(title));
    this.input.disabled = !this.mm && this.status === "offline";
    this.sendBtn.textContent = t("send");
    this.sendBtn.setAttribute("aria-label", t("sendLabel")(this.user));
    this.sendBtn.disabled = !this.mm;
    this.attachBtn.hidden = !this.features.rich;
    this.attachBtn.disabled = !this.mm;
    this.attachBtn.textContent = t("attach");
    this.attachBtn.setAttribute("aria-label", t("attachLabel"));
    this.root.dataset.dropHint = t("dropHint")(title);
  }

  renderReplyBar() {
    const r = this.replyTo;
    this.replyBar.hidden = !r;
    if (!r) {
      this.replyBar.replaceChildren();
      return;
    }
    this.replyBar.replaceChildren(
      el(
        "div",
        { class: "reply-what" },
        el("span", { class: "reply-to", text: t("replyingTo")(r.sender) }),
        el("span", { class: "reply-text", text: r.text }),
      ),
      el("button", {
        type: "button",
        class: "icon-btn",
        "aria-label": t("cancelReply"),
        title: t("cancelReply"),
        text: "×",
        onclick: () => {
          this.replyTo = null;
          this.renderReplyBar();
        },
      }),
    );
  }

  renderError() {
    const e = this.error;
    if (!e) {
      this.errorEl.hidden = true;
      this.errorEl.replaceChildren();
      return;
    }
    this.errorEl.hidden = false;
    this.errorEl.replaceChildren(
      el("strong", { class: "code", text: t("error")(e.code) }),
      el("span", { class: "desc", text: e.desc }),
      el("button", {
        type: "button",
        class: "icon-btn",
        "aria-label": t("dismissLabel"),
        title: t("dismiss"),
        text: "×",
        onclick: () => {
          this.error = null;
          this.renderError();
        },
      }),
    );
  }

  /** Re-renders the active conversation (keyed rows; open revoke forms survive). */
  render(scrollToEnd = false) {
    const c = this.conv();
    const atEnd = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    this.renderTabs();
    // The group roster line.
    if (c.groupID && this.group && c.groupID === this.group.groupID) {
      this.roster.hidden = false;
      this.roster.textContent = t("groupRoster")(this.group.owner, this.group.admins || []);
    } else {
      this.roster.hidden = true;
    }
    const msgs = [...this.messages.values()]
      .filter((m) => this.convOf.get(m.msgID) === c.key)
      .sort((a, b) => (a.seq || Infinity) - (b.seq || Infinity) || (a.timeMs || 0) - (b.timeMs || 0));
    this.list.setAttribute("aria-label", `${this.user} · ${this.convTitle(c)}`);
    if (!msgs.length) {
      this.rows.clear();
      this.list.replaceChildren(el("p", { class: "empty", text: t("empty") }));
      return;
    }
    const seen = new Set();
    let prev = null;
    for (const m of msgs) {
      seen.add(m.msgID);
      let row = this.rows.get(m.msgID);
      if (!row) {
        row = { el: el("div", { class: "row", "data-msg-id": m.msgID }), version: null };
        this.rows.set(m.msgID, row);
      }
      const version = JSON.stringify([
        m.status,
        m.isRevoked,
        m.revokeReason,
        m.textElem,
        m.imageElem,
        m.fileElem,
        m.replyTo,
        m.revokerInfo,
        this.previews.has(m.msgID),
        this.features.conv,
        document.documentElement.lang,
        !!c.groupID,
      ]);
      if (row.version !== version) {
        row.version = version;
        this.fillRow(row, m, c);
      }
      // Keep DOM order = message order.
      const want = prev ? prev.el.nextSibling : this.list.firstChild;
      if (want !== row.el) this.list.insertBefore(row.el, want);
      prev = row;
    }
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) {
        row.el.remove();
        this.rows.delete(id);
      }
    }
    for (const node of [...this.list.children]) {
      if (!node.dataset.msgId) node.remove();
    }
    this.tick();
    if (scrollToEnd || atEnd) this.list.scrollTop = this.list.scrollHeight;
  }

  /** The bubble's content: text, an image (thumbnail, opens the original) or a file card. */
  content(m) {
    if (m.elemType === ELEM_IMAGE) {
      const list = (m.imageElem && m.imageElem.imageList) || [];
      const thumb = thumbOf(m.imageElem);
      const original = list.find((i) => i.type === 1 && i.url) || thumb;
      const src = thumb ? thumb.url : this.previews.get(m.msgID);
      const img = el("img", {
        class: "thumb",
        src: src || null,
        alt: t("imageAlt")(m.sender),
        width: thumb && thumb.width ? thumb.width : null,
        height: thumb && thumb.height ? thumb.height : null,
        loading: "lazy",
      });
      if (!original) return el("div", { class: "bubble image" }, img);
      return el(
        "div",
        { class: "bubble image" },
        el("a", { href: original.url, target: "_blank", rel: "noopener", title: t("openOriginal"), "aria-label": t("openOriginal") }, img),
      );
    }
    if (m.elemType === ELEM_FILE) {
      const f = m.fileElem || {};
      return el(
        "div",
        { class: "bubble file" },
        el("span", { class: "file-icon", "aria-hidden": "true", text: fileKind(f.fileName) }),
        el(
          "span",
          { class: "file-meta" },
          el("span", { class: "file-name", text: f.fileName || "" }),
          el("span", { class: "file-size", text: fmtSize(f.fileSize) }),
        ),
        f.url
          ? el("a", { class: "file-link", href: f.url, download: f.fileName || "", "aria-label": t("downloadLabel")(f.fileName || ""), text: t("download") })
          : null,
      );
    }
    if (m.elemType === ELEM_CUSTOM && m.customElem) {
      return el("div", { class: "bubble custom", text: m.customElem.desc || m.customElem.data });
    }
    return el("div", { class: "bubble", text: m.textElem ? m.textElem.text : "" });
  }

  /** The quote of the message `m` replies to ("Original message revoked" once it is). */
  quote(m) {
    const q = m.replyTo;
    return el(
      "button",
      {
        type: "button",
        class: `quote${q.isRevoked ? " revoked" : ""}`,
        "data-reply-to": q.msgID,
        title: t("quoteLabel")(q.sender),
        onclick: () => this.jumpTo(q.msgID),
      },
      el("span", { class: "quote-sender", text: q.sender }),
      el("span", { class: "quote-text", text: q.isRevoked ? t("quoteRevoked") : q.abstract }),
    );
  }

  fillRow(row, m, c) {
    const mine = m.sender === this.user;
    const r = row.el;
    r.className = `row ${mine ? "self" : "other"}${m.isRevoked ? " revoked" : ""}`;
    r.replaceChildren();
    row.revokeBtn = null;
    row.reeditBtn = null;
    row.form = null;
    row.progressEl = null;
    if (m.isRevoked) {
      const notice = el("div", { class: "notice" }, el("span", { class: "notice-text", text: revokeNotice(this.user, m, m.revokerInfo) }));
      if (m.revokeReason) notice.append(el("span", { class: "reason", text: t("reason")(m.revokeReason) }));
      if (mine && m.textElem && m.revokerInfo && m.revokerInfo.userID === this.user) {
        row.reeditBtn = el("button", {
          type: "button",
          class: "link reedit",
          "aria-label": t("reeditLabel"),
          text: t("reedit"),
          onclick: () => this.reedit(m.msgID),
        });
        row.reeditBtn.hidden = true; // tick() shows it while the window lasts
        notice.append(row.reeditBtn);
      }
      r.append(notice);
      return;
    }
    const meta = el("div", { class: "meta" });
    if (c.groupID && !mine) meta.append(el("span", { class: "sender", text: m.sender }));
    meta.append(el("time", { text: hhmm(m.timeMs) }));
    if (m.status === STATUS_SENDING) meta.append(el("span", { class: "state", text: t("sending") }));
    if (m.status === STATUS_FAILED) meta.append(el("span", { class: "state failed", text: t("failed") }));
    r.append(meta);
    if (m.replyTo) r.append(this.quote(m));
    r.append(this.content(m));
    if (m.status === STATUS_SENDING && this.progress.has(m.msgID)) {
      const f = this.progress.get(m.msgID);
      row.progressEl = el("progress", { class: "upload", max: "1", value: String(f) });
      row.progressLabel = el("span", { class: "upload-label", text: t("uploading")(Math.round(f * 100)) });
      r.append(el("div", { class: "upload-line" }, row.progressEl, row.progressLabel));
    }
    row.revokeBtn = el("button", {
      type: "button",
      class: "revoke",
      onclick: () => this.openForm(m.msgID),
    });
    row.revokeBtn.hidden = true; // tick() shows it while canRevoke allows
    const actions = el("div", { class: "actions" });
    if (this.features.conv && m.status !== STATUS_SENDING && m.status !== STATUS_FAILED) {
      actions.append(
        el("button", {
          type: "button",
          class: "reply",
          "aria-label": t("replyLabel"),
          text: t("reply"),
          onclick: () => this.startReply(m.msgID),
        }),
      );
    }
    actions.append(row.revokeBtn);
    r.append(actions);
    if (this.openForms.has(m.msgID)) this.attachForm(row, m.msgID);
  }

  openForm(msgID) {
    if (!this.openForms.has(msgID)) this.openForms.set(msgID, "");
    const row = this.rows.get(msgID);
    if (row && !row.form) this.attachForm(row, msgID);
    row?.form?.querySelector("input")?.focus();
  }

  attachForm(row, msgID) {
    const reason = el("input", {
      type: "text",
      class: "reason-input",
      maxlength: "256",
      placeholder: t("reasonPlaceholder"),
      "aria-label": t("reasonLabel"),
      oninput: (e) => this.openForms.set(msgID, e.target.value),
      onkeydown: (e) => {
        if (e.key === "Escape") this.closeForm(msgID);
      },
    });
    const confirm = el("button", { type: "submit", class: "danger", text: t("confirmRevoke") });
    reason.value = this.openForms.get(msgID) || "";
    const form = el(
      "form",
      {
        class: "revoke-form",
        onsubmit: async (e) => {
          e.preventDefault();
          confirm.disabled = true;
          try {
            await this.revoke(msgID, reason.value.trim());
          } finally {
            confirm.disabled = false;
          }
        },
      },
      reason,
      confirm,
      el("button", {
        type: "button",
        class: "ghost",
        text: t("cancel"),
        onclick: () => this.closeForm(msgID),
      }),
    );
    row.form = form;
    row.el.append(form);
  }

  /** Updates the revoke buttons (and their countdown) and the re-edit links. */
  tick() {
    const mm = this.mm;
    const now = this.serverNow();
    for (const [id, row] of this.rows) {
      if (row.revokeBtn) {
        let v = { allowed: false };
        if (mm) {
          try {
            v = mm.canRevoke(id);
          } catch {
            v = { allowed: false };
          }
        }
        const show = !!v.allowed;
        if (row.revokeBtn.hidden === show) row.revokeBtn.hidden = !show;
        if (show) {
          const left = v.remainingMs === null || v.remainingMs === undefined ? null : mmss(v.remainingMs);
          const label = left ? `${t("revoke")} ${left}` : t("revoke");
          if (row.revokeBtn.dataset.label !== label) {
            row.revokeBtn.dataset.label = label;
            row.revokeBtn.replaceChildren(
              el("span", { text: t("revoke") }),
              left ? el("span", { class: "countdown", text: left }) : null,
            );
            row.revokeBtn.setAttribute("aria-label", t("revokeLabel")(left));
          }
        }
      }
      if (row.reeditBtn) {
        const m = this.messages.get(id);
        const open = !!m && !!this.client && now < (m.revokeTimeMs || 0) + REEDIT_WINDOW_MS;
        if (row.reeditBtn.hidden === open) row.reeditBtn.hidden = !open;
      }
    }
  }

  /** Re-renders every text after a language switch. */
  relabel() {
    this.tabsSig = null;
    this.rows.clear();
    this.list.replaceChildren();
    this.renderAll();
  }
}

/** A stable hue per userID, for the avatar. */
function hue(u) {
  const fixed = { alice: 250, bob: 200, carol: 35 };
  if (u in fixed) return fixed[u];
  let h = 0;
  for (const ch of u) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}
