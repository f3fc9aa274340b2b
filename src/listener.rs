//! Listener objects: duck-typed, called safely.
//!
//! Listeners are plain objects with some of the methods of `AdvancedMsgListener` (or
//! `ConnectionListener`); methods they lack are skipped. The rules every dispatch follows:
//! - listeners are called in registration order; adding the same object twice registers it
//!   once (`Object.is`);
//! - each call is `catch`ed: a throwing listener does not stop the others nor break the
//!   client. Its exception is logged with `console.error` and re-thrown on a microtask, so it
//!   reaches `window.onerror` / error trackers like an exception in a DOM event listener;
//! - no `RefCell` borrow is held while JavaScript runs, so a listener may call back into the
//!   client (send, revoke, history, add or remove listeners, logout);
//! - dispatch works on a snapshot of the list taken per event: a listener removed (or added)
//!   during an event's dispatch is affected from the next event on;
//! - events are dispatched asynchronously (from a microtask, a timer or a WebSocket event),
//!   never inside the call that caused them.

use std::marker::PhantomData;

use im_revoke_core::client::Notification;
use im_revoke_core::RevokerRole;
use js_sys::Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::convert::to_js;
use crate::error::Error;

#[wasm_bindgen(typescript_custom_section)]
const TS_LISTENERS: &'static str = r#"
/**
 * Message events, as Tencent's `V2TIMAdvancedMsgListener`. Every method is optional.
 * Methods are called with the listener as `this`, asynchronously and in order.
 *
 * ```js
 * mm.addAdvancedMsgListener({
 *   onRecvNewMessage(msg) { render(msg); },
 *   onRecvMessageRevoked(msgID, revokerInfo, reason) { showRevoked(msgID, revokerInfo.userID, reason); },
 * });
 * ```
 */
export interface AdvancedMsgListener {
  /** A new message in one of this user's conversations (also this user's own, sent from another device). */
  onRecvNewMessage?(msg: Message): void;
  /** A message was revoked (told exactly once, also to the revoker's other devices). */
  onRecvMessageRevoked?(msgID: string, revokerInfo: RevokerInfo, reason: string): void;
  /** A group this user is (or was) in changed: created, members, roles. */
  onGroupChanged?(group: Group): void;
}

/**
 * Connection events, named as in Tencent's `V2TIMSDKListener`. Every method is optional.
 *
 * ```js
 * client.addConnectionListener({
 *   onConnecting() { banner("reconnecting…"); },
 *   onConnectSuccess() { banner(null); },
 *   onConnectFailed(code, desc) { banner(`offline: ${desc}`); },
 *   onUserSigExpired() { relogin(); },
 * });
 * ```
 */
export interface ConnectionListener {
  /** (Re)connecting to the server. */
  onConnecting?(): void;
  /** Connected and logged in; queued requests are being resent and missed events synced. */
  onConnectSuccess?(): void;
  /** The connection was lost or an attempt failed (another attempt follows with backoff unless the server refused the login), or `disconnect()` was called (9508; offline until `reconnect()`). */
  onConnectFailed?(code: number, desc: string): void;
  /** The server refused the UserSig as expired (70001) on a reconnect: log in again with a new one. */
  onUserSigExpired?(): void;
}
"#;

// Dispatch runs in JavaScript: one call out of wasm per event, whatever the number of
// listeners, with method names and roles as JavaScript literals (no string conversion for
// them), and each listener call in its own `try`.
#[wasm_bindgen(inline_js = r#"
const NAMES = ["onRecvNewMessage", "onRecvMessageRevoked", "onGroupChanged", "onConnecting", "onConnectSuccess", "onConnectFailed", "onUserSigExpired"];
const ROLES = ["sender", "owner", "admin"];
function report(name, e) {
  try {
    console.error("im-revoke: listener method " + name + " threw (the other listeners still ran; re-thrown on a microtask)", e);
  } catch (_) {}
  queueMicrotask(() => { throw e; });
}
export function dispatch(ls, m, n, a, b, c) {
  const name = NAMES[m];
  const list = ls.slice();
  for (let i = 0; i < list.length; i++) {
    const l = list[i];
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
const dec = new TextDecoder();
let u8 = null;
export function dispatchRevoked(ls, memory, ptr, bytes, ascii, idLen, userLen, role) {
  if (u8 === null || u8.buffer !== memory.buffer) u8 = new Uint8Array(memory.buffer);
  const v = u8.subarray(ptr, ptr + bytes);
  // Short ASCII: fromCharCode is ~2x faster than TextDecoder in Chromium.
  const s = ascii && bytes <= 4096 ? String.fromCharCode.apply(null, v) : dec.decode(v);
  const end = idLen + userLen;
  dispatch(ls, 1, 3, s.slice(0, idLen), { userID: s.slice(idLen, end), role: ROLES[role] }, s.slice(end));
}
export function has(ls, l) {
  for (let i = 0; i < ls.length; i++) if (Object.is(ls[i], l)) return true;
  return false;
}
export function without(ls, l) {
  return ls.filter((x) => !Object.is(x, l));
}
"#)]
extern "C" {
    /// Calls method `NAMES[m]` with the first `n` of `a, b, c` on each listener of a copy of
    /// `ls` that has it (a throwing getter counts as a throwing call).
    fn dispatch(ls: &Array, m: u32, n: u32, a: &JsValue, b: &JsValue, c: &JsValue);
    /// `onRecvMessageRevoked(msgID, {userID, role}, reason)`, the three strings passed as one
    /// (the `bytes` UTF-8 bytes at `ptr` of `memory`: msgID + userID + reason; lengths in
    /// UTF-16 units): one string conversion.
    #[wasm_bindgen(js_name = dispatchRevoked)]
    #[allow(clippy::too_many_arguments)]
    fn dispatch_revoked(
        ls: &Array,
        memory: &JsValue,
        ptr: *const u8,
        bytes: usize,
        ascii: bool,
        id_len: u32,
        user_len: u32,
        role: u32,
    );
    fn has(ls: &Array, l: &JsValue) -> bool;
    fn without(ls: &Array, l: &JsValue) -> Array;
}

/// Indexes into the `NAMES` of the dispatch code.
const ON_RECV_NEW_MESSAGE: u32 = 0;
const ON_GROUP_CHANGED: u32 = 2;
const ON_CONNECTING: u32 = 3;
const ON_CONNECT_SUCCESS: u32 = 4;
const ON_CONNECT_FAILED: u32 = 5;
const ON_USER_SIG_EXPIRED: u32 = 6;

#[wasm_bindgen]
extern "C" {
    /// An `AdvancedMsgListener` object (duck-typed).
    #[wasm_bindgen(typescript_type = "AdvancedMsgListener")]
    #[derive(Clone, Debug)]
    pub type AdvancedMsgListener;

    /// A `ConnectionListener` object (duck-typed).
    #[wasm_bindgen(typescript_type = "ConnectionListener")]
    #[derive(Clone, Debug)]
    pub type ConnectionListener;
}

/// Registered listeners, in registration order, without duplicates (a JavaScript array, so
/// that dispatch needs no conversion).
#[derive(Debug)]
pub(crate) struct Listeners<T> {
    list: Array,
    len: u32,
    kind: PhantomData<T>,
}

impl<T> Default for Listeners<T> {
    fn default() -> Self {
        Listeners {
            list: Array::new(),
            len: 0,
            kind: PhantomData,
        }
    }
}

impl<T: JsCast> Listeners<T> {
    /// Checks that `v` is an object and returns it as a listener.
    pub fn cast(v: JsValue) -> Result<T, Error> {
        if v.is_object() || v.is_function() {
            Ok(v.unchecked_into())
        } else {
            Err(im_revoke_core::ImError::with_desc(
                im_revoke_core::Code::InvalidParameters,
                "a listener must be an object",
            )
            .into())
        }
    }

    /// Adds `l` at the end unless the same object is already registered.
    pub fn add(&mut self, l: T) {
        if !has(&self.list, l.as_ref()) {
            self.list.push(l.as_ref());
            self.len += 1;
        }
    }

    /// Removes `l` if registered. A dispatch under way keeps its own copy of the list.
    pub fn remove(&mut self, l: &JsValue) {
        if has(&self.list, l) {
            self.list = without(&self.list, l);
            self.len -= 1;
        }
    }

    /// The listeners to call for one event (`None` when there are none); dispatch copies it
    /// before the first call, so changes made by a listener apply from the next event.
    pub fn snapshot(&self) -> Option<Array> {
        (self.len > 0).then(|| self.list.clone())
    }

    pub fn clear(&mut self) {
        *self = Listeners::default();
    }
}

thread_local! {
    static MEMORY: JsValue = wasm_bindgen::memory();
}

/// UTF-16 length (JavaScript's `length`) of `s`.
fn js_len(s: &str) -> u32 {
    if s.is_ascii() {
        s.len() as u32
    } else {
        s.encode_utf16().count() as u32
    }
}

/// Calls the matching method of each of `ls` for a message event.
pub(crate) fn deliver_note(note: &Notification, ls: &Array) {
    let none = &JsValue::UNDEFINED;
    match note {
        Notification::NewMessage(view) => {
            dispatch(ls, ON_RECV_NEW_MESSAGE, 1, &to_js(view), none, none);
        }
        Notification::MessageRevoked {
            msg_id,
            revoker,
            reason,
        } => {
            let mut s = String::with_capacity(msg_id.len() + revoker.user_id.len() + reason.len());
            s.push_str(msg_id);
            s.push_str(&revoker.user_id);
            s.push_str(reason);
            let role = match revoker.role {
                RevokerRole::Sender => 0,
                RevokerRole::Owner => 1,
                RevokerRole::Admin => 2,
            };
            MEMORY.with(|memory| {
                dispatch_revoked(
                    ls,
                    memory,
                    s.as_ptr(),
                    s.len(),
                    s.is_ascii(),
                    js_len(msg_id),
                    js_len(&revoker.user_id),
                    role,
                )
            });
        }
        Notification::GroupChanged(group) => {
            dispatch(ls, ON_GROUP_CHANGED, 1, &to_js(group), none, none);
        }
    }
}

/// A connection event.
#[derive(Clone, Debug)]
pub(crate) enum ConnEvent {
    Connecting,
    Success,
    Failed(u32, String),
    UserSigExpired,
}

impl ConnEvent {
    /// Calls the matching method of each of `ls`.
    pub fn deliver(&self, ls: &Array) {
        let none = &JsValue::UNDEFINED;
        match self {
            ConnEvent::Connecting => dispatch(ls, ON_CONNECTING, 0, none, none, none),
            ConnEvent::Success => dispatch(ls, ON_CONNECT_SUCCESS, 0, none, none, none),
            ConnEvent::Failed(code, desc) => dispatch(
                ls,
                ON_CONNECT_FAILED,
                2,
                &JsValue::from(*code),
                &JsValue::from_str(desc),
                none,
            ),
            ConnEvent::UserSigExpired => dispatch(ls, ON_USER_SIG_EXPIRED, 0, none, none, none),
        }
    }
}
