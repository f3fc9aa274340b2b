//! SQLite implementation of [`im_revoke_core::Store`], the embedded default.
//!
//! **Where a revoke is written:** the hub (`im_revoke_core`) stores the revoked message whole
//! with its `revoke` column set, through [`SqliteStore::put_message`] (an upsert of its
//! `messages` row, SQL in `store/rows.rs`: `Sql::upsert_message`), and tells the people
//! concerned through [`SqliteStore::append_event_at`] (one `events_recent` row per user). Both
//! land in the batch's transaction, made durable by [`SqliteStore::commit`].
//!
//! Durability: WAL journal with `synchronous=FULL`, so a `COMMIT` that returned has reached the
//! disk before the hub releases any acknowledgement. One transaction is open between commits: the
//! first read or write of a batch runs `BEGIN IMMEDIATE`, every later call of the batch sees its
//! writes, and [`Store::commit`] runs `COMMIT` (group commit: one fsync for many frames).
//!
//! The schema is plain SQL (no SQLite-only types or triggers) so that a PostgreSQL store can
//! follow behind the same trait with the same tables:
//!
//! - `messages`: one row per message, unique `(conv, seq)`; content and revoke state as JSON;
//! - `events` and `events_recent`: every user's event log, contiguous from 1 (see below); the
//!   view `event_log` shows both as one table `(user_id, seq, kind, target)`;
//! - `groups`: one row per group, the whole group as JSON (owner, admins, members, and what
//!   the hub keeps for idempotent retries);
//! - `conversations`: each user's place in each conversation (read position; for a group they
//!   left, the last seq they may see). Unread counts are derived from `messages` when listing.
//! - `webhook_outbox`: webhooks waiting for delivery (`store/webhooks.rs`), written in the
//!   batch's transaction, most as a reference to their message (its body is built when it is
//!   delivered). Added to older databases when they open; schema 5 marks the references.
//!
//! ## The event log: recent events in arrival order, moved to per-user order in bulk
//!
//! A user's log is read by user (`sync`), so it is kept in a B-tree ordered by `(user_id, seq)`
//! (`events`, `WITHOUT ROWID`). Appending there costs one page per user: a fan-out to a group
//! of 10,000 members dirtied ~10,000 pages (tens of MB of WAL per event). New events are
//! therefore appended to `events_recent`, a table in arrival order (a fan-out fills a few dozen
//! pages), in the same transaction as everything else, so they are as durable as before. The
//! store keeps an index of them in memory (rebuilt from the table when it opens), and moves
//! them to `events` in bulk, user by user (each user's page is written once for all its recent
//! events), a bounded number of events per step: when the hub is idle ([`Store::maintain`])
//! once [`RECENT_SOFT`] events are waiting, and inside commits once [`RECENT_HARD`] are. For
//! every user, the events in `events_recent` (in memory) follow those in `events`. That index
//! and the moves are in `store/sqlite/recent.rs`.
//!
//! A fan-out of at least [`PACK_FROM`] recipients (a group send, revoke or change) is one row of
//! `events_recent` whose `fanout` column lists its recipients and their seqs
//! ([`Store::append_events_at`]): a send to a 6,000-member group is one statement writing a few
//! dozen pages instead of 6,000 rows, so the requests of other users queued behind it wait a
//! few milliseconds, not tens (issue 20). It is indexed and moved per recipient like any other.
//!
//! Why one file of ~840 lines: it is one `impl Store for SqliteStore`, one short method per
//! trait method, next to the connection's set-up; the SQL text and row helpers shared with
//! PostgreSQL are in `store/rows.rs`, the event index in `store/sqlite/recent.rs`, the schema
//! and its migrations in `store/sqlite/schema.rs`.

mod recent;
mod schema;
use schema::{EVENT_LOG_VIEW, SCHEMA};

use super::rows::{
    bound, conversation_values, history_args, to_i64, to_json, Backend, MessageRow, MessageValues,
    Sql,
};
use super::uploads;
use super::webhooks::{self, CallbackOrigin, WebhookGauge};
use im_revoke_core::model::{ConvId, Group, Message};
use im_revoke_core::store::{
    ConvMember, ConvSummary, EventKind, EventRecord, Store, StoreError, UploadFacts,
};
use im_revoke_core::CallbackRecord;
use recent::Recent;
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the hub's connection finishes a checkpoint itself, so that the WAL starts over
/// (see [`SqliteStore::commit`]).
const RESTART_EVERY: Duration = Duration::from_millis(200);

/// How often the background thread checkpoints the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Bytes of WAL written (zeros) when a file database opens, unless the WAL is that long
/// already. SQLite keeps its WAL file and writes it from the start again after each full
/// checkpoint, so past its high-water mark a commit only overwrites blocks; below it, each commit
/// that extends the file also makes its sync allocate blocks and write the inode (9 % of the
/// commits of the loadgen `latency` scenario on a fresh database, 0.2 ms more each). Real zeros,
/// not a hole or `fallocate`: ext4 would still allocate or convert the extents at the first write.
const WAL_PRESIZE: u64 = 4 << 20;

/// Recent events waiting before the idle hub starts moving them to `events`.
pub const RECENT_SOFT: usize = 128 * 1024;
/// Recent events waiting before every commit moves some (the hub never idles).
pub const RECENT_HARD: usize = 512 * 1024;
/// Recent events one idle step moves (or rows of `events_recent` it deletes once they are). A
/// request that arrives during a step waits for it and its commit: small steps keep that wait
/// short (issue 20: 4,096 made other users' sends wait ~10 ms after a flood of group sends).
const STEP_IDLE: usize = 1024;
/// Recent events a commit over [`RECENT_HARD`] moves (or rows it deletes).
const STEP_FORCED: usize = 8192;

/// The page cache of the hub's connection, KiB.
const CACHE_KIB: i64 = 64 * 1024;

/// Schema version stored in `PRAGMA user_version`. 5: `events_recent.fanout` (one row for a
/// whole fan-out), and webhook outbox rows that refer to their message (which an earlier
/// server would deliver with an empty body); an older server refuses the database rather than
/// misread those rows.
const SCHEMA_VERSION: i64 = 5;

/// A fan-out to at least this many recipients is written as one `events_recent` row (its
/// `fanout` column lists them); smaller ones as one row per recipient.
pub const PACK_FROM: usize = 16;

/// The hub's store on SQLite. Not `Sync`: one thread (the hub actor) owns it.
pub struct SqliteStore {
    conn: Connection,
    in_tx: bool,
    /// Events of `events_recent` not in `events` yet.
    recent: Recent,
    /// [`RECENT_SOFT`] and [`RECENT_HARD`] (tests lower them).
    recent_limits: (usize, usize),
    /// Checkpoints the WAL off the hub thread (file databases only).
    _checkpointer: Option<Checkpointer>,
    /// File databases: when the hub's connection last finished a checkpoint itself (or found
    /// that the checkpoint thread had).
    restarted: Option<Instant>,
    /// The checkpoint thread's `caught_up` count when the hub last looked.
    caught_up_seen: u64,
    /// Checkpoints the hub's connection ran itself (tests, diagnostics).
    hub_checkpoints: u64,
    /// The last commit found the hub's own checkpoint due: [`SqliteStore::checkpoint_if_due`]
    /// runs it once the batch's frames are handed out.
    checkpoint_due: bool,
    /// The bound of the webhook outbox, when webhooks are on.
    webhooks: Option<Arc<WebhookGauge>>,
    /// `ClientIP` of the webhooks written next ([`CallbackOrigin`]).
    client_ip: Option<std::net::IpAddr>,
}

/// A thread with its own connection that copies the WAL into the database file every
/// [`CHECKPOINT_EVERY`] (`PRAGMA wal_checkpoint(PASSIVE)`: it never blocks the writer). SQLite's
/// automatic checkpoint would otherwise run inside the hub thread's commits, stalling every
/// batch behind it. Durability is unchanged: a commit is durable once its WAL frames are synced.
struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// How many rounds found the WAL wholly copied (nothing left for the hub to finish).
    caught_up: Arc<AtomicU64>,
}

impl Checkpointer {
    fn start(path: &Path) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(path).map_err(db)?;
        conn.pragma_update(None, "busy_timeout", 1000).map_err(db)?;
        let stop = Arc::new(AtomicBool::new(false));
        let caught_up = Arc::new(AtomicU64::new(0));
        let (flag, caught) = (stop.clone(), caught_up.clone());
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(CHECKPOINT_EVERY);
                    // Busy or locked is fine: the next round catches up.
                    let r = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, i64>(2)?,
                        ))
                    });
                    // (not busy, frames in the WAL, frames copied): all copied, so the hub's
                    // next transaction starts the WAL over by itself.
                    if matches!(r, Ok((0, log, done)) if log == done) {
                        caught.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
            .map_err(|e| StoreError(format!("sqlite: checkpoint thread: {e}")))?;
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
            caught_up,
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.conn.path())
            .field("in_tx", &self.in_tx)
            .field("recent_events", &self.recent.count)
            .finish()
    }
}

/// A revoked message's attachments, in the revoke's own transaction: the URLs answer 410 from
/// its commit on, and the deletion of the bytes is scheduled durably (upload.rs sweeps).
fn revoked_attachments(conn: &Connection, msg: &Message) -> Result<(), StoreError> {
    let attached = msg
        .elem
        .as_ref()
        .is_some_and(|e| !e.attachment_keys().is_empty());
    if msg.revoke.is_some() && attached {
        conn.prepare_cached(uploads::SCHEDULE_REVOKED)
            .and_then(|mut st| st.execute(params![msg.msg_id]))
            .map_err(db)?;
        conn.prepare_cached(uploads::MARK_REVOKED)
            .and_then(|mut st| st.execute(params![msg.msg_id]))
            .map_err(db)?;
    }
    Ok(())
}

fn db(e: rusqlite::Error) -> StoreError {
    StoreError(format!("sqlite: {e}"))
}

const BACKEND: Backend = Backend::Sqlite;

/// The shared statements, with SQLite's placeholders.
static SQL: LazyLock<Sql> = LazyLock::new(|| Sql::new(BACKEND));

/// Reads a `messages` row (columns in [`MESSAGE_COLUMNS`] order).
fn read_message_row(row: &Row<'_>) -> rusqlite::Result<MessageRow> {
    Ok(MessageRow {
        msg_id: row.get(0)?,
        sender: row.get(1)?,
        receiver: row.get(2)?,
        group_id: row.get(3)?,
        time_ms: row.get(4)?,
        seq: row.get(5)?,
        elem: row.get(6)?,
        revoke: row.get(7)?,
        reply_to: row.get(8)?,
        cloud_custom_data: row.get(9)?,
    })
}

/// Runs a statement without parameters through the statement cache: `BEGIN IMMEDIATE` and
/// `COMMIT` of every batch were parsed anew by `execute_batch` (4.5 % of the hub thread's time
/// for a lone revoke).
fn run_cached(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut st| st.execute([]))
        .map(drop)
        .map_err(db)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, in WAL mode with `synchronous=FULL`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path).map_err(db)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(db)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError(format!(
                "sqlite: could not switch {} to WAL (journal_mode={mode})",
                path.display()
            )));
        }
        // Checkpoints run on a thread of their own (see `Checkpointer`), not in commits.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(db)?;
        let mut store = Self::init(conn)?;
        // (After `init`: its statements made SQLite create the WAL file.)
        if let Err(e) = presize_wal(path) {
            tracing::debug!(error = %e, "WAL not pre-sized");
        }
        store._checkpointer = Some(Checkpointer::start(path)?);
        store.restarted = Some(Instant::now());
        Ok(store)
    }

    /// An in-memory database (tests). Same schema and transaction discipline, no durability.
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        Self::init(Connection::open_in_memory().map_err(db)?)
    }

    fn init(conn: Connection) -> Result<SqliteStore, StoreError> {
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        conn.pragma_update(None, "busy_timeout", 5000).map_err(db)?;
        // Room for the pages a busy server reads again and again (messages being revoked, the
        // heads of the logs): SQLite's default is 2 MB. Pages are allocated as they are used.
        conn.pragma_update(None, "cache_size", -CACHE_KIB)
            .map_err(db)?;
        conn.set_prepared_statement_cache_capacity(64);
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError(format!(
                "sqlite: database schema version {version} is newer than this server ({SCHEMA_VERSION})"
            )));
        }
        conn.execute_batch(SCHEMA).map_err(db)?;
        conn.execute_batch(super::uploads::schema()).map_err(db)?;
        conn.execute_batch(&webhooks::sqlite_table()).map_err(db)?;
        webhooks::sqlite_migrate(&conn).map_err(db)?;
        // (The view after the migration below: a view on `events` would stop its rebuild.)
        let mut store = SqliteStore {
            conn,
            in_tx: false,
            recent: Recent::default(),
            recent_limits: (RECENT_SOFT, RECENT_HARD),
            _checkpointer: None,
            restarted: None,
            caught_up_seen: 0,
            hub_checkpoints: 0,
            checkpoint_due: false,
            webhooks: None,
            client_ip: None,
        };
        if version == 1 {
            store.index_members_of_existing_groups()?;
        }
        store.events_without_rowid()?;
        store.fanout_column()?;
        if (1..4).contains(&version) {
            store.conversations_of_existing_messages()?;
        }
        store.conn.execute_batch(EVENT_LOG_VIEW).map_err(db)?;
        store.load_recent()?;
        store
            .conn
            .pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(db)?;
        Ok(store)
    }

    /// The last seq of `user`'s log: its last recent event, else its last one in `events`
    /// (remembered: only this store's moves change it).
    fn head(&mut self, user: &str) -> Result<u64, StoreError> {
        if let Some(h) = self.recent.head(user) {
            return Ok(h);
        }
        if let Some(h) = self.recent.cold_head(user) {
            return Ok(h);
        }
        let h = self.cold_head(user)?;
        self.recent.set_cold_head(user, h);
        Ok(h)
    }

    /// Indexes event `seq` of `user` as recent if it follows the user's head (the caller writes
    /// its row).
    fn index_next(
        &mut self,
        user: &str,
        seq: u64,
        kind: EventKind,
        target: &str,
    ) -> Result<(), StoreError> {
        if self.recent.push_next(user, seq, kind, target) {
            return Ok(());
        }
        self.check_follows(user, seq)?;
        self.recent.push(user, seq, kind, target);
        Ok(())
    }

    /// The log stays contiguous: `seq` must follow `user`'s head (free to check when the user
    /// has recent events or was written since the store opened).
    fn check_follows(&mut self, user: &str, seq: u64) -> Result<(), StoreError> {
        let head = self.head(user)?;
        if seq != head + 1 {
            return Err(StoreError(format!(
                "sqlite: event log of {user}: seq {seq} does not follow the head {head}"
            )));
        }
        Ok(())
    }

    /// Writes a fan-out row of `events_recent`; returns its id.
    fn insert_fanout(
        &mut self,
        entries: &[(&str, u64)],
        kind: EventKind,
        target: &str,
    ) -> Result<i64, StoreError> {
        let list = serde_json::to_string(entries)
            .map_err(|e| StoreError(format!("sqlite: fan-out list: {e}")))?;
        let conn = self.begin()?;
        conn.prepare_cached(
            "INSERT INTO events_recent (user_id, seq, kind, target, fanout)
             VALUES ('', ?1, ?2, ?3, ?4)",
        )
        .map_err(db)?
        .execute(params![bound(entries.len()), kind.as_u8(), target, list])
        .map_err(db)?;
        Ok(conn.last_insert_rowid())
    }

    /// The last seq of `user` in `events`, read from the table.
    fn cold_head(&mut self, user: &str) -> Result<u64, StoreError> {
        let conn = self.begin()?;
        let mut st = conn
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events WHERE user_id = ?1")
            .map_err(db)?;
        let head: i64 = st.query_row(params![user], |r| r.get(0)).map_err(db)?;
        BACKEND.read_u64(head)
    }

    /// Up to `limit` events of `user` in `events` with seq > `after`.
    fn cold_events_after(
        &mut self,
        user: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let conn = self.begin()?;
        let mut st = conn.prepare_cached(&SQL.events_after).map_err(db)?;
        let rows = st
            .query_map(params![user, bound(after), bound(limit)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(db)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db)?;
        rows.into_iter()
            .map(|(seq, kind, target)| BACKEND.event(seq, kind, target))
            .collect()
    }

    /// Bounds the webhook outbox with `gauge` (the deliverer keeps its count).
    pub fn set_webhook_gauge(&mut self, gauge: Arc<WebhookGauge>) {
        self.webhooks = Some(gauge);
    }

    /// Checkpoints the hub's own connection ran (the checkpoint thread's are not counted).
    pub fn hub_checkpoints(&self) -> u64 {
        self.hub_checkpoints
    }

    /// Events waiting in `events_recent` (tests, diagnostics).
    pub fn recent_events(&self) -> usize {
        self.recent.count
    }

    /// Replaces [`RECENT_SOFT`] and [`RECENT_HARD`] (tests: to exercise the moves with few
    /// events).
    pub fn set_recent_limits(&mut self, soft: usize, hard: usize) {
        self.recent_limits = (soft, hard);
    }

    /// Rewrites the membership rows of `group`.
    fn index_members(&mut self, group: &Group) -> Result<(), StoreError> {
        let conn = self.begin()?;
        conn.prepare_cached(&SQL.delete_members)
            .map_err(db)?
            .execute(params![group.group_id])
            .map_err(db)?;
        let mut st = conn
            .prepare_cached("INSERT INTO group_members (user_id, group_id) VALUES (?1, ?2)")
            .map_err(db)?;
        for m in &group.members {
            st.execute(params![m, group.group_id]).map_err(db)?;
        }
        Ok(())
    }

    /// Opens the batch's transaction if it is not open yet.
    fn begin(&mut self) -> Result<&Connection, StoreError> {
        if !self.in_tx {
            run_cached(&self.conn, "BEGIN IMMEDIATE")?;
            self.in_tx = true;
        }
        Ok(&self.conn)
    }

    /// Whether a batch's transaction is open (tests).
    pub fn in_transaction(&self) -> bool {
        self.in_tx
    }

    fn query_conversations(
        &mut self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<ConvMember>, StoreError> {
        let conn = self.begin()?;
        let mut st = conn.prepare_cached(sql).map_err(db)?;
        let rows = st
            .query_map(params, |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .map_err(db)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db)?;
        rows.into_iter()
            .map(|(c, r, u, s)| BACKEND.conversation(&c, r, u, s))
            .collect()
    }

    fn query_messages(
        &mut self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<Message>, StoreError> {
        let conn = self.begin()?;
        let mut st = conn.prepare_cached(sql).map_err(db)?;
        let rows = st
            .query_map(params, read_message_row)
            .map_err(db)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db)?;
        rows.into_iter().map(|r| r.into_message(BACKEND)).collect()
    }
}

impl Store for SqliteStore {
    fn message(&mut self, msg_id: &str) -> Result<Option<Message>, StoreError> {
        Ok(self.query_messages(&SQL.message, params![msg_id])?.pop())
    }

    /// Writes a message whole (insert, or replace the row with its msgID). This is the SQLite
    /// write of a revoke: the hub stores the revoked message with its `revoke` column set.
    fn put_message(&mut self, msg: &Message) -> Result<(), StoreError> {
        let v = MessageValues::new(msg)?;
        let conn = self.begin()?;
        let mut st = conn.prepare_cached(&SQL.upsert_message).map_err(db)?;
        st.execute(params![
            msg.msg_id,
            v.conv,
            v.seq,
            msg.sender,
            msg.receiver,
            msg.group_id,
            v.time_ms,
            v.elem,
            v.revoke,
            v.reply_to,
            v.cloud_custom_data
        ])
        .map_err(db)?;
        revoked_attachments(conn, msg)
    }

    fn update_message(&mut self, msg: &Message) -> Result<(), StoreError> {
        let v = MessageValues::new(msg)?;
        let conn = self.begin()?;
        let n = conn
            .prepare_cached(&SQL.update_message)
            .and_then(|mut st| {
                st.execute(params![
                    msg.msg_id,
                    v.elem,
                    v.revoke,
                    v.reply_to,
                    v.cloud_custom_data
                ])
            })
            .map_err(db)?;
        if n == 0 {
            // Not there after all (the contract says it is): stored whole, nothing lost.
            return self.put_message(msg);
        }
        revoked_attachments(conn, msg)
    }

    fn claim_attachments(
        &mut self,
        sender: &str,
        msg_id: &str,
        keys: &[String],
    ) -> Result<Option<Vec<UploadFacts>>, StoreError> {
        let conn = self.begin()?;
        let mut facts = Vec::with_capacity(keys.len());
        for k in keys {
            let row: Option<(i64, Option<i64>, Option<i64>)> = conn
                .query_row(uploads::CLAIMABLE, params![k, sender], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
                .map_err(db)?;
            let Some(row) = row else {
                return Ok(None);
            };
            facts.push(uploads::facts(row));
        }
        for k in keys {
            conn.execute(uploads::CLAIM, params![msg_id, k])
                .map_err(db)?;
        }
        Ok(Some(facts))
    }

    fn history(
        &mut self,
        conv: &ConvId,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        let (key, before, limit) = history_args(conv, before_seq, limit);
        self.query_messages(&SQL.history, params![key, before, limit])
    }

    fn conv_head(&mut self, conv: &ConvId) -> Result<u64, StoreError> {
        let conn = self.begin()?;
        let mut st = conn
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM messages WHERE conv = ?1")
            .map_err(db)?;
        let head: i64 = st
            .query_row(params![conv.key()], |r| r.get(0))
            .map_err(db)?;
        BACKEND.read_u64(head)
    }

    fn append_event(
        &mut self,
        user: &str,
        kind: EventKind,
        target: &str,
    ) -> Result<u64, StoreError> {
        // One writer (the hub thread) owns the database, so nothing can come between.
        let seq = self.user_head(user)? + 1;
        self.append_event_at(user, seq, kind, target)?;
        Ok(seq)
    }

    fn append_event_at(
        &mut self,
        user: &str,
        seq: u64,
        kind: EventKind,
        target: &str,
    ) -> Result<(), StoreError> {
        self.check_follows(user, seq)?;
        let conn = self.begin()?;
        // Appended in arrival order: a fan-out fills a few pages, not one page per member.
        let mut st = conn
            .prepare_cached(
                "INSERT INTO events_recent (user_id, seq, kind, target) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(db)?;
        st.execute(params![user, to_i64(seq)?, kind.as_u8(), target])
            .map_err(db)?;
        drop(st);
        self.recent.last_id = self.conn.last_insert_rowid();
        self.recent.push(user, seq, kind, target);
        Ok(())
    }

    fn events_after(
        &mut self,
        user: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        // `events` first; the recent events of a user follow its last one there.
        let mut out = self.cold_events_after(user, after, limit)?;
        self.recent.extend_after(user, after, limit, &mut out);
        Ok(out)
    }

    fn append_events_at(
        &mut self,
        entries: &[(&str, u64)],
        kind: EventKind,
        target: &str,
    ) -> Result<(), StoreError> {
        if entries.len() < PACK_FROM {
            for (user, seq) in entries {
                self.append_event_at(user, *seq, kind, target)?;
            }
            return Ok(());
        }
        // Indexed first, each checked against its user's head as it goes (one lookup per
        // recipient: a user named twice follows itself); a seq that does not follow undoes the
        // entries indexed so far and nothing is written.
        for (i, (user, seq)) in entries.iter().enumerate() {
            if let Err(e) = self.index_next(user, *seq, kind, target) {
                for (user, _) in entries[..i].iter().rev() {
                    self.recent.pop(user);
                }
                return Err(e);
            }
        }
        // One row for the whole fan-out: a few pages, and one statement instead of one per
        // recipient. Same transaction as the rest of the batch, so just as durable.
        match self.insert_fanout(entries, kind, target) {
            Ok(id) => {
                self.recent.last_id = id;
                self.recent.packed(id, entries.len());
                Ok(())
            }
            Err(e) => {
                for (user, _) in entries.iter().rev() {
                    self.recent.pop(user);
                }
                Err(e)
            }
        }
    }

    fn user_head(&mut self, user: &str) -> Result<u64, StoreError> {
        self.head(user)
    }

    fn maintain(&mut self) -> Result<bool, StoreError> {
        let soft = self.recent_limits.0;
        if self.recent.moving.is_none() && self.recent.count < soft {
            return Ok(false);
        }
        self.move_step(STEP_IDLE)?;
        Ok(self.recent.moving.is_some() || self.recent.count >= soft)
    }

    fn group(&mut self, group_id: &str) -> Result<Option<Group>, StoreError> {
        let conn = self.begin()?;
        let mut st = conn.prepare_cached(&SQL.group).map_err(db)?;
        let body: Option<String> = st
            .query_row(params![group_id], |r| r.get(0))
            .optional()
            .map_err(db)?;
        body.map(|b| BACKEND.group(&b)).transpose()
    }

    fn put_group(&mut self, group: &Group) -> Result<(), StoreError> {
        let body = to_json(group)?;
        let conn = self.begin()?;
        let mut st = conn.prepare_cached(&SQL.upsert_group).map_err(db)?;
        st.execute(params![group.group_id, body]).map_err(db)?;
        drop(st);
        self.index_members(group)
    }

    fn groups_of(&mut self, user: &str) -> Result<Vec<Group>, StoreError> {
        let conn = self.begin()?;
        let mut st = conn
            .prepare_cached(
                "SELECT g.body FROM group_members m JOIN groups g ON g.group_id = m.group_id
                 WHERE m.user_id = ?1 ORDER BY m.group_id",
            )
            .map_err(db)?;
        let bodies = st
            .query_map(params![user], |r| r.get::<_, String>(0))
            .map_err(db)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db)?;
        bodies.iter().map(|b| BACKEND.group(b)).collect()
    }

    fn conversations_of(&mut self, user: &str) -> Result<Vec<ConvMember>, StoreError> {
        self.query_conversations(&SQL.conversations_of, params![user])
    }

    fn conversation_summaries(&mut self, user: &str) -> Result<Vec<ConvSummary>, StoreError> {
        let conn = self.begin()?;
        let mut st = conn
            .prepare_cached(&SQL.conversation_summaries)
            .map_err(db)?;
        let rows = st
            .query_map(params![user], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })
            .map_err(db)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db)?;
        rows.into_iter()
            .map(|(c, r, u, s, upto, t, n)| BACKEND.summary(&c, r, u, s, upto, t, n))
            .collect()
    }

    fn conversation_of(
        &mut self,
        user: &str,
        conv: &ConvId,
    ) -> Result<Option<ConvMember>, StoreError> {
        Ok(self
            .query_conversations(&SQL.conversation_of, params![user, conv.key()])?
            .pop())
    }

    fn put_conversation(&mut self, user: &str, m: &ConvMember) -> Result<(), StoreError> {
        let (conv, read_seq, until_seq, since_ms) = conversation_values(m)?;
        let conn = self.begin()?;
        conn.prepare_cached(&SQL.upsert_conversation)
            .map_err(db)?
            .execute(params![user, conv, read_seq, until_seq, since_ms])
            .map_err(db)?;
        Ok(())
    }

    fn enqueue_callback(&mut self, cb: &CallbackRecord) -> Result<(), StoreError> {
        if self.webhooks.as_ref().is_some_and(|g| !g.admit()) {
            return Ok(());
        }
        let ip = webhooks::client_ip_text(self.client_ip);
        let (command, platform, body, ip, msg_id, operator) = webhooks::insert_args(cb, &ip);
        self.begin()?
            .prepare_cached(webhooks::INSERT_SQLITE)
            .map_err(db)?
            .execute(params![command, platform, body, ip, msg_id, operator])
            .map_err(db)?;
        Ok(())
    }

    fn unread_count(
        &mut self,
        conv: &ConvId,
        reader: &str,
        after: u64,
        upto: u64,
    ) -> Result<u64, StoreError> {
        let conn = self.begin()?;
        let mut st = conn.prepare_cached(&SQL.unread_count).map_err(db)?;
        let n: i64 = st
            .query_row(
                params![conv.key(), bound(after), bound(upto), reader],
                |r| r.get(0),
            )
            .map_err(db)?;
        BACKEND.read_u64(n)
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        if !self.in_tx {
            return Ok(());
        }
        if self.recent.count >= self.recent_limits.1 {
            // The hub is never idle: move some with this batch, so memory stays bounded.
            self.move_step(STEP_FORCED)?;
        }
        self.in_tx = false;
        if let Err(e) = run_cached(&self.conn, "COMMIT") {
            // Leave the connection usable for inspection; the host stops anyway (fail-stop).
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(e);
        }
        if self.checkpoint_due {
            // Nobody ran the last one after its batch (a caller other than the hub thread).
            self.checkpoint_if_due();
        }
        self.checkpoint_due = self.restart_due();
        Ok(())
    }
}

impl SqliteStore {
    /// Whether the hub's connection should finish a checkpoint itself now.
    fn restart_due(&mut self) -> bool {
        if self.restarted.is_none_or(|t| t.elapsed() < RESTART_EVERY) {
            return false;
        }
        // The checkpoint thread lags behind a busy hub, so the WAL never empties and SQLite
        // never starts it over: it would grow without end (GBs in a minute of load), each new
        // block zeroed by the file system. Finishing the checkpoint with no commit in between
        // lets the next transaction write the WAL from its start again. Little is left to copy
        // (the thread did most of it); busy is fine (next time). Not when the thread has caught
        // up since the last look (a hub that is not busy): the WAL starts over by itself then,
        // and this checkpoint would only make the requests behind it wait for a sync of the
        // database file (issue 20).
        let caught = self
            ._checkpointer
            .as_ref()
            .map(|c| c.caught_up.load(Ordering::Relaxed));
        if let Some(c) = caught.filter(|c| *c != self.caught_up_seen) {
            self.caught_up_seen = c;
            self.restarted = Some(Instant::now());
            return false;
        }
        true
    }

    /// Runs the checkpoint the last commit found due ([`SqliteStore::restart_due`]), if any.
    /// The hub thread calls it after handing out the batch's frames (`engine::AfterDelivery`):
    /// in the commit, the checkpoint's sync of the database file delayed the answers and
    /// events of the batch that happened to be the first after [`RESTART_EVERY`]. A later
    /// commit runs it itself if nobody did.
    pub fn checkpoint_if_due(&mut self) {
        if !std::mem::take(&mut self.checkpoint_due) || self.in_tx {
            return;
        }
        let _ = self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        self.hub_checkpoints += 1;
        self.restarted = Some(Instant::now());
    }
}

/// Writes zeros past the end of the WAL of the database at `path` up to [`WAL_PRESIZE`] and
/// syncs them. Frames are only ever read up to the last valid one, so zeros after them are
/// ignored (a zero header is an empty WAL).
fn presize_wal(path: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let mut f = std::fs::OpenOptions::new().append(true).open(&wal)?;
    let len = f.metadata()?.len();
    if len >= WAL_PRESIZE {
        return Ok(());
    }
    let zeros = vec![0u8; usize::try_from(WAL_PRESIZE - len).unwrap_or(0)];
    f.write_all(&zeros)?;
    f.sync_data()
}

impl CallbackOrigin for SqliteStore {
    fn set_client_ip(&mut self, ip: Option<std::net::IpAddr>) {
        self.client_ip = ip;
    }

    fn finish_webhooks(&mut self, f: &webhooks::Finish) -> Result<(), StoreError> {
        webhooks::sqlite_finish(self.begin()?, f).map_err(db)
    }
}
