//! Multi-node figures on PostgreSQL, measured end to end over WebSocket on 127.0.0.1:
//!
//! 1. cross-node revoke fan-out latency: a revoke sent to node A until the receiver(s) on
//!    nodes B (and C) get `messageRevoked` — durable commit on A, NOTIFY, B's read by seq, B's
//!    write to the socket; p50/p99 over `--revokes` revokes, one at a time;
//! 2. durable revokes per second: senders spread over the nodes, each with a window of
//!    requests in flight, every revoke acknowledged after its commit.
//!
//! After each throughput phase it prints where the CPU went during the timed revokes: CPU
//! seconds of the PostgreSQL processes (backends, walwriter, checkpointer, ...) and of this
//! process's threads (the nodes' hub threads; the async workers, which run the nodes'
//! WebSocket side and the load generator's clients alike), read from `/proc` before and after,
//! with revokes per CPU-second of each side and the machine's total busy CPU (other processes
//! included).
//!
//! It starts its own PostgreSQL (like the tests; fsync and synchronous_commit on, the defaults)
//! and nodes in-process:
//!
//! ```text
//! cargo run --release -p im-revoke-server --example multi_node_bench -- [--revokes 300]
//! ```

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/pg/mod.rs"]
mod pg;
#[path = "../tests/timing/mod.rs"]
mod timing;

use common::*;
use im_revoke_server::{Secret, Server, ServerConfig};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn node(url: &str) -> Server {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap(), url.into(), Secret::new(KEY));
    cfg.sdkappid = SDKAPPID;
    cfg.user_rate = 0;
    cfg.conn_rate = 0;
    im_revoke_server::start(cfg).await.expect("node starts")
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(what: &str, mut us: Vec<f64>) {
    us.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{what}: n={} p50={:.2} ms p99={:.2} ms max={:.2} ms",
        us.len(),
        pct(&us, 0.50) / 1000.0,
        pct(&us, 0.99) / 1000.0,
        us[us.len() - 1] / 1000.0
    );
}

/// One-to-one: alice on node 0, bob on the last of `nodes` (the same node when there is one:
/// the baseline without the cross-node hop).
async fn c2c_latency(nodes: &[Server], n: usize, tag: &str) {
    let mut alice = Client::login(nodes[0].local_addr(), &format!("{tag}alice")).await;
    let bob_id = format!("{tag}bob");
    let mut bob = Client::login(nodes[nodes.len() - 1].local_addr(), &bob_id).await;
    for i in 0..n {
        let f = alice.send_text(&bob_id, &format!("{tag}c{i}"), "x").await;
        assert_eq!(f["type"], "sendOk");
    }
    for _ in 0..n {
        assert_event(&bob.recv().await, "newMessage");
    }
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let t0 = Instant::now();
        alice
            .send(
                json!({"type": "revoke", "reqId": format!("rc{i}"), "msgID": format!("{tag}c{i}"),
                         "reason": ""}),
            )
            .await;
        assert_event(&bob.recv().await, "messageRevoked");
        lat.push(t0.elapsed().as_secs_f64() * 1e6);
        assert_eq!(alice.recv().await["type"], "revokeOk");
    }
    let what = if nodes.len() == 1 {
        "same-node revoke on PostgreSQL, one-to-one (A -> A), baseline"
    } else {
        "cross-node revoke, one-to-one (A -> B)"
    };
    report(what, lat);
}

/// A group: the revoker on node 0, `per_node` members on each other node; latency until the
/// last of them has the revoke.
async fn group_latency(nodes: &[Server], n: usize, per_node: usize) {
    let mut owner = Client::login(nodes[0].local_addr(), "owner").await;
    let mut members = Vec::new();
    for (k, s) in nodes.iter().enumerate().skip(1) {
        for j in 0..per_node {
            members.push(Client::login(s.local_addr(), &format!("m{k}-{j}")).await);
        }
    }
    let ids: Vec<String> = members.iter().map(|m| m.user.clone()).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(
        owner.create_group("big", &[], &ids).await["type"],
        "groupOk"
    );
    for m in &mut members {
        assert_event(&m.recv().await, "groupChanged");
    }
    for i in 0..n {
        assert_eq!(
            owner.send_group("big", &format!("g{i}"), "x").await["type"],
            "sendOk"
        );
    }
    for m in &mut members {
        for _ in 0..n {
            assert_event(&m.recv().await, "newMessage");
        }
    }
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let t0 = Instant::now();
        owner
            .send(
                json!({"type": "revoke", "reqId": format!("rg{i}"), "msgID": format!("g{i}"),
                         "reason": ""}),
            )
            .await;
        // Every member's socket is read concurrently; the last arrival counts.
        let waits = members.iter_mut().map(|m| async move {
            assert_event(&m.recv().await, "messageRevoked");
            t0.elapsed()
        });
        let last = futures_util::future::join_all(waits)
            .await
            .into_iter()
            .max()
            .unwrap();
        lat.push(last.as_secs_f64() * 1e6);
        assert_eq!(owner.recv().await["type"], "revokeOk");
    }
    report(
        &format!(
            "cross-node revoke, group, {} members on {} other nodes, until the last",
            members.len(),
            nodes.len() - 1
        ),
        lat,
    );
}

/// utime + stime (clock ticks) and the name of the process or thread whose `stat` is `path`.
fn stat_ticks(path: &std::path::Path) -> Option<(String, u64)> {
    let s = std::fs::read_to_string(path).ok()?;
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let name = s[open + 1..close].to_string();
    let f: Vec<&str> = s[close + 2..].split(' ').collect();
    // Fields 14 and 15 of stat(5) (utime, stime): 12 and 13 after the name.
    let t = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some((name, t))
}

/// The parent of process `pid`.
fn ppid(pid: u32) -> Option<u32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let close = s.rfind(')')?;
    s[close + 2..].split(' ').nth(1)?.parse().ok()
}

/// CPU ticks by side: PostgreSQL's processes (children of the postmaster `pg_pid`, named by
/// their title: `pg backends` for client connections, else the background process), this
/// process's threads (`hub` for the nodes' hub threads, `async workers` for the rest), and
/// `machine busy` for the whole machine (`/proc/stat`, every process).
fn cpu_snapshot(pg_pid: u32) -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    let mut add = |k: &str, t: u64| *out.entry(k.to_string()).or_default() += t;
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if pid != pg_pid && ppid(pid) != Some(pg_pid) {
                continue;
            }
            let Some((_, t)) = stat_ticks(&e.path().join("stat")) else {
                continue;
            };
            let title = std::fs::read_to_string(e.path().join("cmdline")).unwrap_or_default();
            let title = title.trim_end_matches('\0').replace('\0', " ");
            let what = match title.strip_prefix("postgres: ") {
                None => "pg postmaster".to_string(),
                Some(t) if t.contains("127.0.0.1(") || t.contains("[local]") => {
                    "pg backends".to_string()
                }
                Some(t) => format!("pg {}", t.split(' ').next().unwrap_or(t)),
            };
            add(&what, t);
        }
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for e in dir.flatten() {
            if let Some((name, t)) = stat_ticks(&e.path().join("stat")) {
                let what = match name.as_str() {
                    "im-revoke-hub" => "hub threads",
                    n if n.starts_with("im-revoke-list") => "listen threads",
                    _ => "async workers + load generator",
                };
                add(what, t);
            }
        }
    }
    if let Ok(s) = std::fs::read_to_string("/proc/stat") {
        if let Some(l) = s.lines().next() {
            let v: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            // user nice system (idle iowait) irq softirq steal
            let busy: u64 = v
                .iter()
                .enumerate()
                .filter(|(i, _)| !matches!(i, 3 | 4) && *i < 8)
                .map(|(_, x)| x)
                .sum();
            add("machine busy", busy);
        }
    }
    out
}

/// Prints the CPU seconds of each side between `a` and `b`, and revokes per CPU-second.
fn cpu_report(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>, revokes: usize, secs: f64) {
    // SAFETY: sysconf reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let d = |k: &str| (b.get(k).copied().unwrap_or(0) - a.get(k).copied().unwrap_or(0)) as f64 / hz;
    let mut pg = 0.0;
    let mut me = 0.0;
    let mut parts = Vec::new();
    for k in b.keys() {
        if k == "machine busy" {
            continue;
        }
        let s = d(k);
        if k.starts_with("pg ") {
            pg += s;
        } else {
            me += s;
        }
        if s > 0.0 {
            parts.push(format!("{k} {s:.2}"));
        }
    }
    let busy = d("machine busy");
    let per = |s: f64| if s > 0.0 { revokes as f64 / s } else { 0.0 };
    println!(
        "  cpu s over {secs:.2} s wall: {}; PostgreSQL {pg:.2} ({:.0} revokes/cpu-s), this process {me:.2} ({:.0} revokes/cpu-s), both {:.2} ({:.0} revokes/cpu-s); machine busy {busy:.2} of {:.2} (others {:.2})",
        parts.join(", "),
        per(pg),
        per(me),
        pg + me,
        per(pg + me),
        2.0 * secs,
        (busy - pg - me).max(0.0),
    );
}

/// Revokes per second with `senders` users spread over the nodes, `window` requests in flight
/// each, `per` revokes each (receivers offline: the figure is the server's, not the readers').
async fn throughput(
    nodes: &[Server],
    pg_pid: u32,
    tag: &str,
    senders: usize,
    per: usize,
    window: usize,
) {
    let mut tasks = Vec::new();
    // Load the messages first (not timed).
    let mut clients = Vec::new();
    for s in 0..senders {
        let addr = nodes[s % nodes.len()].local_addr();
        let mut c = Client::login(addr, &format!("{tag}s{s}")).await;
        pipeline(&mut c, per, window, |i| {
            json!({"type": "send", "reqId": format!("q{i}"), "msgID": format!("{tag}s{s}-{i}"),
                   "receiver": format!("{tag}r{s}-{}", i % 16),
                   "elem": {"elemType": "text", "text": "x"}})
        })
        .await;
        clients.push(c);
    }
    eprintln!("timed revokes, {} node(s): start", nodes.len());
    let cpu0 = cpu_snapshot(pg_pid);
    let t0 = Instant::now();
    for (s, mut c) in clients.into_iter().enumerate() {
        let tag = tag.to_string();
        tasks.push(tokio::spawn(async move {
            pipeline(&mut c, per, window, |i| {
                json!({"type": "revoke", "reqId": format!("v{i}"),
                       "msgID": format!("{tag}s{s}-{i}"), "reason": ""})
            })
            .await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu1 = cpu_snapshot(pg_pid);
    let total = senders * per;
    println!(
        "durable revokes/s, {} node(s), {senders} senders x {per}, window {window}: {:.0}/s ({total} in {secs:.2} s)",
        nodes.len(),
        total as f64 / secs
    );
    eprintln!("timed revokes, {} node(s): end", nodes.len());
    cpu_report(&cpu0, &cpu1, total, secs);
}

/// Sends `n` requests made by `make`, keeping `window` unanswered; every answer must be ok.
async fn pipeline(
    c: &mut Client,
    n: usize,
    window: usize,
    make: impl Fn(usize) -> serde_json::Value,
) {
    let (mut sent, mut done) = (0, 0);
    while done < n {
        while sent < n && sent - done < window {
            c.send(make(sent)).await;
            sent += 1;
        }
        let f = c.recv().await;
        match f["type"].as_str() {
            Some("sendOk" | "revokeOk") => done += 1,
            Some("event") => {}
            _ => panic!("unexpected {f}"),
        }
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let n = arg("--revokes", 300);
    let Some(pgs) = tokio::task::spawn_blocking(pg::Pg::start).await.unwrap() else {
        return;
    };
    let pgs = std::sync::Arc::new(pgs);
    let p = pgs.clone();
    let url = tokio::task::spawn_blocking(move || p.create_db("bench"))
        .await
        .unwrap();
    let nodes = vec![node(&url).await, node(&url).await, node(&url).await];
    println!(
        "PostgreSQL {} (fsync on, synchronous_commit on), 3 nodes in-process, loopback",
        {
            let p = pgs.clone();
            tokio::task::spawn_blocking(move || {
                p.client("bench")
                    .query_one("SHOW server_version", &[])
                    .unwrap()
                    .get::<_, String>(0)
            })
            .await
            .unwrap()
        }
    );
    c2c_latency(&nodes[..1], n, "same").await;
    c2c_latency(&nodes[..2], n, "cross").await;
    group_latency(&nodes, n, 10).await;
    let pid = pgs.pid();
    throughput(&nodes[..1], pid, "one", 8, 1000, 64).await;
    throughput(&nodes[..2], pid, "two", 8, 1000, 64).await;
    throughput(&nodes, pid, "three", 12, 1000, 64).await;
    for s in nodes {
        let _ = tokio::time::timeout(Duration::from_secs(10), s.shutdown()).await;
    }
    tokio::task::spawn_blocking(move || drop(pgs))
        .await
        .unwrap();
}
