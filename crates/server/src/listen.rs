//! The accept loop: HTTP/1 connections (and their WebSocket upgrades) with a header read timeout,
//! under the [`Admission`](crate::admission::Admission) limits.
//!
//! `axum::serve` gives no way to bound the time to send a request head (hyper's
//! `header_read_timeout` needs a timer it does not set), to count sockets before they are
//! upgraded, or to react to running out of file descriptors other than by sleeping a second per
//! failed accept; this loop does all three.

use crate::admission::{Admit, Pending, SocketGuard};
use crate::state::App;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

/// How long shutdown waits for plain HTTP connections to finish their request.
const HTTP_DRAIN: Duration = Duration::from_secs(5);
/// Pause after an accept failed for lack of descriptors (after closing a pending connection to
/// free one): short, so that a burst does not keep out those who come next.
const FD_BACKOFF: Duration = Duration::from_millis(10);
/// Pause after such a failure when there was nothing to close.
const FD_BACKOFF_IDLE: Duration = Duration::from_millis(100);
/// At most one warning per this interval about refused or failed accepts.
const WARN_EVERY: Duration = Duration::from_secs(5);

/// What a request knows about its connection (a request extension).
pub struct ConnInfo {
    /// The peer's address.
    pub peer: SocketAddr,
    pending: Mutex<Option<Pending>>,
}

impl ConnInfo {
    /// The connection's place in the pending pool, for the WebSocket that takes it over.
    pub fn take_pending(&self) -> Option<Pending> {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

/// A TCP stream counted as an open socket until it is dropped (also after a WebSocket upgrade).
struct Socket {
    tcp: TcpStream,
    _guard: SocketGuard,
}

impl AsyncRead for Socket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// Rate-limits a warning.
struct Warn(Option<Instant>);

impl Warn {
    fn due(&mut self) -> bool {
        let now = Instant::now();
        if self.0.is_some_and(|t| now < t + WARN_EVERY) {
            return false;
        }
        self.0 = Some(now);
        true
    }
}

/// Accepts and serves connections until `stopped` turns true, then lets the plain HTTP ones
/// finish (WebSocket connections close by themselves on the same signal).
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    router: Router,
    mut stopped: watch::Receiver<bool>,
) -> io::Result<()> {
    let (close_tx, close_rx) = watch::channel(());
    let mut warn = Warn(None);
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stopped.wait_for(|s| *s) => break,
            r = listener.accept() => r,
        };
        let (tcp, peer) = match accepted {
            Ok(c) => c,
            Err(e) => {
                accept_failed(&app, &e, &mut warn).await;
                continue;
            }
        };
        let (guard, pending) = match app.admission.admit() {
            Admit::Serve(g, p) => (g, p),
            Admit::Shed => {
                if warn.due() {
                    tracing::warn!(
                        sockets = app.admission.sockets(),
                        budget = app.admission.fd_budget(),
                        "out of file descriptors for connections: refusing new ones"
                    );
                }
                continue; // dropping `tcp` closes it
            }
        };
        // TCP_NODELAY on every connection: a frame (an ack, an event) leaves at once instead of
        // waiting, behind Nagle's algorithm, for the peer to acknowledge the previous one.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY not set: {e}");
        }
        let socket = Socket { tcp, _guard: guard };
        let conn = connection(
            socket,
            peer,
            pending,
            app.cfg.handshake_timeout,
            router.clone(),
            stopped.clone(),
        );
        let close_rx = close_rx.clone();
        tokio::spawn(async move {
            conn.await;
            drop(close_rx);
        });
    }
    drop(close_rx);
    drop(listener);
    if tokio::time::timeout(HTTP_DRAIN, close_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!("HTTP connections still open at shutdown");
    }
    Ok(())
}

/// After a failed accept: out of descriptors, close the oldest pending connection and retry
/// soon; anything else (the peer gave up already) is retried at once.
async fn accept_failed(app: &App, e: &io::Error, warn: &mut Warn) {
    app.admission
        .accept_errors
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out_of_fds = matches!(
        e.raw_os_error(),
        Some(code) if is_resource_error(code)
    );
    if !out_of_fds {
        tracing::debug!("accept failed: {e}");
        return;
    }
    if warn.due() {
        tracing::warn!(
            sockets = app.admission.sockets(),
            "accept failed: {e}; closing connections that have not logged in"
        );
    }
    let pause = if app.admission.evict_oldest() {
        FD_BACKOFF
    } else {
        FD_BACKOFF_IDLE
    };
    tokio::time::sleep(pause).await;
}

#[cfg(unix)]
fn is_resource_error(code: i32) -> bool {
    [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM].contains(&code)
}

#[cfg(not(unix))]
fn is_resource_error(_code: i32) -> bool {
    true
}

/// Serves one connection: HTTP/1 requests until it closes, is upgraded, is told to make room,
/// or the server stops.
async fn connection(
    socket: Socket,
    peer: SocketAddr,
    pending: Pending,
    handshake_timeout: Duration,
    router: Router,
    mut stopped: watch::Receiver<bool>,
) {
    let evict = pending.notifier();
    let info = Arc::new(ConnInfo {
        peer,
        pending: Mutex::new(Some(pending)),
    });
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(info.clone());
        let mut router = router.clone();
        async move { tower_service::Service::call(&mut router, req).await }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(handshake_timeout);
    let conn = builder
        .serve_connection(TokioIo::new(socket), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, "connection ended: {e}");
                }
                return;
            }
            _ = evict.notified() => {
                tracing::debug!(%peer, "closing a connection that has not logged in, to make room");
                return;
            }
            _ = stopped.wait_for(|s| *s), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}
