//! `rest` and `webhook-receiver`: the REST API for the app's backend, and webhook receivers.
//!
//! `rest`: the admin sends N one-to-one messages with `openim/sendmsg`, then recalls every one
//! with `openim/admin_msgwithdraw`, over C keep-alive HTTP/1.1 connections, each with one
//! request outstanding. It measures requests per second and request → answer latency of both
//! commands. The admin's UserSig is minted locally (as the server's `usersig` subcommand does),
//! for the server's SDKAppID and key. Start the server with `--rest-rate 0` to measure the server
//! and not the quota (200/s per admin by default, Tencent's).
//!
//! `webhook-receiver`: an HTTP/1.1 server on loopback that answers every POST with Tencent's
//! `{"ActionStatus":"OK",...}` after `--delay-ms` (500 ms for the "slow receiver" bench) and
//! counts what it got by `CallbackCommand`. Its counterpart, the receiver that is down, needs no
//! code: a loopback port where nothing listens (connection refused).
//!
//! A minimal HTTP/1.1 over tokio is enough for both (fixed `Content-Length` bodies, keep-alive);
//! it keeps hyper out of the load generator.

use crate::common::{err, nanos, run_tag, summarize, unix_secs, Result, Summary};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Largest header block or body read (both sides).
const MAX_HTTP: usize = 1 << 20;

/// Parses `http://127.0.0.1:PORT[/...]` into a loopback socket address.
pub fn http_addr(url: &str) -> Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| err(format!("not an http:// URL: {url}")))?;
    let host = rest.split('/').next().unwrap_or_default();
    crate::common::loopback_addr(&format!("ws://{host}/"))
}

/// One HTTP/1.1 message read off a stream: the first line, the headers (lower-case names), the
/// body.
struct HttpMsg {
    first: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpMsg {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one message with a `Content-Length` body (none: empty) of at most [`MAX_HTTP`] bytes.
/// `Ok(None)` on a clean EOF before the first line.
async fn read_msg(r: &mut BufReader<TcpStream>) -> Result<Option<HttpMsg>> {
    read_msg_max(r, MAX_HTTP).await
}

/// [`read_msg`] with a body of at most `max_body` bytes (headers: [`MAX_HTTP`] in all).
async fn read_msg_max(r: &mut BufReader<TcpStream>, max_body: usize) -> Result<Option<HttpMsg>> {
    let mut first = String::new();
    if r.read_line(&mut first).await? == 0 {
        return Ok(None);
    }
    let mut headers = Vec::new();
    let mut seen = first.len();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Err(err("HTTP: EOF in the headers"));
        }
        seen += line.len();
        if seen > MAX_HTTP {
            return Err(err("HTTP: headers too long"));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let mut m = HttpMsg {
        first: first.trim_end().to_string(),
        headers,
        body: Vec::new(),
    };
    if m.header("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        return Err(err("HTTP: chunked bodies are not supported here"));
    }
    let len: usize = m
        .header("content-length")
        .map(|v| v.parse().map_err(|_| err("HTTP: bad Content-Length")))
        .transpose()?
        .unwrap_or(0);
    if len > max_body {
        return Err(err(format!(
            "HTTP: body of {len} bytes, more than the {max_body} allowed"
        )));
    }
    m.body = vec![0; len];
    r.read_exact(&mut m.body).await?;
    Ok(Some(m))
}

fn status_of(m: &HttpMsg) -> Result<u16> {
    m.first
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| err(format!("HTTP: bad status line {:?}", m.first)))
}

/// An answer read by [`HttpConn::request`].
#[derive(Debug)]
pub struct HttpAnswer {
    /// The status code.
    pub status: u16,
    /// The headers (lower-case names), in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpAnswer {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A keep-alive HTTP/1.1 client connection.
pub struct HttpConn {
    r: BufReader<TcpStream>,
    host: String,
}

impl HttpConn {
    /// Connects to `addr` (loopback).
    pub async fn connect(addr: SocketAddr) -> Result<HttpConn> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(HttpConn {
            r: BufReader::new(s),
            host: addr.to_string(),
        })
    }

    /// Sends one request (`path` with its query, `headers` besides `Host` and
    /// `Content-Length`, `body` as it is) and reads the answer, whose body may be up to
    /// `max_body` bytes.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        max_body: usize,
    ) -> Result<HttpAnswer> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || method == "POST" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let s = self.r.get_mut();
        s.write_all(head.as_bytes()).await?;
        s.write_all(body).await?;
        let m = read_msg_max(&mut self.r, max_body)
            .await?
            .ok_or_else(|| err("HTTP: the server closed the connection"))?;
        let status = status_of(&m)?;
        Ok(HttpAnswer {
            status,
            headers: m.headers,
            body: m.body,
        })
    }

    /// POSTs a JSON body to `path` (with its query); the status and the parsed JSON answer.
    pub async fn post_json(&mut self, path: &str, body: &Value) -> Result<(u16, Value)> {
        let body = serde_json::to_vec(body)?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.host,
            body.len()
        );
        let s = self.r.get_mut();
        s.write_all(head.as_bytes()).await?;
        s.write_all(&body).await?;
        let m = read_msg(&mut self.r)
            .await?
            .ok_or_else(|| err("HTTP: the server closed the connection"))?;
        let status = status_of(&m)?;
        let v = serde_json::from_slice(&m.body).unwrap_or(Value::Null);
        Ok((status, v))
    }
}

/// Options of `rest`.
#[derive(Debug, Clone)]
pub struct RestOpts {
    /// The server's HTTP address (loopback).
    pub addr: SocketAddr,
    /// SDKAppID.
    pub sdkappid: u64,
    /// The server's secret key.
    pub key: String,
    /// The admin identifier (one of the server's `--admin-identifier`).
    pub admin: String,
    /// Messages sent, then recalled.
    pub messages: usize,
    /// Connections (one request outstanding on each).
    pub concurrency: usize,
    /// Give up after this long in all.
    pub max_secs: f64,
}

/// One measured command.
#[derive(Debug, Clone, Serialize)]
pub struct RestPhase {
    /// `openim/sendmsg` or `openim/admin_msgwithdraw`.
    pub command: &'static str,
    /// Answers with `ActionStatus: OK`.
    pub ok: usize,
    /// Failures by `ErrorCode` (HTTP errors as 1000000 + status).
    pub errors: BTreeMap<u64, usize>,
    /// Seconds from the first request to the last answer.
    pub secs: f64,
    /// OK answers per second.
    pub per_sec: f64,
    /// Request → answer latency (every answer).
    pub latency: Summary,
}

/// What `rest` measured.
#[derive(Debug, Clone, Serialize)]
pub struct RestReport {
    /// Messages asked for.
    pub messages: usize,
    /// Connections.
    pub concurrency: usize,
    /// The sends.
    pub sendmsg: RestPhase,
    /// The admin recalls of those messages.
    pub admin_msgwithdraw: RestPhase,
}

type Job = Box<dyn Fn(usize) -> Option<(&'static str, Value)> + Send + Sync>;

struct PhaseOut {
    ok: Vec<(usize, Value)>,
    errors: BTreeMap<u64, usize>,
    lat: Vec<u64>,
}

/// Runs `n` requests made by `job` over `c` connections, one outstanding on each.
async fn phase(
    addr: SocketAddr,
    query: &str,
    n: usize,
    c: usize,
    hard: Instant,
    job: Job,
) -> Result<(PhaseOut, f64)> {
    let next = Arc::new(AtomicUsize::new(0));
    let job = Arc::new(job);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..c.clamp(1, n.max(1)) {
        let (next, job, query) = (next.clone(), job.clone(), query.to_string());
        tasks.push(tokio::spawn(async move {
            let mut out = PhaseOut {
                ok: Vec::new(),
                errors: BTreeMap::new(),
                lat: Vec::new(),
            };
            let mut conn = HttpConn::connect(addr).await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, crate::common::Error>(out);
                }
                let Some((cmd, body)) = job(i) else { continue };
                let t0 = Instant::now();
                let (status, v) = tokio::time::timeout_at(
                    hard.into(),
                    conn.post_json(&format!("/v4/{cmd}?{query}"), &body),
                )
                .await
                .map_err(|_| err("REST: out of time"))??;
                out.lat.push(nanos(t0.elapsed()));
                if status != 200 {
                    *out.errors.entry(1_000_000 + u64::from(status)).or_default() += 1;
                } else if v["ActionStatus"] == "OK" {
                    out.ok.push((i, v));
                } else {
                    let code = v["ErrorCode"].as_u64().unwrap_or(u64::MAX);
                    *out.errors.entry(code).or_default() += 1;
                }
            }
        }));
    }
    let mut all = PhaseOut {
        ok: Vec::new(),
        errors: BTreeMap::new(),
        lat: Vec::new(),
    };
    for t in tasks {
        let o = t.await.map_err(|e| err(format!("REST task: {e}")))??;
        all.ok.extend(o.ok);
        all.lat.extend(o.lat);
        for (k, v) in o.errors {
            *all.errors.entry(k).or_default() += v;
        }
    }
    Ok((all, start.elapsed().as_secs_f64()))
}

fn report(command: &'static str, mut o: PhaseOut, secs: f64) -> RestPhase {
    let secs = secs.max(1e-3);
    RestPhase {
        command,
        ok: o.ok.len(),
        errors: o.errors,
        secs,
        per_sec: o.ok.len() as f64 / secs,
        latency: summarize(&mut o.lat),
    }
}

/// The accounts of message `i`: a sender and a receiver (10 pairs of users in all, so the
/// messages spread over a few conversations, as a backend's moderation does).
fn accounts(tag: &str, i: usize) -> (String, String) {
    let p = i % 10;
    (format!("rest-{tag}-a{p}"), format!("rest-{tag}-b{p}"))
}

/// Sends, then recalls, `messages` messages over REST.
pub async fn run(o: &RestOpts) -> Result<RestReport> {
    let hard = Instant::now() + Duration::from_secs_f64(o.max_secs);
    let sig = im_revoke_usersig::gen_usersig(o.sdkappid, &o.key, &o.admin, 86_400, unix_secs());
    let query = format!(
        "sdkappid={}&identifier={}&usersig={}&random=1&contenttype=json",
        o.sdkappid, o.admin, sig
    );
    let tag = run_tag();
    println!(
        "rest: {} messages by openim/sendmsg, then openim/admin_msgwithdraw of each, {} connections",
        o.messages, o.concurrency
    );
    let t = tag.clone();
    let (sent, secs) = phase(
        o.addr,
        &query,
        o.messages,
        o.concurrency,
        hard,
        Box::new(move |i| {
            let (from, to) = accounts(&t, i);
            Some((
                "openim/sendmsg",
                json!({
                    "SyncOtherMachine": 2, "From_Account": from, "To_Account": to,
                    "MsgRandom": i as u32,
                    "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": format!("rest bench {i}")}}],
                }),
            ))
        }),
    )
    .await?;
    // The keys, in message order (None: the send failed).
    let mut keys: Vec<Option<String>> = vec![None; o.messages];
    for (i, v) in &sent.ok {
        keys[*i] = v["MsgKey"].as_str().map(str::to_string);
    }
    let sendmsg = report("openim/sendmsg", sent, secs);
    print_phase(&sendmsg);
    let keys = Arc::new(keys);
    let (recalled, secs) = phase(
        o.addr,
        &query,
        o.messages,
        o.concurrency,
        hard,
        Box::new(move |i| {
            let key = keys[i].clone()?;
            let (from, to) = accounts(&tag, i);
            Some((
                "openim/admin_msgwithdraw",
                json!({"From_Account": from, "To_Account": to, "MsgKey": key}),
            ))
        }),
    )
    .await?;
    let admin_msgwithdraw = report("openim/admin_msgwithdraw", recalled, secs);
    print_phase(&admin_msgwithdraw);
    Ok(RestReport {
        messages: o.messages,
        concurrency: o.concurrency,
        sendmsg,
        admin_msgwithdraw,
    })
}

fn print_phase(p: &RestPhase) {
    println!(
        "  {}: {:>8.0} /s ({} ok in {:.2} s; errors {:?})",
        p.command, p.per_sec, p.ok, p.secs, p.errors
    );
    crate::common::print_summary(&format!("{} latency", p.command), &p.latency);
}

/// What a webhook receiver got.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReceiverReport {
    /// The delay before each answer, ms.
    pub delay_ms: u64,
    /// Requests answered.
    pub requests: u64,
    /// Requests by `CallbackCommand`.
    pub by_command: BTreeMap<String, u64>,
    /// Connections accepted.
    pub connections: u64,
}

/// A webhook receiver's shared counters.
#[derive(Default)]
pub struct Receiver {
    delay_ms: u64,
    requests: AtomicU64,
    connections: AtomicU64,
    by_command: Mutex<BTreeMap<String, u64>>,
}

impl Receiver {
    /// What it got so far.
    pub fn report(&self) -> ReceiverReport {
        ReceiverReport {
            delay_ms: self.delay_ms,
            requests: self.requests.load(Ordering::Relaxed),
            by_command: self
                .by_command
                .lock()
                .map(|m| m.clone())
                .unwrap_or_default(),
            connections: self.connections.load(Ordering::Relaxed),
        }
    }
}

/// Binds a receiver on `listen` (loopback only).
pub async fn bind_receiver(listen: SocketAddr) -> Result<(TcpListener, SocketAddr)> {
    if !listen.ip().is_loopback() {
        return Err(err("webhook-receiver: loopback addresses only"));
    }
    let l = TcpListener::bind(listen).await?;
    let a = l.local_addr()?;
    Ok((l, a))
}

/// Serves webhooks on `l` until `stop` completes: each POST is answered after `delay_ms`.
pub async fn serve_receiver(
    l: TcpListener,
    delay_ms: u64,
    stop: impl std::future::Future<Output = ()>,
) -> ReceiverReport {
    let rx = Arc::new(Receiver {
        delay_ms,
        ..Receiver::default()
    });
    let accept = async {
        loop {
            let Ok((s, _)) = l.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            rx.connections.fetch_add(1, Ordering::Relaxed);
            let rx = rx.clone();
            tokio::spawn(async move {
                let _ = s.set_nodelay(true);
                let mut r = BufReader::new(s);
                while let Ok(Some(m)) = read_msg(&mut r).await {
                    let cmd = m
                        .first
                        .split(' ')
                        .nth(1)
                        .and_then(|t| t.split_once('?'))
                        .and_then(|(_, q)| {
                            q.split('&')
                                .find_map(|kv| kv.strip_prefix("CallbackCommand="))
                        })
                        .unwrap_or("?")
                        .to_string();
                    tokio::time::sleep(Duration::from_millis(rx.delay_ms)).await;
                    rx.requests.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut b) = rx.by_command.lock() {
                        *b.entry(cmd).or_default() += 1;
                    }
                    let body = br#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}"#;
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    let s = r.get_mut();
                    if s.write_all(head.as_bytes()).await.is_err()
                        || s.write_all(body).await.is_err()
                    {
                        break;
                    }
                    if m.header("connection")
                        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
                    {
                        break;
                    }
                }
            });
        }
    };
    tokio::select! {
        _ = accept => {}
        _ = stop => {}
    }
    rx.report()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_receiver_answers_after_its_delay_and_counts_by_command() {
        let (l, addr) = bind_receiver("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let srv = tokio::spawn(serve_receiver(l, 50, async {
            let _ = rx.await;
        }));
        let mut c = HttpConn::connect(addr).await.unwrap();
        for _ in 0..2 {
            let t0 = Instant::now();
            let (status, v) = c
                .post_json(
                    "/hook?SdkAppid=1&CallbackCommand=C2C.CallbackAfterSendMsg&contenttype=json",
                    &json!({"x": 1}),
                )
                .await
                .unwrap();
            assert_eq!(status, 200);
            assert_eq!(v["ActionStatus"], "OK");
            assert!(t0.elapsed() >= Duration::from_millis(50));
        }
        tx.send(()).unwrap();
        let r = srv.await.unwrap();
        assert_eq!(r.requests, 2);
        assert_eq!(r.connections, 1);
        assert_eq!(r.by_command["C2C.CallbackAfterSendMsg"], 2);
    }

    #[test]
    fn http_urls_must_be_loopback() {
        assert!(http_addr("http://127.0.0.1:8080/x").is_ok());
        assert!(http_addr("http://10.0.0.1:8080/").is_err());
        assert!(http_addr("ws://127.0.0.1:8080/").is_err());
    }
}
