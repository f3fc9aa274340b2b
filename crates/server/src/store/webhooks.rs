//! The webhook outbox: the table the hub writes (through [`im_revoke_core::Store::enqueue_callback`],
//! in the batch's transaction) and the deliverer ([`crate::webhook`]) reads on a connection of
//! its own.
//!
//! `webhook_outbox (id, command, platform, body, attempts, next_attempt_ms, client_ip, msg_id,
//! operator)`: a row is new while `next_attempt_ms = 0`, and due again once
//! `next_attempt_ms <= now`.
//!
//! A row is a **reference** to the message it reports (`msg_id`; `operator`: the admin of a
//! REST send), with `body` empty: the message's row is written in the same transaction and
//! keeps everything the body says (a revoke sets its `revoke` column and nothing else the body
//! reads), so the deliverer builds the JSON body when it takes the row
//! ([`im_revoke_core::callback::body_of`], the same code that builds the bodies the hub would
//! have written). The hub's insert is then ~60 bytes instead of the body's 300–400. A row keeps
//! its body itself (`msg_id` NULL) when the stored message could not give it
//! ([`CallbackRecord::body`]), and so do rows of earlier versions.
//!
//! - **SQLite** (one process): the deliverer only reads to take rows. New rows are found by id
//!   after the last one it took (a range of the primary key); rows to try again through a
//!   partial index that holds only them (`next_attempt_ms > 0`), so the hub's insert touches
//!   the table alone. A round ends with one transaction: the delivered rows deleted, the others
//!   given their next try. A crash before it loses nothing: the rows are taken again (at least
//!   once).
//! - **PostgreSQL** (several nodes): the deliverer *claims* due rows by moving their
//!   `next_attempt_ms` a lease ahead in one statement (`FOR UPDATE SKIP LOCKED`, so that of
//!   several nodes exactly one claims each row); a node that dies holding a claim loses nothing:
//!   the lease runs out and the row is due again.
//!
//! The queue is bounded ([`WebhookGauge`]): past `cap` rows waiting, the hub drops new webhooks
//! (counted) rather than letting an unreachable receiver fill the disk.

use super::rows::{Backend, MessageRow};
use im_revoke_core::{CallbackRecord, StoreError};
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The table, in SQL both databases accept (`id` differs: see [`sqlite_table`], [`pg_table`]).
const COLUMNS: &str = "
    command          TEXT   NOT NULL,
    platform         TEXT   NOT NULL,
    body             TEXT   NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms  BIGINT NOT NULL DEFAULT 0,
    client_ip        TEXT   NOT NULL DEFAULT '',
    msg_id           TEXT,
    operator         TEXT
";

/// SQLite's outbox table, and its index of the rows to try again. The index of every row's
/// `next_attempt_ms` of earlier versions is dropped (each insert wrote it).
pub fn sqlite_table() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS webhook_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, {COLUMNS});
         DROP INDEX IF EXISTS webhook_outbox_due;
         CREATE INDEX IF NOT EXISTS webhook_outbox_retry ON webhook_outbox (next_attempt_ms)
             WHERE next_attempt_ms > 0;"
    )
}

/// PostgreSQL's outbox table (schema version 3: the reference columns).
pub fn pg_table() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS webhook_outbox (id BIGSERIAL PRIMARY KEY, {COLUMNS});
         ALTER TABLE webhook_outbox ADD COLUMN IF NOT EXISTS client_ip TEXT NOT NULL DEFAULT '';
         ALTER TABLE webhook_outbox ADD COLUMN IF NOT EXISTS msg_id TEXT;
         ALTER TABLE webhook_outbox ADD COLUMN IF NOT EXISTS operator TEXT;
         CREATE INDEX IF NOT EXISTS webhook_outbox_due ON webhook_outbox (next_attempt_ms);"
    )
}

/// Adds the columns of later versions to an SQLite outbox of an earlier one (SQLite has no
/// `ADD COLUMN IF NOT EXISTS`).
pub fn sqlite_migrate(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    for (column, def) in [
        ("client_ip", "TEXT NOT NULL DEFAULT ''"),
        ("msg_id", "TEXT"),
        ("operator", "TEXT"),
    ] {
        let has: i64 = conn.query_row(
            "SELECT COUNT(*) FROM pragma_table_info('webhook_outbox') WHERE name = ?1",
            [column],
            |r| r.get(0),
        )?;
        if has == 0 {
            conn.execute_batch(&format!(
                "ALTER TABLE webhook_outbox ADD COLUMN {column} {def}"
            ))?;
        }
    }
    Ok(())
}

/// Insert of one webhook (placeholders `?1..?6` / `$1..$6`; values: [`insert_args`]).
pub const INSERT_SQLITE: &str = "INSERT INTO webhook_outbox
     (command, platform, body, client_ip, msg_id, operator) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
/// [`INSERT_SQLITE`] with PostgreSQL's placeholders.
pub const INSERT_PG: &str = "INSERT INTO webhook_outbox
     (command, platform, body, client_ip, msg_id, operator) VALUES ($1, $2, $3, $4, $5, $6)";

/// What the claims select: the outbox row, then its message's columns (NULL for a row that
/// keeps its body).
const CLAIM_COLUMNS: &str = "o.id, o.command, o.platform, o.body, o.attempts, o.client_ip,
     o.operator, o.msg_id, m.sender, m.receiver, m.group_id, m.time_ms, m.seq, m.elem, m.revoke,
     m.reply_to, m.cloud_custom_data";

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

/// The hub's store's side of webhooks, besides [`im_revoke_core::Store::enqueue_callback`].
pub trait CallbackOrigin {
    /// Who caused the webhooks the hub writes next: the client's IP address (Tencent's
    /// `ClientIP`), `None` for the app's backend (REST). The hub's thread sets it before each
    /// request.
    fn set_client_ip(&mut self, ip: Option<IpAddr>);
    /// Writes what became of a round of deliveries in the batch's transaction (SQLite: see
    /// [`SqliteQueue::via_hub`]).
    fn finish_webhooks(&mut self, f: &Finish) -> Result<(), StoreError>;
}

/// The statements of [`WebhookQueue::finish`] on SQLite, in the transaction open on `conn`.
pub fn sqlite_finish(conn: &rusqlite::Connection, f: &Finish) -> rusqlite::Result<()> {
    let mut del = conn.prepare_cached("DELETE FROM webhook_outbox WHERE id = ?1")?;
    for id in &f.done {
        del.execute([id])?;
    }
    let mut up = conn.prepare_cached(
        "UPDATE webhook_outbox SET attempts = ?2, next_attempt_ms = ?3 WHERE id = ?1",
    )?;
    for (id, attempts, next) in &f.retry {
        // Never 0: 0 marks a row never tried.
        up.execute(rusqlite::params![id, attempts, (*next).max(1)])?;
    }
    Ok(())
}

/// `ClientIP` as written: an IPv4-mapped IPv6 address as IPv4.
pub fn client_ip_text(ip: Option<IpAddr>) -> String {
    match ip {
        None => String::new(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        Some(ip) => ip.to_string(),
    }
}

/// One row taken for delivery.
#[derive(Clone, Debug)]
pub struct Due {
    /// Row id.
    pub id: i64,
    /// `CallbackCommand`.
    pub command: String,
    /// `OptPlatform`.
    pub platform: String,
    /// `ClientIP` (empty for REST).
    pub client_ip: String,
    /// JSON body (empty if it could not be built: see [`Due::lost`]).
    pub body: String,
    /// Attempts before this one.
    pub attempts: i64,
}

/// What became of a round: rows delivered, and `(id, attempts, next_attempt_ms)` of the others.
#[derive(Clone, Debug, Default)]
pub struct Finish {
    /// Delivered: deleted.
    pub done: Vec<i64>,
    /// Not delivered: tried again at `next_attempt_ms` (after `attempts` attempts).
    pub retry: Vec<(i64, i64, i64)>,
}

impl Finish {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.done.is_empty() && self.retry.is_empty()
    }

    /// Every row it names.
    pub fn ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.done
            .iter()
            .copied()
            .chain(self.retry.iter().map(|r| r.0))
    }
}

/// How a [`WebhookQueue::finish`] commits.
#[derive(Debug)]
pub enum Finishing {
    /// It has committed.
    Committed,
    /// The hub's next batch commits it: told on this channel (closed if the hub stopped).
    ByHub(tokio::sync::oneshot::Receiver<()>),
}

/// The deliverer's side of the outbox, on its own connection (blocking: call it off the
/// runtime's threads).
pub trait WebhookQueue: Send {
    /// Takes up to `limit` due rows, for `lease_ms` where other nodes could take them too, none
    /// of `skip` (rows this deliverer has taken and not finished yet).
    fn claim(
        &mut self,
        now_ms: i64,
        lease_ms: i64,
        limit: i64,
        skip: &HashSet<i64>,
    ) -> Result<Vec<Due>, StoreError>;
    /// Deletes the delivered rows and schedules the others, in one transaction (committed when
    /// the answer is [`Finishing::Committed`] or its channel is told).
    fn finish(&mut self, f: &Finish) -> Result<Finishing, StoreError>;
    /// A finish did not commit: its rows are to be taken again. Default: nothing (a lease
    /// gives them back).
    fn finish_failed(&mut self) {}
    /// Rows waiting.
    fn count(&mut self) -> Result<u64, StoreError>;
    /// How often the gauge's count is refreshed from the table ([`WebhookQueue::count`]).
    fn recount_every(&self) -> Duration;
}

/// Wall-clock milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Due {
    /// Whether its body could not be built: the row refers to a message that is not stored (or
    /// not revoked, for a revoke), which the transaction that wrote both rules out. Such a row
    /// is dropped with an error in the log: no try could deliver it.
    pub fn lost(&self) -> bool {
        self.body.is_empty()
    }
}

/// A claimed row as the driver returns it ([`CLAIM_COLUMNS`]).
struct Claimed {
    id: i64,
    command: String,
    platform: String,
    body: String,
    attempts: i64,
    client_ip: String,
    operator: Option<String>,
    /// The message's row, if the outbox row refers to one.
    message: Option<MessageRow>,
}

impl Claimed {
    /// The row with its body: its own, or built from its message.
    fn into_due(self, backend: Backend) -> Due {
        let body = match self.message {
            None => self.body,
            Some(row) => {
                let msg_id = row.msg_id.clone();
                let body = row.into_message(backend).ok().and_then(|m| {
                    im_revoke_core::callback::body_of(&self.command, self.operator.as_deref(), &m)
                });
                body.unwrap_or_else(|| {
                    tracing::error!(id = self.id, %msg_id, command = %self.command,
                        "webhook: its message cannot give its body; dropped");
                    String::new()
                })
            }
        };
        Due {
            id: self.id,
            command: self.command,
            platform: self.platform,
            client_ip: self.client_ip,
            body,
            attempts: self.attempts,
        }
    }
}

fn claimed_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Claimed> {
    let msg_id: Option<String> = r.get(7)?;
    // A reference whose message is missing (LEFT JOIN: NULL columns) is lost: built as an
    // empty body below.
    let message = match (msg_id, r.get::<_, Option<String>>(8)?) {
        (Some(msg_id), Some(sender)) => Some(MessageRow {
            msg_id,
            sender,
            receiver: r.get(9)?,
            group_id: r.get(10)?,
            time_ms: r.get(11)?,
            seq: r.get(12)?,
            elem: r.get(13)?,
            revoke: r.get(14)?,
            reply_to: r.get(15)?,
            cloud_custom_data: r.get(16)?,
        }),
        (Some(msg_id), None) => Some(missing(msg_id)),
        (None, _) => None,
    };
    Ok(Claimed {
        id: r.get(0)?,
        command: r.get(1)?,
        platform: r.get(2)?,
        body: r.get(3)?,
        attempts: r.get(4)?,
        client_ip: r.get(5)?,
        operator: r.get(6)?,
        message,
    })
}

/// A row that stands for a missing message: it decodes to nothing ([`Claimed::into_due`]).
fn missing(msg_id: String) -> MessageRow {
    MessageRow {
        msg_id,
        sender: String::new(),
        receiver: None,
        group_id: None,
        time_ms: -1,
        seq: -1,
        elem: None,
        revoke: None,
        reply_to: None,
        cloud_custom_data: None,
    }
}

/// The outbox of a SQLite file, read on a second connection (WAL: reads never block the hub,
/// nor does the hub block them). One process only: what it has taken is in memory.
///
/// Its writes go through the hub ([`SqliteQueue::via_hub`]): a write on a second connection
/// makes SQLite drop the hub connection's whole page cache at its next transaction (the
/// database changed under it), and the hub would read its hot pages again from the file after
/// every round of deliveries; in the hub's batch they cost a few rows in a transaction that
/// commits anyway.
pub struct SqliteQueue {
    conn: rusqlite::Connection,
    /// The id of the last new row taken: new rows are those after it.
    after: i64,
    /// The hub's commands, when the hub writes the rounds' results.
    hub: Option<tokio::sync::mpsc::Sender<crate::engine::Command>>,
}

fn sq(e: rusqlite::Error) -> StoreError {
    StoreError(format!("sqlite (webhooks): {e}"))
}

impl SqliteQueue {
    /// Opens `path` (the hub's store must have created the schema).
    pub fn open(path: &std::path::Path) -> Result<SqliteQueue, StoreError> {
        let conn = rusqlite::Connection::open(path).map_err(sq)?;
        conn.pragma_update(None, "busy_timeout", 5000).map_err(sq)?;
        // A delete or a retry lost to a power cut means one more delivery, which at-least-once
        // allows: no fsync per round here.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sq)?;
        Ok(SqliteQueue {
            conn,
            after: 0,
            hub: None,
        })
    }

    /// Has the hub's thread write the rounds' results, in its batches' transactions.
    pub fn via_hub(mut self, commands: tokio::sync::mpsc::Sender<crate::engine::Command>) -> Self {
        self.hub = Some(commands);
        self
    }
}

impl WebhookQueue for SqliteQueue {
    fn claim(
        &mut self,
        now_ms: i64,
        _lease_ms: i64,
        limit: i64,
        skip: &HashSet<i64>,
    ) -> Result<Vec<Due>, StoreError> {
        let skipped = i64::try_from(skip.len()).unwrap_or(0);
        // Rows to try again first (their time has come), through the partial index; those being
        // tried still have their old time until their finish commits.
        let mut v: Vec<Due> = self
            .conn
            .prepare_cached(&format!(
                "SELECT {CLAIM_COLUMNS} FROM webhook_outbox o
                     LEFT JOIN messages m ON m.msg_id = o.msg_id
                 WHERE o.next_attempt_ms > 0 AND o.next_attempt_ms <= ?1
                 ORDER BY o.next_attempt_ms LIMIT ?2"
            ))
            .map_err(sq)?
            .query_map(rusqlite::params![now_ms, limit + skipped], claimed_sqlite)
            .map_err(sq)?
            .filter(|d| d.as_ref().map_or(true, |d| !skip.contains(&d.id)))
            .take(usize::try_from(limit).unwrap_or(0))
            .map(|d| d.map(|d| d.into_due(Backend::Sqlite)))
            .collect::<Result<_, _>>()
            .map_err(sq)?;
        let rest = limit - i64::try_from(v.len()).unwrap_or(limit);
        if rest > 0 {
            let new: Vec<Due> = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {CLAIM_COLUMNS} FROM webhook_outbox o
                         LEFT JOIN messages m ON m.msg_id = o.msg_id
                     WHERE o.id > ?1 AND o.next_attempt_ms = 0 ORDER BY o.id LIMIT ?2"
                ))
                .map_err(sq)?
                .query_map(
                    rusqlite::params![self.after, rest + skipped],
                    claimed_sqlite,
                )
                .map_err(sq)?
                .map(|d| d.map(|d| d.into_due(Backend::Sqlite)))
                .collect::<Result<_, _>>()
                .map_err(sq)?;
            // New rows are those after the last one looked at (taken, or being tried already
            // since a failed finish started over).
            let mut taken = 0;
            for d in new {
                if taken == rest {
                    break;
                }
                self.after = d.id;
                if !skip.contains(&d.id) {
                    v.push(d);
                    taken += 1;
                }
            }
        }
        v.sort_by_key(|d| d.id);
        Ok(v)
    }

    fn finish(&mut self, f: &Finish) -> Result<Finishing, StoreError> {
        if f.is_empty() {
            return Ok(Finishing::Committed);
        }
        let r = match &self.hub {
            Some(hub) => {
                // The deliverer waits for the commit (outside this queue's lock) before it
                // takes these rows' ids as free again.
                let (done, committed) = tokio::sync::oneshot::channel();
                let cmd = crate::engine::Command::WebhooksFinished {
                    finish: f.clone(),
                    done,
                };
                hub.blocking_send(cmd)
                    .map(|()| Finishing::ByHub(committed))
                    .map_err(|_| StoreError("webhooks: the hub has stopped".into()))
            }
            None => (|| {
                let tx = self.conn.transaction()?;
                sqlite_finish(&tx, f)?;
                tx.commit()
            })()
            .map(|()| Finishing::Committed)
            .map_err(sq),
        };
        if r.is_err() {
            self.finish_failed();
        }
        r
    }

    fn finish_failed(&mut self) {
        // Rows taken but not finished are new again: find them from the start.
        self.after = 0;
    }

    fn count(&mut self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM webhook_outbox", [], |r| r.get(0))
            .map_err(sq)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn recount_every(&self) -> Duration {
        // Nothing else writes the table: the gauge counts exactly (the hub adds, the deliverer
        // subtracts); the count only corrects a drift.
        Duration::from_secs(30)
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
    fn claim(
        &mut self,
        now_ms: i64,
        lease_ms: i64,
        limit: i64,
        _skip: &HashSet<i64>,
    ) -> Result<Vec<Due>, StoreError> {
        // A row this deliverer is trying is leased: no claim takes it until the lease ends. The
        // messages of the rows that refer to one are read in the same statement.
        let rows = self
            .client
            .query(
                &format!(
                    "WITH o AS (
                         UPDATE webhook_outbox SET next_attempt_ms = $1
                         WHERE id IN (SELECT id FROM webhook_outbox WHERE next_attempt_ms <= $2
                                      ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
                         RETURNING id, command, platform, body, attempts, client_ip, operator,
                                   msg_id)
                     SELECT {CLAIM_COLUMNS} FROM o LEFT JOIN messages m ON m.msg_id = o.msg_id"
                ),
                &[&(now_ms + lease_ms), &now_ms, &limit],
            )
            .map_err(pe)?;
        let mut v = rows
            .iter()
            .map(|r| {
                let msg_id: Option<String> = r.try_get(7)?;
                let sender: Option<String> = r.try_get(8)?;
                let message = match (msg_id, sender) {
                    (Some(msg_id), Some(sender)) => Some(MessageRow {
                        msg_id,
                        sender,
                        receiver: r.try_get(9)?,
                        group_id: r.try_get(10)?,
                        time_ms: r.try_get(11)?,
                        seq: r.try_get(12)?,
                        elem: r.try_get(13)?,
                        revoke: r.try_get(14)?,
                        reply_to: r.try_get(15)?,
                        cloud_custom_data: r.try_get(16)?,
                    }),
                    (Some(msg_id), None) => Some(missing(msg_id)),
                    (None, _) => None,
                };
                Ok(Claimed {
                    id: r.try_get(0)?,
                    command: r.try_get(1)?,
                    platform: r.try_get(2)?,
                    body: r.try_get(3)?,
                    attempts: r.try_get(4)?,
                    client_ip: r.try_get(5)?,
                    operator: r.try_get(6)?,
                    message,
                })
            })
            .collect::<Result<Vec<_>, postgres::Error>>()
            .map_err(pe)?
            .into_iter()
            .map(|c| c.into_due(Backend::Postgres))
            .collect::<Vec<_>>();
        v.sort_by_key(|d| d.id);
        Ok(v)
    }

    fn finish(&mut self, f: &Finish) -> Result<Finishing, StoreError> {
        let ids: Vec<i64> = f.retry.iter().map(|r| r.0).collect();
        let attempts: Vec<i64> = f.retry.iter().map(|r| r.1).collect();
        let next: Vec<i64> = f.retry.iter().map(|r| r.2).collect();
        let mut tx = self.client.transaction().map_err(pe)?;
        if !f.done.is_empty() {
            tx.execute("DELETE FROM webhook_outbox WHERE id = ANY($1)", &[&f.done])
                .map_err(pe)?;
        }
        if !ids.is_empty() {
            tx.execute(
                "UPDATE webhook_outbox o SET attempts = r.attempts, next_attempt_ms = r.next
                 FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[]) AS r(id, attempts, next)
                 WHERE o.id = r.id",
                &[&ids, &attempts, &next],
            )
            .map_err(pe)?;
        }
        tx.commit().map_err(pe)?;
        Ok(Finishing::Committed)
    }

    fn count(&mut self) -> Result<u64, StoreError> {
        let n: i64 = self
            .client
            .query_one("SELECT COUNT(*) FROM webhook_outbox", &[])
            .and_then(|r| r.try_get(0))
            .map_err(pe)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn recount_every(&self) -> Duration {
        // Other nodes add and deliver too.
        Duration::from_secs(1)
    }
}

/// A record's values as [`INSERT_SQLITE`] and [`INSERT_PG`] take them: `command, platform,
/// body, client_ip, msg_id, operator`. A reference (no body of its own) has an empty body, its
/// msgID and the admin of a REST send; a record that keeps its body has no msgID.
#[allow(clippy::type_complexity)]
pub fn insert_args<'a>(
    cb: &'a CallbackRecord,
    client_ip: &'a str,
) -> (
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
) {
    match &cb.body {
        Some(body) => (cb.command, cb.platform, body, client_ip, None, None),
        None => (
            cb.command,
            cb.platform,
            "",
            client_ip,
            Some(cb.msg_id.as_str()),
            cb.admin.as_deref(),
        ),
    }
}
