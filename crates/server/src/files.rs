//! Static files (the demo at /, the browser module at /pkg), confined to their directories and
//! served with the browser's safety headers.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use percent_encoding::percent_decode_str;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use tower_http::services::ServeFile;

/// The Content-Security-Policy of static responses: everything from this origin only, the
/// WebSocket to it, WebAssembly compilation (the browser module) and no inline script or style.
/// `blob:` for images and fetches: the embedded hub keeps attachments as Blobs under object URLs.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    connect-src 'self' ws: wss: blob:; img-src 'self' data: blob:; style-src 'self'; \
    object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A static file tree at `root` that serves nothing outside it: every path is resolved
/// (symbolic links included) and refused (404) unless it stays under the resolved root.
/// Responses carry `X-Content-Type-Options`, `X-Frame-Options` and the [`CSP`].
pub fn static_files(root: &Path) -> MethodRouter {
    let root = match std::fs::canonicalize(root) {
        Ok(r) => Some(Arc::new(r)),
        Err(e) => {
            tracing::warn!(root = %root.display(), "static directory not usable: {e}");
            None
        }
    };
    get(move |req: Request| {
        let root = root.clone();
        async move {
            let mut res = match root {
                Some(root) => serve_static(&root, req).await,
                None => StatusCode::NOT_FOUND.into_response(),
            };
            let h = res.headers_mut();
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            res
        }
    })
}

/// Where a request path leads under `root`.
#[derive(Debug, PartialEq, Eq)]
enum Resolved {
    File(PathBuf),
    /// A directory asked without its trailing slash.
    AddSlash,
    NotFound,
}

/// Resolves `path` (percent-encoded, from the URI) under the canonical `root`: `..`, absolute
/// parts and anything whose real location is outside `root` are not found; a directory serves
/// its index.html.
async fn resolve(root: &Path, path: &str) -> Resolved {
    let Ok(decoded) = percent_decode_str(path).decode_utf8() else {
        return Resolved::NotFound;
    };
    let mut candidate = root.to_path_buf();
    for c in Path::new(decoded.trim_start_matches('/')).components() {
        match c {
            Component::Normal(part) => candidate.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Resolved::NotFound
            }
        }
    }
    let Some(real) = inside(root, &candidate).await else {
        return Resolved::NotFound;
    };
    match tokio::fs::metadata(&real).await {
        Ok(m) if m.is_file() => Resolved::File(real),
        Ok(m) if m.is_dir() => {
            if !decoded.ends_with('/') {
                return Resolved::AddSlash;
            }
            match inside(root, &real.join("index.html")).await {
                Some(index) if tokio::fs::metadata(&index).await.is_ok_and(|m| m.is_file()) => {
                    Resolved::File(index)
                }
                _ => Resolved::NotFound,
            }
        }
        _ => Resolved::NotFound,
    }
}

/// `path` with every link resolved, if it exists and is under `root`.
async fn inside(root: &Path, path: &Path) -> Option<PathBuf> {
    let real = tokio::fs::canonicalize(path).await.ok()?;
    if real.starts_with(root) {
        Some(real)
    } else {
        tracing::info!(path = %path.display(), "refused a static path that leads out of its root");
        None
    }
}

async fn serve_static(root: &Path, req: Request) -> Response {
    match resolve(root, req.uri().path()).await {
        Resolved::File(file) => match ServeFile::new(file).try_call(req).await {
            Ok(res) => res.map(Body::new),
            Err(e) => {
                tracing::warn!("static file: {e}");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        },
        Resolved::AddSlash => {
            // Nested under /pkg, the request's URI lost its prefix; the original has it.
            let uri = req
                .extensions()
                .get::<axum::extract::OriginalUri>()
                .map_or(req.uri(), |o| &o.0);
            let mut to = format!("{}/", uri.path());
            if let Some(q) = uri.query() {
                to.push('?');
                to.push_str(q);
            }
            match HeaderValue::try_from(to) {
                Ok(loc) => {
                    (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, loc)]).into_response()
                }
                Err(_) => StatusCode::NOT_FOUND.into_response(),
            }
        }
        Resolved::NotFound => StatusCode::NOT_FOUND.into_response(),
    }
}
