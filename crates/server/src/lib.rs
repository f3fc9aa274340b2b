//! # im-revoke-server
//!
//! The WebSocket host of im-revoke's authority. All rules (time limits, permissions, dedup,
//! sequencing) live in `im-revoke-core`'s [`Hub`]; this crate gives it a clock, a durable store
//! (SQLite, or PostgreSQL shared by several nodes), sockets and UserSig login:
//!
//! - [`config`]: command line and the one [`ServerConfig`];
//! - [`store`]: the [`im_revoke_core::Store`]s: [`store::sqlite`] (one node, the default) and
//!   [`store::pg`] (several nodes sharing PostgreSQL, `--db postgres://…`; see
//!   docs/MULTI_NODE.md), with what they share in `store/rows.rs`;
//! - [`wakeup`]: the LISTEN side of the wake-up signal between nodes (PostgreSQL NOTIFY);
//! - [`engine`]: the hub thread (batches, group commit, fail-stop);
//! - [`listen`]: the accept loop (handshake timeout); [`admission`]: the pending pool, the file
//!   descriptor reserve, connections per user;
//! - [`ws`]: the WebSocket endpoint; [`http`]: the other routes; [`files`]: static files;
//! - [`auth`]: UserSig checks with the deployment's SDKAppID and key;
//! - [`rest`]: the REST API of the app's backend (Tencent's shapes, docs/REST_API.md);
//! - [`webhook`]: the deliverer of the webhook outbox (`store/webhooks.rs`) to `--callback-url`.
//!
//! [`start`] runs a server in the current tokio runtime (the binary and the tests use it).
#![warn(missing_docs)]

pub mod admission;
pub mod auth;
pub mod config;
pub mod encode;
pub mod engine;
pub mod files;
pub mod http;
pub mod listen;
pub mod outbox;
pub mod rest;
pub mod state;
pub mod store;
pub mod upload;
pub mod wakeup;
pub mod webhook;
pub mod ws;

pub use config::{Database, Secret, ServerConfig};

use engine::{Command, Engine};
use im_revoke_core::{Hub, StoreError};
use state::App;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use store::webhooks::{PgQueue, SqliteQueue, WebhookGauge, WebhookQueue};
use store::{PgStore, SqliteStore};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use wakeup::{Listener, Wake};

/// How long shutdown waits for connections to close before stopping the hub anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Wake-ups from other nodes waiting for the hub (the listener waits when it is full).
const WAKE_QUEUE: usize = 64;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration cannot be run.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The database could not be opened.
    #[error("opening the database: {0}")]
    Store(#[from] StoreError),
    /// Binding the address, creating the database directory, starting the hub thread.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The attachment store could not be opened.
    #[error(transparent)]
    Attachments(#[from] upload::OpenError),
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// The address it listens on (with the real port when the configuration said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes the connections, lets the hub commit its last batch, and waits
    /// for all of it.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.stop.send(true);
        self.wait().await
    }

    /// Waits until the server has stopped (after [`Server::shutdown`] or a fatal error).
    pub async fn wait(self) -> std::io::Result<()> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }

    /// A handle that triggers the shutdown from elsewhere.
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

/// Opens the SQLite database, creating its directory if needed.
pub fn open_store(cfg: &ServerConfig) -> Result<SqliteStore, StartError> {
    if let Some(dir) = cfg.db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    Ok(SqliteStore::open(&cfg.db)?)
}

/// Connects to PostgreSQL and LISTENs for the other nodes' wake-ups (blocking).
fn open_postgres(url: &str, wakes: mpsc::Sender<Wake>) -> Result<(PgStore, Listener), StoreError> {
    let store = PgStore::connect(url)?;
    let listener = Listener::start(url, store.backend_pid(), wakes)?;
    Ok((store, listener))
}

/// Starts a server with `cfg` in the current tokio runtime.
pub async fn start(cfg: ServerConfig) -> Result<Server, StartError> {
    cfg.validate()?;
    let (commands, rx) = mpsc::channel(cfg.command_queue);
    let mut attachments = None;
    let gauge = cfg
        .api
        .webhook
        .as_ref()
        .map(|_| Arc::new(WebhookGauge::new(cfg.api.callback_queue)));
    let mut queue: Option<Box<dyn WebhookQueue>> = None;
    let (hub_thread, pg_listener) = match cfg.database() {
        Database::Sqlite(_) => {
            let mut store = open_store(&cfg)?;
            if let Some(g) = &gauge {
                store.set_webhook_gauge(g.clone());
                queue = Some(Box::new(
                    SqliteQueue::open(&cfg.db)?.via_hub(commands.clone()),
                ));
            }
            let mut hub = Hub::new(cfg.policy(), store);
            hub.set_callbacks(gauge.is_some());
            let att = Arc::new(upload::Attachments::open_sqlite(
                cfg.attachments.clone(),
                &cfg.db,
                cfg.secret_key.expose(),
            )?);
            hub.set_url_signer(att.signer());
            attachments = Some(att);
            (Engine::new(hub, cfg.max_batch).spawn(rx)?, None)
        }
        Database::Postgres(url) => {
            // The blocking client must not run on the runtime's threads.
            let (wakes, wake_rx) = mpsc::channel(WAKE_QUEUE);
            let with_queue = gauge.is_some();
            let (att_cfg, secret) = (cfg.attachments.clone(), cfg.secret_key.clone());
            let (mut store, listener, q, att) = tokio::task::spawn_blocking(move || {
                let (s, l) = open_postgres(&url, wakes)?;
                let q = if with_queue {
                    Some(PgQueue::connect(&url)?)
                } else {
                    None
                };
                // After the hub's store: it creates the tables.
                let att = upload::Attachments::open_postgres(att_cfg, &url, secret.expose())
                    .map_err(|e| StoreError(e.to_string()))?;
                Ok::<_, StoreError>((s, l, q, att))
            })
            .await
            .map_err(std::io::Error::other)??;
            if let (Some(g), Some(q)) = (&gauge, q) {
                store.set_webhook_gauge(g.clone());
                queue = Some(Box::new(q));
            }
            tokio::spawn(engine::forward_wakes(wake_rx, commands.clone()));
            tracing::info!(
                backend_pid = store.backend_pid(),
                "on PostgreSQL, as one of several nodes"
            );
            let mut hub = Hub::shared(cfg.policy(), store);
            hub.set_callbacks(gauge.is_some());
            match att {
                Some(att) => {
                    let att = Arc::new(att);
                    hub.set_url_signer(att.signer());
                    attachments = Some(att);
                }
                None => tracing::warn!(
                    "attachments are off: over PostgreSQL they need --attachments-s3-bucket \
                     (several nodes) or --attachments-dir"
                ),
            }
            (Engine::new(hub, cfg.max_batch).spawn(rx)?, Some(listener))
        }
    };
    let listener = match TcpListener::bind(cfg.listen).await {
        Ok(l) => l,
        Err(e) => {
            let _ = commands.send(Command::Shutdown).await;
            if let Some(l) = pg_listener {
                let _ = tokio::task::spawn_blocking(move || l.stop()).await;
            }
            return Err(e.into());
        }
    };
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let deliverer = match (&cfg.api.webhook, queue, &gauge) {
        (Some(w), Some(q), Some(g)) => {
            let mut w = w.clone();
            w.sdkappid = cfg.sdkappid;
            Some(
                webhook::spawn(w, q, g.clone(), stopped.clone())
                    .map_err(|e| StartError::Config(config::ConfigError::Webhook(e)))?,
            )
        }
        _ => None,
    };
    let mut app = App::new(cfg, commands.clone(), stopped.clone());
    app.webhooks = gauge;
    if let Some(att) = attachments {
        tokio::spawn(upload::sweeper(att.clone(), stopped.clone()));
        app.attachments = Some(att);
    }
    let app = Arc::new(app);
    let task = tokio::spawn(async move {
        let r = serve(listener, app.clone(), stopped).await;
        if let Some(d) = deliverer {
            // What it had claimed and not finished is due again when the lease runs out.
            d.abort();
        }
        if tokio::time::timeout(DRAIN_TIMEOUT, app.conns.wait_idle())
            .await
            .is_err()
        {
            tracing::warn!(
                open = app.conns.open(),
                "connections still open at shutdown"
            );
        }
        let _ = commands.send(Command::Shutdown).await;
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(l) = pg_listener {
                l.stop();
            }
            hub_thread.join()
        })
        .await;
        tracing::info!("server stopped");
        r
    });
    Ok(Server { addr, stop, task })
}

async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let router = http::router(app.clone());
    listen::serve(listener, app, router, stopped).await
}
