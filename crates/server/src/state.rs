//! State shared by the HTTP and WebSocket handlers.

use crate::admission::{self, Admission};
use crate::auth::Auth;
use crate::config::ServerConfig;
use crate::engine::Command;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, watch, Notify};

/// What every handler can reach.
pub struct App {
    /// The configuration in force.
    pub cfg: ServerConfig,
    /// UserSig checks.
    pub auth: Auth,
    /// Into the hub thread.
    pub commands: mpsc::Sender<Command>,
    /// Open WebSocket connections.
    pub conns: Arc<ConnCounter>,
    /// Sockets, connections not logged in yet, connections per user.
    pub admission: Arc<Admission>,
    /// Becomes `true` when the server shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// The attachment store (off over PostgreSQL without a bucket or a directory for it).
    pub attachments: Option<Arc<crate::upload::Attachments>>,
    /// The REST API's rate buckets.
    pub rest: crate::rest::RestState,
    /// The webhook queue's gauge, when webhooks are on.
    pub webhooks: Option<Arc<crate::store::webhooks::WebhookGauge>>,
    next_session: AtomicU64,
}

impl App {
    /// Shared state for a server.
    pub fn new(
        cfg: ServerConfig,
        commands: mpsc::Sender<Command>,
        shutdown: watch::Receiver<bool>,
    ) -> App {
        let auth = Auth::new(cfg.sdkappid, cfg.secret_key.clone());
        let fds = admission::fd_budget(cfg.reserved_fds);
        tracing::info!(
            sockets = ?fds,
            reserved = cfg.reserved_fds,
            "file descriptors for connections"
        );
        let admission = Admission::new(
            cfg.max_pending_connections,
            fds.unwrap_or(usize::MAX),
            cfg.max_connections_per_user,
        );
        App {
            cfg,
            auth,
            commands,
            conns: Arc::new(ConnCounter::default()),
            admission,
            shutdown,
            attachments: None,
            rest: crate::rest::RestState::default(),
            webhooks: None,
            next_session: AtomicU64::new(1),
        }
    }

    /// A session id never used before in this process.
    pub fn new_session(&self) -> u64 {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }
}

/// Counts open connections against the limit, and lets shutdown wait for them to close.
#[derive(Default)]
pub struct ConnCounter {
    open: AtomicUsize,
    changed: Notify,
}

/// One connection's place under the limit; released on drop.
pub struct ConnSlot(Arc<ConnCounter>);

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        self.0.changed.notify_waiters();
    }
}

impl ConnCounter {
    /// A slot, unless `max` connections are open.
    pub fn try_acquire(self: &Arc<Self>, max: usize) -> Option<ConnSlot> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| ConnSlot(self.clone()))
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Waits until no connection is open.
    pub async fn wait_idle(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.open() == 0 {
                return;
            }
            changed.await;
        }
    }
}
