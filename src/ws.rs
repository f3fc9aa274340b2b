//! The WebSocket transport: JSON frames of the core protocol to a server's `GET /ws`.
//!
//! - Requests are text frames encoded by `wire::encode`. The socket offers the subprotocol
//!   `im-revoke.bin`, so the server's frames come as binary frames of the same JSON: each is
//!   copied into wasm memory with one `Uint8Array.set` (a text frame, from an older server,
//!   is transcoded from UTF-16) and decoded there by `wire::decode` (the hot path).
//! - The first frame on every connection is `login` (`{type:"login", v:1, userID, userSig}`).
//!   After a reconnect the core client resends its unanswered requests in order and syncs the
//!   events it missed; nothing here decides what to resend.
//! - Reconnect: exponential backoff with full jitter (`random(0, min(30 s, 0.5 s · 2^n))`),
//!   until `logout()` or `disconnect()`, or until the server refuses the login (70xxx UserSig
//!   codes, 300003). `reconnect()` after `disconnect()` starts over from attempt 0.
//! - A keep-alive `ping` every 25 s doubles as a server-clock sample.
//! - [`WsConn`] owns the socket's handler closures; its `Drop` unregisters them and closes the
//!   socket. The closures (and the timers') hold a `Weak` of the transport's state [`Ws`], which
//!   holds a `Weak` of the session; the session owns the transport ([`WsLink`]).

use std::cell::Cell;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use gloo_timers::callback::{Interval, Timeout};
use im_revoke_core::{ClientFrame, Code, ImError};
use js_sys::{Date, Math};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, WebSocket};

use crate::session::{Batch, Session, Transport};
use crate::wire::{decode, encode, read_text};

const BACKOFF_BASE_MS: f64 = 500.0;
const BACKOFF_CAP_MS: f64 = 30_000.0;
const KEEPALIVE_MS: u32 = 25_000;

/// Full-jitter exponential backoff for attempt `n` (0-based), ms.
fn backoff_ms(n: u32) -> u32 {
    let ceiling = (BACKOFF_BASE_MS * f64::from(1u32 << n.min(16))).min(BACKOFF_CAP_MS);
    (Math::random() * ceiling) as u32
}

/// One socket and the closures registered on it.
struct WsConn {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    /// The close event is not read: the closure has the type of `on_open`'s (one closure glue).
    _on_close: Closure<dyn FnMut()>,
}

impl WsConn {
    fn open(url: &str, link: &Weak<Ws>, gen: u32) -> Result<WsConn, JsValue> {
        let ws = crate::js::open_socket(url)?;
        let l = link.clone();
        let on_open = Closure::<dyn FnMut()>::new(move || {
            if let Some(l) = l.upgrade() {
                on_open(&l, gen);
            }
        });
        let l = link.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Some(l) = l.upgrade() {
                on_message(&l, gen, e);
            }
        });
        let l = link.clone();
        let on_close = Closure::<dyn FnMut()>::new(move || {
            if let Some(l) = l.upgrade() {
                on_close(&l, gen);
            }
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(WsConn {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }
}

impl Drop for WsConn {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}

/// The WebSocket transport of a session (the session owns it).
pub(crate) struct WsLink(Rc<Ws>);

/// The transport's state, shared with its socket's closures and timers. In `Cell`s: no
/// borrow is ever held (the socket is taken out and put back).
struct Ws {
    session: Weak<Session>,
    url: String,
    user_sig: String,
    conn: Cell<Option<WsConn>>,
    /// Generation of the current socket; events of older sockets are ignored.
    gen: Cell<u32>,
    /// Failed attempts since the last successful login.
    attempt: Cell<u32>,
    /// No more reconnects (logout, `disconnect()`, or the server refused the login).
    stopped: Cell<bool>,
    reconnect: Cell<Option<Timeout>>,
    keepalive: Cell<Option<Interval>>,
}

impl WsLink {
    pub(crate) fn new(session: Weak<Session>, url: String, user_sig: String) -> WsLink {
        WsLink(Rc::new(Ws {
            session,
            url,
            user_sig,
            conn: Cell::new(None),
            gen: Cell::new(0),
            attempt: Cell::new(0),
            stopped: Cell::new(false),
            reconnect: Cell::new(None),
            keepalive: Cell::new(None),
        }))
    }
}

impl Transport for WsLink {
    fn open(&self) {
        connect(&self.0);
    }

    fn send(&self, frames: Vec<Arc<ClientFrame>>) {
        self.0.send(&frames);
    }

    /// Logged in on the current socket: reset the backoff, start the keep-alive.
    fn online(&self) {
        self.0.attempt.set(0);
        let weak = Rc::downgrade(&self.0);
        self.0
            .keepalive
            .set(Some(Interval::new(KEEPALIVE_MS, move || {
                if let Some(l) = weak.upgrade() {
                    l.send(&[Arc::new(ClientFrame::Ping { t: Date::now() })]);
                }
            })));
    }

    /// `POST /upload` on the server's origin (`ws://h:p` → `http://h:p`), with this login's
    /// UserSig.
    fn uploader(&self, user: &str) -> Result<JsValue, ImError> {
        let origin = im_revoke_core::attachment::http_origin(&self.0.url)
            .ok_or_else(|| ImError::with_desc(Code::InvalidParameters, "no HTTP origin"))?;
        let mut auth = String::from("UserSig ");
        auth.push_str(user);
        auth.push(' ');
        auth.push_str(&self.0.user_sig);
        Ok(crate::attachment::http_put(&(origin + "/upload"), &auth))
    }

    fn retries(&self) -> bool {
        true
    }

    /// Closes the socket (after the current event handler returns).
    fn leave(&self, b: &mut Batch) {
        self.0.stop(b);
    }

    fn resume(&self) {
        self.0.attempt.set(0);
        if self.0.stopped.replace(false) {
            connect(&self.0);
        }
    }

    fn retry_now(&self) {
        let timer = self.0.reconnect.take();
        if timer.is_some() {
            drop(timer);
            arm_reconnect(&self.0, 0);
        }
    }
}

impl Ws {
    /// Sends frames on the current socket, if any.
    fn send(&self, frames: &[Arc<ClientFrame>]) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let ws = conn.ws.clone();
        self.conn.set(Some(conn));
        for f in frames {
            // A socket that is closing throws; the close event follows and the core client
            // resends whatever was unanswered after the next login.
            if ws.send_with_str(&encode(f)).is_err() {
                return;
            }
        }
    }

    /// No more connections: the socket goes into `b`, to be closed with no borrow held.
    fn stop(&self, b: &mut Batch) {
        self.stopped.set(true);
        self.reconnect.set(None);
        self.keepalive.set(None);
        if let Some(c) = self.conn.take() {
            b.drop_later.push(Box::new(c));
        }
    }

    /// Whether `gen` is the current socket's generation, still wanted.
    fn current(&self, gen: u32) -> bool {
        self.gen.get() == gen && !self.stopped.get()
    }
}

/// Opens a (new) socket.
fn connect(link: &Rc<Ws>) {
    let Some(session) = link.session.upgrade() else {
        return;
    };
    if link.stopped.get() {
        return;
    }
    let logging_in = session.logging_in();
    link.reconnect.set(None);
    let gen = link.gen.get().wrapping_add(1);
    link.gen.set(gen);
    let mut b = Batch::default();
    match WsConn::open(&link.url, &Rc::downgrade(link), gen) {
        Ok(conn) => {
            if let Some(old) = link.conn.replace(Some(conn)) {
                b.drop_later.push(Box::new(old));
            }
            session.connecting(b);
        }
        Err(e) => {
            // Only a malformed URL makes the constructor throw.
            let mut desc = String::from("cannot open a WebSocket to ");
            desc.push_str(&link.url);
            if let Some(m) = e
                .dyn_ref::<js_sys::Error>()
                .and_then(|e| e.message().as_string())
            {
                desc.push_str(": ");
                desc.push_str(&m);
            }
            if logging_in {
                link.stop(&mut b);
            } else {
                schedule_reconnect(link);
            }
            session.failed(b, ImError::with_desc(Code::InvalidParameters, desc));
        }
    }
}

fn schedule_reconnect(link: &Rc<Ws>) {
    let n = link.attempt.get();
    link.attempt.set(n.saturating_add(1));
    arm_reconnect(link, backoff_ms(n));
}

fn arm_reconnect(link: &Rc<Ws>, delay: u32) {
    let weak = Rc::downgrade(link);
    link.reconnect.set(Some(crate::js::timeout(delay, move || {
        if let Some(l) = weak.upgrade() {
            connect(&l);
        }
    })));
}

fn on_open(link: &Rc<Ws>, gen: u32) {
    let Some(session) = link.session.upgrade() else {
        return;
    };
    if link.current(gen) {
        link.send(&[Arc::new(session.login_frame(&link.user_sig))]);
    }
}

fn on_message(link: &Rc<Ws>, gen: u32, e: MessageEvent) {
    let Some(session) = link.session.upgrade() else {
        return;
    };
    if !link.current(gen) {
        return;
    }
    let data = e.data();
    // `None`: not JSON of a server frame, not UTF-8, or neither a string nor an `ArrayBuffer`.
    match read_text(&data, decode).flatten() {
        Some(frame) => session.handle_frame(frame),
        None => web_sys::console::warn_2(
            &JsValue::from_str("im-revoke: ignored a malformed frame from the server"),
            &data,
        ),
    }
}

fn on_close(link: &Rc<Ws>, gen: u32) {
    let Some(session) = link.session.upgrade() else {
        return;
    };
    if !link.current(gen) {
        return;
    }
    let mut b = Batch::default();
    if let Some(c) = link.conn.take() {
        b.drop_later.push(Box::new(c));
    }
    link.keepalive.set(None);
    if session.logging_in() {
        // The first connection failed: ChatClient.connect rejects, no retry.
        link.stop(&mut b);
    } else {
        schedule_reconnect(link);
    }
    let mut desc = String::from("connection to ");
    desc.push_str(&link.url);
    desc.push_str(" closed");
    session.closed(b, ImError::with_desc(Code::NetDisconnect, desc));
}
