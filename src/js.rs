//! The module's own JavaScript: listener dispatch and the plain objects it hands out.
//!
//! Both are on the hot path (every event of every conversation) and both are cheaper written
//! in JavaScript than driven from wasm one property at a time:
//! - object literals get one hidden class per shape (fast for the application to read), and
//!   their keys cost no string conversion;
//! - the strings of an object cross from wasm as one packed UTF-8 run (see [`Pack`]), decoded
//!   once: `String.fromCharCode` for ASCII (about twice as fast as `TextDecoder` for short
//!   strings in Chromium), `TextDecoder` otherwise;
//! - dispatch is one call out of wasm per event whatever the number of listeners, each
//!   listener call in its own `try`.
//!
//! Also the copy of a frame's text into wasm memory (`readInto`, for the WebSocket transport).
//!
//! No function here calls back into wasm (listeners may, and run with no borrow held).

use gloo_timers::callback::Timeout;
use js_sys::{Array, Date, Math, Promise};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
const NAMES = ["onRecvNewMessage", "onRecvMessageRevoked", "onGroupChanged", "onConnecting", "onConnectSuccess", "onConnectFailed", "onUserSigExpired", "onStorageWarning", "onRecvMessageModified", "onNewConversation", "onConversationChanged", "onTotalUnreadMessageCountChanged"];
const ROLES = ["sender", "owner", "admin"];
const dec = new TextDecoder();
let view = null;
let text = "";
let at = 0;

// The module's memory as bytes; a new view after the memory grew (the old one is detached).
function memoryBytes(memory) {
  if (view === null || view.buffer !== memory.buffer) view = new Uint8Array(memory.buffer);
  return view;
}

function unpack(memory, ptr, bytes, ascii) {
  const u8 = memoryBytes(memory);
  const v = u8.subarray(ptr, ptr + bytes);
  text = ascii && bytes <= 2048 ? String.fromCharCode.apply(null, v) : dec.decode(v);
  at = 0;
}
function take(n) {
  if (n < 0) return null;
  const s = text.slice(at, at + n);
  at += n;
  return s;
}

function report(name, e) {
  try {
    console.error("im-revoke: listener method " + name + " threw (the other listeners still ran; re-thrown on a microtask)", e);
  } catch (_) {}
  queueMicrotask(() => { throw e; });
}
// `ls` is never changed after it was handed out (`Listeners` makes a new array on add and
// remove): no copy per event.
export function dispatch(ls, m, n, a, b, c) {
  const name = NAMES[m];
  for (let i = 0; i < ls.length; i++) {
    const l = ls[i];
    try {
      const f = l[name];
      if (typeof f !== "function") continue;
      if (n === 0) f.call(l);
      else if (n === 1) f.call(l, a);
      else if (n === 2) f.call(l, a, b);
      else f.call(l, a, b, c);
    } catch (e) {
      report(name, e);
    }
  }
}
export function dispatchRevoked(ls, memory, ptr, bytes, ascii, idLen, userLen, reasonLen, role) {
  unpack(memory, ptr, bytes, ascii);
  const msgID = take(idLen);
  const revokerInfo = { userID: take(userLen), role: ROLES[role] };
  const reason = take(reasonLen);
  text = "";
  dispatch(ls, 1, 3, msgID, revokerInfo, reason);
}
export function has(ls, l) {
  for (let i = 0; i < ls.length; i++) if (Object.is(ls[i], l)) return true;
  return false;
}
export function without(ls, l) {
  return ls.filter((x) => !Object.is(x, l));
}

const enc = new TextEncoder();
export function readInto(s, memory, ptr, cap) {
  if (s instanceof ArrayBuffer) {
    const n = s.byteLength;
    if (n > cap) return -2 - n;
    memoryBytes(memory).set(new Uint8Array(s), ptr);
    return n;
  }
  if (typeof s !== "string") return -1;
  const len = s.length;
  if (len * 3 > cap) return -2 - len * 3;
  const u8 = memoryBytes(memory);
  let i = 0;
  for (; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) break;
    u8[ptr + i] = c;
  }
  if (i === len) return len;
  return i + enc.encodeInto(s.slice(i), u8.subarray(ptr + i, ptr + cap)).written;
}

export function message(memory, ptr, bytes, ascii, idLen, senderLen, userLen, groupLen, textLen, revokerLen, reasonLen,
                        timestamp, timeMs, seq, status, isSelf, elemType, isRevoked, role, revokeTimeMs, richLen,
                        replyIdLen, replySenderLen, replyAbstractLen, replyRevoked, dataLen) {
  unpack(memory, ptr, bytes, ascii);
  const msgID = take(idLen), sender = take(senderLen), userID = take(userLen), groupID = take(groupLen);
  const t = take(textLen), revoker = take(revokerLen), reason = take(reasonLen), r = take(richLen);
  const replyID = take(replyIdLen), replySender = take(replySenderLen), replyAbstract = take(replyAbstractLen);
  const cloudCustomData = take(dataLen);
  text = "";
  const e = r === null ? null : JSON.parse(r);
  return {
    msgID, sender, userID, groupID, timestamp, timeMs, seq, status, isSelf, elemType,
    textElem: t === null ? null : { text: t },
    customElem: e !== null && elemType === 2 ? { data: e.data, desc: e.desc, extension: e.extension } : null,
    imageElem: e !== null && elemType === 3 ? { imageList: e.imageList } : null,
    fileElem: e !== null && elemType === 6 ? { uuid: e.uuid, fileName: e.fileName, fileSize: e.fileSize, url: e.url } : null,
    isRevoked,
    revokerInfo: revoker === null ? null : { userID: revoker, role: ROLES[role] },
    revokeReason: reason,
    revokeTimeMs: revokeTimeMs < 0 ? null : revokeTimeMs,
    replyTo: replyID === null ? null : { msgID: replyID, sender: replySender, abstract: replyAbstract, isRevoked: replyRevoked },
    cloudCustomData,
  };
}
export function then(p, f) {
  return p.then(f);
}
export function panicked(msg, file, line, column) {
  console.error(new Error("im-revoke panicked at " + file + ":" + line + ":" + column + ":\n" + msg));
}
export function group(groupID, name, owner, admins, members, createdMs) {
  return { groupID, name, owner, admins, members, createdMs };
}
export function canRevoke(allowed, remainingMs, code) {
  return { allowed, remainingMs: remainingMs < 0 ? null : remainingMs, code: code < 0 ? null : code };
}
export function page(messageList, isCompleted) {
  return { messageList, isCompleted };
}
export function conversation(conversationID, type, userID, groupID, showName, unreadCount, lastMessage, orderKey) {
  // wasm-bindgen passes `None` as `undefined`.
  return { conversationID, type, userID: userID ?? null, groupID: groupID ?? null, showName, unreadCount, lastMessage, orderKey };
}
export function conversationPage(nextSeq, isFinished, conversationList) {
  return { nextSeq, isFinished, conversationList };
}
export function searchResult(totalCount, messageSearchResultItems) {
  return { totalCount, messageSearchResultItems };
}
export function openSocket(url) {
  const ws = new WebSocket(url, "im-revoke.bin");
  ws.binaryType = "arraybuffer";
  return ws;
}
export function searchResultItem(conversationID, messageCount, messageList) {
  return { conversationID, messageCount, messageList };
}
"#)]
extern "C" {
    /// Calls method `NAMES[m]` with the first `n` of `a, b, c` on each listener of `ls` (an
    /// array never changed once handed out) that has it (a throwing getter counts as a
    /// throwing call).
    pub(crate) fn dispatch(ls: &Array, m: u32, n: u32, a: &JsValue, b: &JsValue, c: &JsValue);

    /// `onRecvMessageRevoked(msgID, {userID, role}, reason)` from a [`Pack`] of the three.
    #[wasm_bindgen(js_name = dispatchRevoked)]
    #[allow(clippy::too_many_arguments)]
    fn dispatch_revoked_raw(
        ls: &Array,
        memory: &JsValue,
        ptr: *const u8,
        bytes: usize,
        ascii: bool,
        id_len: i32,
        user_len: i32,
        reason_len: i32,
        role: u32,
    );

    /// `new WebSocket(url, "im-revoke.bin")` with `binaryType = "arraybuffer"`: the server's
    /// frames arrive as binary frames of the same JSON (a server that does not know the
    /// subprotocol sends text frames; both are read).
    #[wasm_bindgen(js_name = openSocket, catch)]
    pub(crate) fn open_socket(url: &str) -> Result<web_sys::WebSocket, JsValue>;

    /// Whether `l` is in `ls` (`Object.is`).
    pub(crate) fn has(ls: &Array, l: &JsValue) -> bool;

    /// `ls` without `l`, as a new array.
    pub(crate) fn without(ls: &Array, l: &JsValue) -> Array;

    /// Writes the UTF-8 of `s` (a string, or the bytes of an `ArrayBuffer`) at `ptr` and
    /// returns its length; -1 when `s` is neither; `-2 - n` when `cap` is less than `n`, enough
    /// for `s`.
    #[wasm_bindgen(js_name = readInto)]
    pub(crate) fn read_into(s: &JsValue, memory: &JsValue, ptr: *mut u8, cap: usize) -> f64;

    /// A `Message` object from a [`Pack`] of its twelve strings (the eighth: a custom, image or
    /// file element as JSON; then the quote's three and `cloudCustomData`) and its other fields.
    #[wasm_bindgen(js_name = message)]
    #[allow(clippy::too_many_arguments)]
    fn message_raw(
        memory: &JsValue,
        ptr: *const u8,
        bytes: usize,
        ascii: bool,
        id_len: i32,
        sender_len: i32,
        user_len: i32,
        group_len: i32,
        text_len: i32,
        revoker_len: i32,
        reason_len: i32,
        timestamp: f64,
        time_ms: f64,
        seq: f64,
        status: u8,
        is_self: bool,
        elem_type: u8,
        is_revoked: bool,
        role: u32,
        revoke_time_ms: f64,
        rich_len: i32,
        reply_id_len: i32,
        reply_sender_len: i32,
        reply_abstract_len: i32,
        reply_revoked: bool,
        data_len: i32,
    ) -> JsValue;

    /// Logs a Rust panic: `console.error(new Error(…))` with its message and location.
    pub(crate) fn panicked(msg: &str, file: &str, line: u32, column: u32);

    /// `p.then(f)`, `f` handed over as a plain value.
    #[wasm_bindgen(catch)]
    fn then(p: &Promise, f: &JsValue) -> Result<Promise, JsValue>;

    /// A `Group` object.
    pub(crate) fn group(
        group_id: &str,
        name: &str,
        owner: &str,
        admins: Array,
        members: Array,
        created_ms: f64,
    ) -> JsValue;

    /// A `CanRevokeResult` object (negative numbers are `null`).
    #[wasm_bindgen(js_name = canRevoke)]
    pub(crate) fn can_revoke(allowed: bool, remaining_ms: f64, code: f64) -> JsValue;

    /// A `HistoryMessageResult` object.
    pub(crate) fn page(message_list: Array, is_completed: bool) -> JsValue;

    /// A `Conversation` object (`user_id`, `group_id`, `last_message` may be `null`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn conversation(
        conversation_id: &str,
        kind: u8,
        user_id: Option<&str>,
        group_id: Option<&str>,
        show_name: &str,
        unread_count: f64,
        last_message: JsValue,
        order_key: f64,
    ) -> JsValue;

    /// A `ConversationPage` object.
    #[wasm_bindgen(js_name = conversationPage)]
    pub(crate) fn conversation_page(
        next_seq: f64,
        is_finished: bool,
        conversation_list: Array,
    ) -> JsValue;

    /// A `SearchResult` object.
    #[wasm_bindgen(js_name = searchResult)]
    pub(crate) fn search_result(total_count: f64, items: Array) -> JsValue;

    /// A `SearchResultItem` object.
    #[wasm_bindgen(js_name = searchResultItem)]
    pub(crate) fn search_result_item(
        conversation_id: &str,
        message_count: f64,
        message_list: Array,
    ) -> JsValue;
}

thread_local! {
    static MEMORY: JsValue = wasm_bindgen::memory();
}

/// Runs `f` with the module's memory (as a JS value, made once).
pub(crate) fn with_memory<R>(f: impl FnOnce(&JsValue) -> R) -> R {
    MEMORY.with(f)
}

/// Strings handed to JavaScript together: one UTF-8 run in wasm memory, decoded there once,
/// then cut by the lengths (UTF-16 units, as JavaScript counts; -1 for `null`).
#[derive(Default)]
pub(crate) struct Pack {
    text: String,
}

impl Pack {
    /// An empty pack with room for `bytes` bytes of strings (one allocation).
    pub fn with_capacity(bytes: usize) -> Pack {
        Pack {
            text: String::with_capacity(bytes),
        }
    }

    /// Appends `s`; returns its length for the JavaScript side.
    pub fn push(&mut self, s: Option<&str>) -> i32 {
        let Some(s) = s else { return -1 };
        self.text.push_str(s);
        if s.is_ascii() {
            s.len() as i32
        } else {
            s.encode_utf16().count() as i32
        }
    }

    fn with<R>(&self, f: impl FnOnce(&JsValue, *const u8, usize, bool) -> R) -> R {
        with_memory(|m| f(m, self.text.as_ptr(), self.text.len(), self.text.is_ascii()))
    }
}

/// Role numbers of the JavaScript side's `ROLES`.
pub(crate) fn role_index(r: im_revoke_core::RevokerRole) -> u32 {
    match r {
        im_revoke_core::RevokerRole::Sender => 0,
        im_revoke_core::RevokerRole::Owner => 1,
        im_revoke_core::RevokerRole::Admin => 2,
    }
}

/// Calls `onRecvMessageRevoked(msgID, {userID, role}, reason)` on each of `ls`.
pub(crate) fn dispatch_revoked(
    ls: &Array,
    msg_id: &str,
    revoker: &im_revoke_core::view::RevokerInfo,
    reason: &str,
) {
    let mut p = Pack::with_capacity(msg_id.len() + revoker.user_id.len() + reason.len());
    let id = p.push(Some(msg_id));
    let user = p.push(Some(&revoker.user_id));
    let why = p.push(Some(reason));
    p.with(|m, ptr, bytes, ascii| {
        dispatch_revoked_raw(
            ls,
            m,
            ptr,
            bytes,
            ascii,
            id,
            user,
            why,
            role_index(revoker.role),
        )
    });
}

/// A `Message` object.
pub(crate) fn message(v: &im_revoke_core::view::MessageView) -> JsValue {
    let mut p = Pack::default();
    let id = p.push(Some(&v.msg_id));
    let sender = p.push(Some(&v.sender));
    let user = p.push(v.user_id.as_deref());
    let group = p.push(v.group_id.as_deref());
    let text = p.push(v.text_elem.as_ref().map(|t| t.text.as_str()));
    let revoker = p.push(v.revoker_info.as_ref().map(|r| r.user_id.as_str()));
    let reason = p.push(v.revoke_reason.as_deref());
    let rich = p.push(im_revoke_core::wire::rich_elem_json(v).as_deref());
    let q = v.reply_to.as_ref();
    let reply_id = p.push(q.map(|q| q.msg_id.as_str()));
    let reply_sender = p.push(q.map(|q| q.sender.as_str()));
    let reply_abstract = p.push(q.map(|q| q.abstract_text.as_str()));
    let data = p.push(v.cloud_custom_data.as_deref());
    let role = v.revoker_info.as_ref().map_or(0, |r| role_index(r.role));
    p.with(|m, ptr, bytes, ascii| {
        message_raw(
            m,
            ptr,
            bytes,
            ascii,
            id,
            sender,
            user,
            group,
            text,
            revoker,
            reason,
            v.timestamp as f64,
            v.time_ms as f64,
            v.seq as f64,
            u8::from(v.status),
            v.is_self,
            v.elem_type,
            v.is_revoked,
            role,
            v.revoke_time_ms.map_or(-1.0, |t| t as f64),
            rich,
            reply_id,
            reply_sender,
            reply_abstract,
            q.is_some_and(|q| q.is_revoked),
            data,
        )
    })
}

// Small helpers of the JavaScript boundary that several classes share (kept here, a leaf module,
// so that no file of `src/` imports one that imports it back).

#[wasm_bindgen]
extern "C" {
    /// `crypto.getRandomValues` (windows, workers and Node alike).
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(buf: &mut [u8]) -> Result<JsValue, JsValue>;
}

/// 24 random bytes: a seed for the core client's request ids and the key of its msgIDs (16
/// bytes), so that msgIDs are unpredictable. From `crypto.getRandomValues`; only where there is
/// no `crypto` (never in a browser) from `Math.random` and the clock.
pub(crate) fn random_bytes() -> [u8; 24] {
    let mut b = [0u8; 24];
    if get_random_values(&mut b).is_err() {
        for (i, x) in b.iter_mut().enumerate() {
            *x = ((Math::random() * 256.0) as u8) ^ ((Date::now() as u64 >> (i % 8 * 8)) as u8);
        }
    }
    b
}

/// A `gloo_timers` timeout that runs `f`. Every timeout of the module goes through this one
/// closure type (`Box<dyn FnOnce()>`), so wasm-bindgen's glue for it exists once, not once per
/// callback.
pub(crate) fn timeout(ms: u32, f: impl FnOnce() + 'static) -> Timeout {
    let f: Box<dyn FnOnce()> = Box::new(f);
    Timeout::new(ms, f)
}

/// `Closure::once_into_js` of a promise's continuation, through one closure type
/// (`Box<dyn FnOnce(JsValue) -> Promise>`) for the same reason as [`timeout`].
pub(crate) fn once_then(f: impl FnOnce(JsValue) -> Promise + 'static) -> JsValue {
    let f: Box<dyn FnOnce(JsValue) -> Promise> = Box::new(f);
    Closure::once_into_js(f)
}

/// `p.then(f)`, with `f`'s value (a promise too) being the chain's.
pub(crate) fn chain(p: &Promise, f: &JsValue) -> Promise {
    then(p, f).unwrap_or_else(|e| Promise::reject(&e))
}
