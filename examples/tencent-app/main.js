// A small chat app written the way Tencent's web SDK samples are (send, revoke, listen, the
// conversation list and the unread badge), running on im-revoke through `im-revoke/tencent`.
// Only the import and the `url` (or `hub`) option of `create` differ from the same app on
// `@tencentcloud/chat`. tests/e2e/tencent.mjs drives it through `window.tapp`.
//
// ?url=ws://127.0.0.1:8080/ws&users=alice:<userSig>,bob:<userSig>   against a server
// ?mode=local                                                        on an embedded LocalHub

import TencentCloudChat from "im-revoke/tencent";

const { EVENT, TYPES } = TencentCloudChat;

/** One user's window: a message list, a conversation list with unread badges, a total. */
class ChatWindow {
  constructor(chat, userID) {
    this.chat = chat;
    this.userID = userID;
    /** The message objects this window rendered, by ID (to check the SDK updates them in place). */
    this.held = new Map();
    this.revokedEvents = [];
    this.netStates = [];
    this.events = [];
    this.root = document.createElement("section");
    this.root.dataset.user = userID;
    this.root.innerHTML = `<h2></h2><p class="total">unread: <span class="badge">0</span></p>
      <ul class="conversations"></ul><ul class="messages"></ul>
      <form><input aria-label="Message" /><button>Send</button></form>`;
    this.root.querySelector("h2").textContent = userID;
    this.root.querySelector("form").addEventListener("submit", (e) => {
      e.preventDefault();
      const input = this.root.querySelector("input");
      if (!input.value || !this.peer) return;
      this.send(this.peer, input.value).catch(showError);
      input.value = "";
    });
    document.getElementById("windows").append(this.root);

    chat.on(EVENT.SDK_READY, () => this.events.push("ready"));
    chat.on(EVENT.SDK_NOT_READY, () => this.events.push("not-ready"));
    chat.on(EVENT.MESSAGE_RECEIVED, (event) => {
      for (const message of event.data) {
        this.held.set(message.ID, message);
        this.render(message);
      }
    });
    chat.on(EVENT.MESSAGE_REVOKED, (event) => {
      for (const message of event.data) {
        this.revokedEvents.push({
          ID: message.ID,
          sameObject: this.held.get(message.ID) === message,
          isRevoked: message.isRevoked,
          revoker: message.revoker,
          text: message.payload.text,
        });
        this.render(message);
      }
    });
    chat.on(EVENT.CONVERSATION_LIST_UPDATED, (event) => this.renderConversations(event.data));
    chat.on(EVENT.TOTAL_UNREAD_MESSAGE_COUNT_UPDATED, (event) => {
      this.root.querySelector(".total .badge").textContent = String(event.data);
    });
    chat.on(EVENT.NET_STATE_CHANGE, (event) => this.netStates.push(event.data.state));
  }

  render(message) {
    let li = this.root.querySelector(`.messages li[data-id="${CSS.escape(message.ID)}"]`);
    if (!li) {
      li = document.createElement("li");
      li.dataset.id = message.ID;
      this.root.querySelector(".messages").append(li);
    }
    li.className = message.isRevoked ? "bubble revoked" : "bubble";
    li.dataset.status = message.status;
    li.textContent = message.isRevoked
      ? message.flow === "out"
        ? "You revoked a message"
        : `${message.revoker} revoked a message`
      : `${message.from}: ${message.payload.text}`;
    if (message.flow === "out" && !message.isRevoked && message.status === "success") {
      const revoke = document.createElement("button");
      revoke.textContent = "revoke";
      revoke.addEventListener("click", () => this.revoke(message.ID).catch(showError));
      li.append(" ", revoke);
    }
  }

  renderConversations(list) {
    const ul = this.root.querySelector(".conversations");
    ul.replaceChildren(
      ...list.map((c) => {
        const li = document.createElement("li");
        li.dataset.conv = c.conversationID;
        li.dataset.unread = String(c.unreadCount);
        const last = c.lastMessage;
        li.textContent = `${c.conversationID}: ${
          !last ? "" : last.isRevoked ? `${last.fromAccount} revoked a message` : last.messageForShow
        } (${c.unreadCount})`;
        return li;
      }),
    );
  }

  async send(to, text) {
    const message = this.chat.createTextMessage({ to, conversationType: TYPES.CONV_C2C, payload: { text } });
    this.held.set(message.ID, message);
    this.render(message);
    const res = await this.chat.sendMessage(message);
    this.render(res.data.message);
    return { code: res.code, same: res.data.message === message, ID: message.ID, status: message.status, flow: message.flow, conversationID: message.conversationID };
  }

  async revoke(ID) {
    const message = this.held.get(ID) || this.chat.findMessage(ID);
    const res = await this.chat.revokeMessage(message);
    this.render(res.data.message);
    return { code: res.code, isRevoked: message.isRevoked, same: res.data.message === message };
  }
}

function showError(e) {
  document.getElementById("status").textContent = `Error ${e.code}: ${e.message}`;
}

/** Runs `f` and returns `{ code, message }` of what it threw or rejected with, or `{ ok }`. */
async function outcome(f) {
  try {
    const v = await f();
    return { ok: true, value: v && v.code };
  } catch (e) {
    return { code: e.code, message: e.message, isError: e instanceof Error, hasDataMessage: !!(e.data && e.data.message) };
  }
}

async function start({ mode, url, sigs, limit }) {
  let options;
  if (mode === "local") {
    // The embedded hub comes from the full module, initialised once (the layer shares it).
    const { default: init, LocalHub } = await import("im-revoke");
    await init();
    options = { SDKAppID: 1400000000, hub: new LocalHub({ revokeTimeLimit: limit || 120 }) };
  } else {
    options = { SDKAppID: 1400000000, url };
  }
  const windows = {};
  const userIDs = Object.keys(sigs);
  for (const userID of userIDs) {
    const chat = TencentCloudChat.create(options);
    const w = new ChatWindow(chat, userID);
    const ready = new Promise((resolve) => chat.on(EVENT.SDK_READY, resolve));
    const res = await chat.login({ userID, userSig: sigs[userID] });
    await ready;
    w.login = res;
    w.peer = userIDs.find((u) => u !== userID);
    windows[userID] = w;
  }
  window.tapp.windows = windows;
  document.getElementById("status").textContent = `${userIDs.join(" and ")} logged in (${mode === "local" ? "LocalHub" : url})`;
  return Object.fromEntries(Object.entries(windows).map(([u, w]) => [u, { code: w.login.code, repeatLogin: w.login.data.repeatLogin, ready: w.chat.isReady() }]));
}

/** For the tests: whether the module below has conversations / image and file messages (else the layer answers 2905). */
async function moduleHas(feature) {
  const { ChatClient, MessageManager } = await import("im-revoke/client");
  return feature === "conversations"
    ? typeof ChatClient.prototype.getConversationManager === "function"
    : typeof MessageManager.prototype.createImageMessage === "function";
}

/** A small PNG drawn on a canvas, as a File (what an `<input type="file">` hands over). */
async function pngFile() {
  const canvas = document.createElement("canvas");
  canvas.width = 40;
  canvas.height = 30;
  const g = canvas.getContext("2d");
  g.fillStyle = "#2a7";
  g.fillRect(0, 0, 40, 30);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  return new File([blob], "dot.png", { type: "image/png" });
}

/** Sends an image from `w` to `to` the Tencent way; returns what the tests look at. */
async function sendImage(w, to) {
  const progress = [];
  const message = w.chat.createImageMessage({
    to,
    conversationType: TYPES.CONV_C2C,
    payload: { file: await pngFile() },
    onProgress: (p) => progress.push(p),
  });
  w.held.set(message.ID, message);
  const res = await w.chat.sendMessage(message);
  return { code: res.code, same: res.data.message === message, ID: message.ID, type: message.type, info: message.payload.imageInfoArray, progress };
}

window.tapp = { start, outcome, moduleHas, sendImage, TencentCloudChat, windows: {} };

const q = new URLSearchParams(location.search);
if (q.get("mode") === "local") {
  start({ mode: "local", sigs: { alice: "", bob: "" } }).catch(showError);
} else if (q.get("url")) {
  const sigs = Object.fromEntries((q.get("users") || "").split(",").map((p) => p.split(":")));
  start({ mode: "server", url: q.get("url"), sigs }).catch(showError);
} else {
  document.getElementById("status").textContent = "add ?mode=local, or ?url=…&users=alice:<userSig>,bob:<userSig>";
}
document.body.dataset.loaded = "true";
