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
//!   socket. The closures hold a `Weak` of the session, never an `Rc`.

use std::rc::{Rc, Weak};

use gloo_timers::callback::{Interval, Timeout};
use im_revoke_core::{ClientFrame, Code, ImError};
use js_sys::{Date, Math};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use crate::listener::ConnEvent;
use crate::session::{Batch, Link, Out, Session};
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
pub(crate) struct WsConn {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl WsConn {
    fn open(url: &str, session: &Weak<Session>, gen: u32) -> Result<WsConn, JsValue> {
        let ws = WebSocket::new(url)?;
        let s = session.clone();
        let on_open = Closure::<dyn FnMut()>::new(move || {
            if let Some(s) = s.upgrade() {
                on_open(&s, gen);
            }
        });
        let s = session.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Some(s) = s.upgrade() {
                on_message(&s, gen, e);
            }
        });
        let s = session.clone();
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_e: CloseEvent| {
            if let Some(s) = s.upgrade() {
                on_close(&s, gen);
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

/// The WebSocket side of a session.
pub(crate) struct WsLink {
    url: String,
    user_sig: String,
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
    pub(crate) fn new(url: String, user_sig: String) -> WsLink {
        WsLink {
            url,
            user_sig,
            conn: None,
            gen: 0,
            attempt: 0,
            stopped: false,
            reconnect: None,
            keepalive: None,
        }
    }

    pub(crate) fn out(&self) -> Out {
        match &self.conn {
            Some(c) => Out::Ws(WsOut { ws: c.ws.clone() }),
            None => Out::Nowhere,
        }
    }

    /// Logged in on the current socket: reset the backoff, start the keep-alive.
    pub(crate) fn online(&mut self, session: &Rc<Session>) {
        self.attempt = 0;
        let weak = Rc::downgrade(session);
        self.keepalive = Some(Interval::new(KEEPALIVE_MS, move || {
            if let Some(s) = weak.upgrade() {
                let out = s.st.borrow().link.out();
                out_ping(out);
            }
        }));
    }

    /// No more connections: closes the socket (after the current event handler returns).
    pub(crate) fn stop(&mut self, b: &mut Batch) {
        self.stopped = true;
        self.reconnect = None;
        self.keepalive = None;
        if let Some(c) = self.conn.take() {
            b.drop_later.push(Box::new(c));
        }
    }

    /// Allows connections again after `disconnect()` (the caller then calls [`connect`]);
    /// `false` when it was not stopped.
    pub(crate) fn resume(&mut self) -> bool {
        let was = std::mem::replace(&mut self.stopped, false);
        self.attempt = 0;
        was
    }

    /// Waiting for the next automatic attempt: make it now.
    pub(crate) fn retry_now(&mut self, session: &Rc<Session>) {
        if self.reconnect.is_some() {
            arm_reconnect(self, session, 0);
        }
    }
}

fn out_ping(out: Out) {
    if let Out::Ws(o) = out {
        o.send(vec![ClientFrame::Ping { t: Date::now() }]);
    }
}

/// Sends frames on a socket.
pub(crate) struct WsOut {
    ws: WebSocket,
}

impl WsOut {
    pub(crate) fn send(&self, frames: Vec<ClientFrame>) {
        for f in &frames {
            // A socket that is closing throws; the close event follows and the core client
            // resends whatever was unanswered after the next login.
            if self.ws.send_with_str(&encode(f)).is_err() {
                return;
            }
        }
    }
}

/// Opens a (new) socket for `session`.
pub(crate) fn connect(session: &Rc<Session>) {
    let batch = {
        let mut st = session.st.borrow_mut();
        let logging_in = st.logging_in();
        let Link::Ws(w) = &mut st.link else {
            return;
        };
        if w.stopped {
            return;
        }
        w.reconnect = None;
        w.gen = w.gen.wrapping_add(1);
        let mut b = Batch::default();
        match WsConn::open(&w.url, &Rc::downgrade(session), w.gen) {
            Ok(conn) => {
                if let Some(old) = w.conn.replace(conn) {
                    b.drop_later.push(Box::new(old));
                }
                b.conn.push(ConnEvent::Connecting);
            }
            Err(e) => {
                // Only a malformed URL makes the constructor throw.
                let mut desc = String::from("cannot open a WebSocket to ");
                desc.push_str(&w.url);
                if let Some(m) = e
                    .dyn_ref::<js_sys::Error>()
                    .and_then(|e| e.message().as_string())
                {
                    desc.push_str(": ");
                    desc.push_str(&m);
                }
                let e = ImError::with_desc(Code::InvalidParameters, desc);
                if logging_in {
                    w.stop(&mut b);
                    st.finish_login(&mut b, Err(e));
                } else {
                    b.conn.push(ConnEvent::Failed(e.code.num(), e.desc));
                    schedule_reconnect(w, session);
                }
            }
        }
        b
    };
    session.run(batch);
}

fn schedule_reconnect(w: &mut WsLink, session: &Rc<Session>) {
    let delay = backoff_ms(w.attempt);
    w.attempt = w.attempt.saturating_add(1);
    arm_reconnect(w, session, delay);
}

fn arm_reconnect(w: &mut WsLink, session: &Rc<Session>, delay: u32) {
    let weak = Rc::downgrade(session);
    w.reconnect = Some(Timeout::new(delay, move || {
        if let Some(s) = weak.upgrade() {
            connect(&s);
        }
    }));
}

fn on_open(session: &Rc<Session>, gen: u32) {
    let out = {
        let st = session.st.borrow();
        let Link::Ws(w) = &st.link else {
            return;
        };
        if w.gen != gen || w.stopped {
            return;
        }
        (w.out(), st.client.login_frame(&w.user_sig))
    };
    if let (Out::Ws(o), login) = out {
        o.send(vec![login]);
    }
}

fn on_message(session: &Rc<Session>, gen: u32, e: MessageEvent) {
    {
        let st = session.st.borrow();
        match &st.link {
            Link::Ws(w) if w.gen == gen && !w.stopped => {}
            _ => return,
        }
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

fn on_close(session: &Rc<Session>, gen: u32) {
    let batch = {
        let mut st = session.st.borrow_mut();
        let logging_in = st.logging_in();
        let mut b = Batch::default();
        {
            let Link::Ws(w) = &mut st.link else {
                return;
            };
            if w.gen != gen || w.stopped {
                return;
            }
            if let Some(c) = w.conn.take() {
                b.drop_later.push(Box::new(c));
            }
            w.keepalive = None;
            if logging_in {
                // The first connection failed: ChatClient.connect rejects, no retry.
                w.stop(&mut b);
            } else {
                schedule_reconnect(w, session);
            }
        }
        st.client.disconnected();
        let mut desc = String::from("connection to ");
        if let Link::Ws(w) = &st.link {
            desc.push_str(&w.url);
        }
        desc.push_str(" closed");
        let e = ImError::with_desc(Code::NetDisconnect, desc);
        if logging_in {
            st.finish_login(&mut b, Err(e));
        } else {
            b.conn.push(ConnEvent::Failed(e.code.num(), e.desc));
        }
        b
    };
    session.run(batch);
}
