// im-revoke/tencent — the shape of Tencent's web SDK `@tencentcloud/chat` (3.6.x) over this
// package's ChatClient, so that an app written for Tencent's web SDK ports by changing one import.
//
// A thin layer: every rule (who may revoke, until when, what a revoked message still shows,
// unread counts) is decided by the module below it; this file only converts shapes — an event
// bus instead of listener objects, `{ code: 0, data }` answers, Tencent's message and
// conversation objects (one object per ID, updated in place), Tencent's web error codes where
// Tencent has one for the case. docs/TENCENT.md maps every name.

/** The events this layer fires, with Tencent's names and values. */
const EVENT = Object.freeze({
  SDK_READY: "sdkStateReady",
  SDK_NOT_READY: "sdkStateNotReady",
  SDK_DESTROY: "sdkDestroy",
  MESSAGE_RECEIVED: "onMessageReceived",
  MESSAGE_MODIFIED: "onMessageModified",
  MESSAGE_REVOKED: "onMessageRevoked",
  CONVERSATION_LIST_UPDATED: "onConversationListUpdated",
  TOTAL_UNREAD_MESSAGE_COUNT_UPDATED: "onTotalUnreadMessageCountUpdated",
  NET_STATE_CHANGE: "netStateChange",
  KICKED_OUT: "kickedOut",
});

/** Tencent's `TYPES` constants for what this layer supports. */
const TYPES = Object.freeze({
  MSG_TEXT: "TIMTextElem",
  MSG_CUSTOM: "TIMCustomElem",
  MSG_IMAGE: "TIMImageElem",
  MSG_FILE: "TIMFileElem",
  CONV_C2C: "C2C",
  CONV_GROUP: "GROUP",
  MSG_PRIORITY_HIGH: "High",
  MSG_PRIORITY_NORMAL: "Normal",
  MSG_PRIORITY_LOW: "Low",
  MSG_PRIORITY_LOWEST: "Lowest",
  NET_STATE_CONNECTED: "connected",
  NET_STATE_CONNECTING: "connecting",
  NET_STATE_DISCONNECTED: "disconnected",
  KICKED_OUT_USERSIG_EXPIRED: "userSigExpired",
});

/** Tencent's web SDK error codes this layer returns itself (module-ERROR_CODE of the web SDK). */
const ERR = {
  NO_SDKAPPID: 2000,
  NO_IDENTIFIER: 2002,
  NO_USERSIG: 2003,
  USER_NOT_LOGGED_IN: 2024,
  REPEAT_LOGIN: 2025,
  MESSAGE_SEND_FAIL: 2100,
  MESSAGE_SEND_NEED_MESSAGE_INSTANCE: 2105,
  MESSAGE_SEND_INVALID_CONVERSATION_TYPE: 2106,
  MESSAGE_REVOKE_FAIL: 2110,
  MESSAGE_IMAGE_SELECT_FILE_FIRST: 2251,
  MESSAGE_FILE_SELECT_FILE_FIRST: 2401,
  CONVERSATION_NOT_FOUND: 2500,
  INVALID_CONVERSATION_ID: 2503,
  NETWORK_ERROR: 2800,
  NETWORK_TIMEOUT: 2801,
  INVALID_OPERATION: 2905,
  SDK_IS_NOT_READY: 2999,
  // The module's own code for a malformed argument: Tencent's ERR_INVALID_PARAMETERS (V2TIM).
  INVALID_PARAMETERS: 6017,
};

/** The module's codes that Tencent's web SDK reports with a code of its own. */
const WEB_CODE = {
  6014: ERR.USER_NOT_LOGGED_IN,
  9508: ERR.NETWORK_ERROR,
  9520: ERR.NETWORK_TIMEOUT,
  300007: ERR.CONVERSATION_NOT_FOUND,
};

const STATUS = { 1: "unSend", 2: "success", 3: "fail", 4: "success", 5: "success", 6: "success" };
/** What Tencent's SDK puts in `lastMessage.messageForShow` for content that is not text. */
const FOR_SHOW = { [TYPES.MSG_CUSTOM]: "[自定义消息]", [TYPES.MSG_IMAGE]: "[图片]", [TYPES.MSG_FILE]: "[文件]" };
/** Tencent's `imageFormat` numbers by MIME type (255: unknown). */
const IMAGE_FORMAT = { "image/jpeg": 1, "image/gif": 2, "image/png": 3, "image/bmp": 4 };
/** getMessageList's page size: Tencent's default and its maximum. */
const PAGE = 15;

/** A Tencent-shaped error: a real `Error` with Tencent's numeric `code` (and `data` where Tencent has it). */
function chatError(code, message, data) {
  const e = new Error(message);
  e.code = code;
  if (data !== undefined) e.data = data;
  return e;
}

const ok = (data) => ({ code: 0, data });
const isObject = (v) => typeof v === "object" && v !== null;
const isString = (v) => typeof v === "string";
const nonEmpty = (v) => isString(v) && v.length > 0;
const bad = (what) => chatError(ERR.INVALID_PARAMETERS, what);

/** The module this chat runs on: the full one for an embedded LocalHub, else the server-only build. */
async function load(local) {
  const mod = local ? await import("./im_revoke.js") : await import("./client/im_revoke.js");
  await mod.default();
  return mod;
}

/** `C2C<userID>` / `GROUP<groupID>` (Tencent) ⇄ `c2c_<userID>` / `group_<groupID>` (the module). */
function parseConversationID(id) {
  if (!isString(id)) return null;
  if (id.startsWith("C2C") && id.length > 3) return { userID: id.slice(3), moduleID: `c2c_${id.slice(3)}` };
  if (id.startsWith("GROUP") && id.length > 5) return { groupID: id.slice(5), moduleID: `group_${id.slice(5)}` };
  return null;
}

function emptyPayload(type) {
  switch (type) {
    case TYPES.MSG_CUSTOM:
      return { data: "", description: "", extension: "" };
    case TYPES.MSG_IMAGE:
      return { uuid: "", imageFormat: 255, imageInfoArray: [] };
    case TYPES.MSG_FILE:
      return { uuid: "", fileName: "", fileSize: 0, fileUrl: "" };
    default:
      return { text: "" };
  }
}

/** A module message view's content as Tencent's `type` and `payload` (`null` when it has none). */
function content(view) {
  if (view.textElem) return [TYPES.MSG_TEXT, { text: view.textElem.text }];
  if (view.customElem) {
    const c = view.customElem;
    return [TYPES.MSG_CUSTOM, { data: c.data, description: c.desc, extension: c.extension }];
  }
  if (view.imageElem) {
    const list = view.imageElem.imageList || [];
    const original = list.find((i) => i.type === 1) || list[0];
    const thumb = list.find((i) => i.type === 2) || original;
    const info = (i, type) => ({ type, width: i.width, height: i.height, size: i.size, url: i.url, imageUrl: i.url });
    return [
      TYPES.MSG_IMAGE,
      {
        uuid: original ? original.uuid : "",
        imageFormat: 255,
        // Tencent's three sizes: 0 original, 1 large, 2 small (the thumbnail).
        imageInfoArray: original ? [info(original, 0), info(original, 1), info(thumb, 2)] : [],
      },
    ];
  }
  if (view.fileElem) {
    const f = view.fileElem;
    return [TYPES.MSG_FILE, { uuid: f.uuid, fileName: f.fileName, fileSize: f.fileSize, fileUrl: f.url }];
  }
  return null;
}

/** The first `File`/`Blob` of Tencent's `payload.file` (a Blob, an `<input type=file>` or `{ files }`). */
function blobOf(file) {
  if (typeof Blob !== "undefined" && file instanceof Blob) return file;
  const first = isObject(file) && file.files && file.files[0];
  return typeof Blob !== "undefined" && first instanceof Blob ? first : null;
}

/** Calls the app's `f`; if it throws, that is logged and re-thrown on a microtask (as from a DOM event). */
function safely(f, context, arg, what) {
  try {
    f.call(context, arg);
  } catch (e) {
    console.error(`im-revoke/tencent: a ${what} handler threw`, e);
    queueMicrotask(() => {
      throw e;
    });
  }
}

/** Messages kept alive by the layer itself: the most recent ones (as the module's default cache). */
const KEEP = 5000;

/**
 * One object per message ID, for as long as anyone can tell: while the app holds it (a weak
 * reference) or while it is among the `KEEP` messages used last (a strong one). Memory stays
 * bounded by what the app holds plus `KEEP`.
 */
class Registry {
  #refs = new Map();
  #recent = new Map();
  #gone = new FinalizationRegistry((id) => {
    const r = this.#refs.get(id);
    if (r && !r.deref()) this.#refs.delete(id);
  });

  get(id) {
    const m = this.#refs.get(id)?.deref();
    if (m) this.#touch(id, m);
    return m;
  }

  set(id, m) {
    this.#refs.set(id, new WeakRef(m));
    this.#gone.register(m, id);
    this.#touch(id, m);
  }

  #touch(id, m) {
    this.#recent.delete(id);
    this.#recent.set(id, m);
    if (this.#recent.size > KEEP) this.#recent.delete(this.#recent.keys().next().value);
  }

  clear() {
    this.#refs.clear();
    this.#recent.clear();
  }
}

/** One `TencentCloudChat.create()` instance: one user, logged in over one ChatClient. */
class Chat {
  #options;
  #handlers = new Map();
  #client = null;
  #mm = null;
  #cm = null;
  #me = "";
  #ready = false;
  #loggingIn = null;
  #netState = "";
  #total = 0;
  /** One Tencent message object per ID: what the app holds is what the layer updates. */
  #messages = new Registry();
  /** One Tencent conversation object per conversationID, and the module's order key of each. */
  #conversations = new Map();
  #order = new Map();
  /** `onProgress` given to createImageMessage / createFileMessage, until the message is sent. */
  #progress = new Map();

  constructor(options) {
    this.#options = options;
  }

  // ----- events ---------------------------------------------------------------------------

  /** `chat.on(TencentCloudChat.EVENT.X, handler, context?)`: handler gets `{ name, data }`. */
  on(name, handler, context) {
    if (!isString(name) || typeof handler !== "function") throw bad("on(eventName, handler): a string and a function");
    const list = this.#handlers.get(name) || [];
    if (!list.some(([h, c]) => h === handler && c === context)) list.push([handler, context]);
    this.#handlers.set(name, list);
  }

  /** Removes a handler added with `on` (same handler and context). */
  off(name, handler, context) {
    const list = this.#handlers.get(name);
    if (!list) return;
    this.#handlers.set(
      name,
      list.filter(([h, c]) => !(h === handler && c === context)),
    );
  }

  #emit(name, data) {
    const list = this.#handlers.get(name);
    if (!list) return;
    for (const [h, c] of [...list]) safely(h, c, { name, data }, name);
  }

  #net(state) {
    if (state === this.#netState) return;
    this.#netState = state;
    this.#emit(EVENT.NET_STATE_CHANGE, { state });
  }

  // ----- login ----------------------------------------------------------------------------

  /** `chat.login({ userID, userSig })` → `{ code: 0, data: { repeatLogin } }`. */
  login(options) {
    if (!isObject(options)) return Promise.reject(bad("login({ userID, userSig })"));
    const { userID, userSig } = options;
    if (!nonEmpty(userID)) return Promise.reject(chatError(ERR.NO_IDENTIFIER, "login: no userID"));
    const local = this.#options.hub !== undefined;
    if (!local && !nonEmpty(userSig)) return Promise.reject(chatError(ERR.NO_USERSIG, "login: no userSig"));
    if (this.#client || this.#loggingIn) {
      if (userID !== this.#me) return Promise.reject(chatError(ERR.REPEAT_LOGIN, `already logged in as ${this.#me}`));
      return this.#client ? Promise.resolve(ok({ repeatLogin: true })) : this.#loggingIn;
    }
    this.#me = userID;
    this.#loggingIn = this.#logIn(userID, userSig, local).finally(() => {
      this.#loggingIn = null;
    });
    return this.#loggingIn;
  }

  async #logIn(userID, userSig, local) {
    const { url, hub, SDKAppID, storage } = this.#options;
    let client;
    try {
      const mod = await load(local);
      const opts = storage === undefined ? {} : { storage };
      client = local
        ? await mod.ChatClient.local(hub, userID, opts)
        : await mod.ChatClient.connect({ url, userID, userSig, SDKAppID, ...opts });
    } catch (e) {
      this.#me = "";
      throw this.#failure(e, ERR.NETWORK_ERROR);
    }
    this.#client = client;
    this.#mm = client.getMessageManager();
    this.#cm = typeof client.getConversationManager === "function" ? client.getConversationManager() : null;
    this.#listen();
    if (this.#cm) {
      try {
        await this.#loadConversations();
        this.#total = await this.#cm.getTotalUnreadMessageCount();
      } catch (e) {
        await this.#release();
        throw this.#failure(e, ERR.NETWORK_ERROR);
      }
    }
    this.#ready = true;
    this.#net(TYPES.NET_STATE_CONNECTED);
    this.#emit(EVENT.SDK_READY, undefined);
    if (this.#cm) {
      this.#emit(EVENT.CONVERSATION_LIST_UPDATED, this.#conversationList());
      this.#emit(EVENT.TOTAL_UNREAD_MESSAGE_COUNT_UPDATED, this.#total);
    }
    return ok({ repeatLogin: false });
  }

  /** The module's listeners, turned into this layer's events (none after this client is released). */
  #listen() {
    const client = this.#client;
    const live = (group) => {
      for (const k of Object.keys(group)) {
        const f = group[k];
        group[k] = (...a) => this.#client === client && f(...a);
      }
      return group;
    };
    const { msg, conn, conv } = {
      msg: {
        onRecvNewMessage: (view) => this.#emit(EVENT.MESSAGE_RECEIVED, [this.#upsert(view)]),
        onRecvMessageRevoked: (msgID, revokerInfo, reason) => this.#revoked(msgID, revokerInfo, reason),
        onRecvMessageModified: (view) => {
          const m = this.#upsert(view);
          m.isModified = true;
          this.#emit(EVENT.MESSAGE_MODIFIED, [m]);
        },
      },
      conn: {
        onConnecting: () => this.#net(TYPES.NET_STATE_CONNECTING),
        onConnectSuccess: () => this.#net(TYPES.NET_STATE_CONNECTED),
        onConnectFailed: () => this.#net(TYPES.NET_STATE_DISCONNECTED),
        onUserSigExpired: () => this.#kickedOut(TYPES.KICKED_OUT_USERSIG_EXPIRED),
      },
      conv: {
        onNewConversation: (list) => this.#conversationsChanged(list),
        onConversationChanged: (list) => this.#conversationsChanged(list),
        onTotalUnreadMessageCountChanged: (total) => {
          this.#total = total;
          this.#emit(EVENT.TOTAL_UNREAD_MESSAGE_COUNT_UPDATED, total);
        },
      },
    };
    this.#mm.addAdvancedMsgListener(live(msg));
    client.addConnectionListener(live(conn));
    if (this.#cm) this.#cm.addConversationListener(live(conv));
  }

  async #kickedOut(type) {
    await this.#release();
    this.#emit(EVENT.KICKED_OUT, { type });
    this.#emit(EVENT.SDK_NOT_READY, undefined);
  }

  /** Logs the ChatClient out and forgets this user's objects. */
  async #release() {
    const client = this.#client;
    this.#client = this.#mm = this.#cm = null;
    this.#ready = false;
    this.#me = "";
    this.#netState = "";
    this.#total = 0;
    this.#messages.clear();
    this.#conversations.clear();
    this.#order.clear();
    this.#progress.clear();
    if (client) await client.logout();
  }

  /** `chat.logout()`: `SDK_NOT_READY` follows. */
  async logout() {
    if (!this.#client) return ok({});
    await this.#release();
    this.#emit(EVENT.SDK_NOT_READY, undefined);
    return ok({});
  }

  /** `chat.destroy()`: logs out, fires `SDK_DESTROY` and drops every handler. */
  async destroy() {
    if (this.#client) await this.logout();
    this.#emit(EVENT.SDK_DESTROY, undefined);
    this.#handlers.clear();
    return ok({});
  }

  /** Whether the SDK is ready (logged in): calls that need it reject with 2999 otherwise. */
  isReady() {
    return this.#ready;
  }

  #check() {
    if (!this.#ready) throw chatError(ERR.SDK_IS_NOT_READY, "the SDK is not ready: log in and wait for SDK_READY");
  }

  /** Runs `f` as an async call: a thrown coded error rejects instead. */
  async #call(f) {
    this.#check();
    return f();
  }

  /** A module failure as Tencent's error: its code (or Tencent's web code for the case), its text. */
  #failure(e, fallback, message) {
    let code = isObject(e) && typeof e.code === "number" ? e.code : fallback;
    if (code === 6223) {
      // The module knew before asking the server: report what the server would say.
      code = message && message.conversationType === TYPES.CONV_GROUP ? 10031 : 20016;
    }
    code = WEB_CODE[code] || code;
    const text = isObject(e) ? e.desc || e.message : String(e);
    return chatError(code, text || "failed", message ? { message } : undefined);
  }

  // ----- messages -------------------------------------------------------------------------

  /** The one Tencent object of a module view, created or updated in place. */
  #upsert(view) {
    let m = this.#messages.get(view.msgID);
    if (!m) {
      m = this.#blank(view.msgID);
      this.#messages.set(view.msgID, m);
    }
    this.#assign(m, view);
    return m;
  }

  #blank(ID) {
    const now = Math.floor(Date.now() / 1000);
    return {
      ID,
      type: TYPES.MSG_TEXT,
      payload: { text: "" },
      conversationID: "",
      conversationType: TYPES.CONV_C2C,
      to: "",
      from: this.#me,
      flow: "out",
      time: now,
      clientTime: now,
      sequence: 0,
      status: "unSend",
      isRevoked: false,
      revoker: "",
      revokerInfo: { userID: "", nick: "", avatar: "" },
      revokeReason: "",
      priority: TYPES.MSG_PRIORITY_NORMAL,
      nick: "",
      avatar: "",
      nameCard: "",
      isPeerRead: false,
      isRead: true,
      isDeleted: false,
      isModified: false,
      isResend: false,
      isSystemMessage: false,
      needReadReceipt: false,
      atUserList: [],
      cloudCustomData: "",
      replyTo: null,
    };
  }

  #assign(m, view) {
    const self = view.isSelf;
    const group = view.groupID;
    const peer = view.userID || (m.conversationType === TYPES.CONV_C2C ? m.to : "");
    const c = content(view);
    if (c) {
      m.type = c[0];
      m.payload = c[1];
    } else if (view.isRevoked) {
      // Revoked, its content gone (everyone but the sender): the same type, an empty payload.
      m.payload = emptyPayload(m.type);
    }
    m.conversationType = group ? TYPES.CONV_GROUP : TYPES.CONV_C2C;
    m.to = group || (self ? peer : this.#me);
    m.conversationID = group ? `GROUP${group}` : `C2C${peer}`;
    m.from = view.sender;
    m.flow = self ? "out" : "in";
    if (view.timestamp) m.time = view.timestamp;
    m.sequence = view.seq;
    m.status = STATUS[view.status] || m.status;
    m.isDeleted = view.status === 4;
    this.#setRevoked(m, view.isRevoked, view.revokerInfo, view.revokeReason);
    m.cloudCustomData = view.cloudCustomData || "";
    m.replyTo = view.replyTo || null;
  }

  #setRevoked(m, isRevoked, info, reason) {
    m.isRevoked = !!isRevoked;
    m.revoker = isRevoked && info ? info.userID : "";
    m.revokerInfo = { userID: m.revoker, nick: "", avatar: "" };
    m.revokeReason = (isRevoked && reason) || "";
  }

  /** The module's `onRecvMessageRevoked`: the object the app holds flips, then MESSAGE_REVOKED. */
  async #revoked(msgID, revokerInfo, reason) {
    let m = this.#messages.get(msgID);
    if (!m) {
      // Not shown on this page (e.g. revoked while it was closed): fetch it to hand out a whole message.
      try {
        const [view] = await this.#mm.findMessages([msgID]);
        if (view) m = this.#upsert(view);
      } catch {
        // offline: the event still goes out with what is known
      }
      if (!m) {
        m = this.#blank(msgID);
        this.#messages.set(msgID, m);
      }
    }
    this.#setRevoked(m, true, revokerInfo, reason);
    // As in the module: once revoked, the content stays only with its sender.
    if (m.flow === "in") m.payload = emptyPayload(m.type);
    this.#emit(EVENT.MESSAGE_REVOKED, [m]);
  }

  /** `{ to, conversationType }` of a create call, checked; throws a coded error otherwise. */
  #target(options, what) {
    this.#check();
    if (!isObject(options)) throw bad(`${what}({ to, conversationType, payload })`);
    const { to, conversationType } = options;
    if (conversationType !== TYPES.CONV_C2C && conversationType !== TYPES.CONV_GROUP) {
      throw chatError(ERR.MESSAGE_SEND_INVALID_CONVERSATION_TYPE, 'conversationType: "C2C" or "GROUP"');
    }
    if (!nonEmpty(to)) throw bad(`${what}: "to" is the receiver's userID or the groupID`);
    if (options.cloudCustomData !== undefined && !isString(options.cloudCustomData)) throw bad("cloudCustomData: a string");
    if (!isObject(options.payload)) throw bad(`${what}: no payload`);
    return { to, conversationType };
  }

  /** Runs one of the module's create calls; what it throws is rethrown in Tencent's shape. */
  #make(f) {
    try {
      return f();
    } catch (e) {
      throw this.#failure(e, ERR.INVALID_PARAMETERS);
    }
  }

  /** Registers a message the module just created, addressed as the create call said. */
  #created(view, { to, conversationType }, options) {
    const m = this.#blank(view.msgID);
    m.to = to;
    m.conversationType = conversationType;
    m.conversationID = `${conversationType}${to}`;
    this.#assign(m, { ...view, userID: conversationType === TYPES.CONV_C2C ? to : null, groupID: conversationType === TYPES.CONV_GROUP ? to : null });
    if (isString(options.priority)) m.priority = options.priority;
    if (isString(options.cloudCustomData)) m.cloudCustomData = options.cloudCustomData;
    this.#messages.set(m.ID, m);
    if (typeof options.onProgress === "function") this.#progress.set(m.ID, options.onProgress);
    return m;
  }

  /** `chat.createTextMessage({ to, conversationType, payload: { text }, cloudCustomData? })` → Message. */
  createTextMessage(options) {
    const target = this.#target(options, "createTextMessage");
    const { text } = options.payload;
    if (!isString(text)) throw bad("createTextMessage: payload.text must be a string");
    const extra = options.cloudCustomData ? { cloudCustomData: options.cloudCustomData } : undefined;
    if (extra && this.#mm.createTextMessage.length < 2) {
      throw chatError(ERR.INVALID_OPERATION, "cloudCustomData needs a newer im-revoke module");
    }
    const view = this.#make(() => (extra ? this.#mm.createTextMessage(text, extra) : this.#mm.createTextMessage(text)));
    return this.#created(view, target, options);
  }

  /** `chat.createCustomMessage({ to, conversationType, payload: { data, description, extension } })`. */
  createCustomMessage(options) {
    const target = this.#target(options, "createCustomMessage");
    const { data = "", description = "", extension = "" } = options.payload;
    if (![data, description, extension].every(isString)) throw bad("createCustomMessage: data, description and extension are strings");
    return this.#created(this.#make(() => this.#mm.createCustomMessage(data, description, extension)), target, options);
  }

  /** `chat.createImageMessage({ to, conversationType, payload: { file }, onProgress? })`. */
  createImageMessage(options) {
    return this.#attachment(options, "createImageMessage", ERR.MESSAGE_IMAGE_SELECT_FILE_FIRST);
  }

  /** `chat.createFileMessage({ to, conversationType, payload: { file }, onProgress? })`. */
  createFileMessage(options) {
    return this.#attachment(options, "createFileMessage", ERR.MESSAGE_FILE_SELECT_FILE_FIRST);
  }

  #attachment(options, what, noFile) {
    const target = this.#target(options, what);
    const blob = blobOf(options.payload.file);
    if (!blob) throw chatError(noFile, `${what}: payload.file is a File, a Blob or an <input type="file"> with one`);
    if (typeof this.#mm[what] !== "function") throw chatError(ERR.INVALID_OPERATION, `${what} needs a newer im-revoke module`);
    const m = this.#created(this.#make(() => this.#mm[what](blob)), target, options);
    if (what === "createImageMessage" && m.type === TYPES.MSG_IMAGE) m.payload.imageFormat = IMAGE_FORMAT[blob.type] || 255;
    return m;
  }

  /** The layer's object for `message`, which must be one this chat handed out. */
  #own(message) {
    const m = isObject(message) && isString(message.ID) ? this.#messages.get(message.ID) : undefined;
    if (!m) throw chatError(ERR.MESSAGE_SEND_NEED_MESSAGE_INSTANCE, "a Message created or received by this chat is required");
    return m;
  }

  /** `chat.sendMessage(message)` → `{ code: 0, data: { message } }`; on failure `status` is "fail". */
  sendMessage(message) {
    return this.#call(async () => {
      const m = this.#own(message);
      const c2c = m.conversationType === TYPES.CONV_C2C;
      const progress = this.#progress.get(m.ID);
      // Tencent's onProgress gets a fraction from 0 to 1.
      const onProgress = (done, total) =>
        safely(progress, undefined, Math.max(0, Math.min(1, typeof total === "number" && total > 0 ? done / total : done)), "onProgress");
      const opts = progress ? { onProgress } : undefined;
      m.status = "unSend";
      let view;
      try {
        view = await this.#mm.sendMessage(m.ID, c2c ? m.to : null, c2c ? null : m.to, opts);
      } catch (e) {
        m.status = "fail";
        throw this.#failure(e, ERR.MESSAGE_SEND_FAIL, m);
      } finally {
        this.#progress.delete(m.ID);
      }
      this.#assign(m, view);
      return ok({ message: m });
    });
  }

  /** `chat.revokeMessage(message)` → `{ code: 0, data: { message } }` once the server holds the revoke. */
  revokeMessage(message) {
    return this.#call(async () => {
      const m = this.#own(message);
      try {
        await this.#mm.revokeMessage(m.ID);
      } catch (e) {
        throw this.#failure(e, ERR.MESSAGE_REVOKE_FAIL, m);
      }
      this.#setRevoked(m, true, { userID: this.#me }, "");
      return ok({ message: m });
    });
  }

  /** `chat.getMessageList({ conversationID, nextReqMessageID?, count? })`: oldest first. */
  getMessageList(options) {
    return this.#call(async () => {
      if (!isObject(options)) throw bad("getMessageList({ conversationID, nextReqMessageID })");
      const conv = parseConversationID(options.conversationID);
      if (!conv) throw chatError(ERR.INVALID_CONVERSATION_ID, 'conversationID: "C2C<userID>" or "GROUP<groupID>"');
      const { nextReqMessageID, count = PAGE } = options;
      if (typeof count !== "number" || !(count >= 1)) throw bad("getMessageList: count is a number from 1 to 15");
      const query = { count: Math.min(PAGE, Math.floor(count)) };
      if (conv.userID) query.userID = conv.userID;
      else query.groupID = conv.groupID;
      if (nextReqMessageID !== undefined && nextReqMessageID !== "") {
        const from = isString(nextReqMessageID) && this.#messages.get(nextReqMessageID);
        if (!from || from.conversationID !== options.conversationID || !from.sequence) {
          throw bad("nextReqMessageID: the one an earlier page of this conversation returned");
        }
        query.lastMsgSeq = from.sequence;
      }
      let page;
      try {
        page = await this.#mm.getHistoryMessageList(query);
      } catch (e) {
        throw this.#failure(e, ERR.NETWORK_ERROR);
      }
      const messageList = page.messageList.map((v) => this.#upsert(v)).reverse();
      return ok({
        messageList,
        nextReqMessageID: messageList.length ? messageList[0].ID : "",
        isCompleted: page.isCompleted,
      });
    });
  }

  /** `chat.findMessage(messageID)`: the message object this chat holds, or `null`. */
  findMessage(messageID) {
    return (isString(messageID) && this.#messages.get(messageID)) || null;
  }

  // ----- conversations --------------------------------------------------------------------

  #needConversations() {
    if (!this.#cm) throw chatError(ERR.INVALID_OPERATION, "conversations need a newer im-revoke module");
  }

  async #loadConversations() {
    let nextSeq = 0;
    for (;;) {
      const page = await this.#cm.getConversationList(nextSeq, 100);
      for (const c of page.conversationList) this.#upsertConversation(c);
      if (page.isFinished || !page.conversationList.length) return;
      nextSeq = page.nextSeq;
    }
  }

  #upsertConversation(view) {
    const group = view.type === 2;
    const id = group ? `GROUP${view.groupID}` : `C2C${view.userID}`;
    let c = this.#conversations.get(id);
    if (!c) {
      c = {
        conversationID: id,
        type: group ? TYPES.CONV_GROUP : TYPES.CONV_C2C,
        subType: "",
        unreadCount: 0,
        lastMessage: null,
        userProfile: group ? null : { userID: view.userID, nick: "", avatar: "" },
        groupProfile: group ? { groupID: view.groupID, name: "", type: "" } : null,
        remark: "",
        isPinned: false,
        messageRemindType: "",
        peerReadTime: 0,
        groupAtInfoList: [],
        markList: [],
        customData: "",
        conversationGroupList: [],
        draftText: "",
      };
      this.#conversations.set(id, c);
    }
    c.unreadCount = view.unreadCount;
    if (group) c.groupProfile.name = view.showName;
    else c.userProfile.nick = view.showName;
    c.lastMessage = view.lastMessage ? this.#lastMessage(view.lastMessage) : null;
    this.#order.set(id, view.orderKey);
    return c;
  }

  #lastMessage(view) {
    const m = this.#blank(view.msgID);
    this.#assign(m, view);
    return {
      lastTime: m.time,
      lastSequence: m.sequence,
      fromAccount: m.from,
      type: m.type,
      payload: m.payload,
      // Nothing of a revoked message's content: the app shows its own "revoked" line from isRevoked.
      messageForShow: m.isRevoked ? "" : m.type === TYPES.MSG_TEXT ? m.payload.text : FOR_SHOW[m.type] || "",
      isRevoked: m.isRevoked,
      revoker: m.revoker,
      cloudCustomData: m.cloudCustomData,
      nick: "",
      nameCard: "",
      isPeerRead: false,
      onlineOnlyFlag: false,
    };
  }

  #conversationList() {
    return [...this.#conversations.values()].sort((a, b) => this.#order.get(b.conversationID) - this.#order.get(a.conversationID));
  }

  #conversationsChanged(list) {
    for (const c of list) this.#upsertConversation(c);
    this.#emit(EVENT.CONVERSATION_LIST_UPDATED, this.#conversationList());
  }

  /** `chat.getConversationList()` (all) or `getConversationList([conversationID, …])` → `{ conversationList }`. */
  getConversationList(ids) {
    return this.#call(async () => {
      this.#needConversations();
      if (ids !== undefined && !(Array.isArray(ids) && ids.every(isString))) throw bad("getConversationList([conversationID, …])");
      try {
        await this.#loadConversations();
      } catch (e) {
        throw this.#failure(e, ERR.NETWORK_ERROR);
      }
      const all = this.#conversationList();
      const conversationList = ids ? all.filter((c) => ids.includes(c.conversationID)) : all;
      return ok({ conversationList, isSyncCompleted: true });
    });
  }

  /** `chat.getConversationProfile(conversationID)` → `{ conversation }`. */
  getConversationProfile(conversationID) {
    return this.#call(async () => {
      this.#needConversations();
      const conv = parseConversationID(conversationID);
      if (!conv) throw chatError(ERR.INVALID_CONVERSATION_ID, 'conversationID: "C2C<userID>" or "GROUP<groupID>"');
      try {
        return ok({ conversation: this.#upsertConversation(await this.#cm.getConversation(conv.moduleID)) });
      } catch (e) {
        throw this.#failure(e, ERR.CONVERSATION_NOT_FOUND);
      }
    });
  }

  /** `chat.setMessageRead({ conversationID })`: the whole conversation read, on every device. */
  setMessageRead(options) {
    return this.#call(async () => {
      this.#needConversations();
      const conv = parseConversationID(isObject(options) ? options.conversationID : undefined);
      if (!conv) throw chatError(ERR.INVALID_CONVERSATION_ID, 'setMessageRead({ conversationID: "C2C<userID>" or "GROUP<groupID>" })');
      try {
        await this.#cm.cleanConversationUnreadMessageCount(conv.moduleID, 0, 0);
      } catch (e) {
        throw this.#failure(e, ERR.CONVERSATION_NOT_FOUND);
      }
      return ok({});
    });
  }

  /** `chat.getTotalUnreadMessageCount()`: the unread messages of all conversations (0 before login). */
  getTotalUnreadMessageCount() {
    return this.#total;
  }
}

/** `TencentCloudChat.create({ SDKAppID, url })` (or `{ SDKAppID, hub }` for an embedded LocalHub). */
function create(options) {
  if (!isObject(options)) throw chatError(ERR.NO_SDKAPPID, "create({ SDKAppID, url })");
  const { SDKAppID, url, hub, storage } = options;
  if (typeof SDKAppID !== "number" || !(SDKAppID > 0)) throw chatError(ERR.NO_SDKAPPID, "create: no SDKAppID");
  if (hub === undefined ? !(isString(url) && /^wss?:\/\//.test(url)) : url !== undefined) {
    throw bad('create: url ("ws://…" or "wss://…", the im-revoke server) or hub (a LocalHub), one of them');
  }
  if (hub !== undefined && !isObject(hub)) throw bad("create: hub is a LocalHub");
  if (storage !== undefined && storage !== "indexeddb" && storage !== "memory") throw bad('create: storage is "indexeddb" or "memory"');
  return new Chat({ SDKAppID, url, hub, storage });
}

const TencentCloudChat = Object.freeze({ create, EVENT, TYPES });
export default TencentCloudChat;
export { TencentCloudChat, EVENT, TYPES };
