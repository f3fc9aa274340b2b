//! The driver of one core [`Client`]: what `ChatClient`, `MessageManager` and `GroupManager`
//! share, whichever transport (embedded `LocalHub` or WebSocket) carries the frames.
//!
//! It only moves things around: requests go into the core client, the core's frames go to the
//! transport, frames from the transport go into the core client, and what comes out —
//! completions and notifications — settles promises and reaches listeners. The core decides
//! everything (ordering, resend, exactly-once, time limits, error codes).
//!
//! Borrow discipline: the state sits in a `RefCell`; every entry point borrows it, collects
//! the output into a [`Batch`], drops the borrow and only then calls JavaScript.
//!
//! The transport is a [`Transport`] (`ws::WsLink`, `local_hub::LocalLink`): the session holds
//! one, boxed, and knows no more of it than the trait; the transport keeps its own state and
//! reports back through the session's methods (`handle_frame`, `connecting`, `failed`,
//! `closed`).
//!
//! `disconnect()`/`reconnect()` keep the client: `offline` is what the app asked for, the
//! transport is made to follow it (`leave`, `resume`). While offline, requests wait in the core
//! client's outbox like during any connection loss.
//!
//! Why one file of ~780 lines: the session is one state (`State`) and the entry points that
//! borrow it; splitting them would spread the borrow discipline above over several files. The
//! transports, the classes and the objects are elsewhere (`ws`, `local_hub`, `manager`,
//! `convert`).

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use gloo_timers::callback::Timeout;
use im_revoke_core::client::{Client, Done, Notification};
use im_revoke_core::{ClientFrame, Code, ImError, ServerFrame, SortedMap};
use js_sys::{Date, Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::convert::{to_js, Page};
use crate::error::{rejected, Error};
use crate::listener::{
    deliver_note, is_conversation_note, AdvancedMsgListener, ConnEvent, ConnectionListener,
    ConversationListener, Listeners,
};
use crate::storage::Store;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = queueMicrotask)]
    pub(crate) fn queue_microtask(f: &Function);
}

/// How a request's result becomes the promise's value.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Shape {
    /// `Promise<Message>`.
    Message,
    /// `Promise<void>`.
    Void,
    /// `Promise<{ messageList, isCompleted }>`.
    Page,
    /// `Promise<Message[]>`.
    List,
    /// `Promise<Group>`.
    Group,
    /// `Promise<Group[]>`.
    Groups,
    /// `Promise<ConversationPage>`.
    ConversationPage,
    /// `Promise<Conversation>` (the page of one `getConversation` is answered with).
    Conversation,
    /// `Promise<number>`.
    Total,
}

/// A pending promise's `resolve` and `reject`.
pub(crate) struct Settle {
    resolve: Function,
    reject: Function,
    shape: Shape,
}

impl Settle {
    fn finish(self, r: Result<Done, ImError>) {
        let _ = match r {
            Ok(done) => self
                .resolve
                .call1(&JsValue::UNDEFINED, &value(self.shape, done)),
            Err(e) => self.reject.call1(&JsValue::UNDEFINED, &Error(e).into()),
        };
    }
}

fn value(shape: Shape, done: Done) -> JsValue {
    match (shape, done) {
        (Shape::Void, _) => JsValue::UNDEFINED,
        (Shape::Page, Done::Messages(list, is_completed)) => to_js(&Page {
            message_list: &list,
            is_completed,
        }),
        (_, Done::Messages(list, _)) => to_js(&list),
        (_, Done::Sent(m) | Done::Revoked(m)) => to_js(&m),
        (_, Done::Group(g)) => to_js(&g),
        (_, Done::Groups(list)) => to_js(&list),
        (Shape::Conversation, Done::Conversations(p)) => {
            p.conversation_list.first().map_or(JsValue::NULL, to_js)
        }
        (_, Done::Conversations(p)) => to_js(&p),
        (_, Done::Total(n)) => JsValue::from(n as f64),
        (_, Done::Read) => JsValue::UNDEFINED,
    }
}

/// Where the client is in its life (Tencent's `getLoginStatus` numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// 1: logged in (the connection may be down and being re-established).
    LoggedIn = 1,
    /// 2: the first login is in progress.
    LoggingIn = 2,
    /// 3: logged out, or the login failed.
    LoggedOut = 3,
}

/// What a session does on its next microtask.
pub(crate) enum Later {
    /// Act on a batch (events of `disconnect()`).
    Run(Batch),
    /// Open the transport again (`reconnect()`).
    Open,
}

/// What carries a session's frames: the WebSocket or the embedded `LocalHub`. It keeps its own
/// state; it is called with no borrow of the session held, except where noted, and it reports
/// back through the session's methods.
pub(crate) trait Transport {
    /// Opens the first connection (from [`Session::start`]).
    fn open(&self);
    /// Sends frames on the current connection; without one they are dropped (the core client
    /// resends what is unanswered after the next login).
    fn send(&self, frames: Vec<Arc<ClientFrame>>);
    /// Logged in on the current connection (called with the session borrowed).
    fn online(&self) {}
    /// Whether it reconnects by itself after the server refused a login for a passing reason
    /// (a constant of the transport).
    fn retries(&self) -> bool;
    /// No more connections (logout, `disconnect()`, a refused login) until [`Transport::resume`];
    /// what must be dropped with no borrow held goes into `b` (called with the session
    /// borrowed).
    fn leave(&self, b: &mut Batch);
    /// After [`Transport::leave`]: connects again with the same credentials (no-op when it had
    /// not left).
    fn resume(&self);
    /// Down by itself and waiting for the next automatic attempt: make it now (called with the
    /// session borrowed).
    fn retry_now(&self) {}
    /// Where `user`'s attachments go: a JavaScript `put(blob, head, onBytes)` (see
    /// `attachment.rs`).
    fn uploader(&self, user: &str) -> Result<JsValue, ImError>;
}

/// Everything the state produced, to act on once the borrow is dropped.
#[derive(Default)]
pub(crate) struct Batch {
    frames: Vec<Arc<ClientFrame>>,
    settles: Vec<(Settle, Result<Done, ImError>)>,
    notes: Vec<Notification>,
    /// The frame's conversation changes were left untold (no conversation listener when it
    /// was handled): told only if a listener of this batch adds one.
    untold: bool,
    login: Option<(Function, Function, Result<(), ImError>)>,
    conn: Vec<ConnEvent>,
    /// Things whose drop must wait until no borrow is held (the login pin, a dead socket).
    pub(crate) drop_later: Vec<Box<dyn std::any::Any>>,
}

/// The mutable state of one client.
pub(crate) struct State {
    pub(crate) client: Client,
    pub(crate) phase: Phase,
    /// By request id (a sorted `Vec`, as the core client's own map of pending requests).
    pending: SortedMap<String, Settle>,
    pub(crate) msg_listeners: Listeners<AdvancedMsgListener>,
    pub(crate) conn_listeners: Listeners<ConnectionListener>,
    pub(crate) conv_listeners: Listeners<ConversationListener>,
    /// The `ChatClient.local`/`connect` promise, until the first login settles it.
    login: Option<(Function, Function)>,
    /// `disconnect()` was called and `reconnect()` not yet.
    pub(crate) offline: bool,
    /// `reconnect()` promises waiting for the next login.
    waiters: Vec<Settle>,
    /// Work for the next microtask, and the function queued to do it (made at first use; one
    /// closure for the session's life, none per call).
    later: Vec<Later>,
    tick: Option<Closure<dyn FnMut()>>,
    /// Keeps the session (and so `tick`) alive while a tick is queued.
    tick_pin: Option<Rc<Session>>,
    /// Keeps the session alive until the first login settles (nothing else holds it yet).
    pin: Option<Rc<Session>>,
    /// The request-timeout timer and the deadline it is armed for.
    deadline: Option<(f64, Timeout)>,
}

impl State {
    /// Collects the core client's output.
    fn take_batch(&mut self) -> Batch {
        let mut settles = Vec::new();
        for (req_id, r) in self.client.take_completions() {
            if let Some(s) = self.pending.remove(&req_id) {
                settles.push((s, r));
            }
        }
        Batch {
            frames: self.client.take_frames(),
            settles,
            notes: self.client.take_notifications(),
            ..Batch::default()
        }
    }

    /// Settles the first-login promise, if still pending: resolves once the core client is
    /// logged in, rejects with `e`.
    fn finish_login(&mut self, b: &mut Batch, r: Result<(), ImError>) {
        if let Some((resolve, reject)) = self.login.take() {
            if r.is_err() {
                self.phase = Phase::LoggedOut;
            } else {
                self.phase = Phase::LoggedIn;
            }
            b.login = Some((resolve, reject, r));
            if let Some(pin) = self.pin.take() {
                b.drop_later.push(Box::new(pin));
            }
        }
    }

    /// Whether the first login is still pending.
    fn logging_in(&self) -> bool {
        self.login.is_some()
    }

    /// Settles the `reconnect()` promises waiting for the next login.
    fn wake(&mut self, b: &mut Batch, r: Result<(), ImError>) {
        for w in self.waiters.drain(..) {
            // Shape::Void: the `Done` is a placeholder, the promise resolves with `undefined`.
            let r = r.clone().map(|()| Done::Groups(Vec::new()));
            b.settles.push((w, r));
        }
    }

    /// Ends the session: rejects every pending request with `code`, forgets the listeners.
    fn shut(&mut self, b: &mut Batch, code: Code) {
        self.phase = Phase::LoggedOut;
        self.deadline = None;
        self.wake(b, Err(ImError::new(code)));
        for (_, s) in std::mem::take(&mut self.pending) {
            b.settles.push((s, Err(ImError::new(code))));
        }
        self.msg_listeners.clear();
        self.conn_listeners.clear();
        self.conv_listeners.clear();
    }
}

/// How a request starts: asks the core client for it (given the time), returns its id.
type Start<'a> = Box<dyn FnOnce(&mut Client, f64) -> Result<String, ImError> + 'a>;

/// One client: the core state machine, its transport, its promises and listeners.
pub(crate) struct Session {
    pub(crate) st: RefCell<State>,
    /// Outside the `RefCell`: it keeps its own state, and some of its calls run listeners.
    link: Box<dyn Transport>,
    /// What the first-login promise resolves with (the `ChatClient`).
    wrap: fn(Rc<Session>) -> JsValue,
    /// The browser's store, when one is kept (`storage`); taken by `logout()`.
    pub(crate) store: RefCell<Option<Store>>,
    /// A storage warning found before the first login, told once the app could listen.
    pub(crate) warning: RefCell<Option<(&'static str, String)>>,
    /// A reading tab's wait for the writer's lock: calling it stops the wait (`logout()`).
    pub(crate) takeover: RefCell<Option<Function>>,
    /// After a first login from a store, until a macrotask later: notifications wait here, so
    /// that what the stored cursor's sync brings reaches listeners added after `await connect`.
    held: RefCell<Option<Vec<Notification>>>,
    /// The Blobs of image and file messages created and not uploaded yet, by msgID (taken out
    /// while the upload runs, when the core knows the message as uploading; put back if it
    /// fails). (A few at a time: a list.)
    pub(crate) files: RefCell<Vec<(String, JsValue)>>,
}

impl Session {
    /// A session for `client` over the transport `link` makes (given the session, weakly), and
    /// the promise `ChatClient.local`/`connect` return: it resolves with `wrap(session)` on the
    /// first `loginOk`. Opens the transport.
    pub(crate) fn start(
        client: Client,
        store: Option<Store>,
        link: impl FnOnce(Weak<Session>) -> Box<dyn Transport>,
        wrap: fn(Rc<Session>) -> JsValue,
    ) -> (Rc<Session>, Promise) {
        let session = Rc::new_cyclic(|weak| Session {
            link: link(weak.clone()),
            wrap,
            store: RefCell::new(store),
            warning: RefCell::new(None),
            takeover: RefCell::new(None),
            held: RefCell::new(None),
            files: RefCell::new(Vec::new()),
            st: RefCell::new(State {
                client,
                phase: Phase::LoggingIn,
                pending: SortedMap::default(),
                msg_listeners: Listeners::default(),
                conn_listeners: Listeners::default(),
                conv_listeners: Listeners::default(),
                login: None,
                offline: false,
                waiters: Vec::new(),
                later: Vec::new(),
                tick: None,
                tick_pin: None,
                pin: None,
                deadline: None,
            }),
        });
        let mut slot = None;
        let promise = Promise::new(&mut |resolve, reject| slot = Some((resolve, reject)));
        {
            let mut st = session.st.borrow_mut();
            st.login = slot;
            st.pin = Some(session.clone());
        }
        session.link.open();
        (session, promise)
    }

    /// Hands the store what changed (one transaction). Calls no listener.
    fn persist(&self) {
        let store = self.store.borrow();
        if let Some(store) = &*store {
            let delta = self.st.borrow_mut().client.take_persist();
            if let Some(d) = delta {
                store.write(d);
            }
        }
    }

    /// Tells what waited since the first login: the storage warning, then the notifications.
    fn release_held(self: &Rc<Self>) {
        let notes = self.held.borrow_mut().take().unwrap_or_default();
        let warning = self.warning.borrow_mut().take();
        let b = Batch {
            conn: warning
                .map(|(kind, desc)| ConnEvent::Storage(kind, desc))
                .into_iter()
                .collect(),
            notes,
            ..Batch::default()
        };
        self.run(b);
    }

    /// Whether `logout()` ended this session (or its first login failed).
    pub(crate) fn logged_out(&self) -> bool {
        self.st.borrow().phase == Phase::LoggedOut
    }

    /// From the store: `onStorageWarning(kind, desc)` to the connection listeners.
    pub(crate) fn storage_warning(self: &Rc<Self>, kind: &'static str, desc: String) {
        let b = Batch {
            conn: vec![ConnEvent::Storage(kind, desc)],
            ..Batch::default()
        };
        self.run(b);
    }

    /// Starts a request: `start` asks the core client for it (or fails early), the promise's
    /// `resolve`/`reject` wait for the completion, and the frame goes out.
    pub(crate) fn request<'a>(
        self: &Rc<Self>,
        shape: Shape,
        start: impl FnOnce(&mut Client, f64) -> Result<String, ImError> + 'a,
    ) -> Promise {
        self.request_boxed(shape, Box::new(start))
    }

    /// [`Session::request`]'s body, once for every request (each export only boxes its call).
    #[inline(never)]
    fn request_boxed(self: &Rc<Self>, shape: Shape, start: Start<'_>) -> Promise {
        let started = {
            let mut st = self.st.borrow_mut();
            if st.phase == Phase::LoggedOut {
                Err(ImError::new(Code::NotLoggedIn))
            } else {
                start(&mut st.client, Date::now())
            }
        };
        self.pend(shape, started)
    }

    /// The promise of a request `started` (its id, or why it failed at once).
    fn pend(self: &Rc<Self>, shape: Shape, started: Result<String, ImError>) -> Promise {
        let req_id = match started {
            Ok(id) => id,
            Err(e) => return rejected(e),
        };
        let mut slot = None;
        let promise = Promise::new(&mut |resolve, reject| slot = Some((resolve, reject)));
        if let Some((resolve, reject)) = slot {
            self.st.borrow_mut().pending.insert(
                req_id,
                Settle {
                    resolve,
                    reject,
                    shape,
                },
            );
        }
        self.flush();
        promise
    }

    /// Sends what the core client queued and re-arms the request timer. Calls no listener:
    /// safe inside an API call.
    pub(crate) fn flush(self: &Rc<Self>) {
        self.persist();
        let frames = self.st.borrow_mut().client.take_frames();
        self.send(frames);
        self.arm_deadline();
        // An answer known at once (history from the store) settles after the call returns.
        let batch = {
            let mut st = self.st.borrow_mut();
            st.client.has_output().then(|| st.take_batch())
        };
        if let Some(b) = batch {
            self.soon(Later::Run(b));
        }
    }

    fn send(&self, frames: Vec<Arc<ClientFrame>>) {
        if !frames.is_empty() {
            self.link.send(frames);
        }
    }

    /// A frame from the server (delivered asynchronously by the transport).
    pub(crate) fn handle_frame(self: &Rc<Self>, frame: ServerFrame) {
        let batch = {
            let mut st = self.st.borrow_mut();
            if st.phase == Phase::LoggedOut {
                return;
            }
            let was_online = st.client.is_logged_in();
            let refused = match frame {
                // An error without a request id before loginOk: the login was refused.
                ServerFrame::Error {
                    req_id: None,
                    code,
                    desc,
                } if !was_online => Some(ImError { code, desc }),
                other => {
                    // Conversation views only for listeners: registered now, or added after
                    // `await connect` while the first login's notifications are held.
                    let listening = !st.conv_listeners.is_empty()
                        || st.logging_in()
                        || self.held.borrow().is_some();
                    st.client.listen_conversations(listening);
                    st.client.handle(other, Date::now());
                    None
                }
            };
            if let Some(e) = refused {
                let mut b = Batch::default();
                self.login_refused(&mut st, &mut b, e);
                b
            } else {
                let mut b = st.take_batch();
                b.untold = st.client.has_untold_conversations();
                if !was_online && st.client.is_logged_in() {
                    st.finish_login(&mut b, Ok(()));
                    st.wake(&mut b, Ok(()));
                    b.conn.push(ConnEvent::Success);
                    self.link.online();
                    // A clock sample right away, for canRevoke and the early 6223.
                    b.frames
                        .push(Arc::new(ClientFrame::Ping { t: Date::now() }));
                }
                b
            }
        };
        self.run(batch);
    }

    fn login_refused(&self, st: &mut State, b: &mut Batch, e: ImError) {
        let fatal = e.code.num() / 1000 == 70 || e.code == Code::UnsupportedVersion;
        if st.logging_in() {
            st.finish_login(b, Err(e));
            self.link.leave(b);
        } else if fatal {
            st.wake(b, Err(e.clone()));
            b.conn.push(if e.code == Code::UserSigExpired {
                ConnEvent::UserSigExpired
            } else {
                ConnEvent::Failed(e.code.num(), e.desc)
            });
            self.link.leave(b);
            st.shut(b, Code::NotLoggedIn);
        } else {
            // Transient (e.g. too many connections): the WebSocket transport retries with
            // backoff. The embedded hub has no retry: offline until the next `reconnect()`.
            if !self.link.retries() {
                self.link.leave(b);
                st.offline = true;
                st.wake(b, Err(e.clone()));
            }
            b.conn.push(ConnEvent::Failed(e.code.num(), e.desc));
        }
    }

    /// Acts on a batch with no borrow held: frames out, the login promise, connection events,
    /// request promises, then message and conversation listeners.
    #[inline(never)] // called from many places: one copy
    pub(crate) fn run(self: &Rc<Self>, b: Batch) {
        // Stored before any listener hears of it: the stored cursor never runs behind what
        // was told by more than the transaction in flight.
        self.persist();
        self.send(b.frames);
        if let Some((resolve, reject, r)) = b.login {
            let _ = match r {
                Ok(()) => resolve.call1(&JsValue::UNDEFINED, &(self.wrap)(self.clone())),
                Err(e) => reject.call1(&JsValue::UNDEFINED, &Error(e).into()),
            };
            // After the app's `await` went on (and added its listeners): a macrotask.
            if self.store.borrow().is_some() || self.warning.borrow().is_some() {
                *self.held.borrow_mut() = Some(Vec::new());
                let weak = Rc::downgrade(self);
                crate::js::timeout(0, move || {
                    if let Some(s) = weak.upgrade() {
                        s.release_held();
                    }
                })
                .forget();
            }
        }
        let mut notes = b.notes;
        if let Some(held) = &mut *self.held.borrow_mut() {
            held.append(&mut notes);
        }
        for ev in &b.conn {
            let listeners = self.st.borrow().conn_listeners.snapshot();
            if let Some(ls) = listeners {
                ev.deliver(&ls);
            }
        }
        for (settle, r) in b.settles {
            settle.finish(r);
        }
        let mut untold = b.untold;
        let mut i = 0;
        loop {
            let listeners = {
                let mut st = self.st.borrow_mut();
                if st.phase == Phase::LoggedOut {
                    break;
                }
                if i == notes.len() {
                    // No conversation listener when the frame was handled: one added since (by
                    // a listener of this batch) hears its changes, the views made now.
                    if !std::mem::take(&mut untold) || st.conv_listeners.is_empty() {
                        break;
                    }
                    st.client.tell_untold_conversations();
                    notes = st.client.take_notifications();
                    i = 0;
                    if notes.is_empty() {
                        break;
                    }
                }
                if is_conversation_note(&notes[i]) {
                    st.conv_listeners.snapshot()
                } else {
                    st.msg_listeners.snapshot()
                }
            };
            if let Some(ls) = listeners {
                deliver_note(&notes[i], &ls);
            }
            i += 1;
        }
        drop(b.drop_later);
        self.arm_deadline();
    }

    /// Arms one timer for the earliest request deadline; when it fires, overdue requests fail
    /// (9520 while connected, 9508 while not).
    fn arm_deadline(self: &Rc<Self>) {
        let mut st = self.st.borrow_mut();
        if st.phase == Phase::LoggedOut {
            st.deadline = None;
            return;
        }
        let Some(at) = st.client.next_deadline() else {
            st.deadline = None;
            return;
        };
        if st.deadline.as_ref().is_some_and(|(armed, _)| *armed <= at) {
            return;
        }
        let ms = (at - Date::now()).clamp(0.0, 2_000_000_000.0) as u32 + 1;
        let weak = Rc::downgrade(self);
        let timer = crate::js::timeout(ms, move || {
            if let Some(s) = weak.upgrade() {
                s.on_deadline();
            }
        });
        st.deadline = Some((at, timer));
    }

    fn on_deadline(self: &Rc<Self>) {
        let batch = {
            let mut st = self.st.borrow_mut();
            let mut b = Batch::default();
            if let Some(t) = st.deadline.take() {
                b.drop_later.push(Box::new(t));
            }
            st.client.expire(Date::now());
            let mut out = st.take_batch();
            out.drop_later.append(&mut b.drop_later);
            out
        };
        self.run(batch);
    }

    /// `logout()`: leaves the transport, rejects what is pending with 6014.
    pub(crate) fn logout(self: &Rc<Self>) {
        let batch = {
            let mut st = self.st.borrow_mut();
            let mut b = Batch::default();
            if st.phase == Phase::LoggedOut {
                return;
            }
            st.finish_login(
                &mut b,
                Err(ImError::with_desc(Code::NotLoggedIn, "logged out")),
            );
            self.link.leave(&mut b);
            st.shut(&mut b, Code::NotLoggedIn);
            b
        };
        // Blobs of messages never sent go with the session's life.
        let files = std::mem::take(&mut *self.files.borrow_mut());
        drop(files);
        self.run(batch);
    }

    /// Does `what` on a microtask: events caused by an API call reach listeners after it
    /// returns.
    fn soon(self: &Rc<Self>, what: Later) {
        let mut st = self.st.borrow_mut();
        st.later.push(what);
        if st.later.len() == 1 {
            st.tick_pin = Some(self.clone());
            let tick = st.tick.get_or_insert_with(|| {
                let weak = Rc::downgrade(self);
                Closure::new(move || {
                    if let Some(s) = weak.upgrade() {
                        s.on_tick();
                    }
                })
            });
            queue_microtask(tick.as_ref().unchecked_ref());
        }
    }

    fn on_tick(self: &Rc<Self>) {
        let (later, pin) = {
            let mut st = self.st.borrow_mut();
            (std::mem::take(&mut st.later), st.tick_pin.take())
        };
        for what in later {
            match what {
                Later::Run(b) => self.run(b),
                Later::Open => self.open(),
            }
        }
        drop(pin);
    }

    /// `disconnect()`: leaves the transport but keeps the client — its state, listeners and
    /// unanswered requests (the core client resends them after the next login). No automatic
    /// reconnect follows. Connection listeners hear `onConnectFailed(9508, …)`; `reconnect()`
    /// promises still waiting reject with 9508.
    pub(crate) fn disconnect(self: &Rc<Self>) {
        let batch = {
            let mut st = self.st.borrow_mut();
            if st.phase == Phase::LoggedOut || st.offline {
                return;
            }
            st.offline = true;
            let mut b = Batch::default();
            self.link.leave(&mut b);
            st.client.disconnected();
            let e = ImError::with_desc(Code::NetDisconnect, "disconnect() called");
            st.wake(&mut b, Err(e.clone()));
            b.conn.push(ConnEvent::Failed(e.code.num(), e.desc));
            b
        };
        self.soon(Later::Run(batch));
    }

    /// `reconnect()`: after `disconnect()`, connects again and logs in with the same
    /// credentials; the promise resolves at the next login (at once when logged in already).
    pub(crate) fn reconnect(self: &Rc<Self>) -> Promise {
        {
            let st = self.st.borrow();
            if st.phase == Phase::LoggedOut {
                return rejected(ImError::new(Code::NotLoggedIn));
            }
            if st.client.is_logged_in() {
                return Promise::resolve(&JsValue::UNDEFINED);
            }
        }
        let mut slot = None;
        let promise = Promise::new(&mut |resolve, reject| {
            slot = Some(Settle {
                resolve,
                reject,
                shape: Shape::Void,
            })
        });
        let open = {
            let mut st = self.st.borrow_mut();
            st.waiters.extend(slot);
            let open = std::mem::replace(&mut st.offline, false);
            if !open {
                // Down by itself, between automatic attempts: try at once.
                self.link.retry_now();
            }
            open
        };
        if open {
            self.soon(Later::Open);
        }
        promise
    }

    /// Opens the transport again after `disconnect()`, unless the app went offline again (or
    /// logged out) in the meantime, or it is open already.
    fn open(self: &Rc<Self>) {
        {
            let st = self.st.borrow();
            if st.phase == Phase::LoggedOut || st.offline {
                return;
            }
        }
        self.link.resume();
    }

    /// From the transport: a connection is being opened. Acts on `b` (things to drop).
    pub(crate) fn connecting(self: &Rc<Self>, mut b: Batch) {
        b.conn.push(ConnEvent::Connecting);
        self.run(b);
    }

    /// From the transport: a connection could not be opened. The first login fails with `e`;
    /// later, connection listeners hear it.
    pub(crate) fn failed(self: &Rc<Self>, mut b: Batch, e: ImError) {
        {
            let mut st = self.st.borrow_mut();
            if st.logging_in() {
                st.finish_login(&mut b, Err(e));
            } else {
                b.conn.push(ConnEvent::Failed(e.code.num(), e.desc));
            }
        }
        self.run(b);
    }

    /// From the transport: the connection closed (the core client resends what is unanswered
    /// after the next login); then as [`Session::failed`].
    pub(crate) fn closed(self: &Rc<Self>, b: Batch, e: ImError) {
        self.st.borrow_mut().client.disconnected();
        self.failed(b, e);
    }

    /// Whether the first login is still pending.
    pub(crate) fn logging_in(&self) -> bool {
        self.st.borrow().logging_in()
    }

    /// The first frame on a new connection, with the transport's credential.
    pub(crate) fn login_frame(&self, credential: &str) -> ClientFrame {
        self.st.borrow().client.login_frame(credential)
    }

    /// `sendMessage` of a message ready to go (one copy for every caller).
    #[inline(never)]
    pub(crate) fn send_message(
        self: &Rc<Self>,
        msg_id: String,
        receiver: Option<String>,
        group_id: Option<String>,
    ) -> Promise {
        self.request(Shape::Message, |c, now| {
            c.send(&msg_id, receiver.as_deref(), group_id.as_deref(), now)
        })
    }

    /// The transport's uploader for `user`.
    pub(crate) fn uploader(&self, user: &str) -> Result<JsValue, ImError> {
        self.link.uploader(user)
    }

    /// Estimated server time, ms.
    pub(crate) fn server_time(&self) -> f64 {
        self.st.borrow().client.server_now(Date::now())
    }
}
