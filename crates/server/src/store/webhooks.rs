//! The webhook outbox: the table the hub writes (through [`im_revoke_core::Store::enqueue_callback`],
//! in the batch's transaction) and the deliverer ([`crate::webhook`]) reads on a connection of
//! its own.
//!
//! `webhook_outbox (id, command, platform, body, attempts, next_attempt_ms)`: a row is due when
//! `next_attempt_ms <= now`. The deliverer *claims* due rows by moving their `next_attempt_ms`
//! a lease ahead in one statement (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so that of several nodes
//! exactly one claims each row), POSTs them, deletes those the receiver took (2xx), and moves the
//! others' `next_attempt_ms` to their next try (exponential backoff with jitter). A node that
//! dies holding a claim loses nothing: the lease runs out and the row is due again (at least
//! once).
//!
//! The queue is bounded ([`WebhookGauge`]): past `cap` rows waiting, the hub drops new webhooks
//! (counted) rather than letting an unreachable receiver fill the disk.

use im_revoke_core::{CallbackRecord, StoreError};
use rusqlite::OptionalExtension;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The table, in SQL both databases accept (`id` differs: see [`SQLITE_TABLE`], [`PG_TABLE`]).
const COLUMNS: &str = "
    command          TEXT   NOT NULL,
    platform         TEXT   NOT NULL,
    body             TEXT   NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms  BIGINT NOT NULL DEFAULT 0
";

/// SQLite's outbox table (schema version 4).
pub fn sqlite_table() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS webhook_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, {COLUMNS});
         CREATE INDEX IF NOT EXISTS webhook_outbox_due ON webhook_outbox (next_attempt_ms);"
    )
}

/// PostgreSQL's outbox table (schema version 2).
pub fn pg_table() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS webhook_outbox (id BIGSERIAL PRIMARY KEY, {COLUMNS});
         CREATE INDEX IF NOT EXISTS webhook_outbox_due ON webhook_outbox (next_attempt_ms);"
    )
}

/// Insert of one webhook (placeholders `?1..?3` / `$1..$3`).
pub const INSERT_SQLITE: &str =
    "INSERT INTO webhook_outbox (command, platform, body) VALUES (?1, ?2, ?3)";
/// [`INSERT_SQLITE`] with PostgreSQL's placeholders.
pub const INSERT_PG: &str =
    "INSERT INTO webhook_outbox (command, platform, body) VALUES ($1, $2, $3)";

/// What the outbox holds now and what it dropped: the deliverer refreshes `pending` from the
/// table, the hub's store adds what it enqueues; both read `cap`.
#[derive(Debug)]
pub struct WebhookGauge {
    /// Webhooks waiting (approximate between two refreshes).
    pub pending: AtomicU64,
    /// Webhooks dropped because the queue was full (since start).
    pub dropped: AtomicU64,
    /// Webhooks delivered (2xx) since start.
    pub delivered: AtomicU64,
    /// Failed delivery attempts since start.
    pub failed: AtomicU64,
    /// Most webhooks waiting.
    pub cap: u64,
}

impl WebhookGauge {
    /// A gauge for a queue of at most `cap` webhooks.
    pub fn new(cap: u64) -> WebhookGauge {
        WebhookGauge {
            pending: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            cap,
        }
    }

    /// Whether one more webhook fits; counts it as pending if so, as dropped if not.
    pub fn admit(&self) -> bool {
        if self.pending.load(Ordering::Relaxed) >= self.cap {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, cap = self.cap, "webhook queue full: dropping");
            }
            return false;
        }
        self.pending.fetch_add(1, Ordering::Relaxed);
        true
    }
}

/// One claimed row.
#[derive(Clone, Debug)]
pub struct Due {
    /// Row id.
    pub id: i64,
    /// `CallbackCommand`.
    pub command: String,
    /// `OptPlatform`.
    pub platform: String,
    /// JSON body.
    pub body: String,
    /// Attempts before this one.
    pub attempts: i64,
}

/// The deliverer's side of the outbox, on its own connection (blocking: call it off the
/// runtime's threads).
pub trait WebhookQueue: Send {
    /// Claims up to `limit` due rows for `lease_ms`.
    fn claim(&mut self, now_ms: i64, lease_ms: i64, limit: i64) -> Result<Vec<Due>, StoreError>;
    /// Deletes delivered rows.
    fn delete(&mut self, ids: &[i64]) -> Result<(), StoreError>;
    /// Schedules another try of row `id` at `next_ms` (after `attempts` attempts).
    fn retry(&mut self, id: i64, attempts: i64, next_ms: i64) -> Result<(), StoreError>;
    /// Rows waiting.
    fn count(&mut self) -> Result<u64, StoreError>;
}

/// Wall-clock milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn claim_sql(pg: bool) -> &'static str {
    if pg {
        "UPDATE webhook_outbox SET next_attempt_ms = $1
         WHERE id IN (SELECT id FROM webhook_outbox WHERE next_attempt_ms <= $2
                      ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING id, command, platform, body, attempts"
    } else {
        "UPDATE webhook_outbox SET next_attempt_ms = ?1
         WHERE id IN (SELECT id FROM webhook_outbox WHERE next_attempt_ms <= ?2
                      ORDER BY id LIMIT ?3)
         RETURNING id, command, platform, body, attempts"
    }
}

/// The outbox of a SQLite file, on a second connection (WAL: it never blocks the hub's readers;
/// its short writes wait for the hub's batch, `busy_timeout`).
pub struct SqliteQueue {
    conn: rusqlite::Connection,
}

fn sq(e: rusqlite::Error) -> StoreError {
    StoreError(format!("sqlite (webhooks): {e}"))
}

impl SqliteQueue {
    /// Opens `path` (the hub's store must have created the schema).
    pub fn open(path: &std::path::Path) -> Result<SqliteQueue, StoreError> {
        let conn = rusqlite::Connection::open(path).map_err(sq)?;
        conn.pragma_update(None, "busy_timeout", 5000).map_err(sq)?;
        // A delete or a lease lost to a power cut means one more delivery, which at-least-once
        // allows: no fsync per statement here.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sq)?;
        Ok(SqliteQueue { conn })
    }
}

impl WebhookQueue for SqliteQueue {
    fn claim(&mut self, now_ms: i64, lease_ms: i64, limit: i64) -> Result<Vec<Due>, StoreError> {
        // A read first: when nothing is due (most rounds) the hub's writes are not waited for.
        let any: Option<i64> = self
            .conn
            .prepare_cached("SELECT id FROM webhook_outbox WHERE next_attempt_ms <= ?1 LIMIT 1")
            .map_err(sq)?
            .query_row([now_ms], |r| r.get(0))
            .optional()
            .map_err(sq)?;
        if any.is_none() {
            return Ok(Vec::new());
        }
        let mut st = self.conn.prepare_cached(claim_sql(false)).map_err(sq)?;
        let rows = st
            .query_map(rusqlite::params![now_ms + lease_ms, now_ms, limit], |r| {
                Ok(Due {
                    id: r.get(0)?,
                    command: r.get(1)?,
                    platform: r.get(2)?,
                    body: r.get(3)?,
                    attempts: r.get(4)?,
                })
            })
            .map_err(sq)?;
        let mut v: Vec<Due> = rows.collect::<Result<_, _>>().map_err(sq)?;
        v.sort_by_key(|d| d.id);
        Ok(v)
    }

    fn delete(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(sq)?;
        {
            let mut st = tx
                .prepare_cached("DELETE FROM webhook_outbox WHERE id = ?1")
                .map_err(sq)?;
            for id in ids {
                st.execute([id]).map_err(sq)?;
            }
        }
        tx.commit().map_err(sq)
    }

    fn retry(&mut self, id: i64, attempts: i64, next_ms: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE webhook_outbox SET attempts = ?2, next_attempt_ms = ?3 WHERE id = ?1",
            )
            .map_err(sq)?
            .execute(rusqlite::params![id, attempts, next_ms])
            .map_err(sq)?;
        Ok(())
    }

    fn count(&mut self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM webhook_outbox", [], |r| r.get(0))
            .map_err(sq)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// The outbox in PostgreSQL, on a connection of its own; several nodes' deliverers share it.
pub struct PgQueue {
    client: postgres::Client,
}

fn pe(e: postgres::Error) -> StoreError {
    StoreError(format!("postgres (webhooks): {e}"))
}

impl PgQueue {
    /// Connects to `url` (the hub's store must have created the schema).
    pub fn connect(url: &str) -> Result<PgQueue, StoreError> {
        let mut cfg: postgres::Config = url.parse().map_err(pe)?;
        cfg.application_name("im-revoke-webhooks");
        let client = cfg.connect(postgres::NoTls).map_err(pe)?;
        Ok(PgQueue { client })
    }
}

impl WebhookQueue for PgQueue {
    fn claim(&mut self, now_ms: i64, lease_ms: i64, limit: i64) -> Result<Vec<Due>, StoreError> {
        let rows = self
            .client
            .query(claim_sql(true), &[&(now_ms + lease_ms), &now_ms, &limit])
            .map_err(pe)?;
        let mut v = rows
            .iter()
            .map(|r| {
                Ok(Due {
                    id: r.try_get(0)?,
                    command: r.try_get(1)?,
                    platform: r.try_get(2)?,
                    body: r.try_get(3)?,
                    attempts: r.try_get(4)?,
                })
            })
            .collect::<Result<Vec<_>, postgres::Error>>()
            .map_err(pe)?;
        v.sort_by_key(|d| d.id);
        Ok(v)
    }

    fn delete(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        self.client
            .execute("DELETE FROM webhook_outbox WHERE id = ANY($1)", &[&ids])
            .map_err(pe)?;
        Ok(())
    }

    fn retry(&mut self, id: i64, attempts: i64, next_ms: i64) -> Result<(), StoreError> {
        self.client
            .execute(
                "UPDATE webhook_outbox SET attempts = $2, next_attempt_ms = $3 WHERE id = $1",
                &[&id, &attempts, &next_ms],
            )
            .map_err(pe)?;
        Ok(())
    }

    fn count(&mut self) -> Result<u64, StoreError> {
        let n: i64 = self
            .client
            .query_one("SELECT COUNT(*) FROM webhook_outbox", &[])
            .and_then(|r| r.try_get(0))
            .map_err(pe)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// A record's fields as the insert takes them.
pub fn insert_args(cb: &CallbackRecord) -> (&str, &str, &str) {
    (cb.command, cb.platform, cb.body.as_str())
}
