//! `idle`: N connections logged in and held; the server's RSS before and after.

use crate::common::{err, login, rss_bytes, run_tag, send_text, Result, Target, Ws};
use futures_util::StreamExt;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options of `idle`.
#[derive(Debug, Clone)]
pub struct IdleOpts {
    /// Connections to open.
    pub connections: usize,
    /// Connections being opened at once.
    pub concurrency: usize,
    /// Seconds to hold them all open before measuring.
    pub hold_secs: f64,
    /// The server process to read VmRSS of.
    pub server_pid: Option<u32>,
    /// Log each connection in (false: the echo baseline, one text frame echoed instead).
    pub login: bool,
    /// Give up after this long in all.
    pub max_secs: f64,
}

/// What `idle` measured.
#[derive(Debug, Clone, Serialize)]
pub struct IdleReport {
    /// Connections asked for.
    pub requested: usize,
    /// Connections open and logged in at the measurement.
    pub connected: usize,
    /// Connections that failed (first error kept in `first_error`).
    pub failed: usize,
    /// The first failure, if any.
    pub first_error: Option<String>,
    /// Each connection logged in (false: echo baseline).
    pub logged_in: bool,
    /// Seconds to open (and log in) all of them.
    pub connect_secs: f64,
    /// Connections opened per second.
    pub connects_per_sec: f64,
    /// Server VmRSS before the first connection, bytes.
    pub rss_before_bytes: Option<u64>,
    /// Server VmRSS with all connections held, bytes (the largest of the samples taken while
    /// holding).
    pub rss_after_bytes: Option<u64>,
    /// Server VmRSS a few seconds after all connections were closed, bytes.
    pub rss_after_close_bytes: Option<u64>,
    /// (after − before) / connected.
    pub bytes_per_connection: Option<f64>,
    /// The load generator's own VmRSS with all connections held, bytes.
    pub loadgen_rss_bytes: Option<u64>,
}

/// Runs `idle`.
pub async fn run(t: Arc<Target>, o: &IdleOpts) -> Result<IdleReport> {
    let started = Instant::now();
    let give_up = started + Duration::from_secs_f64(o.max_secs);
    let rss = |pid: Option<u32>| pid.and_then(|p| rss_bytes(p).ok());
    let rss_before = rss(o.server_pid);
    let tag = run_tag();
    println!(
        "idle: opening {} connections ({} at a time{})",
        o.connections,
        o.concurrency,
        if o.login {
            ", each logged in"
        } else {
            ", echo baseline: no login"
        }
    );
    let opened = futures_util::stream::iter(0..o.connections)
        .map(|i| {
            let t = t.clone();
            let user = format!("idle-{tag}-{i}");
            let login_too = o.login;
            async move {
                let open = async {
                    let mut ws = t.connect().await?;
                    if login_too {
                        login(&mut ws, &user, &t.usersig(&user)).await?;
                    } else {
                        echo_once(&mut ws).await?;
                    }
                    Ok::<Ws, crate::common::Error>(ws)
                };
                match tokio::time::timeout_at(give_up.into(), open).await {
                    Ok(r) => r,
                    Err(_) => Err(err("timed out")),
                }
            }
        })
        .buffer_unordered(o.concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    let connect_secs = started.elapsed().as_secs_f64();
    let mut held = Vec::with_capacity(opened.len());
    let mut failed = 0;
    let mut first_error = None;
    for r in opened {
        match r {
            Ok(ws) => held.push(ws),
            Err(e) => {
                failed += 1;
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    println!(
        "idle: {} open, {failed} failed, in {connect_secs:.2} s ({:.0} connections/s)",
        held.len(),
        held.len() as f64 / connect_secs
    );
    // Hold; sample the server's RSS a few times and keep the largest.
    let hold = Duration::from_secs_f64(o.hold_secs.max(0.5));
    let hold_end = (Instant::now() + hold).min(give_up);
    let mut rss_after = None;
    while Instant::now() < hold_end {
        tokio::time::sleep(Duration::from_millis(250).min(hold_end - Instant::now())).await;
        rss_after = rss_after.max(rss(o.server_pid));
    }
    rss_after = rss_after.max(rss(o.server_pid));
    let loadgen_rss = rss_bytes(std::process::id()).ok();
    let connected = held.len();
    // Close: a close frame each (bounded), then drop.
    let closing = futures_util::stream::iter(held)
        .map(|mut ws| async move {
            let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
        })
        .buffer_unordered(512)
        .collect::<Vec<_>>();
    let _ = tokio::time::timeout(Duration::from_secs(15), closing).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after_close = rss(o.server_pid);
    let per_conn = match (rss_before, rss_after) {
        (Some(b), Some(a)) if connected > 0 => Some((a as f64 - b as f64) / connected as f64),
        _ => None,
    };
    if let (Some(b), Some(a)) = (rss_before, rss_after) {
        println!(
            "idle: server RSS {:.1} MiB before, {:.1} MiB with {connected} connections held, \
             {:.1} MiB after closing: {:.0} bytes per connection",
            b as f64 / 1048576.0,
            a as f64 / 1048576.0,
            rss_after_close.unwrap_or(0) as f64 / 1048576.0,
            per_conn.unwrap_or(0.0)
        );
    }
    Ok(IdleReport {
        requested: o.connections,
        connected,
        failed,
        first_error,
        logged_in: o.login,
        connect_secs,
        connects_per_sec: connected as f64 / connect_secs,
        rss_before_bytes: rss_before,
        rss_after_bytes: rss_after,
        rss_after_close_bytes: rss_after_close,
        bytes_per_connection: per_conn,
        loadgen_rss_bytes: loadgen_rss,
    })
}

/// One small text frame to the echo server and its echo back: the connection is fully set up
/// (and its buffers touched) as a logged-in one would be.
async fn echo_once(ws: &mut Ws) -> Result<()> {
    send_text(ws, r#"{"type":"ping","t":1}"#.to_string()).await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = tokio::time::timeout_at(deadline.into(), ws.next())
            .await
            .map_err(|_| err("echo timed out"))?;
        match m {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(_))) => return Ok(()),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => return Err(err("echo connection closed")),
        }
    }
}
