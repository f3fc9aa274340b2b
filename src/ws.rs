//! The WebSocket transport: text frames of the core protocol to a server's `GET /ws`.
//!
//! - Text frames: requests are encoded by `wire::encode`; frames from the server are read into
//!   wasm memory with one `encodeInto` and decoded there by `wire::decode` (the hot path).
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

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_timers::callback::{Interval, Timeout};
use im_revoke_core::{ClientFrame, Code, ImError};
use js_sys::{Date, Math};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

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
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl WsConn {
    fn open(url: &str, link: &Weak<Ws>, gen: u32) -> Result<WsConn, JsValue> {
        let ws = WebSocket::new(url)?;
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
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_e: CloseEvent| {
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

/// The transport's state, shared with its socket's closures and timers.
struct Ws {
    session: Weak<Session>,
    url: String,
    user_sig: String,
    st: RefCell<WsState>,
}

struct WsState {
    conn: Option<WsConn>,
    /// Generation of the current socket; events of older sockets are ignored.
    gen: u32,
    /// Failed attempts since the last successful login.
    attempt: u32,
    /// No more reconnects (logout, `disconnect()`, or the server refused the login).
    stopped: bool,
    reconnect: Option<Timeout>,
    keepalive: Option<Interval>,
}

impl WsLink {
    pub(crate) fn new(session: Weak<Session>, url: String, user_sig: String) -> WsLink {
        WsLink(Rc::new(Ws {
            session,
            url,
            user_sig,
            st: RefCell::new(WsState {
                conn: None,
                gen: 0,
                attempt: 0,
                stopped: false,
                reconnect: None,
                keepalive: None,
            }),
        }))
    }
}

impl Transport for WsLink {
    fn open(&self) {
        connect(&self.0);
    }

    fn send(&self, frames: Vec<ClientFrame>) {
        self.0.send(&frames);
    }

    /// Logged in on the current socket: reset the backoff, start the keep-alive.
    fn online(&self) {
        let weak = Rc::downgrade(&self.0);
        let mut w = self.0.st.borrow_mut();
        w.attempt = 0;
        w.keepalive = Some(Interval::new(KEEPALIVE_MS, move || {
            if let Some(l) = weak.upgrade() {
                l.send(&[ClientFrame::Ping { t: Date::now() }]);
            }
        }));
    }

    fn retries(&self) -> bool {
        true
    }

    /// Closes the socket (after the current event handler returns).
    fn leave(&self, b: &mut Batch) {
        stop(&mut self.0.st.borrow_mut(), b);
    }

    fn resume(&self) {
        let was = {
            let mut w = self.0.st.borrow_mut();
            w.attempt = 0;
            std::mem::replace(&mut w.stopped, false)
        };
        if was {
            connect(&self.0);
        }
    }

    fn retry_now(&self) {
        let waiting = self.0.st.borrow().reconnect.is_some();
        if waiting {
            arm_reconnect(&self.0, 0);
        }
    }
}

impl Ws {
    /// Sends frames on the current socket, if any (no borrow held while sending).
    fn send(&self, frames: &[ClientFrame]) {
        let Some(ws) = self.st.borrow().conn.as_ref().map(|c| c.ws.clone()) else {
            return;
        };
        for f in frames {
            // A socket that is closing throws; the close event follows and the core client
            // resends whatever was unanswered after the next login.
            if ws.send_with_str(&encode(f)).is_err() {
                return;
            }
        }
    }
}

/// No more connections: the socket goes into `b`, to be closed with no borrow held.
fn stop(w: &mut WsState, b: &mut Batch) {
    w.stopped = true;
    w.reconnect = None;
    w.keepalive = None;
    if let Some(c) = w.conn.take() {
        b.drop_later.push(Box::new(c));
    }
}

/// Opens a (new) socket.
fn connect(link: &Rc<Ws>) {
    let Some(session) = link.session.upgrade() else {
        return;
    };
    let logging_in = session.logging_in();
    let mut b = Batch::default();
    let failed = {
        let mut w = link.st.borrow_mut();
        if w.stopped {
            return;
        }
        w.reconnect = None;
        w.gen = w.gen.wrapping_add(1);
        match WsConn::open(&link.url, &Rc::downgrade(link), w.gen) {
            Ok(conn) => {
                if let Some(old) = w.conn.replace(conn) {
                    b.drop_later.push(Box::new(old));
                }
                None
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
                    stop(&mut w, &mut b);
                } else {
                    drop(w);
                    schedule_reconnect(link);
                }
                Some(ImError::with_desc(Code::InvalidParameters, desc))
            }
        }
    };
    match failed {
        None => session.connecting(b),
        Some(e) => session.failed(b, e),
    }
}

fn schedule_reconnect(link: &Rc<Ws>) {
    let delay = {
        let mut w = link.st.borrow_mut();
        let delay = backoff_ms(w.attempt);
        w.attempt = w.attempt.saturating_add(1);
        delay
    };
    arm_reconnect(link, delay);
}

fn arm_reconnect(link: &Rc<Ws>, delay: u32) {
    let weak = Rc::downgrade(link);
    let timer = Timeout::new(delay, move || {
        if let Some(l) = weak.upgrade() {
            connect(&l);
        }
    });
    link.st.borrow_mut().reconnect = Some(timer);
}

/// Whether `gen` is the current socket's generation, still wanted.
fn current(link: &Ws, gen: u32) -> bool {
    let w = link.st.borrow();
    w.gen == gen && !w.stopped
}

fn on_open(link: &Rc<Ws>, gen: u32) {
    let Some(session) = link.session.upgrade() else {
        return;
    };
    if current(link, gen) {
        link.send(&[session.login_frame(&link.user_sig)]);
    }
}

fn on_message(link: &Rc<Ws>, gen: u32, e: MessageEvent) {
    let Some(session) = link.session.upgrade() else {
        return;
    };
    if !current(link, gen) {
        return;
    }
    let data = e.data();
    // `None`: binary frames are not part of the protocol.
    let Some(frame) = read_text(&data, decode) else {
        return;
    };
    match frame {
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
    let logging_in = session.logging_in();
    let mut b = Batch::default();
    {
        let mut w = link.st.borrow_mut();
        if w.gen != gen || w.stopped {
            return;
        }
        if let Some(c) = w.conn.take() {
            b.drop_later.push(Box::new(c));
        }
        w.keepalive = None;
        if logging_in {
            // The first connection failed: ChatClient.connect rejects, no retry.
            stop(&mut w, &mut b);
        } else {
            drop(w);
            schedule_reconnect(link);
        }
    }
    let mut desc = String::from("connection to ");
    desc.push_str(&link.url);
    desc.push_str(" closed");
    session.closed(b, ImError::with_desc(Code::NetDisconnect, desc));
}
