//! `sqlite-baseline`: what raw SQLite commits on this disk (WAL, synchronous=FULL, as the
//! server opens it): the ceiling for durable requests per second.
//!
//! - one small insert per transaction (one fsync each): commits/s and commit latency;
//! - many inserts per transaction (group commit): rows/s for a few batch sizes;
//! - "revoke-shaped" batches: per revoke, what the server's SQLite store writes for a
//!   one-to-one revoke (read the message row, write it back with its revoke JSON, append one event to each of the two
//!   users' logs with the same contiguity check), in batches: the storage ceiling for
//!   revokes/s with the server's own schema.

use crate::common::{nanos, summarize, Result, Summary};
use rusqlite::{params, Connection};
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};

/// Options of `sqlite-baseline`.
#[derive(Debug, Clone)]
pub struct SqliteOpts {
    /// Seconds per measurement.
    pub secs: f64,
    /// Batch sizes for the batched measurements.
    pub batches: Vec<usize>,
    /// Extra `PRAGMA name=value` settings applied after the server's own (to try tunings).
    pub pragmas: Vec<(String, String)>,
}

/// One batched measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Batched {
    /// Rows (or revokes) per transaction.
    pub batch: usize,
    /// Transactions committed.
    pub commits: usize,
    /// Rows (or revokes) per second.
    pub per_sec: f64,
    /// Commit (BEGIN … COMMIT) latency per transaction.
    pub commit_latency: Summary,
}

/// What `sqlite-baseline` measured.
#[derive(Debug, Clone, Serialize)]
pub struct SqliteReport {
    /// SQLite version (bundled).
    pub sqlite_version: String,
    /// Extra pragmas applied (none: exactly as the server opens its database).
    pub pragmas: Vec<String>,
    /// Directory of the database file (the same file system as the server's temp db).
    pub dir: String,
    /// One insert per transaction: commits per second.
    pub single_commits_per_sec: f64,
    /// One insert per transaction: latency of each.
    pub single_commit_latency: Summary,
    /// Inserts batched per transaction.
    pub batched_inserts: Vec<Batched>,
    /// The server's revoke writes, batched per transaction.
    pub batched_revokes: Vec<Batched>,
}

const SCHEMA: &str = "
CREATE TABLE messages (
    msg_id TEXT NOT NULL PRIMARY KEY, conv TEXT NOT NULL, seq INTEGER NOT NULL,
    sender TEXT NOT NULL, receiver TEXT, group_id TEXT, time_ms INTEGER NOT NULL,
    elem TEXT, revoke TEXT);
CREATE UNIQUE INDEX messages_conv_seq ON messages (conv, seq);
CREATE TABLE events (
    user_id TEXT NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL, target TEXT NOT NULL,
    PRIMARY KEY (user_id, seq));
";

fn open(path: &Path, pragmas: &[(String, String)]) -> Result<Connection> {
    let c = Connection::open(path)?;
    let mode: String = c.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(crate::common::err(format!("no WAL on {}", path.display())));
    }
    c.pragma_update(None, "synchronous", "FULL")?;
    for (k, v) in pragmas {
        // pragma_update_and_check: some pragmas (mmap_size, journal_mode) answer a row.
        c.pragma_update_and_check(None, k, v, |_| Ok(()))
            .or_else(|_| c.pragma_update(None, k, v))?;
    }
    c.execute_batch(SCHEMA)?;
    Ok(c)
}

const EVENT_INSERT: &str = "INSERT INTO events (user_id, seq, kind, target)
     SELECT ?1, ?2, ?3, ?4
     WHERE (SELECT COALESCE(MAX(seq), 0) FROM events WHERE user_id = ?1) = ?2 - 1";

/// Runs `sqlite-baseline` with a fresh database in `dir` (removed afterwards).
pub fn run(dir: &Path, o: &SqliteOpts) -> Result<SqliteReport> {
    let tmp = dir.join(format!("imr-sqlite-baseline-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let r = measure(&tmp, o);
    let _ = std::fs::remove_dir_all(&tmp);
    r
}

fn measure(dir: &Path, o: &SqliteOpts) -> Result<SqliteReport> {
    let secs = Duration::from_secs_f64(o.secs);
    println!(
        "sqlite-baseline: WAL, synchronous=FULL, {:.1} s per measurement, in {}",
        o.secs,
        dir.display()
    );
    // One insert per transaction.
    let c = open(&dir.join("single.db"), &o.pragmas)?;
    let mut lat = Vec::new();
    let start = Instant::now();
    let mut seq = 0i64;
    while start.elapsed() < secs {
        seq += 1;
        let t0 = Instant::now();
        c.execute_batch("BEGIN IMMEDIATE")?;
        c.prepare_cached(EVENT_INSERT)?
            .execute(params!["u1", seq, 2, "m-some-message-id"])?;
        c.execute_batch("COMMIT")?;
        lat.push(nanos(t0.elapsed()));
    }
    let single_commits_per_sec = lat.len() as f64 / start.elapsed().as_secs_f64();
    let single_commit_latency = summarize(&mut lat);
    println!(
        "  1 insert / transaction: {single_commits_per_sec:>9.0} commits/s  (p50 {:.3} ms, p99 {:.3} ms)",
        single_commit_latency.p50_ms, single_commit_latency.p99_ms
    );
    drop(c);

    let mut batched_inserts = Vec::new();
    for &b in &o.batches {
        let c = open(&dir.join(format!("batch-{b}.db")), &o.pragmas)?;
        let mut lat = Vec::new();
        let start = Instant::now();
        let mut rows = 0usize;
        let mut seq = 0i64;
        while start.elapsed() < secs {
            let t0 = Instant::now();
            c.execute_batch("BEGIN IMMEDIATE")?;
            {
                let mut st = c.prepare_cached(EVENT_INSERT)?;
                for _ in 0..b {
                    seq += 1;
                    st.execute(params!["u1", seq, 2, "m-some-message-id"])?;
                }
            }
            c.execute_batch("COMMIT")?;
            lat.push(nanos(t0.elapsed()));
            rows += b;
        }
        let per_sec = rows as f64 / start.elapsed().as_secs_f64();
        let s = summarize(&mut lat);
        println!(
            "  {b:>5} inserts / transaction: {per_sec:>9.0} rows/s  (commit p50 {:.3} ms)",
            s.p50_ms
        );
        batched_inserts.push(Batched {
            batch: b,
            commits: s.count,
            per_sec,
            commit_latency: s,
        });
    }

    let mut batched_revokes = Vec::new();
    for &b in &o.batches {
        let c = open(&dir.join(format!("revoke-{b}.db")), &o.pragmas)?;
        // Messages to revoke: 64 one-to-one conversations, enough rows for the whole period.
        let pool = ((o.secs * 100_000.0) as usize).clamp(b.max(2_000), 400_000);
        c.execute_batch("BEGIN")?;
        {
            let mut st = c.prepare(
                "INSERT INTO messages (msg_id, conv, seq, sender, receiver, group_id, time_ms, elem, revoke)
                 VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, ?7, NULL)",
            )?;
            for i in 0..pool {
                let pair = i % 64;
                st.execute(params![
                    format!("tp-bench-{pair}-{i}"),
                    format!("c\u{1f}u{pair}\u{1f}v{pair}"),
                    (i / 64 + 1) as i64,
                    format!("u{pair}"),
                    format!("v{pair}"),
                    1_700_000_000_000i64 + i as i64,
                    r#"{"elemType":"text","text":"bench message 12345 xxxxxxxxxxx"}"#,
                ])?;
            }
        }
        c.execute_batch("COMMIT")?;
        let mut heads = vec![0i64; 128];
        let mut lat = Vec::new();
        let start = Instant::now();
        let mut done = 0usize;
        while start.elapsed() < secs && done + b <= pool {
            let t0 = Instant::now();
            c.execute_batch("BEGIN IMMEDIATE")?;
            {
                let mut get = c.prepare_cached(
                    "SELECT msg_id, sender, receiver, group_id, time_ms, seq, elem, revoke
                     FROM messages WHERE msg_id = ?1",
                )?;
                let mut put = c.prepare_cached(
                    "INSERT INTO messages (msg_id, conv, seq, sender, receiver, group_id, time_ms, elem, revoke)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (msg_id) DO UPDATE SET
                        conv = excluded.conv, seq = excluded.seq, sender = excluded.sender,
                        receiver = excluded.receiver, group_id = excluded.group_id,
                        time_ms = excluded.time_ms, elem = excluded.elem, revoke = excluded.revoke",
                )?;
                let mut ev = c.prepare_cached(EVENT_INSERT)?;
                for i in done..done + b {
                    let pair = i % 64;
                    let id = format!("tp-bench-{pair}-{i}");
                    type Row = (
                        String,
                        String,
                        Option<String>,
                        Option<String>,
                        i64,
                        i64,
                        Option<String>,
                    );
                    let row: Row = get.query_row(params![id], |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                        ))
                    })?;
                    let revoke = format!(
                        r#"{{"userID":"u{pair}","role":"sender","reason":"bench","timeMs":{},"reqId":"r{i}"}}"#,
                        1_700_000_100_000i64 + i as i64
                    );
                    put.execute(params![
                        row.0,
                        format!("c\u{1f}u{pair}\u{1f}v{pair}"),
                        row.5,
                        row.1,
                        row.2,
                        row.3,
                        row.4,
                        row.6,
                        revoke
                    ])?;
                    for user in [pair, 64 + pair] {
                        heads[user] += 1;
                        ev.execute(params![format!("u{user}"), heads[user], 2, id])?;
                    }
                }
            }
            c.execute_batch("COMMIT")?;
            lat.push(nanos(t0.elapsed()));
            done += b;
        }
        let per_sec = done as f64 / start.elapsed().as_secs_f64();
        let s = summarize(&mut lat);
        println!(
            "  {b:>5} revokes / transaction (server's schema): {per_sec:>9.0} revokes/s  (commit p50 {:.3} ms)",
            s.p50_ms
        );
        batched_revokes.push(Batched {
            batch: b,
            commits: s.count,
            per_sec,
            commit_latency: s,
        });
    }
    Ok(SqliteReport {
        sqlite_version: rusqlite::version().to_string(),
        pragmas: o.pragmas.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        dir: dir.display().to_string(),
        single_commits_per_sec,
        single_commit_latency,
        batched_inserts,
        batched_revokes,
    })
}
