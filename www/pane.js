// One chat pane: one user, one ChatClient, a conversation switcher, bubbles, revoke.
//
// One file on purpose (about 750 lines): a pane is one UI component whose parts (list,
// bubbles, composer, revoke menu) share its state; split it when it gains a second view.
//
// Every piece of text that comes from a user (message text, reasons, userIDs) is put into the
// page with textContent, never innerHTML.

import { t, revokeNotice, mmss } from "./i18n.js";

/** How long after revoking their message the sender may put its text back ("Re-edit"). */
export const REEDIT_WINDOW_MS = 2 * 60 * 1000;

let paneCount = 0;

const STATUS_SENDING = 1;
const STATUS_FAILED = 3;
const STATUS_REVOKED = 6;

/** `el("div", { class: "x", "aria-label": "y" }, child, "text")`: a DOM element. */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
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

/** The key of a message's conversation, as this user sees it ("c:bob" or "g:demo-group"). */
function convKeyOf(msg) {
  if (msg.groupID) return `g:${msg.groupID}`;
  if (msg.userID) return `c:${msg.userID}`;
  return null;
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
    this.status = "connecting"; // "connecting" | "online" | "offline"
    /** Whether the user wants this pane online (the offline toggle). */
    this.wantOnline = true;
    this.closed = false;
    /** msgID -> latest message object (a plain object from the module, maybe updated here). */
    this.messages = new Map();
    /** msgID -> conversation key (known before the server stamps a sent message). */
    this.convOf = new Map();
    /** msgID -> row DOM of the active conversation. */
    this.rows = new Map();
    /** msgIDs whose revoke form is open, with the reason typed so far. */
    this.openForms = new Map();
    this.unread = new Map();
    this.group = null; // the demo group as this client last heard it
    this.error = null;
    this.listener = this.makeListener();
    this.connListener = this.makeConnListener();
    this.convs = this.conversations();
    this.active = this.convs[0].key;
    this.drafts = new Map();
    this.build();
  }

  // ----- conversations -----

  conversations() {
    const list = this.app.cast
      .filter((u) => u !== this.user)
      .map((u) => ({ key: `c:${u}`, userID: u, groupID: null }));
    if (this.app.cast.includes(this.user)) {
      list.push({ key: `g:${this.app.group.groupID}`, userID: null, groupID: this.app.group.groupID });
    }
    return list;
  }

  conv(key = this.active) {
    return this.convs.find((c) => c.key === key);
  }

  convTitle(c) {
    return c.groupID ? t("groupName") : c.userID;
  }

  // ----- connection -----

  /**
   * The first login of this pane's client: listeners, the demo group as the server has it,
   * then each conversation's history. Going offline and back later keeps the client
   * (`goOffline`/`goOnline`): what happens meanwhile arrives through the listeners.
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
      this.mm.addAdvancedMsgListener(this.listener);
      client.addConnectionListener(this.connListener);
      this.setStatus("online");
      await Promise.all([this.loadGroup(), this.reloadAll()]);
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

  makeListener() {
    return {
      onRecvNewMessage: (msg) => {
        const key = convKeyOf(msg);
        this.upsert(msg, key);
        if (key !== this.active) this.unread.set(key, (this.unread.get(key) || 0) + 1);
        this.render();
      },
      onRecvMessageRevoked: (msgID, revokerInfo, reason) => {
        this.applyRevoke(msgID, revokerInfo, reason);
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
        this.setStatus("offline");
        this.showError({ code: 70001, desc: "UserSig expired: go online again" });
      },
    };
  }

  setStatus(s) {
    this.status = s;
    this.renderHeader();
    this.renderComposer();
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
  }

  async reloadAll() {
    await Promise.all(this.convs.map((c) => this.reload(c)));
    this.render();
  }

  async reload(c) {
    if (!this.mm) return;
    try {
      const page = await this.mm.getHistoryMessageList(
        c.groupID ? { groupID: c.groupID, count: 50 } : { userID: c.userID, count: 50 },
      );
      for (const m of page.messageList) this.upsert(m, c.key);
    } catch (e) {
      // 10010 / 10007: the demo group does not exist yet or this user is not in it.
      if (!(c.groupID && (e.code === 10010 || e.code === 10007))) this.showError(e);
    }
  }

  applyRevoke(msgID, revokerInfo, reason) {
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
      return;
    }
    this.openForms.delete(msgID);
    this.messages.set(msgID, {
      ...m,
      status: STATUS_REVOKED,
      isRevoked: true,
      revokerInfo,
      revokeReason: reason,
      revokeTimeMs: this.serverNow(),
      textElem: m.sender === this.user ? m.textElem : null,
    });
    this.render();
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
    let msg;
    try {
      msg = mm.createTextMessage(text);
    } catch (e) {
      this.showError(e);
      return;
    }
    this.upsert(msg, c.key);
    this.input.value = "";
    this.drafts.delete(c.key);
    this.render(true);
    try {
      const sent = await mm.sendMessage(msg, c.userID, c.groupID);
      this.upsert(sent, c.key);
    } catch (e) {
      const m = this.messages.get(msg.msgID);
      if (m && !m.isRevoked) this.messages.set(msg.msgID, { ...m, status: STATUS_FAILED });
      this.showError(e);
    }
    this.render();
  }

  async revoke(msgID, reason) {
    if (!this.mm) return;
    const m = this.messages.get(msgID);
    try {
      await this.mm.revokeMessage(msgID, reason || null);
      this.openForms.delete(msgID);
      const cur = this.messages.get(msgID) || m;
      if (cur && !cur.isRevoked) {
        const role = cur.sender === this.user ? "sender" : this.myRole() === "owner" ? "owner" : "admin";
        this.messages.set(msgID, {
          ...cur,
          status: STATUS_REVOKED,
          isRevoked: true,
          revokerInfo: { userID: this.user, role },
          revokeReason: reason || "",
          revokeTimeMs: this.serverNow(),
        });
      }
    } catch (e) {
      // Too late, or already revoked: nothing left to confirm, so the prompt closes. Other
      // failures (e.g. the network) keep it open for another try.
      if ([6223, 20016, 10031, 20023].includes(e.code)) this.closeForm(msgID);
      this.showError(e);
    }
    this.render();
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
      el("div", { class: "who" }, this.nameEl, this.statusEl),
      this.toggleBtn,
      this.closeBtn,
    );
    this.tabs = el("nav", { class: "convs", role: "tablist" });
    this.roster = el("div", { class: "roster" });
    this.list = el("div", {
      class: "messages",
      id: `messages-${++paneCount}`,
      role: "log",
      "aria-live": "polite",
      tabindex: "0",
    });
    this.errorEl = el("div", { class: "error", role: "alert", hidden: true });
    this.input = el("textarea", {
      class: "input",
      rows: "1",
      onkeydown: (e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          this.send();
        }
      },
      oninput: () => this.drafts.set(this.active, this.input.value),
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
      this.input,
      this.sendBtn,
    );
    this.root.append(this.header, this.tabs, this.roster, this.list, this.errorEl, this.composer);
    this.renderAll();
  }

  close() {
    this.closed = true;
    this.wantOnline = false;
    const client = this.client;
    this.client = null;
    this.mm = null;
    client?.logout().catch((e) => console.warn(e));
    this.root.remove();
    this.app.onClose?.(this);
  }

  renderAll() {
    this.renderHeader();
    this.renderTabs();
    this.renderComposer();
    this.renderError();
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
  }

  renderTabs() {
    const sig = JSON.stringify([this.active, [...this.unread], document.documentElement.lang]);
    if (sig === this.tabsSig) return;
    this.tabsSig = sig;
    this.tabs.setAttribute("aria-label", t("conversations")(this.user));
    this.tabs.replaceChildren(
      ...this.convs.map((c) => {
        const n = this.unread.get(c.key) || 0;
        return el(
          "button",
          {
            type: "button",
            role: "tab",
            class: c.groupID ? "conv group" : "conv",
            "aria-selected": String(c.key === this.active),
            "aria-controls": this.list.id,
            "data-conv": c.key,
            onclick: () => this.switchTo(c.key),
          },
          el("span", { text: c.groupID ? `# ${this.convTitle(c)}` : this.convTitle(c) }),
          n ? el("span", { class: "badge", "aria-label": `${n} new`, text: String(n) }) : null,
        );
      }),
    );
  }

  switchTo(key) {
    if (key === this.active) return;
    this.drafts.set(this.active, this.input.value);
    this.active = key;
    this.unread.delete(key);
    this.rows.clear();
    this.list.replaceChildren();
    this.input.value = this.drafts.get(key) || "";
    this.renderTabs();
    this.renderComposer();
    this.render(true);
  }

  renderComposer() {
    const c = this.conv();
    const title = this.convTitle(c);
    const offline = this.status !== "online";
    this.input.placeholder = offline ? t("placeholderOffline") : t("placeholder")(title);
    this.input.setAttribute("aria-label", t("inputLabel")(title));
    this.input.disabled = this.status === "offline";
    this.sendBtn.textContent = t("send");
    this.sendBtn.setAttribute("aria-label", t("sendLabel")(this.user));
    this.sendBtn.disabled = offline;
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
    if (c.groupID && this.group) {
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
      const version = JSON.stringify([m.status, m.isRevoked, m.revokeReason, m.textElem, m.revokerInfo, document.documentElement.lang, !!c.groupID]);
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

  fillRow(row, m, c) {
    const mine = m.sender === this.user;
    const r = row.el;
    r.className = `row ${mine ? "self" : "other"}${m.isRevoked ? " revoked" : ""}`;
    r.replaceChildren();
    row.revokeBtn = null;
    row.reeditBtn = null;
    row.form = null;
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
    const bubble = el("div", { class: "bubble", text: m.textElem ? m.textElem.text : "" });
    row.revokeBtn = el("button", {
      type: "button",
      class: "revoke",
      onclick: () => this.openForm(m.msgID),
    });
    row.revokeBtn.hidden = true; // tick() shows it while canRevoke allows
    r.append(meta, bubble, el("div", { class: "actions" }, row.revokeBtn));
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
