//! Listener objects: duck-typed, called safely.
//!
//! Listeners are plain objects with some of the methods of `AdvancedMsgListener` (or
//! `ConnectionListener`, `ConversationListener`); methods they lack are skipped. The rules every dispatch follows:
//! - listeners are called in registration order; adding the same object twice registers it
//!   once (`Object.is`);
//! - each call is `catch`ed: a throwing listener does not stop the others nor break the
//!   client. Its exception is logged with `console.error` and re-thrown on a microtask, so it
//!   reaches `window.onerror` / error trackers like an exception in a DOM event listener;
//! - no `RefCell` borrow is held while JavaScript runs, so a listener may call back into the
//!   client (send, revoke, history, add or remove listeners, logout);
//! - dispatch works on a snapshot of the list taken per event: a listener removed (or added)
//!   during an event's dispatch is affected from the next event on (as Node's `EventEmitter`),
//!   also the next event of the same frame;
//! - the conversations' views for `onNewConversation`/`onConversationChanged` are made only
//!   when a conversation listener will hear them: one registered when the frame is handled
//!   (or, after the first login from a store, until the held notifications are told), or one
//!   added by a listener during the frame's dispatch (the views are then made at its turn,
//!   with the conversations as they are then);
//! - events are dispatched asynchronously (from a microtask, a timer or a WebSocket event),
//!   never inside the call that caused them.

use std::marker::PhantomData;

use im_revoke_core::client::Notification;
use js_sys::Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::convert::to_js;
use crate::error::Error;
use crate::js::{dispatch, dispatch_revoked, has, without};

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
  /**
   * A message this client holds changed: a reply whose original was revoked (its `replyTo`
   * now has `abstract: ""` and `isRevoked: true`). Told once per reply.
   */
  onRecvMessageModified?(msg: Message): void;
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
  /**
   * The browser's store (`storage: "indexeddb"`) is not what was asked: `kind` is
   * "unavailable" (no IndexedDB, e.g. a private window or blocked storage: the client keeps
   * everything in memory), "rebuilt" (the stored data was another schema's, another user's or
   * corrupt: it was cleared and is rebuilt from the server), "readonly" (another tab of this
   * user writes the store; this one only read it), "writer" (that tab closed: this one took the
   * store over, with what the closed tab left unsent) or "quota" (the quota was exceeded: older
   * history was deleted from the store, the outbox and cursor kept).
   */
  onStorageWarning?(kind: "unavailable" | "rebuilt" | "readonly" | "writer" | "quota", desc: string): void;
}
"#;

/// Method numbers: indexes into `NAMES` of the JavaScript side (`js::dispatch`).
const ON_RECV_NEW_MESSAGE: u32 = 0;
const ON_GROUP_CHANGED: u32 = 2;
const ON_CONNECTING: u32 = 3;
const ON_CONNECT_SUCCESS: u32 = 4;
const ON_CONNECT_FAILED: u32 = 5;
const ON_USER_SIG_EXPIRED: u32 = 6;
const ON_STORAGE_WARNING: u32 = 7;
const ON_RECV_MESSAGE_MODIFIED: u32 = 8;
const ON_NEW_CONVERSATION: u32 = 9;
const ON_CONVERSATION_CHANGED: u32 = 10;
const ON_TOTAL_UNREAD_MESSAGE_COUNT_CHANGED: u32 = 11;

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

    /// A `ConversationListener` object (duck-typed).
    #[wasm_bindgen(typescript_type = "ConversationListener")]
    #[derive(Clone, Debug)]
    pub type ConversationListener;
}

/// Registered listeners, in registration order, without duplicates (a JavaScript array, so
/// that dispatch needs no conversion).
#[derive(Debug)]
pub(crate) struct Listeners<T> {
    list: List,
    kind: PhantomData<T>,
}

/// What a [`Listeners`] holds, whatever its kind of listener: its code exists once, not once
/// per kind.
#[derive(Debug)]
struct List {
    list: Array,
    len: u32,
}

impl<T> Default for Listeners<T> {
    fn default() -> Self {
        Listeners {
            list: List {
                list: Array::new(),
                len: 0,
            },
            kind: PhantomData,
        }
    }
}

impl List {
    #[inline(never)]
    fn add(&mut self, l: &JsValue) {
        if !has(&self.list, l) {
            let next = self.list.slice(0, self.len);
            next.push(l);
            self.list = next;
            self.len += 1;
        }
    }

    #[inline(never)]
    fn remove(&mut self, l: &JsValue) {
        if has(&self.list, l) {
            self.list = without(&self.list, l);
            self.len -= 1;
        }
    }
}

/// Checks that `v` is an object (a listener).
#[inline(never)]
fn check_listener(v: &JsValue) -> Result<(), Error> {
    if v.is_object() || v.is_function() {
        Ok(())
    } else {
        Err(im_revoke_core::ImError::with_desc(
            im_revoke_core::Code::InvalidParameters,
            "a listener must be an object",
        )
        .into())
    }
}

impl<T: JsCast> Listeners<T> {
    /// Checks that `v` is an object and returns it as a listener.
    pub fn cast(v: JsValue) -> Result<T, Error> {
        check_listener(&v)?;
        Ok(v.unchecked_into())
    }

    /// Adds `l` at the end unless the same object is already registered. The list is never
    /// changed in place (a new array, as `remove`): a dispatch under way keeps the array it
    /// was given, with no copy per event.
    pub fn add(&mut self, l: T) {
        self.list.add(l.as_ref());
    }

    /// Removes `l` if registered. A dispatch under way keeps its own copy of the list.
    pub fn remove(&mut self, l: &JsValue) {
        self.list.remove(l);
    }

    /// Whether none is registered.
    pub fn is_empty(&self) -> bool {
        self.list.len == 0
    }

    /// The listeners to call for one event (`None` when there are none): an array nothing
    /// changes afterwards, so changes made by a listener apply from the next event.
    pub fn snapshot(&self) -> Option<Array> {
        (self.list.len > 0).then(|| self.list.list.clone())
    }

    pub fn clear(&mut self) {
        *self = Listeners::default();
    }
}

/// Whether `note` is for the conversation listeners (the others are for the message
/// listeners).
pub(crate) fn is_conversation_note(note: &Notification) -> bool {
    matches!(
        note,
        Notification::NewConversation(_)
            | Notification::ConversationChanged(_)
            | Notification::TotalUnreadChanged(_)
    )
}

/// Calls the matching method of each of `ls` for a message or conversation event.
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
        } => dispatch_revoked(ls, msg_id, revoker, reason),
        Notification::GroupChanged(group) => {
            dispatch(ls, ON_GROUP_CHANGED, 1, &to_js(group), none, none);
        }
        Notification::MessageModified(view) => {
            dispatch(ls, ON_RECV_MESSAGE_MODIFIED, 1, &to_js(view), none, none);
        }
        Notification::NewConversation(list) => {
            dispatch(ls, ON_NEW_CONVERSATION, 1, &to_js(list), none, none);
        }
        Notification::ConversationChanged(list) => {
            dispatch(ls, ON_CONVERSATION_CHANGED, 1, &to_js(list), none, none);
        }
        Notification::TotalUnreadChanged(total) => {
            let total = JsValue::from(*total as f64);
            dispatch(
                ls,
                ON_TOTAL_UNREAD_MESSAGE_COUNT_CHANGED,
                1,
                &total,
                none,
                none,
            );
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
    /// `onStorageWarning(kind, desc)`.
    Storage(&'static str, String),
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
            ConnEvent::Storage(kind, desc) => dispatch(
                ls,
                ON_STORAGE_WARNING,
                2,
                &JsValue::from_str(kind),
                &JsValue::from_str(desc),
                none,
            ),
        }
    }
}
