//! The webhook deliverer: POSTs the outbox's webhooks to `--callback-url`, at least once.
//!
//! It runs on a tokio task of its own, with a database connection of its own (the outbox's
//! side in `store/webhooks.rs`), so a slow or dead receiver never touches the hub thread: the
//! hub only inserts rows in its batches' transactions. Each round claims the due rows (a lease:
//! several nodes never claim the same row; a node that dies loses its claims when the lease runs
//! out), POSTs them with a bounded concurrency and a timeout each, deletes the delivered (2xx)
//! and schedules the others again after an exponential backoff with jitter.
//!
//! The request is Tencent's: `POST {url}?SdkAppid=&CallbackCommand=&contenttype=json&ClientIP=
//! &OptPlatform=` and, with `--callback-token`, `&RequestTime={unix seconds}&Sign={hex of
//! sha256(token + RequestTime)}`; the body is the JSON the hub wrote (`im_revoke_core::callback`).
//! Only `http://` URLs: put a TLS-terminating proxy in front of an `https://` receiver.

use crate::config::Secret;
use crate::store::webhooks::{now_ms, Due, WebhookGauge, WebhookQueue};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Uri;
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How much longer than one POST's timeout a claim lasts.
const LEASE_MARGIN: Duration = Duration::from_secs(2);
/// How long the deliverer sleeps when nothing is due.
const IDLE: Duration = Duration::from_millis(100);
/// Longest wait between two tries of one webhook.
const MAX_BACKOFF_MS: u64 = 300_000;
/// How often the queue's length is counted again (the gauge is approximate in between).
const COUNT_EVERY: Duration = Duration::from_secs(1);

/// Where and how webhooks go.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// `http://host:port/path[?query]`.
    pub url: String,
    /// Tencent's callback authentication token (`Sign`), if set.
    pub token: Option<Secret>,
    /// The SDKAppID in the query.
    pub sdkappid: u64,
    /// Time allowed for one POST.
    pub timeout: Duration,
    /// First retry delay (doubling after each failure, up to 5 minutes, with jitter).
    pub retry_base: Duration,
    /// POSTs in flight at once (and rows claimed per round).
    pub concurrency: usize,
}

/// Checks a callback URL: `http://` with a host.
pub fn check_url(url: &str) -> Result<(), String> {
    let uri: Uri = url.parse().map_err(|e| format!("{e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("only http:// callback URLs are supported (put a TLS proxy in front)".into());
    }
    if uri.host().is_none() {
        return Err("the callback URL has no host".into());
    }
    Ok(())
}

/// Tencent's callback signature: the hex SHA-256 of the token followed by the request time.
pub fn sign(token: &str, request_time: u64) -> String {
    let mut h = Sha256::new();
    h.update(token.as_bytes());
    h.update(request_time.to_string().as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The next try's delay after `attempts` failed tries: `base * 2^(attempts-1)`, at most
/// [`MAX_BACKOFF_MS`], with a jitter of -50%..+0%.
pub fn backoff_ms(base_ms: u64, attempts: u64) -> u64 {
    let exp = attempts.saturating_sub(1).min(30);
    let full = base_ms.saturating_mul(1 << exp).clamp(1, MAX_BACKOFF_MS);
    full / 2 + fastrand::u64(0..=full / 2)
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The full URL of one delivery.
pub fn request_uri(cfg: &WebhookConfig, d: &Due, unix_s: u64) -> String {
    let sep = if cfg.url.contains('?') { '&' } else { '?' };
    let mut u = format!(
        "{}{sep}SdkAppid={}&CallbackCommand={}&contenttype=json&ClientIP=&OptPlatform={}",
        cfg.url,
        cfg.sdkappid,
        encode(&d.command),
        encode(&d.platform)
    );
    if let Some(t) = &cfg.token {
        u.push_str(&format!(
            "&RequestTime={unix_s}&Sign={}",
            sign(t.expose(), unix_s)
        ));
    }
    u
}

/// One POST; `Ok` when the receiver answered 2xx.
async fn post(uri: &str, body: String) -> Result<(), String> {
    let uri: Uri = uri.parse().map_err(|e| format!("{e}"))?;
    let host = uri.host().ok_or("no host")?.to_string();
    let port = uri.port_u16().unwrap_or(80);
    let tcp = TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let conn = tokio::spawn(conn);
    let authority = uri
        .authority()
        .map_or(host.clone(), |a| a.as_str().to_string());
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let req = hyper::Request::post(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::CONNECTION, "close")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("{e}"))?;
    let res = sender
        .send_request(req)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = res.status();
    // Read the answer whole so that the connection closes cleanly.
    let _ = res.into_body().collect().await;
    conn.abort();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {status}"))
    }
}

type Queue = Arc<Mutex<Box<dyn WebhookQueue>>>;

/// Runs `f` on the queue's connection off the runtime's threads.
async fn blocking<T: Send + 'static>(
    q: &Queue,
    f: impl FnOnce(&mut dyn WebhookQueue) -> Result<T, im_revoke_core::StoreError> + Send + 'static,
) -> Result<T, String> {
    let q = q.clone();
    tokio::task::spawn_blocking(move || {
        let mut g = q.lock().unwrap_or_else(|p| p.into_inner());
        f(g.as_mut()).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Starts the deliverer; it stops when `stop` becomes `true`.
pub fn spawn(
    cfg: WebhookConfig,
    queue: Box<dyn WebhookQueue>,
    gauge: Arc<WebhookGauge>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let queue: Queue = Arc::new(Mutex::new(queue));
    tokio::spawn(async move {
        // One round: the claimed rows' POSTs in parallel (each within the timeout), then their
        // delete or retry; the lease outlasts it.
        let lease_ms = i64::try_from((cfg.timeout + LEASE_MARGIN).as_millis()).unwrap_or(60_000);
        let claim = i64::try_from(cfg.concurrency.max(1)).unwrap_or(64);
        let mut counted = tokio::time::Instant::now() - COUNT_EVERY;
        tracing::info!(url = %cfg.url, signed = cfg.token.is_some(), "webhooks on");
        loop {
            if *stop.borrow() {
                break;
            }
            if counted.elapsed() >= COUNT_EVERY {
                if let Ok(n) = blocking(&queue, |q| q.count()).await {
                    gauge.pending.store(n, Ordering::Relaxed);
                }
                counted = tokio::time::Instant::now();
            }
            let due = match blocking(&queue, move |q| q.claim(now_ms(), lease_ms, claim)).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!("webhook outbox: {e}");
                    Vec::new()
                }
            };
            if due.is_empty() {
                tokio::select! {
                    _ = tokio::time::sleep(IDLE) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
            deliver(&cfg, &queue, &gauge, due).await;
        }
        tracing::info!("webhook deliverer stopped");
    })
}

/// POSTs a claimed round, then records what became of each.
async fn deliver(cfg: &WebhookConfig, queue: &Queue, gauge: &Arc<WebhookGauge>, due: Vec<Due>) {
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for chunk in due.chunks(cfg.concurrency.max(1)) {
        let unix_s = u64::try_from(now_ms() / 1000).unwrap_or(0);
        let posts = chunk.iter().map(|d| {
            let uri = request_uri(cfg, d, unix_s);
            let body = d.body.clone();
            let timeout = cfg.timeout;
            async move {
                match tokio::time::timeout(timeout, post(&uri, body)).await {
                    Ok(r) => r,
                    Err(_) => Err("timed out".to_string()),
                }
            }
        });
        let results = futures_util::future::join_all(posts).await;
        for (d, r) in chunk.iter().zip(results) {
            match r {
                Ok(()) => done.push(d.id),
                Err(e) => {
                    tracing::debug!(id = d.id, command = %d.command, "webhook not delivered: {e}");
                    failed.push(d.clone());
                }
            }
        }
    }
    let n_done = done.len() as u64;
    if !done.is_empty() {
        match blocking(queue, move |q| q.delete(&done)).await {
            Ok(()) => {
                gauge.delivered.fetch_add(n_done, Ordering::Relaxed);
                let _ = gauge
                    .pending
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                        Some(p.saturating_sub(n_done))
                    });
            }
            Err(e) => tracing::warn!("webhook outbox: delete: {e}"),
        }
    }
    if !failed.is_empty() {
        gauge
            .failed
            .fetch_add(failed.len() as u64, Ordering::Relaxed);
        let base = u64::try_from(cfg.retry_base.as_millis()).unwrap_or(1000);
        let now = now_ms();
        let retries: Vec<(i64, i64, i64)> = failed
            .iter()
            .map(|d| {
                let attempts = d.attempts + 1;
                let delay = backoff_ms(base, u64::try_from(attempts).unwrap_or(1));
                (
                    d.id,
                    attempts,
                    now + i64::try_from(delay).unwrap_or(i64::MAX / 2),
                )
            })
            .collect();
        if let Err(e) = blocking(queue, move |q| {
            for (id, attempts, next) in retries {
                q.retry(id, attempts, next)?;
            }
            Ok(())
        })
        .await
        {
            tracing::warn!("webhook outbox: retry: {e}");
        }
    }
}

/// The gauge as Prometheus text lines (for `/metrics`).
pub fn metrics_text(g: &WebhookGauge) -> String {
    format!(
        "# HELP imr_webhooks_pending Webhooks waiting in the outbox.\n\
         # TYPE imr_webhooks_pending gauge\nimr_webhooks_pending {}\n\
         # HELP imr_webhooks_delivered_total Webhooks the receiver took (2xx).\n\
         # TYPE imr_webhooks_delivered_total counter\nimr_webhooks_delivered_total {}\n\
         # HELP imr_webhooks_failed_total Failed delivery attempts (retried).\n\
         # TYPE imr_webhooks_failed_total counter\nimr_webhooks_failed_total {}\n\
         # HELP imr_webhooks_dropped_total Webhooks dropped: the queue was full.\n\
         # TYPE imr_webhooks_dropped_total counter\nimr_webhooks_dropped_total {}\n",
        g.pending.load(Ordering::Relaxed),
        g.delivered.load(Ordering::Relaxed),
        g.failed.load(Ordering::Relaxed),
        g.dropped.load(Ordering::Relaxed),
    )
}

/// The gauge as JSON (for `/healthz`).
pub fn health_json(g: &WebhookGauge) -> serde_json::Value {
    serde_json::json!({
        "pending": g.pending.load(Ordering::Relaxed),
        "cap": g.cap,
        "delivered": g.delivered.load(Ordering::Relaxed),
        "failed": g.failed.load(Ordering::Relaxed),
        "dropped": g.dropped.load(Ordering::Relaxed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_sha256_of_token_and_time() {
        // sha256("abc") with the token "a" and the time "bc" is not possible (a number); check
        // the concatenation against a known digest instead: sha256("token1700000000").
        let mut h = Sha256::new();
        h.update(b"token1700000000");
        let want: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(sign("token", 1_700_000_000), want);
        assert_eq!(want.len(), 64);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        for attempts in 1..40 {
            let full = (1000u64 << (attempts - 1).min(30)).min(MAX_BACKOFF_MS);
            let d = backoff_ms(1000, attempts);
            assert!(d >= full / 2 && d <= full, "{attempts}: {d}");
        }
    }

    #[test]
    fn urls() {
        assert!(check_url("http://127.0.0.1:9/cb").is_ok());
        assert!(check_url("https://example.com/cb").is_err());
        assert!(check_url("nonsense").is_err());
        let cfg = WebhookConfig {
            url: "http://127.0.0.1:9/cb?x=1".into(),
            token: Some(Secret::new("t")),
            sdkappid: 7,
            timeout: Duration::from_secs(1),
            retry_base: Duration::from_secs(1),
            concurrency: 1,
        };
        let d = Due {
            id: 1,
            command: "C2C.CallbackAfterSendMsg".into(),
            platform: "Web".into(),
            body: "{}".into(),
            attempts: 0,
        };
        let u = request_uri(&cfg, &d, 5);
        assert!(u.starts_with("http://127.0.0.1:9/cb?x=1&SdkAppid=7&CallbackCommand=C2C.CallbackAfterSendMsg&contenttype=json&ClientIP=&OptPlatform=Web&RequestTime=5&Sign="), "{u}");
        assert!(u.ends_with(&sign("t", 5)));
    }
}
