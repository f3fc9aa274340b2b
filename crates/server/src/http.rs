//! HTTP routes: the WebSocket endpoint, the health check and metrics, the dev UserSig endpoint
//! and the static files of the demo ([`files`]).

use crate::engine::Command;
use crate::files;
use crate::listen::ConnInfo;
use crate::outbox::Outbox;
use crate::state::App;
use crate::ws;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use im_revoke_core::model::check_user_id;
use im_revoke_core::{Code, ImError};
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Lifetime of UserSigs minted by the dev endpoint: one day.
const DEV_USERSIG_EXPIRE: u64 = 86_400;

/// The server's routes.
pub fn router(app: Arc<App>) -> Router {
    let mut r = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/ws", get(ws::upgrade))
        .merge(attachment_routes(&app.cfg.allowed_origins))
        .merge(crate::rest::routes(app.cfg.api.max_body));
    if app.cfg.dev {
        r = r.route("/dev/usersig", get(dev_usersig));
    }
    if let Some(pkg) = &app.cfg.pkg_dir {
        r = r.nest_service("/pkg", files::static_files(pkg));
    }
    if let Some(www) = &app.cfg.static_dir {
        r = r.fallback_service(files::static_files(www));
    }
    r.with_state(app)
}

/// `POST /upload` and `GET /file/{key}`, open to scripts of other origins (CORS): a web app is
/// often served from another origin than its chat server. The origins are those allowed to open
/// `/ws` (`--allowed-origin`; any when unset). Neither route reads a cookie or any other
/// credential a browser adds by itself — an upload carries its UserSig in `Authorization`, a
/// download URL its own signature — so a foreign page can do no more with them than any other
/// client holding the same UserSig or URL.
fn attachment_routes(origins: &[String]) -> Router<Arc<App>> {
    use axum::http::{HeaderName, HeaderValue, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allow = if origins.is_empty() {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    let cors = CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::RANGE,
            HeaderName::from_static("x-file-name"),
        ])
        .expose_headers([header::CONTENT_RANGE, header::CONTENT_DISPOSITION]);
    Router::new()
        .route("/upload", axum::routing::post(crate::upload::upload))
        .route("/file/{key}", get(crate::upload::download))
        .layer(cors)
}

/// What a probe through the hub's queue found.
#[derive(Debug, Clone, Copy)]
pub struct HubHealth {
    /// Commands waiting in the queue.
    pub queue: usize,
    /// How long the probe took to come back (`None`: not within the threshold, or not sent
    /// because the queue is over its threshold).
    pub lag: Option<Duration>,
}

impl HubHealth {
    /// Whether the hub keeps up, by the thresholds of `app`.
    pub fn healthy(&self, app: &App) -> bool {
        self.queue <= app.cfg.health_max_hub_queue
            && self.lag.is_some_and(|l| l <= app.cfg.health_max_hub_lag)
    }

    fn lag_ms(&self, app: &App) -> u64 {
        let lag = self.lag.unwrap_or(app.cfg.health_max_hub_lag);
        u64::try_from(lag.as_millis()).unwrap_or(u64::MAX)
    }
}

/// Sends a probe through the hub's queue, the way a connection that never logs in goes (open,
/// an error frame, closed), and times its answer, waiting at most the lag threshold.
pub async fn probe_hub(app: &App) -> HubHealth {
    let queue = app
        .commands
        .max_capacity()
        .saturating_sub(app.commands.capacity());
    let not_probed = HubHealth { queue, lag: None };
    if queue > app.cfg.health_max_hub_queue {
        return not_probed;
    }
    let session = app.new_session();
    let out = Arc::new(Outbox::new(4));
    let started = Instant::now();
    let open = Command::Open {
        session,
        out: out.clone(),
        ip: None,
    };
    if app.commands.try_send(open).is_err() {
        return not_probed;
    }
    let probe = Command::Reject {
        session,
        req_id: None,
        error: ImError::with_desc(Code::NotLoggedIn, "health probe"),
        close: None,
    };
    let sent = app.commands.try_send(probe).is_ok();
    let answered = sent
        && tokio::time::timeout(app.cfg.health_max_hub_lag, out.ready())
            .await
            .is_ok();
    let lag = answered.then(|| started.elapsed());
    let commands = app.commands.clone();
    tokio::spawn(async move {
        let _ = commands.send(Command::Closed { session }).await;
    });
    HubHealth { queue, lag }
}

/// GET /healthz: 200 "ok" while the server runs and its hub keeps up; 503 with
/// `{"status":"behind","hubQueue":n,"hubLagMs":n}` when the hub's queue or its lag is over the
/// `--health-max-hub-queue` / `--health-max-hub-lag-ms` thresholds.
async fn healthz(State(app): State<Arc<App>>) -> Response {
    let h = probe_hub(&app).await;
    if h.healthy(&app) {
        return "ok".into_response();
    }
    let body = serde_json::json!({
        "status": "behind",
        "hubQueue": h.queue,
        "hubLagMs": h.lag_ms(&app),
        "webhooks": app.webhooks.as_deref().map(crate::webhook::health_json),
    });
    let headers = [(header::CACHE_CONTROL, "no-store")];
    (StatusCode::SERVICE_UNAVAILABLE, headers, Json(body)).into_response()
}

/// GET /metrics: Prometheus text, for peers on a loopback address only (403 otherwise).
async fn metrics(State(app): State<Arc<App>>, req: Request) -> Response {
    let loopback = req
        .extensions()
        .get::<Arc<ConnInfo>>()
        .is_some_and(|c| c.peer.ip().is_loopback());
    if !loopback {
        return (StatusCode::FORBIDDEN, "metrics are served to loopback only").into_response();
    }
    let h = probe_hub(&app).await;
    let a = &app.admission;
    let lag = h.lag.unwrap_or(app.cfg.health_max_hub_lag).as_secs_f64();
    let budget = match a.fd_budget() {
        usize::MAX => -1.0,
        n => n as f64,
    };
    let gauges: [(&str, &str, f64); 8] = [
        (
            "imr_hub_queue_depth",
            "Commands waiting in the hub's queue.",
            h.queue as f64,
        ),
        (
            "imr_hub_queue_capacity",
            "Bound of the hub's queue.",
            app.commands.max_capacity() as f64,
        ),
        (
            "imr_hub_lag_seconds",
            "Time a probe took through the hub (at most the health threshold).",
            lag,
        ),
        (
            "imr_hub_healthy",
            "1 when /healthz says 200.",
            f64::from(u8::from(h.healthy(&app))),
        ),
        (
            "imr_websocket_connections",
            "Open WebSocket connections.",
            app.conns.open() as f64,
        ),
        (
            "imr_pending_connections",
            "Connections not logged in yet.",
            a.pending() as f64,
        ),
        (
            "imr_open_sockets",
            "Open client sockets.",
            a.sockets() as f64,
        ),
        (
            "imr_socket_budget",
            "Sockets allowed under the descriptor limit (-1: no limit).",
            budget,
        ),
    ];
    let counters = [
        (
            "imr_connections_evicted_total",
            "Connections not logged in closed to make room.",
            &a.evicted,
        ),
        (
            "imr_connections_shed_total",
            "Connections closed at accept: no descriptor to spare.",
            &a.shed,
        ),
        (
            "imr_accept_errors_total",
            "Failed accept calls.",
            &a.accept_errors,
        ),
        (
            "imr_origin_refused_total",
            "WebSocket handshakes refused for their Origin.",
            &a.origin_refused,
        ),
        (
            "imr_user_connection_limit_total",
            "Logins refused by the per-user connection limit.",
            &a.user_limited,
        ),
    ];
    let mut out = String::new();
    for (name, help, v) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
    }
    for (name, help, c) in counters {
        let v = c.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
        );
    }
    if let Some(g) = &app.webhooks {
        out.push_str(&crate::webhook::metrics_text(g));
    }
    let ct = "text/plain; version=0.0.4; charset=utf-8";
    (
        [
            (header::CONTENT_TYPE, ct),
            (header::CACHE_CONTROL, "no-store"),
        ],
        out,
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct DevUsersigQuery {
    #[serde(rename = "userID")]
    user_id: String,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct DevUsersig {
    #[serde(rename = "userID")]
    user_id: String,
    user_sig: String,
    #[serde(rename = "sdkAppID")]
    sdk_app_id: u64,
    expire: u64,
}

/// GET /dev/usersig?userID=alice (dev mode only, loopback only): a UserSig for anyone.
async fn dev_usersig(
    State(app): State<Arc<App>>,
    q: Result<Query<DevUsersigQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return (StatusCode::BAD_REQUEST, "usage: /dev/usersig?userID=alice").into_response();
    };
    if let Err(e) = check_user_id(&q.user_id) {
        return (StatusCode::BAD_REQUEST, Json(e)).into_response();
    }
    let user_sig = app.auth.mint(&q.user_id, DEV_USERSIG_EXPIRE);
    let body = DevUsersig {
        user_id: q.user_id,
        user_sig,
        sdk_app_id: app.auth.sdkappid(),
        expire: DEV_USERSIG_EXPIRE,
    };
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}
