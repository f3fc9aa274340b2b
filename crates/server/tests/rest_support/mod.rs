//! Helpers for the REST and webhook tests: a small HTTP client, an admin UserSig minted by the
//! server's own `usersig` subcommand, and a webhook receiver on 127.0.0.1. Every wait bounded.
#![allow(dead_code)]

use super::common::{KEY, SDKAPPID, WAIT};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::timeout;

pub const ADMIN: &str = "administrator";

/// A UserSig for `user`, printed by `im-revoke-server usersig`.
pub fn cli_usersig(user: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_im-revoke-server"))
        .args(["usersig", "--user", user, "--expire", "3600"])
        .env("IMR_SECRET_KEY", KEY)
        .env("IMR_SDKAPPID", SDKAPPID.to_string())
        .output()
        .expect("usersig runs");
    assert!(out.status.success(), "usersig failed: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// POSTs `body` to `path_and_query` on `addr`; returns the status and the JSON answer.
pub async fn post_raw(addr: SocketAddr, path_and_query: &str, body: Vec<u8>) -> (u16, Value) {
    let tcp = timeout(WAIT, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let req = hyper::Request::post(path_and_query)
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let res = timeout(WAIT, sender.send_request(req))
        .await
        .expect("answer in time")
        .expect("answer");
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v)
}

/// GETs `path` on `addr`; returns the status and the body as text.
pub async fn get_text(addr: SocketAddr, path: &str) -> (u16, String) {
    let tcp = timeout(WAIT, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, addr.to_string())
        .body(Full::new(Bytes::new()))
        .unwrap();
    let res = timeout(WAIT, sender.send_request(req))
        .await
        .expect("answer in time")
        .expect("answer");
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// The value of metric `name` in Prometheus text.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// An admin calling the REST API of the server at `addr`.
pub struct Rest {
    pub addr: SocketAddr,
    pub identifier: String,
    pub sig: String,
    pub sdkappid: u64,
}

impl Rest {
    pub fn new(addr: SocketAddr) -> Rest {
        Rest {
            addr,
            identifier: ADMIN.into(),
            sig: cli_usersig(ADMIN),
            sdkappid: SDKAPPID,
        }
    }

    pub fn path(&self, cmd: &str) -> String {
        format!(
            "/v4/{cmd}?sdkappid={}&identifier={}&usersig={}&random={}&contenttype=json",
            self.sdkappid,
            self.identifier,
            urlencode(&self.sig),
            fastrand::u32(..)
        )
    }

    /// Calls `cmd` (`openim/sendmsg`) with `body`; asserts HTTP 200 and returns the JSON.
    pub async fn call(&self, cmd: &str, body: &Value) -> Value {
        self.call_raw(cmd, body.to_string().into_bytes()).await
    }

    pub async fn call_raw(&self, cmd: &str, body: Vec<u8>) -> Value {
        let (status, v) = post_raw(self.addr, &self.path(cmd), body).await;
        assert_eq!(status, 200, "HTTP 200 always: {v}");
        v
    }

    /// `openim/sendmsg` of a text as `from` to `to`; returns the answer.
    pub async fn send(&self, from: &str, to: &str, text: &str) -> Value {
        self.call(
            "openim/sendmsg",
            &serde_json::json!({
                "SyncOtherMachine": 1, "From_Account": from, "To_Account": to,
                "MsgRandom": fastrand::u32(..),
                "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}]
            }),
        )
        .await
    }

    pub async fn withdraw(&self, from: &str, to: &str, key: &str) -> Value {
        self.call(
            "openim/admin_msgwithdraw",
            &serde_json::json!({"From_Account": from, "To_Account": to, "MsgKey": key}),
        )
        .await
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Asserts a REST answer's `ErrorCode` (and `ActionStatus`).
#[track_caller]
pub fn assert_code(v: &Value, code: u32) {
    assert_eq!(v["ErrorCode"], code, "{v}");
    let status = if code == 0 { "OK" } else { "FAIL" };
    assert_eq!(v["ActionStatus"], status, "{v}");
    assert!(v["ErrorInfo"].is_string(), "{v}");
}

/// One webhook as the receiver got it.
#[derive(Clone, Debug)]
pub struct Hook {
    pub query: HashMap<String, String>,
    pub body: Value,
}

impl Hook {
    pub fn command(&self) -> &str {
        self.query.get("CallbackCommand").map_or("", String::as_str)
    }
}

#[derive(Clone)]
struct RecvState {
    tx: mpsc::UnboundedSender<Hook>,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
}

/// A webhook receiver on 127.0.0.1: records every POST, answers `status` after `delay_ms`.
pub struct Receiver {
    pub addr: SocketAddr,
    pub rx: mpsc::UnboundedReceiver<Hook>,
    pub status: Arc<AtomicU16>,
    pub delay_ms: Arc<AtomicU64>,
    /// Connections accepted (TLS receivers only).
    pub connections: Arc<AtomicU64>,
    tls: bool,
    task: tokio::task::JoinHandle<()>,
}

/// The test CA's directory (`tests/tls/README.md`).
pub fn tls_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls")
}

async fn receive(
    State(s): State<RecvState>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let delay = s.delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let status = StatusCode::from_u16(s.status.load(Ordering::Relaxed)).unwrap();
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let _ = s.tx.send(Hook { query, body });
    (
        status,
        r#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}"#,
    )
}

impl Receiver {
    pub async fn start() -> Receiver {
        Self::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    pub async fn start_on(addr: SocketAddr) -> Receiver {
        let (tx, rx) = mpsc::unbounded_channel();
        let status = Arc::new(AtomicU16::new(200));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let state = RecvState {
            tx,
            status: status.clone(),
            delay_ms: delay_ms.clone(),
        };
        let app = Router::new().route("/cb", post(receive)).with_state(state);
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            addr,
            rx,
            status,
            delay_ms,
            connections: Arc::default(),
            tls: false,
            task,
        }
    }

    /// An https receiver on 127.0.0.1 with the test CA's certificate (`tests/tls`); it counts
    /// the connections it accepts (kept alive: fewer than requests).
    pub async fn start_tls() -> Receiver {
        use tokio_rustls::rustls;
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let dir = tls_dir();
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(dir.join("cert.pem"))
                .expect("cert.pem")
                .map(|c| c.expect("a certificate"))
                .collect();
        let key = PrivateKeyDer::from_pem_file(dir.join("key.pem")).expect("key.pem");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server certificate");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let (tx, rx) = mpsc::unbounded_channel();
        let status = Arc::new(AtomicU16::new(200));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let connections = Arc::new(AtomicU64::new(0));
        let state = RecvState {
            tx,
            status: status.clone(),
            delay_ms: delay_ms.clone(),
        };
        let app = Router::new().route("/cb", post(receive)).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().unwrap();
        let accepted = connections.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                accepted.fetch_add(1, Ordering::Relaxed);
                let acceptor = acceptor.clone();
                let app = app.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let mut app = app.clone();
                            async move { tower_service::Service::call(&mut app, req).await }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Receiver {
            addr,
            rx,
            status,
            delay_ms,
            connections,
            tls: true,
            task,
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/cb", self.addr)
    }

    /// The next webhook (within `WAIT`).
    pub async fn next(&mut self) -> Hook {
        timeout(WAIT, self.rx.recv())
            .await
            .expect("a webhook in time")
            .expect("receiver open")
    }

    /// Webhooks until `done` says enough (within `WAIT` each).
    pub async fn until(&mut self, mut done: impl FnMut(&[Hook]) -> bool) -> Vec<Hook> {
        let mut v = Vec::new();
        while !done(&v) {
            v.push(self.next().await);
        }
        v
    }

    /// Whether nothing arrives within `d`.
    pub async fn quiet_for(&mut self, d: Duration) -> Option<Hook> {
        timeout(d, self.rx.recv()).await.ok().flatten()
    }

    pub fn stop(self) {
        self.task.abort();
    }
}
