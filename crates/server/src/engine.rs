//! The hub actor: one OS thread owns the [`Hub`] and its store.
//!
//! Connections send [`Command`]s over one bounded channel. The thread takes every pending command
//! (up to `max_batch`), handles them all at one server time, calls [`Hub::commit`] once (one
//! durable transaction for the whole batch: group commit), and only then hands each frame to its
//! session's outbound queue. A commit failure stops the process (fail-stop, see
//! `im_revoke_core::store`): nothing of the batch was acknowledged, clients resend on reconnect.
//! When no command is waiting, the thread lets the store do its deferred work in bounded steps
//! ([`Hub::maintain`]) before it sleeps.
//!
//! Other nodes' wake-ups (multi-node, [`crate::wakeup`]) arrive on a channel of their own;
//! [`forward_wakes`] turns each into a [`Command::Wake`] or [`Command::WakeAll`].

use crate::encode::Encoder;
use crate::outbox::Outbox;
use crate::rest::{AdminOp, AdminReply};
use crate::store::webhooks::CallbackOrigin;
use crate::wakeup::Wake;
use axum::extract::ws::close_code;
use im_revoke_core::{ClientFrame, Hub, ImError, Outgoing, SessionId, Store};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

/// Exit status when the store fails (fail-stop).
pub const EXIT_STORE_FAILURE: i32 = 70;

/// A request to the hub thread.
#[derive(Debug)]
pub enum Command {
    /// A connection opened; frames for `session` go to `out`.
    Open {
        /// The new session.
        session: SessionId,
        /// Its outbound queue.
        out: Arc<Outbox>,
        /// The client's address (the `ClientIP` of the webhooks its requests cause).
        ip: Option<IpAddr>,
    },
    /// The connection proved (by UserSig) that it is `user`.
    Login {
        /// The session.
        session: SessionId,
        /// The verified userID.
        user: String,
        /// Protocol version from the login frame.
        version: u32,
    },
    /// A decoded frame (not `login`).
    Frame {
        /// The session.
        session: SessionId,
        /// The frame.
        frame: ClientFrame,
    },
    /// Send `error` to `session`; then close it if `close` gives a WebSocket close code.
    Reject {
        /// The session.
        session: SessionId,
        /// The request it answers, if known.
        req_id: Option<String>,
        /// What went wrong.
        error: ImError,
        /// Close the connection after the error frame, with this close code.
        close: Option<u16>,
    },
    /// The connection is gone.
    Closed {
        /// The session.
        session: SessionId,
    },
    /// Other nodes wrote events for these users (multi-node: a PostgreSQL notification):
    /// deliver what their sessions here have not had yet.
    Wake {
        /// The users whose logs grew.
        users: Vec<String>,
    },
    /// Like [`Command::Wake`] for every user online here (signals may have been lost).
    WakeAll,
    /// A request of the app's backend (REST); answered on `reply` after the batch's commit.
    Admin {
        /// The request.
        op: AdminOp,
        /// Where the answer goes.
        reply: oneshot::Sender<AdminReply>,
    },
    /// What became of a round of webhook deliveries (SQLite: written in this batch's
    /// transaction, see `SqliteQueue::via_hub`); `done` is answered after the commit.
    WebhooksFinished {
        /// Rows delivered and rows to try again.
        finish: crate::store::webhooks::Finish,
        /// Told once it is committed.
        done: oneshot::Sender<()>,
    },
    /// Finish this batch, commit, and stop the thread.
    Shutdown,
}

impl From<Wake> for Command {
    fn from(w: Wake) -> Command {
        match w {
            Wake::Users(users) => Command::Wake { users },
            Wake::All => Command::WakeAll,
        }
    }
}

/// Passes the wake-up listener's signals to the hub thread as commands, in order, until either
/// side is gone.
pub async fn forward_wakes(mut wakes: mpsc::Receiver<Wake>, commands: mpsc::Sender<Command>) {
    while let Some(w) = wakes.recv().await {
        if commands.send(w.into()).await.is_err() {
            return;
        }
    }
}

/// Work of a store that can wait until a batch's frames are handed out (none by default).
pub trait AfterDelivery {
    /// Called by the hub thread after each batch's commit and delivery, and after each step of
    /// [`Hub::maintain`], with no transaction open.
    fn after_delivery(&mut self) {}
}

impl AfterDelivery for crate::store::sqlite::SqliteStore {
    /// The checkpoint that lets the WAL start over, when due: after the batch's answers and
    /// events are on their way, not between its commit and them.
    fn after_delivery(&mut self) {
        self.checkpoint_if_due();
    }
}

impl AfterDelivery for crate::store::pg::PgStore {}

/// The server clock: wall-clock milliseconds, never going backwards.
#[derive(Debug, Default)]
pub struct Clock {
    last_ms: u64,
}

impl Clock {
    /// The current server time, ms since the Unix epoch, not less than any earlier reading.
    pub fn now_ms(&mut self) -> u64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.last_ms = self.last_ms.max(wall);
        self.last_ms
    }
}

/// The state of the hub thread.
pub struct Engine<S: Store> {
    hub: Hub<S>,
    sessions: HashMap<SessionId, Session>,
    clock: Clock,
    encoder: Encoder,
    max_batch: usize,
}

/// A connection as the hub thread knows it.
struct Session {
    out: Arc<Outbox>,
    ip: Option<IpAddr>,
}

/// What one batch asks for besides frames.
#[derive(Default)]
struct After {
    close: Vec<(SessionId, u16)>,
    stop: bool,
    /// Users to wake after the batch's commands (merged: one read per user per batch).
    wake: HashSet<String>,
    wake_all: bool,
    /// Answers to admin requests, handed out after the commit.
    replies: Vec<(oneshot::Sender<AdminReply>, AdminReply)>,
    /// Told after the commit that their writes are in.
    committed: Vec<oneshot::Sender<()>>,
}

impl<S: Store + CallbackOrigin + AfterDelivery + Send + 'static> Engine<S> {
    /// An engine over `hub`, handling at most `max_batch` commands per commit.
    pub fn new(hub: Hub<S>, max_batch: usize) -> Engine<S> {
        Engine {
            hub,
            sessions: HashMap::new(),
            clock: Clock::default(),
            encoder: Encoder::default(),
            max_batch: max_batch.max(1),
        }
    }

    /// Starts the hub thread; it runs until [`Command::Shutdown`] or until every sender is gone.
    pub fn spawn(self, rx: mpsc::Receiver<Command>) -> std::io::Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name("im-revoke-hub".into())
            .spawn(move || self.run(rx))
    }

    fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut batch = Vec::with_capacity(self.max_batch);
        loop {
            let first = match rx.try_recv() {
                Ok(c) => c,
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    // Nothing waiting: a step of the store's deferred work (bounded), then look
                    // again; sleep only when there is none.
                    let more = match self.hub.maintain() {
                        Ok(more) => more,
                        Err(e) => fail_stop(&e),
                    };
                    self.hub.store_mut().after_delivery();
                    if more {
                        continue;
                    }
                    match rx.blocking_recv() {
                        Some(c) => c,
                        None => break,
                    }
                }
            };
            batch.push(first);
            while batch.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(c) => batch.push(c),
                    Err(_) => break,
                }
            }
            if self.run_batch(&mut batch) {
                break;
            }
        }
        tracing::info!("hub stopped");
    }

    /// Handles a batch, commits once, delivers. Returns whether to stop.
    fn run_batch(&mut self, batch: &mut Vec<Command>) -> bool {
        let now = self.clock.now_ms();
        let mut after = After::default();
        let n = batch.len();
        // The batch's revokes: a store that pipelines (PostgreSQL) locks their messages while
        // the hub handles the requests before them.
        let ahead: Vec<&str> = batch
            .iter()
            .filter_map(|c| match c {
                Command::Frame {
                    frame: ClientFrame::Revoke { msg_id, .. },
                    ..
                } => Some(msg_id.as_str()),
                _ => None,
            })
            .collect();
        if ahead.len() > 1 {
            self.hub.store_mut().lock_ahead(&ahead);
        }
        for cmd in batch.drain(..) {
            self.apply(cmd, now, &mut after);
        }
        if after.wake_all {
            self.hub.wake_all();
        } else if !after.wake.is_empty() {
            self.hub.wake(after.wake.iter().map(String::as_str));
        }
        let out = match self.hub.commit() {
            Ok(out) => out,
            Err(e) => fail_stop(&e),
        };
        tracing::trace!(commands = n, frames = out.len(), "batch committed");
        self.deliver(out);
        for (reply, answer) in after.replies {
            let _ = reply.send(answer); // the caller may have given up
        }
        for done in after.committed {
            let _ = done.send(());
        }
        for (s, code) in after.close {
            if let Some(o) = self.sessions.remove(&s) {
                o.out.close(code);
            }
        }
        self.hub.store_mut().after_delivery();
        after.stop
    }

    fn apply(&mut self, cmd: Command, now: u64, after: &mut After) {
        match cmd {
            Command::Open { session, out, ip } => {
                self.sessions.insert(session, Session { out, ip });
            }
            Command::Login {
                session,
                user,
                version,
            } => {
                if self.hub.login(session, &user, version, now) {
                    tracing::debug!(session, user = %user, "logged in");
                } else {
                    // The hub said why (version, userID); the connection cannot be used.
                    after.close.push((session, close_code::POLICY));
                }
            }
            Command::Frame { session, frame } => {
                let ip = self.sessions.get(&session).and_then(|s| s.ip);
                self.hub.store_mut().set_client_ip(ip);
                self.hub.handle(session, frame, now);
            }
            Command::Reject {
                session,
                req_id,
                error,
                close,
            } => {
                self.hub.reject(session, req_id.as_deref(), error);
                if let Some(code) = close {
                    after.close.push((session, code));
                }
            }
            Command::Closed { session } => {
                self.hub.logout(session);
                self.sessions.remove(&session);
            }
            Command::Wake { users } => after.wake.extend(users),
            Command::WakeAll => after.wake_all = true,
            Command::Admin { op, reply } => {
                // The app's backend: no ClientIP, as in Tencent's callbacks of REST requests.
                self.hub.store_mut().set_client_ip(None);
                after.replies.push((reply, op.run(&mut self.hub, now)));
            }
            Command::WebhooksFinished { finish, done } => {
                if let Err(e) = self.hub.store_mut().finish_webhooks(&finish) {
                    fail_stop(&e);
                }
                after.committed.push(done);
            }
            Command::Shutdown => after.stop = true,
        }
    }

    /// Hands each frame to its session's queue; a session whose queue is full is dropped (it
    /// resyncs by seq on reconnect, nothing is lost).
    fn deliver(&mut self, out: Vec<Outgoing>) {
        self.encoder.clear();
        for o in out {
            let Some(dest) = self.sessions.get(&o.session) else {
                continue; // closed meanwhile
            };
            let text = self.encoder.encode(&o.frame);
            if !dest.out.push(text) {
                tracing::warn!(session = o.session, "client too slow, disconnecting it");
                self.sessions.remove(&o.session);
                self.hub.logout(o.session);
            }
        }
    }
}

/// Logs loudly and exits: the store failed (a write of the batch, or its commit).
fn fail_stop(e: &im_revoke_core::StoreError) -> ! {
    tracing::error!(
        error = %e,
        "FATAL: the store failed; stopping (fail-stop). Nothing of this batch was acknowledged; \
         clients resend on reconnect. Fix the storage and restart."
    );
    // Straight to the process's stderr, not through `eprintln!`: a test harness captures the
    // macro's output per test and would lose it with the exit.
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("im-revoke-server: FATAL: store failure: {e}; exiting\n").as_bytes(),
    );
    std::process::exit(EXIT_STORE_FAILURE);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_never_goes_back() {
        let mut c = Clock {
            last_ms: u64::MAX - 1,
        };
        assert_eq!(c.now_ms(), u64::MAX - 1);
        let mut c = Clock::default();
        let a = c.now_ms();
        assert!(a > 1_600_000_000_000);
        assert!(c.now_ms() >= a);
    }
}
