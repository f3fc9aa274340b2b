//! HTTP routes: the WebSocket endpoint, the health check, the dev UserSig endpoint and the
//! static files of the demo.

use crate::state::App;
use crate::ws;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use im_revoke_core::model::check_user_id;
use std::sync::Arc;
use tower_http::services::ServeDir;

/// Lifetime of UserSigs minted by the dev endpoint: one day.
const DEV_USERSIG_EXPIRE: u64 = 86_400;

/// The server's routes.
pub fn router(app: Arc<App>) -> Router {
    let mut r = Router::new()
        .route("/healthz", get(healthz))
        .route("/ws", get(ws::upgrade))
        .merge(crate::rest::routes(app.cfg.api.max_body));
    if app.cfg.dev {
        r = r.route("/dev/usersig", get(dev_usersig));
    }
    if let Some(pkg) = &app.cfg.pkg_dir {
        r = r.nest_service("/pkg", ServeDir::new(pkg));
    }
    if let Some(www) = &app.cfg.static_dir {
        r = r.fallback_service(ServeDir::new(www));
    }
    r.with_state(app)
}

/// GET /healthz: 200 "ok" while the server runs.
async fn healthz() -> &'static str {
    "ok"
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
