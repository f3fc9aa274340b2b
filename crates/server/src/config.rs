//! Command line and configuration: every flag has an `IMR_*` environment fallback, and
//! everything the server runs with ends up in one [`ServerConfig`].

use clap::{Args, Parser, Subcommand};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The secret key used when `--dev` is on and no key is given. Public: anyone can mint UserSigs
/// with it, so it is only ever used on loopback, with a banner.
pub const DEV_SECRET_KEY: &str = "im-revoke-DEV-ONLY-secret-key-do-not-use-in-production";

/// Tencent's test SDKAppIDs look like this; any number works.
pub const DEFAULT_SDKAPPID: u64 = 1_400_000_000;

/// `im-revoke-server`: the WebSocket server of im-revoke.
#[derive(Parser, Debug)]
#[command(
    name = "im-revoke-server",
    version,
    about = "im-revoke's server: message revoke done properly, over WebSocket, on SQLite",
    long_about = "im-revoke's server: message revoke done properly, over WebSocket, on SQLite.\n\n\
        Runs `serve` when no subcommand is given. Every flag can also be set through the \
        environment variable shown with it. Logs go to stderr; set IMR_LOG (or RUST_LOG) to \
        e.g. `debug` or `im_revoke_server=trace` for more.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<CliCommand>,
    /// Flags of `serve`, accepted without the subcommand name too.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Subcommands.
// Parsed once at start-up: the size of `Serve` costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum CliCommand {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Print a UserSig for a user, signed with the configured SDKAppID and secret key.
    Usersig(UsersigArgs),
}

/// The application identity: who signs and checks UserSigs.
#[derive(Args, Debug, Clone)]
pub struct AuthArgs {
    /// SDKAppID that UserSigs must carry.
    #[arg(long, env = "IMR_SDKAPPID", default_value_t = DEFAULT_SDKAPPID)]
    pub sdkappid: u64,
    /// Secret key UserSigs are signed with (Tencent's "key" of the app). Required unless --dev.
    #[arg(long, env = "IMR_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Development mode: a public built-in secret key unless one is given, and GET
    /// /dev/usersig?userID=… mints UserSigs for anyone. Only on a loopback address.
    #[arg(long, env = "IMR_DEV")]
    pub dev: bool,
}

/// Flags of `serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "IMR_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The database: a SQLite file (its directory is created if missing), or a PostgreSQL URL
    /// `postgres://user[:password]@host:port/db` to run as one of several nodes sharing it.
    #[arg(long, env = "IMR_DB", default_value = "./data/im-revoke.db")]
    pub db: PathBuf,
    /// SDKAppID, secret key, dev mode.
    #[command(flatten)]
    pub auth: AuthArgs,
    /// How long a sender may revoke their message, in seconds.
    #[arg(long, env = "IMR_REVOKE_TIME_LIMIT", default_value_t = 120)]
    pub revoke_time_limit: u64,
    /// How long a group owner or admin may revoke others' messages, in seconds (default: no
    /// limit).
    #[arg(long, env = "IMR_ADMIN_REVOKE_TIME_LIMIT")]
    pub admin_revoke_time_limit: Option<u64>,
    /// Longest message text, in bytes.
    #[arg(long, env = "IMR_MAX_TEXT_BYTES", default_value_t = im_revoke_core::Config::default().max_text_bytes)]
    pub max_text_bytes: usize,
    /// Requests per second one user may make, over all their connections (more: error 60018;
    /// 0: no limit).
    #[arg(long, env = "IMR_USER_RATE", default_value_t = im_revoke_core::Config::default().user_rate_per_sec)]
    pub user_rate: u32,
    /// Requests one user may make in a burst above --user-rate.
    #[arg(long, env = "IMR_USER_BURST", default_value_t = im_revoke_core::Config::default().user_burst)]
    pub user_burst: u32,
    /// One user's fan-out budget: recipients per second their sends, revokes and group changes
    /// may reach, over all their connections (each costs the users it reaches; more: error
    /// 60018; 0: no limit).
    #[arg(long, env = "IMR_USER_FANOUT_RATE", default_value_t = im_revoke_core::Config::default().user_fanout_rate_per_sec)]
    pub user_fanout_rate: u32,
    /// Recipients one user may reach in a burst above --user-fanout-rate.
    #[arg(long, env = "IMR_USER_FANOUT_BURST", default_value_t = im_revoke_core::Config::default().user_fanout_burst)]
    pub user_fanout_burst: u32,
    /// Most members of a group, its owner included (more: error 10014).
    #[arg(long, env = "IMR_MAX_GROUP_MEMBERS", default_value_t = im_revoke_core::Config::default().max_group_members)]
    pub max_group_members: usize,
    /// Most userIDs one createGroup or addGroupMembers may name (more: error 10004).
    #[arg(long, env = "IMR_MAX_MEMBERS_PER_CALL", default_value_t = im_revoke_core::Config::default().max_members_per_call)]
    pub max_members_per_call: usize,
    /// Frames per second one connection may send, of any kind, before they are even parsed
    /// (more: error 60018 and the frame is dropped; a sustained flood closes the connection;
    /// 0: no limit).
    #[arg(long, env = "IMR_CONN_RATE", default_value_t = 200)]
    pub conn_rate: u32,
    /// Frames one connection may send in a burst above --conn-rate.
    #[arg(long, env = "IMR_CONN_BURST", default_value_t = 400)]
    pub conn_burst: u32,
    /// Largest WebSocket frame or message a client may send, in bytes (larger: error 9522 and
    /// the connection is closed).
    #[arg(long, env = "IMR_MAX_FRAME_BYTES", default_value_t = 64 * 1024)]
    pub max_frame_bytes: usize,
    /// Most simultaneous WebSocket connections (more: error 300005 and close).
    #[arg(long, env = "IMR_MAX_CONNECTIONS", default_value_t = 20_000)]
    pub max_connections: usize,
    /// Close a connection after this many seconds without any frame from the client; the server
    /// sends a WebSocket ping at half this time.
    #[arg(long, env = "IMR_IDLE_TIMEOUT", default_value_t = 60)]
    pub idle_timeout: u64,
    /// Close a connection that has not logged in after this many seconds.
    #[arg(long, env = "IMR_LOGIN_TIMEOUT", default_value_t = 30)]
    pub login_timeout: u64,
    /// Close a TCP connection that has not sent a whole HTTP request head (the WebSocket upgrade
    /// or any other request) within this many seconds; also the longest a kept-alive HTTP
    /// connection may sit idle between requests.
    #[arg(long, env = "IMR_HANDSHAKE_TIMEOUT", default_value_t = 10)]
    pub handshake_timeout: u64,
    /// Most connections not logged in yet (TCP accepted, HTTP request being read, WebSocket
    /// waiting for its login, plain HTTP requests). When full, the oldest of them is closed to
    /// make room, so a flood of silent sockets cannot keep logins out.
    #[arg(long, env = "IMR_MAX_PENDING_CONNECTIONS", default_value_t = 1024)]
    pub max_pending_connections: usize,
    /// Most simultaneous connections one user may have logged in on this server (more: error
    /// 300005 and close; 0: no limit).
    #[arg(long, env = "IMR_MAX_CONNECTIONS_PER_USER", default_value_t = 16)]
    pub max_connections_per_user: usize,
    /// File descriptors kept free for the database, logs, /healthz and logins: the server stops
    /// taking connections (closing the oldest not logged in first) when only this many are left
    /// under its `ulimit -n`.
    #[arg(long, env = "IMR_RESERVED_FDS", default_value_t = 64)]
    pub reserved_fds: usize,
    /// A page origin allowed to open /ws (`http://host:port`, repeatable; the variable takes a
    /// comma-separated list). When set, a WebSocket handshake carrying any other Origin header
    /// gets HTTP 403; clients that send none (non-browser ones) are not affected. When unset,
    /// any Origin is accepted.
    #[arg(
        long = "allowed-origin",
        env = "IMR_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// /healthz answers 503 when a probe through the hub's queue takes longer than this many
    /// milliseconds.
    #[arg(long, env = "IMR_HEALTH_MAX_HUB_LAG_MS", default_value_t = 1000)]
    pub health_max_hub_lag_ms: u64,
    /// /healthz answers 503 when more than this many commands wait in the hub's queue.
    #[arg(long, env = "IMR_HEALTH_MAX_HUB_QUEUE", default_value_t = 10_000)]
    pub health_max_hub_queue: usize,
    /// Directory served at / (the demo page, www/).
    #[arg(long, env = "IMR_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,
    /// Directory served at /pkg (the built browser module, pkg/).
    #[arg(long, env = "IMR_PKG_DIR")]
    pub pkg_dir: Option<PathBuf>,
    /// Attachments: where, how large, which types.
    #[command(flatten)]
    pub attachments: crate::upload::AttachmentArgs,
    /// The REST API and webhooks.
    #[command(flatten)]
    pub api: crate::rest::ApiArgs,
}

/// Flags of `usersig`.
#[derive(Args, Debug, Clone)]
pub struct UsersigArgs {
    /// The userID to sign for.
    #[arg(long, env = "IMR_USERSIG_USER")]
    pub user: String,
    /// Lifetime in seconds.
    #[arg(long, env = "IMR_USERSIG_EXPIRE", default_value_t = 86_400 * 180)]
    pub expire: u64,
    /// SDKAppID, secret key, dev mode.
    #[command(flatten)]
    pub auth: AuthArgs,
}

/// A secret that never shows in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Which store a server runs on.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// One node, an embedded SQLite file.
    Sqlite(PathBuf),
    /// One of several nodes sharing a PostgreSQL database (the URL).
    Postgres(String),
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Database {
    /// The SQLite path, or the URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(p) => write!(f, "{} (SQLite)", p.display()),
            Database::Postgres(url) => write!(f, "{} (PostgreSQL)", redact_url(url)),
        }
    }
}

/// `url` with the password (if any) of its `user:password@` part replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (a, h),
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// A configuration that cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Neither --secret-key nor --dev.
    #[error(
        "a secret key is required: set --secret-key or IMR_SECRET_KEY (or use --dev on loopback)"
    )]
    MissingSecretKey,
    /// --dev on a non-loopback address.
    #[error("--dev mints UserSigs for anyone and is only allowed on a loopback address, not {0}")]
    DevNotLoopback(SocketAddr),
    /// A limit that must be positive is zero, or one that is too small.
    #[error("invalid setting: {0}")]
    Invalid(&'static str),
    /// The webhook settings cannot be used (the URL, the CA file).
    #[error("webhooks: {0}")]
    Webhook(String),
}

/// Everything the server runs with.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The database: a SQLite file, or a `postgres://` URL (see [`ServerConfig::database`]).
    pub db: PathBuf,
    /// SDKAppID UserSigs must carry.
    pub sdkappid: u64,
    /// Key UserSigs are signed with.
    pub secret_key: Secret,
    /// Development mode (dev UserSig endpoint).
    pub dev: bool,
    /// Sender's revoke window.
    pub revoke_time_limit: Duration,
    /// Owner/admin revoke window (`None` = no limit).
    pub admin_revoke_time_limit: Option<Duration>,
    /// Longest message text, bytes.
    pub max_text_bytes: usize,
    /// Requests per second per user.
    pub user_rate: u32,
    /// Burst above `user_rate`.
    pub user_burst: u32,
    /// Recipients per second one user may reach (0 = no limit).
    pub user_fanout_rate: u32,
    /// Burst above `user_fanout_rate`.
    pub user_fanout_burst: u32,
    /// Most members of a group.
    pub max_group_members: usize,
    /// Most userIDs per createGroup / addGroupMembers.
    pub max_members_per_call: usize,
    /// Frames per second per connection (0 = no limit).
    pub conn_rate: u32,
    /// Burst above `conn_rate`.
    pub conn_burst: u32,
    /// Largest client frame, bytes.
    pub max_frame_bytes: usize,
    /// Most simultaneous connections.
    pub max_connections: usize,
    /// Idle connection timeout.
    pub idle_timeout: Duration,
    /// Time allowed to log in after connecting.
    pub login_timeout: Duration,
    /// Time allowed to send an HTTP request head (and idle time between kept-alive requests).
    pub handshake_timeout: Duration,
    /// Most connections not logged in yet; the oldest is closed to make room.
    pub max_pending_connections: usize,
    /// Most logged-in connections per user (0 = no limit).
    pub max_connections_per_user: usize,
    /// File descriptors kept free under the process limit.
    pub reserved_fds: usize,
    /// Origins allowed to open /ws (empty: any), normalised by [`normalize_origin`].
    pub allowed_origins: Vec<String>,
    /// /healthz says 503 past this hub lag.
    pub health_max_hub_lag: Duration,
    /// /healthz says 503 past this many queued hub commands.
    pub health_max_hub_queue: usize,
    /// Served at /.
    pub static_dir: Option<PathBuf>,
    /// Served at /pkg.
    pub pkg_dir: Option<PathBuf>,
    /// Frames queued per connection before a client that does not read is disconnected.
    pub outbound_queue: usize,
    /// How long one write to a client may take before it is disconnected.
    pub write_timeout: Duration,
    /// Most commands the hub handles between two commits.
    pub max_batch: usize,
    /// Bound of the command queue into the hub.
    pub command_queue: usize,
    /// Uploads and downloads of attachments.
    pub attachments: crate::upload::AttachmentConfig,
    /// The REST API and webhooks (`rest.rs`).
    pub api: crate::rest::ApiConfig,
}

impl ServerConfig {
    /// A configuration with the defaults of the command line (tests start from this).
    pub fn new(listen: SocketAddr, db: PathBuf, secret_key: Secret) -> ServerConfig {
        let policy = im_revoke_core::Config::default();
        ServerConfig {
            listen,
            db,
            sdkappid: DEFAULT_SDKAPPID,
            secret_key,
            dev: false,
            revoke_time_limit: Duration::from_secs(120),
            admin_revoke_time_limit: None,
            max_text_bytes: policy.max_text_bytes,
            user_rate: policy.user_rate_per_sec,
            user_burst: policy.user_burst,
            user_fanout_rate: policy.user_fanout_rate_per_sec,
            user_fanout_burst: policy.user_fanout_burst,
            max_group_members: policy.max_group_members,
            max_members_per_call: policy.max_members_per_call,
            conn_rate: 200,
            conn_burst: 400,
            max_frame_bytes: 64 * 1024,
            max_connections: 20_000,
            idle_timeout: Duration::from_secs(60),
            login_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(10),
            max_pending_connections: 1024,
            max_connections_per_user: 16,
            reserved_fds: 64,
            allowed_origins: Vec::new(),
            health_max_hub_lag: Duration::from_secs(1),
            health_max_hub_queue: 10_000,
            static_dir: None,
            pkg_dir: None,
            outbound_queue: 1024,
            write_timeout: Duration::from_secs(10),
            max_batch: 1024,
            command_queue: 65_536,
            attachments: crate::upload::AttachmentConfig::default(),
            api: crate::rest::ApiConfig::default(),
        }
    }

    /// The configuration `serve` runs with.
    pub fn from_args(a: ServeArgs) -> Result<ServerConfig, ConfigError> {
        let secret_key = secret_key(&a.auth)?;
        if a.auth.dev && !a.listen.ip().is_loopback() {
            return Err(ConfigError::DevNotLoopback(a.listen));
        }
        let mut c = ServerConfig::new(a.listen, a.db, secret_key);
        c.sdkappid = a.auth.sdkappid;
        c.dev = a.auth.dev;
        c.revoke_time_limit = Duration::from_secs(a.revoke_time_limit);
        c.admin_revoke_time_limit = a.admin_revoke_time_limit.map(Duration::from_secs);
        c.max_text_bytes = a.max_text_bytes;
        c.user_rate = a.user_rate;
        c.user_burst = a.user_burst;
        c.user_fanout_rate = a.user_fanout_rate;
        c.user_fanout_burst = a.user_fanout_burst;
        c.max_group_members = a.max_group_members;
        c.max_members_per_call = a.max_members_per_call;
        c.conn_rate = a.conn_rate;
        c.conn_burst = a.conn_burst;
        c.max_frame_bytes = a.max_frame_bytes;
        c.max_connections = a.max_connections;
        c.idle_timeout = Duration::from_secs(a.idle_timeout);
        c.login_timeout = Duration::from_secs(a.login_timeout);
        c.handshake_timeout = Duration::from_secs(a.handshake_timeout);
        c.max_pending_connections = a.max_pending_connections;
        c.max_connections_per_user = a.max_connections_per_user;
        c.reserved_fds = a.reserved_fds;
        c.allowed_origins = a
            .allowed_origins
            .iter()
            .map(|o| normalize_origin(o))
            .collect::<Result<_, _>>()?;
        c.health_max_hub_lag = Duration::from_millis(a.health_max_hub_lag_ms);
        c.health_max_hub_queue = a.health_max_hub_queue;
        c.static_dir = a.static_dir;
        c.pkg_dir = a.pkg_dir;
        c.attachments = a.attachments.into_config();
        c.api = crate::rest::ApiConfig::from_args(a.api)?;
        c.validate()?;
        Ok(c)
    }

    /// Checks the limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_frame_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "--max-frame-bytes must be at least 1024",
            ));
        }
        if self.max_text_bytes == 0 {
            return Err(ConfigError::Invalid("--max-text-bytes must be positive"));
        }
        if self.max_group_members == 0 || self.max_members_per_call == 0 {
            return Err(ConfigError::Invalid(
                "--max-group-members and --max-members-per-call must be positive",
            ));
        }
        if self.max_connections == 0 {
            return Err(ConfigError::Invalid("--max-connections must be positive"));
        }
        if self.max_pending_connections == 0 {
            return Err(ConfigError::Invalid(
                "--max-pending-connections must be positive",
            ));
        }
        if self.idle_timeout.is_zero()
            || self.login_timeout.is_zero()
            || self.handshake_timeout.is_zero()
            || self.health_max_hub_lag.is_zero()
        {
            return Err(ConfigError::Invalid("timeouts must be positive"));
        }
        for o in &self.allowed_origins {
            if normalize_origin(o).ok().as_deref() != Some(o.as_str()) {
                return Err(ConfigError::Invalid(
                    "--allowed-origin takes scheme://host[:port], in lower case, no path",
                ));
            }
        }
        if self.outbound_queue == 0 || self.max_batch == 0 || self.command_queue == 0 {
            return Err(ConfigError::Invalid("queue sizes must be positive"));
        }
        if self.dev && !self.listen.ip().is_loopback() {
            return Err(ConfigError::DevNotLoopback(self.listen));
        }
        self.api.validate()?;
        Ok(())
    }

    /// The hub's policy configuration.
    pub fn policy(&self) -> im_revoke_core::Config {
        im_revoke_core::Config {
            revoke_time_limit_ms: millis(self.revoke_time_limit),
            admin_revoke_time_limit_ms: self.admin_revoke_time_limit.map(millis),
            max_text_bytes: self.max_text_bytes,
            user_rate_per_sec: self.user_rate,
            user_burst: self.user_burst,
            user_fanout_rate_per_sec: self.user_fanout_rate,
            user_fanout_burst: self.user_fanout_burst,
            max_group_members: self.max_group_members,
            max_members_per_call: self.max_members_per_call,
            ..im_revoke_core::Config::default()
        }
    }

    /// The store `db` names: a `postgres://` (or `postgresql://`) URL selects PostgreSQL, for
    /// several nodes over one database; anything else is a SQLite file.
    pub fn database(&self) -> Database {
        match self.db.to_str() {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Database::Postgres(url.to_string())
            }
            _ => Database::Sqlite(self.db.clone()),
        }
    }

    /// Whether the secret key is the public development key.
    pub fn uses_dev_key(&self) -> bool {
        self.secret_key.expose() == DEV_SECRET_KEY
    }
}

/// An origin as browsers send it (`scheme://host[:port]`, lower case, no trailing slash), or
/// why `o` is not one.
pub fn normalize_origin(o: &str) -> Result<String, ConfigError> {
    let o = o.trim().trim_end_matches('/').to_ascii_lowercase();
    let bad = ConfigError::Invalid("--allowed-origin takes scheme://host[:port], no path");
    let Some((scheme, host)) = o.split_once("://") else {
        return Err(bad);
    };
    let scheme_ok = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let host_ok = !host.is_empty() && !host.contains(['/', '?', '#', '@', ' ']);
    if scheme_ok && host_ok {
        Ok(o)
    } else {
        Err(bad)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The secret key from the flags: the given one, or the public dev key under --dev.
pub fn secret_key(a: &AuthArgs) -> Result<Secret, ConfigError> {
    match (&a.secret_key, a.dev) {
        (Some(k), _) if !k.is_empty() => Ok(Secret::new(k.clone())),
        (_, true) => Ok(Secret::new(DEV_SECRET_KEY)),
        _ => Err(ConfigError::MissingSecretKey),
    }
}

impl fmt::Display for ServerConfig {
    /// The effective configuration, without secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = if self.uses_dev_key() {
            "built-in DEV key (public!)"
        } else {
            "set (hidden)"
        };
        let dir = |d: &Option<PathBuf>| d.as_ref().map_or("-".into(), |p| p.display().to_string());
        let admin = self
            .admin_revoke_time_limit
            .map_or("none".into(), |d| format!("{}s", d.as_secs()));
        writeln!(f, "listen                  {}", self.listen)?;
        writeln!(f, "db                      {}", self.database())?;
        writeln!(f, "sdkappid                {}", self.sdkappid)?;
        writeln!(f, "secret-key              {key}")?;
        writeln!(f, "dev                     {}", self.dev)?;
        writeln!(
            f,
            "revoke-time-limit       {}s",
            self.revoke_time_limit.as_secs()
        )?;
        writeln!(f, "admin-revoke-time-limit {admin}")?;
        writeln!(f, "max-text-bytes          {}", self.max_text_bytes)?;
        writeln!(f, "user-rate               {}/s", self.user_rate)?;
        writeln!(f, "user-burst              {}", self.user_burst)?;
        writeln!(f, "user-fanout-rate        {}/s", self.user_fanout_rate)?;
        writeln!(f, "user-fanout-burst       {}", self.user_fanout_burst)?;
        writeln!(f, "max-group-members       {}", self.max_group_members)?;
        writeln!(f, "max-members-per-call    {}", self.max_members_per_call)?;
        writeln!(f, "conn-rate               {}/s", self.conn_rate)?;
        writeln!(f, "conn-burst              {}", self.conn_burst)?;
        writeln!(f, "max-frame-bytes         {}", self.max_frame_bytes)?;
        writeln!(f, "max-connections         {}", self.max_connections)?;
        writeln!(
            f,
            "idle-timeout            {}s",
            self.idle_timeout.as_secs()
        )?;
        writeln!(
            f,
            "login-timeout           {}s",
            self.login_timeout.as_secs()
        )?;
        writeln!(
            f,
            "handshake-timeout       {}s",
            self.handshake_timeout.as_secs()
        )?;
        writeln!(
            f,
            "max-pending-connections {}",
            self.max_pending_connections
        )?;
        writeln!(
            f,
            "max-connections-per-user {}",
            self.max_connections_per_user
        )?;
        writeln!(f, "reserved-fds            {}", self.reserved_fds)?;
        let origins = if self.allowed_origins.is_empty() {
            "any".to_string()
        } else {
            self.allowed_origins.join(", ")
        };
        writeln!(f, "allowed-origin          {origins}")?;
        writeln!(
            f,
            "health-max-hub-lag      {}ms",
            millis(self.health_max_hub_lag)
        )?;
        writeln!(f, "health-max-hub-queue    {}", self.health_max_hub_queue)?;
        writeln!(f, "static-dir              {}", dir(&self.static_dir))?;
        write!(f, "pkg-dir                 {}", dir(&self.pkg_dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("im-revoke-server").chain(args.iter().copied()))
            .expect("parses")
    }

    #[test]
    fn serve_is_the_default_subcommand() {
        let cli = parse(&["--secret-key", "k", "--listen", "127.0.0.1:0"]);
        assert!(cli.command.is_none());
        let c = ServerConfig::from_args(cli.serve).unwrap();
        assert_eq!(c.secret_key.expose(), "k");
        assert_eq!(c.revoke_time_limit, Duration::from_secs(120));
        assert_eq!(c.policy().admin_revoke_time_limit_ms, None);
    }

    #[test]
    fn key_is_required_without_dev() {
        let cli = parse(&["serve"]);
        let Some(CliCommand::Serve(a)) = cli.command else {
            panic!("serve")
        };
        // IMR_SECRET_KEY may be set in the environment of whoever runs the tests.
        if a.auth.secret_key.is_none() {
            assert!(matches!(
                ServerConfig::from_args(a),
                Err(ConfigError::MissingSecretKey)
            ));
        }
    }

    #[test]
    fn dev_only_on_loopback() {
        let cli = parse(&["--dev", "--listen", "0.0.0.0:8080"]);
        assert!(matches!(
            ServerConfig::from_args(cli.serve),
            Err(ConfigError::DevNotLoopback(_))
        ));
        let cli = parse(&["--dev", "--listen", "[::1]:8080"]);
        let c = ServerConfig::from_args(cli.serve).unwrap();
        assert!(c.dev);
    }

    #[test]
    fn display_hides_the_secret() {
        let c = ServerConfig::new(
            "127.0.0.1:1".parse().unwrap(),
            "x.db".into(),
            Secret::new("hunter2"),
        );
        assert!(!c.to_string().contains("hunter2"));
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn database_is_chosen_by_the_url_and_its_password_hidden() {
        let mut c = ServerConfig::new(
            "127.0.0.1:1".parse().unwrap(),
            "data/x.db".into(),
            Secret::new("k"),
        );
        assert_eq!(c.database(), Database::Sqlite("data/x.db".into()));
        c.db = "postgres://imr:hunter2@127.0.0.1:5432/imr".into();
        assert_eq!(
            c.database(),
            Database::Postgres("postgres://imr:hunter2@127.0.0.1:5432/imr".into())
        );
        assert!(!c.to_string().contains("hunter2"), "{c}");
        assert!(c
            .to_string()
            .contains("postgres://imr:***@127.0.0.1:5432/imr"));
        c.db = "postgresql://imr@db/imr".into();
        assert!(matches!(c.database(), Database::Postgres(_)));
        assert_eq!(
            redact_url("postgresql://imr@db/imr"),
            "postgresql://imr@db/imr"
        );
    }

    #[test]
    fn origins_are_repeatable_and_normalised() {
        let cli = parse(&[
            "--secret-key",
            "k",
            "--allowed-origin",
            "http://127.0.0.1:8080/",
            "--allowed-origin",
            "HTTP://Localhost:8080",
        ]);
        let c = ServerConfig::from_args(cli.serve).unwrap();
        assert_eq!(
            c.allowed_origins,
            ["http://127.0.0.1:8080", "http://localhost:8080"]
        );
        for bad in ["127.0.0.1:8080", "http://a/b", "://x", "http://"] {
            let cli = parse(&["--secret-key", "k", "--allowed-origin", bad]);
            assert!(ServerConfig::from_args(cli.serve).is_err(), "{bad}");
        }
        let cli = parse(&["--secret-key", "k"]);
        assert!(ServerConfig::from_args(cli.serve)
            .unwrap()
            .allowed_origins
            .is_empty());
    }

    #[test]
    fn usersig_subcommand() {
        let cli = parse(&["usersig", "--user", "alice", "--dev"]);
        let Some(CliCommand::Usersig(u)) = cli.command else {
            panic!("usersig")
        };
        assert_eq!(u.user, "alice");
        assert_eq!(secret_key(&u.auth).unwrap().expose(), DEV_SECRET_KEY);
    }
}
