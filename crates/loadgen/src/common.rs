//! What every scenario shares: the loopback-only target, connecting (from several 127.0.0.x
//! source addresses), logging in with a locally minted UserSig, frames, timing and statistics.

use futures_util::{SinkExt, StreamExt};
use im_revoke_core::protocol::json::{decode_server, encode_client};
use im_revoke_core::{ClientFrame, ServerFrame};
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// A boxed error with a message: the load generator reports and stops, it never retries blindly.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Makes an [`Error`] from a message.
pub fn err(msg: impl Into<String>) -> Error {
    msg.into().into()
}

/// One client WebSocket.
pub type Ws = WebSocketStream<TcpStream>;

/// The client side's WebSocket settings: small buffers (10,000 of them live in this process),
/// and room for large answers (a `groupOk` of a 10,000-member group is ~150 KB).
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20))
}

/// Checks that `url` is a `ws://` URL on a loopback address and returns its socket address.
/// Anything else (another host, a name other than `localhost`, `wss://`) is refused: this tool
/// only ever sends traffic to this machine.
pub fn loopback_addr(url: &str) -> Result<SocketAddr> {
    let rest = url.strip_prefix("ws://").ok_or_else(|| {
        err(format!(
            "only ws:// URLs on loopback are allowed, not {url:?}"
        ))
    })?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(err(format!("no credentials in the URL: {url:?}")));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, p) = v6
            .split_once(']')
            .ok_or_else(|| err(format!("bad IPv6 address in {url:?}")))?;
        (h, p.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port: u16 = match port {
        None => 80,
        Some(p) => p.parse().map_err(|_| err(format!("bad port in {url:?}")))?,
    };
    let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse().map_err(|_| {
            err(format!(
                "{host:?} is not a loopback address (use 127.x.x.x, [::1] or localhost)"
            ))
        })?
    };
    if !ip.is_loopback() {
        return Err(err(format!(
            "refusing {ip}: the load generator only targets loopback (127.0.0.0/8, [::1])"
        )));
    }
    Ok(SocketAddr::new(ip, port))
}

/// Where to connect and how to log in.
#[derive(Debug)]
pub struct Target {
    /// The WebSocket URL (checked: loopback).
    pub url: String,
    /// Its socket address.
    pub addr: SocketAddr,
    /// SDKAppID the server checks UserSigs against.
    pub sdkappid: u64,
    /// The server's secret key, to mint UserSigs locally.
    pub key: String,
    /// Source addresses, used in turn (more ephemeral ports than one address has).
    pub sources: Vec<IpAddr>,
    next: AtomicUsize,
}

impl Target {
    /// A target; `sources` source addresses 127.0.0.2, 127.0.0.3, … (IPv4 targets; an IPv6
    /// target uses ::1 only).
    pub fn new(url: &str, sdkappid: u64, key: &str, sources: usize) -> Result<Target> {
        let addr = loopback_addr(url)?;
        let sources = match addr.ip() {
            IpAddr::V4(_) => (0..sources.clamp(1, 250))
                .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i as u8)))
                .collect(),
            IpAddr::V6(_) => vec![IpAddr::V6(Ipv6Addr::LOCALHOST)],
        };
        Ok(Target {
            url: url.to_string(),
            addr,
            sdkappid,
            key: key.to_string(),
            sources,
            next: AtomicUsize::new(0),
        })
    }

    fn source(&self) -> IpAddr {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.sources[i % self.sources.len()]
    }

    /// A UserSig for `user`, valid for a day from now.
    pub fn usersig(&self, user: &str) -> String {
        im_revoke_usersig::gen_usersig(self.sdkappid, &self.key, user, 86_400, unix_secs())
    }

    /// Opens a TCP connection from the next source address and upgrades it to a WebSocket.
    pub async fn connect(&self) -> Result<Ws> {
        connect_ws(&self.url, self.addr, self.source()).await
    }

    /// Connects and logs `user` in; returns the socket and the `loginOk` head seq.
    pub async fn connect_login(&self, user: &str) -> Result<(Ws, u64)> {
        let mut ws = self.connect().await?;
        let head = login(&mut ws, user, &self.usersig(user)).await?;
        Ok((ws, head))
    }
}

/// Connects to `addr` from `source` (port chosen by the kernel) and speaks WebSocket to `url`.
pub async fn connect_ws(url: &str, addr: SocketAddr, source: IpAddr) -> Result<Ws> {
    let sock = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // Lets a source port still in TIME_WAIT from an earlier scenario be bound again.
    sock.set_reuseaddr(true)?;
    sock.bind(SocketAddr::new(source, 0))?;
    let stream = sock.connect(addr).await?;
    stream.set_nodelay(true)?;
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config())).await?;
    Ok(ws)
}

/// Sends `login` and waits for `loginOk` (10 s at most); returns the head seq.
pub async fn login(ws: &mut Ws, user: &str, sig: &str) -> Result<u64> {
    send(
        ws,
        &ClientFrame::Login {
            v: im_revoke_core::protocol::PROTOCOL_VERSION,
            user_id: user.to_string(),
            user_sig: sig.to_string(),
        },
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match recv_until(ws, deadline).await? {
            ServerFrame::LoginOk { head_seq, .. } => return Ok(head_seq),
            ServerFrame::Error { code, desc, .. } => {
                return Err(err(format!(
                    "login of {user} failed: {} {desc}",
                    code.num()
                )))
            }
            _ => {}
        }
    }
}

/// Encodes and sends one client frame.
pub async fn send(ws: &mut Ws, f: &ClientFrame) -> Result<()> {
    ws.send(Message::text(encode_client(f))).await?;
    Ok(())
}

/// Sends one text frame as it is.
pub async fn send_text(ws: &mut Ws, text: String) -> Result<()> {
    ws.send(Message::text(text)).await?;
    Ok(())
}

/// The next server frame, skipping control frames; an error when the socket closes.
pub async fn recv(ws: &mut Ws) -> Result<ServerFrame> {
    loop {
        match ws.next().await {
            None => return Err(err("connection closed")),
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(Message::Text(t))) => {
                return decode_server(t.as_str()).map_err(|e| err(format!("bad frame: {}", e.desc)))
            }
            Some(Ok(Message::Close(c))) => return Err(err(format!("closed by the server: {c:?}"))),
            Some(Ok(_)) => {}
        }
    }
}

/// [`recv`] with a deadline.
pub async fn recv_until(ws: &mut Ws, deadline: Instant) -> Result<ServerFrame> {
    match tokio::time::timeout_at(deadline.into(), recv(ws)).await {
        Ok(r) => r,
        Err(_) => Err(err("timed out waiting for the server")),
    }
}

/// Spaces one user's requests at most `rate` per second (the server limits each user, 100/s
/// with a burst of 200 by default: 60018 beyond). Strict spacing, no bursts of its own.
#[derive(Debug, Clone)]
pub struct Pacer {
    interval: Duration,
    next: Instant,
}

impl Pacer {
    /// A pacer for `rate` requests per second; `None` (unpaced) when `rate` is 0.
    pub fn new(rate: f64) -> Option<Pacer> {
        (rate > 0.0).then(|| Pacer {
            interval: Duration::from_secs_f64(1.0 / rate),
            next: Instant::now(),
        })
    }

    /// When the next request may go.
    pub fn ready_at(&self) -> Instant {
        self.next
    }

    /// Takes the slot if it is time (`now` ≥ [`Pacer::ready_at`]).
    pub fn try_take(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        self.next = now + self.interval;
        true
    }

    /// Waits for the next slot and takes it.
    pub async fn take(&mut self) {
        tokio::time::sleep_until(self.next.into()).await;
        let ok = self.try_take(Instant::now().max(self.next));
        debug_assert!(ok);
    }
}

/// Waits for `p`'s next slot, if there is a pacer.
pub async fn pace(p: &mut Option<Pacer>) {
    if let Some(p) = p {
        p.take().await;
    }
}

/// Unix time, seconds.
pub fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A short tag unique to this run, so that users, msgIDs and groups of one run never collide
/// with an earlier run's on the same database.
pub fn run_tag() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{:x}{:x}",
        d.as_secs() % 0x1_0000_0000,
        d.subsec_micros() % 4096
    )
}

/// VmRSS of a process, in bytes, from /proc/<pid>/status.
pub fn rss_bytes(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix("VmRSS:") {
            let kb: u64 = rest
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .map_err(|_| err(format!("bad VmRSS line {line:?}")))?;
            return Ok(kb * 1024);
        }
    }
    Err(err(format!("no VmRSS in /proc/{pid}/status")))
}

/// Percentiles and friends of a set of durations, in milliseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// Number of samples.
    pub count: usize,
    /// Smallest.
    pub min_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest.
    pub max_ms: f64,
    /// Arithmetic mean.
    pub mean_ms: f64,
    /// Log-spaced histogram (for the latency picture).
    pub histogram: Histogram,
}

/// A histogram with log-spaced buckets, 10 per decade from 1 µs to 100 s.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Histogram {
    /// Lower edges of the non-empty range of buckets, in milliseconds.
    pub lower_ms: Vec<f64>,
    /// Counts per bucket (same length as `lower_ms`); the last bucket's upper edge is the next
    /// log step.
    pub counts: Vec<u64>,
}

const BUCKETS_PER_DECADE: f64 = 10.0;

fn bucket_of(ns: u64) -> usize {
    // Bucket 0 starts at 1 µs.
    let us = (ns as f64 / 1000.0).max(1.0);
    (us.log10() * BUCKETS_PER_DECADE).floor() as usize
}

fn bucket_lower_ms(b: usize) -> f64 {
    10f64.powf(b as f64 / BUCKETS_PER_DECADE) / 1000.0
}

impl Histogram {
    fn of(sorted_ns: &[u64]) -> Histogram {
        let (Some(&lo), Some(&hi)) = (sorted_ns.first(), sorted_ns.last()) else {
            return Histogram {
                lower_ms: vec![],
                counts: vec![],
            };
        };
        let (b0, b1) = (bucket_of(lo), bucket_of(hi));
        let mut counts = vec![0u64; b1 - b0 + 1];
        for &ns in sorted_ns {
            counts[bucket_of(ns) - b0] += 1;
        }
        Histogram {
            lower_ms: (b0..=b1).map(bucket_lower_ms).collect(),
            counts,
        }
    }
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(ns: u64) -> f64 {
    (ns as f64 / 1e6 * 1e4).round() / 1e4
}

/// Summarizes durations given in nanoseconds (sorts them).
pub fn summarize(samples: &mut [u64]) -> Summary {
    samples.sort_unstable();
    let sum: u128 = samples.iter().map(|&x| u128::from(x)).sum();
    let mean = if samples.is_empty() {
        0
    } else {
        (sum / samples.len() as u128) as u64
    };
    Summary {
        count: samples.len(),
        min_ms: ms(samples.first().copied().unwrap_or(0)),
        p50_ms: ms(percentile(samples, 50.0)),
        p90_ms: ms(percentile(samples, 90.0)),
        p99_ms: ms(percentile(samples, 99.0)),
        p999_ms: ms(percentile(samples, 99.9)),
        max_ms: ms(samples.last().copied().unwrap_or(0)),
        mean_ms: ms(mean),
        histogram: Histogram::of(samples),
    }
}

/// Nanoseconds of a duration, saturating.
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Prints a summary line.
pub fn print_summary(label: &str, s: &Summary) {
    println!(
        "  {label:<34} n={:<7} p50={:>9.3} ms  p90={:>9.3} ms  p99={:>9.3} ms  max={:>9.3} ms",
        s.count, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms
    );
}

/// Writes a report as pretty JSON.
pub fn write_json<T: Serialize>(path: &std::path::Path, v: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(v)?;
    std::fs::write(path, text + "\n")
        .map_err(|e| err(format!("writing {}: {e}", path.display())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls() {
        assert_eq!(
            loopback_addr("ws://127.0.0.1:8080/ws").unwrap(),
            "127.0.0.1:8080".parse().unwrap()
        );
        assert_eq!(
            loopback_addr("ws://localhost:9/ws").unwrap(),
            "127.0.0.1:9".parse().unwrap()
        );
        assert_eq!(
            loopback_addr("ws://[::1]:7/ws").unwrap(),
            "[::1]:7".parse().unwrap()
        );
        assert_eq!(
            loopback_addr("ws://127.1.2.3/ws").unwrap(),
            "127.1.2.3:80".parse().unwrap()
        );
        for bad in [
            "ws://10.0.0.1:8080/ws",
            "ws://192.168.1.2/ws",
            "ws://8.8.8.8/ws",
            "ws://example.com/ws",
            "ws://localhost.example.com/ws",
            "wss://127.0.0.1/ws",
            "http://127.0.0.1/ws",
            "ws://user@127.0.0.1/ws",
            "ws://[::2]:1/ws",
            "ws://0.0.0.0:8080/ws",
        ] {
            assert!(loopback_addr(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut v: Vec<u64> = (1..=1000).map(|x| x * 1_000_000).collect();
        let s = summarize(&mut v);
        assert_eq!(s.count, 1000);
        assert_eq!(s.p50_ms, 500.0);
        assert_eq!(s.p99_ms, 990.0);
        assert_eq!(s.max_ms, 1000.0);
        assert_eq!(s.min_ms, 1.0);
        assert_eq!(s.histogram.counts.iter().sum::<u64>(), 1000);
        assert_eq!(percentile(&[], 50.0), 0);
        assert_eq!(percentile(&[7], 99.0), 7);
    }

    #[test]
    fn sources_round_robin() {
        let t = Target::new("ws://127.0.0.1:1/ws", 1, "k", 3).unwrap();
        let got: Vec<_> = (0..4).map(|_| t.source().to_string()).collect();
        assert_eq!(got, ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.2"]);
    }

    #[test]
    fn pacer_spaces_requests() {
        assert!(Pacer::new(0.0).is_none());
        let mut p = Pacer::new(100.0).unwrap();
        let t0 = p.ready_at();
        assert!(p.try_take(t0));
        assert!(!p.try_take(t0 + Duration::from_millis(5)));
        assert!(p.try_take(t0 + Duration::from_millis(10)));
        // After a long pause, no burst: one request, then the spacing again.
        let later = t0 + Duration::from_secs(5);
        assert!(p.try_take(later));
        assert!(!p.try_take(later + Duration::from_millis(1)));
        assert!(p.try_take(later + Duration::from_millis(10)));
    }

    #[test]
    fn rss_of_self() {
        assert!(rss_bytes(std::process::id()).unwrap() > 0);
    }
}
