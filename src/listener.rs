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

use im_revoke_core::client::Notification;
use js_sys::{Object, Reflect};
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

#[wasm_bindgen(inline_js = "export function rethrow(e) { queueMicrotask(() => { throw e; }); }")]
extern "C" {
    /// Re-throws `e` on a microtask, outside the dispatch loop (reported like an exception in a
    /// DOM event listener: `window.onerror`, devtools, error trackers).
    fn rethrow(e: &JsValue);
}

#[wasm_bindgen]
extern "C" {
    /// An `AdvancedMsgListener` object (duck-typed).
    #[wasm_bindgen(typescript_type = "AdvancedMsgListener")]
    #[derive(Clone, Debug)]
    pub type AdvancedMsgListener;

    #[wasm_bindgen(structural, method, catch, js_name = onRecvNewMessage)]
    fn on_recv_new_message(this: &AdvancedMsgListener, msg: &JsValue) -> Result<(), JsValue>;

    #[wasm_bindgen(structural, method, catch, js_name = onRecvMessageRevoked)]
    fn on_recv_message_revoked(
        this: &AdvancedMsgListener,
        msg_id: &JsValue,
        revoker_info: &JsValue,
        reason: &JsValue,
    ) -> Result<(), JsValue>;

    #[wasm_bindgen(structural, method, catch, js_name = onGroupChanged)]
    fn on_group_changed(this: &AdvancedMsgListener, group: &JsValue) -> Result<(), JsValue>;

    /// A `ConnectionListener` object (duck-typed).
    #[wasm_bindgen(typescript_type = "ConnectionListener")]
    #[derive(Clone, Debug)]
    pub type ConnectionListener;

    #[wasm_bindgen(structural, method, catch, js_name = onConnecting)]
    fn on_connecting(this: &ConnectionListener) -> Result<(), JsValue>;

    #[wasm_bindgen(structural, method, catch, js_name = onConnectSuccess)]
    fn on_connect_success(this: &ConnectionListener) -> Result<(), JsValue>;

    #[wasm_bindgen(structural, method, catch, js_name = onConnectFailed)]
    fn on_connect_failed(this: &ConnectionListener, code: u32, desc: &str) -> Result<(), JsValue>;

    #[wasm_bindgen(structural, method, catch, js_name = onUserSigExpired)]
    fn on_user_sig_expired(this: &ConnectionListener) -> Result<(), JsValue>;
}

/// Registered listeners, in registration order, without duplicates.
#[derive(Debug)]
pub(crate) struct Listeners<T> {
    list: Vec<T>,
}

impl<T> Default for Listeners<T> {
    fn default() -> Self {
        Listeners { list: Vec::new() }
    }
}

impl<T: JsCast + Clone> Listeners<T> {
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
        if !self.list.iter().any(|x| Object::is(x.as_ref(), l.as_ref())) {
            self.list.push(l);
        }
    }

    /// Removes `l` if registered.
    pub fn remove(&mut self, l: &JsValue) {
        self.list.retain(|x| !Object::is(x.as_ref(), l));
    }

    /// The listeners to call for one event.
    pub fn snapshot(&self) -> Vec<T> {
        self.list.clone()
    }

    pub fn clear(&mut self) {
        self.list.clear();
    }
}

/// Logs a listener's exception and re-throws it on a microtask.
fn report(method: &str, err: &JsValue) {
    let mut what = String::with_capacity(64);
    what.push_str("im-revoke: listener method ");
    what.push_str(method);
    what.push_str(" threw (the other listeners still ran; re-thrown on a microtask)");
    web_sys::console::error_2(&JsValue::from_str(&what), err);
    rethrow(err);
}

/// Whether `obj[method]` is a function; a throwing getter is reported and counts as absent.
fn has_method(obj: &JsValue, method: &str) -> bool {
    match Reflect::get(obj, &JsValue::from_str(method)) {
        Ok(f) => f.is_function(),
        Err(e) => {
            report(method, &e);
            false
        }
    }
}

fn call(obj: &JsValue, method: &str, invoke: impl FnOnce() -> Result<(), JsValue>) {
    if has_method(obj, method) {
        if let Err(e) = invoke() {
            report(method, &e);
        }
    }
}

/// A message event converted to JavaScript once, for every listener.
pub(crate) enum MsgEvent {
    NewMessage(JsValue),
    Revoked(JsValue, JsValue, JsValue),
    GroupChanged(JsValue),
}

impl MsgEvent {
    pub fn from_note(note: &Notification) -> MsgEvent {
        match note {
            Notification::NewMessage(view) => MsgEvent::NewMessage(to_js(view)),
            Notification::MessageRevoked {
                msg_id,
                revoker,
                reason,
            } => MsgEvent::Revoked(
                JsValue::from_str(msg_id),
                to_js(revoker),
                JsValue::from_str(reason),
            ),
            Notification::GroupChanged(group) => MsgEvent::GroupChanged(to_js(group)),
        }
    }

    /// Calls the matching method of `l`, if it has one.
    pub fn deliver(&self, l: &AdvancedMsgListener) {
        match self {
            MsgEvent::NewMessage(msg) => {
                call(l, "onRecvNewMessage", || l.on_recv_new_message(msg));
            }
            MsgEvent::Revoked(id, info, reason) => {
                call(l, "onRecvMessageRevoked", || {
                    l.on_recv_message_revoked(id, info, reason)
                });
            }
            MsgEvent::GroupChanged(group) => {
                call(l, "onGroupChanged", || l.on_group_changed(group));
            }
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
    /// Calls the matching method of `l`, if it has one.
    pub fn deliver(&self, l: &ConnectionListener) {
        match self {
            ConnEvent::Connecting => call(l, "onConnecting", || l.on_connecting()),
            ConnEvent::Success => call(l, "onConnectSuccess", || l.on_connect_success()),
            ConnEvent::Failed(code, desc) => {
                call(l, "onConnectFailed", || l.on_connect_failed(*code, desc))
            }
            ConnEvent::UserSigExpired => call(l, "onUserSigExpired", || l.on_user_sig_expired()),
        }
    }
}
