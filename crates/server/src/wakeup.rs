//! The wake-up between nodes sharing one PostgreSQL database, on the receiving side: a thread
//! with its own connection that LISTENs on [`CHANNEL`] and turns notifications into [`Wake`]s
//! on a channel of its own. It knows nothing of the hub: the engine turns a [`Wake`] into its
//! own command (`engine::forward_wakes`).
//!
//! The sending side is the store's commit ([`crate::store::pg::PgStore`]); the payload format is
//! `store/notify.rs`.

use crate::store::notify::{parse_payload, CHANNEL};
use crate::store::pg::{config, pg_error};
use im_revoke_core::store::StoreError;
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::mpsc;

/// What other nodes signalled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// These users' logs grew: deliver what their sessions here have not had yet.
    Users(Vec<String>),
    /// Every user online here may have new events (signals may have been lost).
    All,
}

/// The node's LISTEN connection: a thread that sends a [`Wake::Users`] for each batch of
/// notifications, and after every (re)connection a [`Wake::All`] (signals may have been missed
/// while it was away).
pub struct Listener {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// How often the listener checks whether it should stop.
const LISTEN_POLL: Duration = Duration::from_millis(200);

fn listen(url: &str) -> Result<Client, StoreError> {
    let mut c = config(url, "im-revoke-listen")?
        .connect(NoTls)
        .map_err(|e| pg_error(&e))?;
    c.batch_execute(&format!("LISTEN {CHANNEL}"))
        .map_err(|e| pg_error(&e))?;
    Ok(c)
}

impl Listener {
    /// Connects and LISTENs (blocking; an error here means the database cannot be reached),
    /// then runs the thread, which sends to `wakes` until the receiver is gone or
    /// [`Listener::stop`]. Notifications sent by `own_pid` (this node's store) are skipped: the
    /// hub delivered those itself.
    pub fn start(
        url: &str,
        own_pid: i32,
        wakes: mpsc::Sender<Wake>,
    ) -> Result<Listener, StoreError> {
        let client = listen(url)?;
        let stop = Arc::new(AtomicBool::new(false));
        let url = url.to_string();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("im-revoke-listen".into())
            .spawn(move || run_listener(client, &url, own_pid, &wakes, &flag))
            .map_err(|e| StoreError(format!("starting the listener thread: {e}")))?;
        Ok(Listener {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

fn run_listener(
    mut client: Client,
    url: &str,
    own_pid: i32,
    wakes: &mpsc::Sender<Wake>,
    stop: &AtomicBool,
) {
    let mut backoff = Duration::from_millis(50);
    loop {
        match pump(&mut client, own_pid, wakes, stop) {
            Pump::Stop => return,
            Pump::Lost(e) => tracing::warn!(error = %e, "LISTEN connection lost; reconnecting"),
        }
        client = loop {
            if stop.load(Ordering::Acquire) {
                return;
            }
            std::thread::sleep(backoff);
            match listen(url) {
                Ok(c) => break c,
                Err(e) => {
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    tracing::warn!(error = %e, "LISTEN reconnect failed");
                }
            }
        };
        backoff = Duration::from_millis(50);
        tracing::info!("LISTEN connection back; resyncing every online user");
        if wakes.blocking_send(Wake::All).is_err() {
            return;
        }
    }
}

enum Pump {
    Stop,
    Lost(String),
}

/// Forwards notifications until the connection is lost or the node stops.
fn pump(client: &mut Client, own_pid: i32, wakes: &mpsc::Sender<Wake>, stop: &AtomicBool) -> Pump {
    loop {
        if stop.load(Ordering::Acquire) {
            return Pump::Stop;
        }
        let mut users: BTreeSet<String> = BTreeSet::new();
        let mut all = false;
        let mut take = |n: postgres::Notification| {
            if n.process_id() == own_pid {
                return;
            }
            match parse_payload(n.payload()) {
                Some(list) => users.extend(list),
                None => all = true,
            }
        };
        let mut notes = client.notifications();
        match notes.timeout_iter(LISTEN_POLL).next() {
            Ok(Some(n)) => take(n),
            Ok(None) => {}
            Err(e) => return Pump::Lost(e.to_string()),
        }
        // Merge whatever else already arrived into the same wake-up.
        let mut more = notes.iter();
        loop {
            match more.next() {
                Ok(Some(n)) => take(n),
                Ok(None) => break,
                Err(e) => return Pump::Lost(e.to_string()),
            }
        }
        drop(more);
        drop(notes);
        let wake = if all {
            Some(Wake::All)
        } else if users.is_empty() {
            None
        } else {
            Some(Wake::Users(users.into_iter().collect()))
        };
        if let Some(wake) = wake {
            if wakes.blocking_send(wake).is_err() {
                return Pump::Stop;
            }
        }
        if client.is_closed() {
            return Pump::Lost("connection closed".into());
        }
    }
}
