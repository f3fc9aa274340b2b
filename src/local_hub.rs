//! `LocalHub`: the authority, embedded — the core's `Hub<MemStore>` driven in memory, so the
//! demo and the tests run with no server and the very same rules.
//!
//! Frames from clients wait in an inbox; a microtask (`queueMicrotask`) drains it (the hub handles every frame at
//! the current time, commits, and releases the answers), then delivers each answer to its
//! client. So every answer and event arrives asynchronously, like over a network, in order.
//!
//! Also `ChatClient.local` and the session's transport to the hub, `LocalLink`: the whole of
//! what the `local-hub` feature adds.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::{Rc, Weak};
use std::sync::Arc;

use im_revoke_core::attachment::{check_local_upload, DEFAULT_MAX_UPLOAD};
use im_revoke_core::protocol::PROTOCOL_VERSION;
use im_revoke_core::{ClientFrame, Code, Config, Hub, ImError, MemStore, ServerFrame, SessionId};
use js_sys::{Date, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::chat_client::ChatClient;
use crate::convert::{opt_number, options};
use crate::error::Error;
use crate::session::{queue_microtask, Batch, Session, Transport};

#[wasm_bindgen(typescript_custom_section)]
const TS_HUB: &'static str = r#"
/** `new LocalHub(options)`. Times are in seconds, as in Tencent's console. */
export interface LocalHubOptions {
  /** How long a sender may revoke their message, seconds (default 120). */
  revokeTimeLimit?: number;
  /** How long a group owner or admin may revoke others' messages, seconds (default: no limit). */
  adminRevokeTimeLimit?: number | null;
  /** Longest message text, bytes (default 12288). */
  maxTextBytes?: number;
  /** Largest attachment (image or file) accepted, bytes (default 20 MiB: 300009 over it). */
  maxUploadBytes?: number;
}

/** `ChatClient.local(hub, userID, options)`. */
export interface LocalOptions {
  /** Default "memory" (a `LocalHub` lives as long as its page); "indexeddb": one store per hub and user. */
  storage?: "indexeddb" | "memory";
  /** Messages kept in memory (least recently used go first; default 5000). */
  cacheSize?: number;
}
"#;

pub(crate) enum Inbound {
    Login(String),
    Frame(ClientFrame),
    Logout,
}

pub(crate) struct HubState {
    hub: Hub<MemStore>,
    /// The drain, as one JavaScript function queued as a microtask whenever the inbox gets
    /// work (one closure for the hub's life, none per frame).
    wake: Option<Closure<dyn FnMut()>>,
    /// Keeps the hub alive while a drain is queued.
    pin: Option<SharedHub>,
    clients: HashMap<SessionId, Rc<Seat>>,
    inbox: VecDeque<(SessionId, Inbound)>,
    scheduled: bool,
    next_session: SessionId,
    /// Attachments: the object URL of each upload's Blob, by key (revoked with the message).
    files: HashMap<String, String>,
    /// The uploader's check-in (`attachment::local_put`), one closure for the hub's life.
    put: Option<Closure<PutFn>>,
    /// Largest upload accepted, bytes.
    max_upload: u64,
}

/// `(user, size, declared type, first bytes, object URL)` → the new upload's key.
type PutFn = dyn FnMut(String, f64, String, Vec<u8>, String) -> Result<String, JsValue>;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = URL, js_name = revokeObjectURL)]
    fn revoke_object_url(url: &str);
}

impl Drop for HubState {
    fn drop(&mut self) {
        for url in self.files.values() {
            revoke_object_url(url);
        }
    }
}

/// Registers an upload of `user` (its Blob under `url`) after the core's checks; its key.
fn check_in(
    hub: &SharedHub,
    user: &str,
    size: f64,
    declared: &str,
    head: &[u8],
    url: String,
) -> Result<String, ImError> {
    let mut h = hub.borrow_mut();
    check_local_upload(declared, size as u64, head, h.max_upload)?;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let key: String = crate::js::random_bytes()[..16]
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])
        .map(char::from)
        .collect();
    h.hub.store_mut().add_upload(&key, user);
    h.files.insert(key.clone(), url);
    Ok(key)
}

type SharedHub = Rc<RefCell<HubState>>;

/// Queues `what` from `session` and makes sure a drain is scheduled.
fn push(hub: &SharedHub, session: SessionId, what: Inbound) {
    let mut h = hub.borrow_mut();
    h.inbox.push_back((session, what));
    if !std::mem::replace(&mut h.scheduled, true) {
        h.pin = Some(hub.clone());
        if let Some(wake) = &h.wake {
            queue_microtask(wake.as_ref().unchecked_ref());
        }
    }
}

/// Handles everything in the inbox, commits, then delivers the answers (no hub borrow held
/// while clients — and their listeners — run; frames they send wait for the next drain).
fn drain(hub: &SharedHub) {
    let deliveries: Vec<(SessionId, Rc<Seat>, ServerFrame)> = {
        let mut guard = hub.borrow_mut();
        let h = &mut *guard;
        h.scheduled = false;
        // `hub` (the caller's) outlives this borrow, so dropping the pin here frees nothing.
        drop(h.pin.take());
        let now = Date::now() as u64;
        while let Some((id, what)) = h.inbox.pop_front() {
            match what {
                Inbound::Login(user) => {
                    h.hub.login(id, &user, PROTOCOL_VERSION, now);
                }
                Inbound::Frame(f) => h.hub.handle(id, f, now),
                Inbound::Logout => {
                    h.hub.logout(id);
                    h.clients.remove(&id);
                }
            }
        }
        // MemStore's commit cannot fail; a poisoned hub would deliver nothing.
        let out = h.hub.commit().unwrap_or_default();
        // Revoked: their Blobs go, before anyone hears of the revoke.
        for key in h.hub.store_mut().take_gone() {
            if let Some(url) = h.files.remove(&key) {
                revoke_object_url(&url);
            }
        }
        out.into_iter()
            .filter_map(|o| Some((o.session, h.clients.get(&o.session)?.clone(), o.frame)))
            .collect()
    };
    for (id, seat, frame) in deliveries {
        // A listener earlier in this loop may have disconnected (and reconnected) the client:
        // what was meant for its old hub session is not for it any more.
        if !seat.is(id) {
            continue;
        }
        if let Some(session) = seat.session.upgrade() {
            session.handle_frame(frame);
        }
    }
}

/// The embedded authority: the same hub state machine as the server, in memory.
///
/// ```js
/// const hub = new LocalHub({ revokeTimeLimit: 120 });
/// const alice = await ChatClient.local(hub, "alice");
/// const bob = await ChatClient.local(hub, "bob");
/// ```
#[wasm_bindgen]
pub struct LocalHub {
    pub(crate) inner: SharedHub,
    /// Names this hub's stores (`storage: "indexeddb"`): a hub lives as long as its page, so
    /// its clients' stores are per hub.
    id: u64,
}

#[wasm_bindgen]
impl LocalHub {
    /// A new, empty hub. `options` (all optional, seconds): `revokeTimeLimit` (default 120),
    /// `adminRevokeTimeLimit` (default: no limit), `maxTextBytes` (default 12288),
    /// `maxUploadBytes` (bytes, default 20 MiB).
    /// Throws an `ImError` (6017) on a malformed option.
    ///
    /// ```js
    /// const hub = new LocalHub({ revokeTimeLimit: 120, adminRevokeTimeLimit: 86400 });
    /// ```
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(js_name = options, unchecked_optional_param_type = "LocalHubOptions")]
        options_arg: JsValue,
    ) -> Result<LocalHub, Error> {
        let mut cfg = Config::default();
        let mut max_upload = DEFAULT_MAX_UPLOAD;
        if !(options_arg.is_undefined() || options_arg.is_null()) {
            options(&options_arg, "LocalHub options")?;
            let ms = |s: f64| (s * 1000.0).round() as u64;
            if let Some(s) = opt_number(&options_arg, "revokeTimeLimit")? {
                cfg.revoke_time_limit_ms = ms(s);
            }
            cfg.admin_revoke_time_limit_ms =
                opt_number(&options_arg, "adminRevokeTimeLimit")?.map(ms);
            if let Some(n) = opt_number(&options_arg, "maxTextBytes")? {
                cfg.max_text_bytes = n as usize;
            }
            if let Some(n) = opt_number(&options_arg, "maxUploadBytes")? {
                max_upload = n as u64;
            }
        }
        let inner = Rc::new(RefCell::new(HubState {
            hub: Hub::new(cfg, MemStore::new()),
            wake: None,
            pin: None,
            clients: HashMap::new(),
            inbox: VecDeque::new(),
            scheduled: false,
            next_session: 1,
            files: HashMap::new(),
            put: None,
            max_upload,
        }));
        let weak = Rc::downgrade(&inner);
        inner.borrow_mut().wake = Some(Closure::new(move || {
            if let Some(hub) = weak.upgrade() {
                drain(&hub);
            }
        }));
        let weak = Rc::downgrade(&inner);
        inner.borrow_mut().put = Some(Closure::new(
            move |user: String, size: f64, declared: String, head: Vec<u8>, url: String| {
                let hub = weak
                    .upgrade()
                    .ok_or_else(|| JsValue::from(Error(ImError::new(Code::NotLoggedIn))))?;
                check_in(&hub, &user, size, &declared, &head, url).map_err(|e| Error(e).into())
            },
        ));
        let id = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64;
        Ok(LocalHub { inner, id })
    }

    /// The sender's revoke window in force, seconds.
    ///
    /// ```js
    /// new LocalHub({ revokeTimeLimit: 30 }).revokeTimeLimit === 30
    /// ```
    #[wasm_bindgen(getter, js_name = revokeTimeLimit)]
    pub fn revoke_time_limit(&self) -> f64 {
        self.inner.borrow().hub.config().revoke_time_limit_ms as f64 / 1000.0
    }
}

#[wasm_bindgen]
impl ChatClient {
    /// Logs `userID` in on an embedded `LocalHub` (no server, same rules). Resolves once
    /// logged in; rejects with an `ImError` (20003 for a malformed userID).
    ///
    /// ```js
    /// const hub = new LocalHub({ revokeTimeLimit: 120 });
    /// const alice = await ChatClient.local(hub, "alice");
    /// ```
    ///
    /// `options` (optional): `storage` ("memory" by default: the hub lives as long as the page,
    /// so a store outlives what it names; "indexeddb" keeps a store per hub, which a new client
    /// of the same user on the same hub restores from) and `cacheSize`, as for `connect`.
    #[wasm_bindgen(js_name = local, unchecked_return_type = "Promise<ChatClient>")]
    pub fn local(
        hub: &LocalHub,
        #[wasm_bindgen(js_name = userID)] user_id: String,
        #[wasm_bindgen(unchecked_optional_param_type = "LocalOptions")] options: Option<JsValue>,
    ) -> Promise {
        let opts = options.unwrap_or(JsValue::UNDEFINED);
        let name = format!("local:{:016x}", hub.id);
        let hub = LocalHub {
            inner: hub.inner.clone(),
            id: hub.id,
        };
        ChatClient::log_in(user_id, &opts, &name, "memory", move |user, session| {
            Box::new(hub.attach(user, session))
        })
    }
}

impl LocalHub {
    /// Seats a new session (a device) of `user` in the hub; its login goes out when the
    /// session opens the link.
    fn attach(&self, user: String, session: Weak<Session>) -> LocalLink {
        let seat = {
            let mut h = self.inner.borrow_mut();
            h.next_session += 1;
            let id = h.next_session;
            let seat = Rc::new(Seat {
                id: Cell::new(id),
                left: Cell::new(false),
                session,
            });
            h.clients.insert(id, seat.clone());
            seat
        };
        LocalLink {
            hub: self.inner.clone(),
            seat,
            user,
        }
    }
}

/// Where a session sits in the hub: its hub session now (a new one after each rejoin), and
/// whether it has left.
struct Seat {
    id: Cell<SessionId>,
    left: Cell<bool>,
    session: Weak<Session>,
}

impl Seat {
    /// Whether `id` is this seat's hub session, still joined.
    fn is(&self, id: SessionId) -> bool {
        self.id.get() == id && !self.left.get()
    }
}

/// A client's connection to the hub (the session owns it). Dropping it (the client was
/// freed) leaves the hub.
pub(crate) struct LocalLink {
    hub: SharedHub,
    seat: Rc<Seat>,
    user: String,
}

impl Transport for LocalLink {
    fn open(&self) {
        push(
            &self.hub,
            self.seat.id.get(),
            Inbound::Login(self.user.clone()),
        );
    }

    fn send(&self, frames: Vec<Arc<ClientFrame>>) {
        if self.seat.left.get() {
            return;
        }
        let id = self.seat.id.get();
        for f in frames {
            push(&self.hub, id, Inbound::Frame(Arc::unwrap_or_clone(f)));
        }
    }

    fn retries(&self) -> bool {
        false
    }

    /// Into the hub: the Blob stays in memory under an object URL until its message is
    /// revoked (or the hub is freed).
    fn uploader(&self, user: &str) -> Result<JsValue, ImError> {
        let h = self.hub.borrow();
        let put = h
            .put
            .as_ref()
            .ok_or_else(|| ImError::new(Code::NotLoggedIn))?;
        Ok(crate::attachment::local_put(put.as_ref(), user))
    }

    fn leave(&self, _: &mut Batch) {
        self.leave();
    }

    /// Joins the hub again as a new session of the same user (a new connection) and queues
    /// its login.
    fn resume(&self) {
        if !self.seat.left.get() {
            return;
        }
        let id = {
            let mut h = self.hub.borrow_mut();
            h.next_session += 1;
            let id = h.next_session;
            h.clients.insert(id, self.seat.clone());
            id
        };
        self.seat.id.set(id);
        self.seat.left.set(false);
        push(&self.hub, id, Inbound::Login(self.user.clone()));
        if let Some(session) = self.seat.session.upgrade() {
            session.connecting(Batch::default());
        }
    }
}

impl LocalLink {
    /// Logs this session out of the hub (after the frames it already sent).
    fn leave(&self) {
        if !self.seat.left.replace(true) {
            push(&self.hub, self.seat.id.get(), Inbound::Logout);
        }
    }
}

impl Drop for LocalLink {
    fn drop(&mut self) {
        self.leave();
    }
}
