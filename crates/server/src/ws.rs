//! The WebSocket endpoint: one task per connection, between the socket and the hub thread.
//!
//! The connection decodes frames and checks the UserSig; everything else (rules, answers,
//! errors such as 6014 before login) comes from the hub, in order, through the connection's
//! bounded outbound queue. Reading and writing happen in one task with small buffers, so an
//! idle connection costs a few KiB.

use crate::admission::{Pending, UserSlot};
use crate::engine::Command;
use crate::listen::ConnInfo;
use crate::outbox::{Batch, Outbox, TOO_SLOW};
use crate::state::App;
use axum::extract::ws::{close_code, CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use im_revoke_core::limit::TokenBucket;
use im_revoke_core::model::check_msg_id;
use im_revoke_core::protocol::json::{decode_client, encode_server};
use im_revoke_core::{ClientFrame, Code, ImError, ServerFrame, SessionId};
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{timeout, Instant};

/// Read buffer per connection (tungstenite's default is 128 KiB). Client frames are a few hundred
/// bytes; a larger frame grows the buffer as it is read. The largest part of an idle
/// connection's memory: 2 KiB instead of 4 KiB took 10,000 idle connections from 109.7 to
/// 88.5 MiB (BENCHMARKS.md).
const READ_BUFFER: usize = 2 * 1024;
/// Frames fed to a connection are written to its socket once this many bytes wait, or at the
/// flush that ends each batch ([`Conn::write_all`]). Was 0 (a system call per frame): under
/// durable revokes a client with several requests in flight got its answers one write each.
const WRITE_BUFFER: usize = 16 * 1024;
/// The WebSocket subprotocol a client offers to receive the server's frames as binary
/// frames: the same JSON, UTF-8, in binary frames (a browser copies an `ArrayBuffer` into wasm
/// memory with one `set`; a text frame costs a UTF-16 → UTF-8 pass). Clients send text frames
/// either way; without it the server sends text frames.
pub const BINARY_PROTOCOL: &str = "im-revoke.bin";
/// How long to wait for the hub's answer before closing after a fatal error.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// How long sending a close frame may take.
const CLOSE_SEND: Duration = Duration::from_secs(1);
/// How long to keep the socket after closing on a read error. The client's unread bytes (the
/// rest of an oversized frame) would make the kernel reset the connection at once, and a reset
/// can destroy the error and close frames before the client reads them; a short linger lets it
/// read them first (the WebSocket library cannot read on after the error to drain the input).
const LINGER: Duration = Duration::from_secs(1);
/// Frames over the connection's rate limit in a row before the connection is closed.
const FLOOD_STRIKES: u32 = 100;

/// Whether a handshake with these headers may open a WebSocket: any, when no origin is
/// configured; otherwise one without an Origin header (not a browser) or with one in the list.
pub fn origin_allowed(allowed: &[String], headers: &HeaderMap) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    origin
        .to_str()
        .is_ok_and(|o| allowed.iter().any(|a| a.eq_ignore_ascii_case(o)))
}

/// GET /ws: upgrades to a WebSocket connection (403 for an Origin not allowed).
pub async fn upgrade(
    State(app): State<Arc<App>>,
    info: Option<Extension<Arc<ConnInfo>>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&app.cfg.allowed_origins, &headers) {
        app.admission
            .origin_refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(origin = ?headers.get(header::ORIGIN), "WebSocket refused: Origin not allowed");
        return (StatusCode::FORBIDDEN, "Origin not allowed").into_response();
    }
    // The connection stays in the pool of those not logged in until it logs in.
    let ip = info.as_ref().map(|Extension(i)| i.peer.ip());
    let pending = info.and_then(|Extension(i)| i.take_pending());
    let limit = app.cfg.max_frame_bytes;
    let slot = app.conns.try_acquire(app.cfg.max_connections);
    ws.protocols([BINARY_PROTOCOL])
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_failed_upgrade(|e| tracing::debug!(error = %e, "websocket upgrade failed"))
        .on_upgrade(move |socket| async move {
            match slot {
                Some(slot) => {
                    run(app, socket, pending, ip).await;
                    drop(slot);
                }
                None => refuse(socket).await,
            }
        })
}

/// Over the connection limit: says so (300005) and closes.
async fn refuse(mut socket: WebSocket) {
    tracing::warn!("connection limit reached, refusing a connection");
    let frame = ServerFrame::error(None, ImError::new(Code::TooManyConnections));
    let text = Message::Text(encode_server(&frame).into());
    let _ = timeout(CLOSE_SEND, socket.send(text)).await;
    let _ = timeout(
        CLOSE_SEND,
        socket.send(close(close_code::AGAIN, "too many connections")),
    )
    .await;
}

/// Resolves once the server shuts down (or its handle is gone).
async fn wait_stop(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

/// Runs one connection until it ends, then tells the hub.
async fn run(app: Arc<App>, socket: WebSocket, pending: Option<Pending>, ip: Option<IpAddr>) {
    let outbox = Arc::new(Outbox::new(app.cfg.outbound_queue));
    let session = app.new_session();
    let out = outbox.clone();
    if app
        .commands
        .send(Command::Open { session, out, ip })
        .await
        .is_err()
    {
        return; // the hub has stopped
    }
    tracing::debug!(session, "connection opened");
    let binary = socket
        .protocol()
        .is_some_and(|p| p.as_bytes() == BINARY_PROTOCOL.as_bytes());
    let mut conn = Conn::new(app.clone(), session, socket);
    conn.binary = binary;
    conn.pending = pending;
    conn.serve(&outbox).await;
    let _ = app.commands.send(Command::Closed { session }).await;
    tracing::debug!(session, "connection closed");
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

struct Conn {
    app: Arc<App>,
    session: SessionId,
    socket: WebSocket,
    /// A login with a valid UserSig was passed to the hub.
    authed: bool,
    last_seen: Instant,
    pinged: bool,
    login_deadline: Instant,
    /// Set once the connection is being closed after an error: no more reading, and stop at
    /// this instant at the latest even if the hub's close never arrives.
    closing: Option<Instant>,
    /// Reading failed (frame too large, bad UTF-8): linger before dropping the socket.
    read_failed: bool,
    /// Frames of any kind per second, checked before parsing.
    rate: TokenBucket,
    /// When the connection started (the rate limiter's clock).
    started: Instant,
    /// Frames refused by the rate limit in a row.
    strikes: u32,
    /// The place in the pool of connections not logged in, until the login.
    pending: Option<Pending>,
    /// The place among the user's connections, from the login.
    _user: Option<UserSlot>,
    /// The client chose [`BINARY_PROTOCOL`]: frames go out as binary frames.
    binary: bool,
}

/// Resolves when the connection must make room for another that has not logged in either.
async fn evicted(pending: Option<&Pending>) {
    match pending {
        Some(p) => p.evicted().await,
        None => std::future::pending().await,
    }
}

/// Only the request id of a frame that failed to decode, to label the error frame.
#[derive(serde::Deserialize)]
struct ReqIdOnly {
    #[serde(rename = "reqId")]
    req_id: Option<String>,
}

fn req_id_of(text: &str) -> Option<String> {
    let r: ReqIdOnly = serde_json::from_str(text).ok()?;
    r.req_id.filter(|id| check_msg_id(id).is_ok())
}

impl Conn {
    fn new(app: Arc<App>, session: SessionId, socket: WebSocket) -> Conn {
        let now = Instant::now();
        let login_deadline = now + app.cfg.login_timeout;
        let app_rate = (app.cfg.conn_rate, app.cfg.conn_burst);
        Conn {
            app,
            session,
            socket,
            authed: false,
            last_seen: now,
            pinged: false,
            login_deadline,
            closing: None,
            read_failed: false,
            rate: TokenBucket::new(app_rate.0, app_rate.1, 0),
            started: now,
            strikes: 0,
            pending: None,
            _user: None,
            binary: false,
        }
    }

    /// The connection's loop. Handlers of input and timers are boxed so that the future of an
    /// idle connection stays small (it is what 10,000 idle connections are made of).
    ///
    /// The shutdown watch and the idle timer live across iterations: made anew at each wake-up
    /// (each batch of frames of a fan-out), they registered in the shared shutdown list and in
    /// the timer wheel and left both again, every time, for every member.
    async fn serve(&mut self, outbox: &Outbox) {
        let mut shutdown = self.app.shutdown.clone();
        let stopping = wait_stop(&mut shutdown);
        tokio::pin!(stopping);
        let timer = tokio::time::sleep_until(self.next_deadline());
        tokio::pin!(timer);
        // `stopping` resolved: it must not be polled again.
        let mut stopped = false;
        loop {
            let deadline = self.next_deadline();
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            let reading = self.closing.is_none();
            let flow = tokio::select! {
                biased;
                _ = &mut stopping, if !stopped => {
                    stopped = true;
                    self.close(close_code::AWAY, "server shutting down").await
                }
                _ = outbox.ready() => Box::pin(self.outgoing(outbox.take())).await,
                _ = evicted(self.pending.as_ref()), if reading => {
                    tracing::debug!(session = self.session, "not logged in, closed to make room");
                    self.close(close_code::AGAIN, "too many connections not logged in").await
                }
                msg = self.socket.recv(), if reading => Box::pin(self.incoming(msg)).await,
                _ = &mut timer => Box::pin(self.timer()).await,
            };
            if flow == Flow::Stop {
                break;
            }
        }
        if self.read_failed && !stopped {
            tokio::select! {
                _ = tokio::time::sleep(LINGER) => {}
                _ = &mut stopping => {}
            }
        }
    }

    fn next_deadline(&self) -> Instant {
        if let Some(at) = self.closing {
            return at;
        }
        let idle = self.app.cfg.idle_timeout;
        let d = if self.pinged {
            self.last_seen + idle
        } else {
            self.last_seen + idle / 2
        };
        if self.authed {
            d
        } else {
            d.min(self.login_deadline)
        }
    }

    async fn timer(&mut self) -> Flow {
        let now = Instant::now();
        if self.closing.is_some_and(|at| now >= at) {
            return Flow::Stop;
        }
        if !self.authed && now >= self.login_deadline {
            let e = ImError::with_desc(Code::NotLoggedIn, "no login in time");
            return self.reject(None, e, Some(close_code::POLICY)).await;
        }
        if now >= self.last_seen + self.app.cfg.idle_timeout {
            tracing::debug!(session = self.session, "idle timeout");
            return self.close(close_code::AWAY, "idle timeout").await;
        }
        if !self.pinged {
            self.pinged = true;
            return self.write(Message::Ping(Default::default())).await;
        }
        Flow::Continue
    }

    async fn outgoing(&mut self, batch: Batch) -> Flow {
        if batch.close == Some(TOO_SLOW) {
            // It does not read: writing more would only wait for the write timeout.
            return self.close(TOO_SLOW.code, TOO_SLOW.reason).await;
        }
        if !batch.frames.is_empty() && self.write_all(batch.frames).await == Flow::Stop {
            return Flow::Stop;
        }
        match batch.close {
            None => Flow::Continue,
            Some(c) => self.close(c.code, c.reason).await,
        }
    }

    /// Checks the connection's frame rate; over it, the frame is refused unread (60018), and a
    /// sustained flood closes the connection.
    async fn over_rate(&mut self) -> Option<Flow> {
        let now_ms = self.last_seen.duration_since(self.started).as_millis() as u64;
        if self.rate.try_take(now_ms) {
            self.strikes = 0;
            return None;
        }
        self.strikes += 1;
        let close = (self.strikes >= FLOOD_STRIKES).then_some(close_code::POLICY);
        let e = ImError::with_desc(Code::FreqLimit, "too many frames on this connection");
        Some(self.reject(None, e, close).await)
    }

    async fn incoming(&mut self, msg: Option<Result<Message, axum::Error>>) -> Flow {
        self.last_seen = Instant::now();
        self.pinged = false;
        if matches!(msg, Some(Ok(Message::Text(_) | Message::Binary(_)))) {
            if let Some(flow) = self.over_rate().await {
                return flow;
            }
        }
        match msg {
            None => Flow::Stop,
            Some(Err(e)) => self.read_error(e).await,
            Some(Ok(Message::Text(text))) => self.text(text.as_str()).await,
            Some(Ok(Message::Binary(_))) => {
                let e = ImError::with_desc(
                    Code::PkgParseFailed,
                    "binary frames are not supported: send JSON in text frames",
                );
                self.reject(None, e, None).await
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Flow::Continue,
            Some(Ok(Message::Close(_))) => {
                // Lets tungstenite send the close reply it queued.
                let _ = timeout(CLOSE_SEND, self.socket.flush()).await;
                Flow::Stop
            }
        }
    }

    /// A read failed: too large (9522) and bad UTF-8 (20001) are told to the client before the
    /// connection closes (the WebSocket library cannot read on after either).
    async fn read_error(&mut self, e: axum::Error) -> Flow {
        let err = match e.into_inner().downcast::<tungstenite::Error>() {
            Ok(err) => *err,
            Err(other) => {
                tracing::debug!(session = self.session, error = %other, "read failed");
                return Flow::Stop;
            }
        };
        let (error, code) = match err {
            tungstenite::Error::Capacity(c) => (
                ImError::with_desc(Code::NetPkgSizeLimit, format!("frame too large: {c}")),
                close_code::SIZE,
            ),
            tungstenite::Error::Utf8(_) => (
                ImError::with_desc(Code::PkgParseFailed, "text frame is not valid UTF-8"),
                close_code::INVALID,
            ),
            other => {
                tracing::debug!(session = self.session, error = %other, "read failed");
                return Flow::Stop;
            }
        };
        self.read_failed = true;
        self.reject(None, error, Some(code)).await
    }

    async fn text(&mut self, text: &str) -> Flow {
        match decode_client(text) {
            Err(e) => self.reject(req_id_of(text), e, None).await,
            Ok(ClientFrame::Login {
                v,
                user_id,
                user_sig,
            }) if !self.authed => self.login(v, user_id, &user_sig).await,
            Ok(frame) => {
                let session = self.session;
                self.command(Command::Frame { session, frame }).await
            }
        }
    }

    async fn login(&mut self, version: u32, user: String, sig: &str) -> Flow {
        if let Err(e) = self.app.auth.verify(&user, sig) {
            tracing::info!(
                session = self.session,
                code = e.code.num(),
                "UserSig rejected"
            );
            return self.reject(None, e, Some(close_code::POLICY)).await;
        }
        let Some(slot) = self.app.admission.user_slot(&user) else {
            tracing::info!(session = self.session, user = %user, "too many connections for one user");
            let e = ImError::with_desc(
                Code::TooManyConnections,
                "too many connections for this user",
            );
            return self.reject(None, e, Some(close_code::AGAIN)).await;
        };
        self._user = Some(slot);
        self.pending = None;
        self.authed = true;
        let session = self.session;
        self.command(Command::Login {
            session,
            user,
            version,
        })
        .await
    }

    /// Has the hub send `error` to this connection (in order with everything else), and then
    /// close it if `close` gives a close code.
    async fn reject(&mut self, req_id: Option<String>, error: ImError, close: Option<u16>) -> Flow {
        if close.is_some() {
            self.closing = Some(Instant::now() + CLOSE_GRACE);
        }
        let session = self.session;
        self.command(Command::Reject {
            session,
            req_id,
            error,
            close,
        })
        .await
    }

    async fn command(&mut self, cmd: Command) -> Flow {
        match self.app.commands.send(cmd).await {
            Ok(()) => Flow::Continue,
            Err(_) => Flow::Stop, // the hub has stopped
        }
    }

    async fn write(&mut self, msg: Message) -> Flow {
        let msg = match msg {
            Message::Text(text) if self.binary => Message::Binary(text.into()),
            other => other,
        };
        let written = timeout(self.app.cfg.write_timeout, self.socket.send(msg)).await;
        self.written(written)
    }

    /// Writes the frames the hub handed over at once (one commit's answers and events for this
    /// connection) and flushes once: they leave in as few writes to the socket as
    /// [`WRITE_BUFFER`] allows, not one system call each. The write timeout covers them all.
    async fn write_all(&mut self, frames: VecDeque<Utf8Bytes>) -> Flow {
        let socket = &mut self.socket;
        let binary = self.binary;
        let all = async move {
            for text in frames {
                let msg = if binary {
                    Message::Binary(text.into())
                } else {
                    Message::Text(text)
                };
                socket.feed(msg).await?;
            }
            socket.flush().await
        };
        let written = timeout(self.app.cfg.write_timeout, all).await;
        self.written(written)
    }

    fn written(&self, r: Result<Result<(), axum::Error>, tokio::time::error::Elapsed>) -> Flow {
        match r {
            Ok(Ok(())) => Flow::Continue,
            Ok(Err(e)) => {
                tracing::debug!(session = self.session, error = %e, "write failed");
                Flow::Stop
            }
            Err(_) => {
                tracing::info!(
                    session = self.session,
                    "write timed out, dropping the client"
                );
                Flow::Stop
            }
        }
    }

    async fn close(&mut self, code: u16, reason: &'static str) -> Flow {
        let _ = timeout(CLOSE_SEND, self.socket.send(close(code, reason))).await;
        Flow::Stop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn req_id_of_malformed_frames() {
        assert_eq!(
            req_id_of(r#"{"type":"revoke","reqId":"r1","msgID":5}"#),
            Some("r1".into())
        );
        assert_eq!(req_id_of(r#"{"type":"x","reqId":"a b"}"#), None);
        assert_eq!(req_id_of(r#"{"reqId":7}"#), None);
        assert_eq!(req_id_of("not json"), None);
    }
}
