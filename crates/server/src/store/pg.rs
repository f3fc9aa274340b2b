//! PostgreSQL implementation of [`im_revoke_core::Store`], for several server nodes sharing one
//! database (`--db postgres://…`). A revoke is written by [`PgStore::update_message`] (the
//! message row with its `revoke` column set, locked first by [`PgStore::message_for_update`]).
//!
//! PostgreSQL is the source of truth; every node is stateless apart from its connections. The
//! rules stay in the core's hub ([`im_revoke_core::Hub::shared`]); what this store adds is what
//! several concurrent writers need:
//!
//! - **Sequences under row locks.** A user's next event seq comes from the user's row in
//!   `user_heads`: locked without waiting when it exists and no other writer holds it (`FOR
//!   UPDATE SKIP LOCKED`), else taken by an upsert (`head = head + 1 … RETURNING head`), which
//!   waits; a conversation's next message seq by the same upsert on `conv_heads`. The row stays
//!   locked until the commit, so a second node waits, then takes the next number: no
//!   duplicates, no gaps (a rolled-back request gives its number back), and a user's events
//!   become visible in seq order.
//! - **Locks on what a request changes.** `message_for_update` locks without waiting (`SKIP
//!   LOCKED`): a message another writer holds is a conflict at once, and the retry of that
//!   request waits for it (`FOR UPDATE`); `group_for_update` reads with `FOR UPDATE`; an insert
//!   of a msgID or groupID that was absent when read uses `ON CONFLICT DO NOTHING`, and finding
//!   it taken meanwhile is a conflict.
//! - **Conflicts are retried, not fatal.** Deadlocks (40P01), lock timeouts (55P03),
//!   serialization failures (40001) and unique violations (23505) become
//!   [`StoreError::conflict`]s. A request runs under a savepoint from its first statement that
//!   may fail so (one that writes, or waits for a lock), so the hub undoes that request alone,
//!   commits the ones before it and runs it again. A first attempt waits at most
//!   [`FIRST_LOCK_WAIT`] for a log head or a conversation's seq row another writer holds or is
//!   creating (its retry, up to [`LOCK_TIMEOUT`]): nodes' batches that each hold a head the
//!   other wants let go in that time, not after PostgreSQL's deadlock detection (1 s). A
//!   transaction takes at most [`MAX_SAVEPOINTS`] of them and is then committed early (always
//!   safe: frames are released only after the hub's commit), which keeps PostgreSQL's
//!   per-backend subtransaction cache from overflowing. A revoke of an existing message by a
//!   user with a log needs none: its statements do not wait for row locks. (They may still wait
//!   for a table lock, an `ALTER TABLE` of a schema upgrade: one failing there fails the batch,
//!   fail-stop, nothing acknowledged lost.)
//! - **Deferred writes, few round trips.** The change to a message the transaction holds locked
//!   (a revoke) and the events appended to logs whose head row it holds wait in memory
//!   (`Deferred`) and go at the commit as one statement per table; a read that must see them
//!   sends them first. `BEGIN` and a savepoint go in the round trip of the next statement, and
//!   the deferred writes, the NOTIFY and `COMMIT` in one (the connection is tokio-postgres,
//!   which pipelines: `Conn`). A revoke costs one round trip (the message's lock), plus one
//!   for the heads of users not yet locked in the transaction.
//! - **Locks sent ahead.** Before a batch the hub names its revoked messages
//!   ([`Store::lock_ahead`]); their locks go out at once, 32 msgIDs to a
//!   statement (`… WHERE msg_id = ANY($1) FOR UPDATE SKIP LOCKED`), and PostgreSQL takes them
//!   while the hub handles the requests before them. Only a row found locked by this
//!   transaction and not written since is taken from them; anything else (absent, held by
//!   another writer) is asked again in its turn, so every read is answered as without them.
//!   When a statement's rows come back, the heads of their one-to-one parties' logs are
//!   locked ahead the same way (`lock_heads`, not waited for), so the revokes' events are
//!   deferred with no statement of their own.
//! - **Group commit, durable.** One transaction per batch of the hub, as on SQLite; `COMMIT`
//!   returns after the WAL is flushed (`synchronous_commit` on, the default).
//! - **The wake-up signal.** Before `COMMIT` the store calls `pg_notify` on [`CHANNEL`] with the
//!   userIDs whose logs grew in the transaction (format: `store/notify.rs`); PostgreSQL delivers
//!   it to the listening nodes at the commit, never before, and never for a transaction that
//!   rolled back. The LISTEN side is `crate::wakeup`; it resyncs every online user after a
//!   reconnect.
//!
//! Files: this one is the `impl Store for PgStore` (one short method per trait method) and the
//! transaction's bookkeeping; `pg/conn.rs` the pipelined connection and its prepared statements,
//! `pg/deferred.rs` the deferred writes and how they are sent, `pg/ahead.rs` the locks sent
//! ahead, `pg/schema.rs` the schema; the SQL shared with SQLite is in `store/rows.rs`, the
//! LISTEN side in `crate::wakeup`.

use super::notify::{self, CHANNEL};
use super::rows::{
    bound, conversation_values, history_args, to_json, Backend, MessageRow, MessageValues, Sql,
};
use super::uploads;
use im_revoke_core::model::{ConvId, Group, Message};
use im_revoke_core::store::{
    ConvMember, ConvSummary, EventKind, EventRecord, Store, StoreError, UploadFacts,
};
use postgres::types::ToSql;
use postgres::{Config, NoTls, Row, Statement};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;
use tokio_postgres::ToStatement;

mod ahead;
mod conn;
mod deferred;
mod schema;

pub(crate) use conn::pg_error;
use conn::{in_order, Ahead, Conn, Sent, Statements};
use deferred::{Deferred, DeferredArgs};

/// Schema version stored in `imr_meta` (3: webhook outbox rows may refer to their message,
/// which an earlier server would deliver with an empty body).
const SCHEMA_VERSION: i64 = 3;

/// Most savepoints (writing requests) in one transaction before it is committed early.
pub const MAX_SAVEPOINTS: u32 = 32;

// The two lock waits as literals, for the `SET` statements below.
macro_rules! lock_timeout {
    () => {
        "5s"
    };
}
macro_rules! first_lock_wait {
    () => {
        "50ms"
    };
}

/// How long a statement may wait for a row lock before the request is retried (a guard against
/// a stuck peer; deadlocks are found by PostgreSQL after its `deadlock_timeout`, 1 s by default).
pub const LOCK_TIMEOUT: &str = lock_timeout!();

/// How long a request's first attempt waits for a log head another writer holds or is creating
/// before the request is a conflict: undone alone, the requests before it committed (their
/// locks released), and run again, waiting up to [`LOCK_TIMEOUT`]. A batch takes heads request
/// by request (sorted within one statement, not across requests), so two nodes' batches can
/// each hold a head the other wants: they now let go within this time, instead of PostgreSQL's
/// `deadlock_timeout` (1 s, both batches standing still meanwhile).
pub const FIRST_LOCK_WAIT: &str = first_lock_wait!();

/// The statements around such a wait (`SET LOCAL`: undone with the request's savepoint, and at
/// the transaction's end in any case).
const SET_FIRST_LOCK_WAIT: &str = concat!("SET LOCAL lock_timeout = '", first_lock_wait!(), "'");
const SET_LOCK_TIMEOUT: &str = concat!("SET LOCAL lock_timeout = '", lock_timeout!(), "'");

/// msgIDs per statement of the locks sent ahead of a batch's revokes ([`Store::lock_ahead`]):
/// one statement's cost shared by many rows, while the hub handles the first chunk's requests
/// as PostgreSQL locks the next.
const LOCK_AHEAD_CHUNK: usize = 32;

/// Key of the advisory lock that serialises schema creation between nodes starting together.
const SCHEMA_LOCK: i64 = 0x696d_7276_6b31; // "imrvk1"

/// Where the current request stands with its savepoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Savepoint {
    /// Between requests (or a store used without requests, as the contract test does).
    None,
    /// A request began; the savepoint is set before its first write or lock.
    Pending,
    /// Set: the request's writes can be undone.
    Set,
}

/// The hub's store on PostgreSQL. One connection, owned by the hub thread.
pub struct PgStore {
    conn: Conn,
    st: Statements,
    in_tx: bool,
    savepoint: Savepoint,
    savepoints: u32,
    /// A statement failed and the transaction is aborted (until the request is undone).
    failed: bool,
    /// msgIDs and groupIDs read "for update" and found absent in this request: storing them
    /// must insert, not overwrite.
    absent_messages: HashSet<String>,
    absent_groups: HashSet<String>,
    /// Users whose logs grew in this transaction (the NOTIFY payload).
    touched: BTreeSet<String>,
    /// The current request (counted by [`Store::begin_request`]).
    request: u64,
    /// Writes waiting for the commit.
    deferred: Deferred,
    /// Deferred writes of earlier requests sent while the current request's savepoint was set:
    /// undoing the request undoes them too, so they are deferred again.
    replay: Deferred,
    /// The head of each log whose row this transaction holds locked: appending to it again
    /// needs no statement (the event is deferred).
    heads: HashMap<String, i64>,
    /// What the current request changed in `heads` (user, value before), to undo it.
    journal: Vec<(String, Option<i64>)>,
    /// msgIDs read "for update" and found in this transaction (locked until the commit), with
    /// the request that locked them: a change to one of them can be deferred.
    locked: HashMap<String, u64>,
    /// The request met a conflict (a message locked by another writer, found without waiting,
    /// or a statement that failed as one): it is retried, and its retry waits for locks
    /// ([`PgStore::message_for_update`], [`FIRST_LOCK_WAIT`]).
    skipped: bool,
    /// The current request is a retry after a conflict: it waits for message locks, and for
    /// heads up to [`LOCK_TIMEOUT`] (a first attempt [`FIRST_LOCK_WAIT`]).
    wait: bool,
    /// The locks of the batch's revoked messages, sent ahead ([`Store::lock_ahead`]): the
    /// statements on their way (`messages_lock`, [`LOCK_AHEAD_CHUNK`] msgIDs each), each
    /// msgID's statement, and the rows answered so far, taken by `message_for_update`; the
    /// transaction's `BEGIN` with them when it began there. Dropped at the commit.
    ahead_sent: Vec<Option<Ahead<Vec<Row>>>>,
    ahead: HashMap<String, usize>,
    ahead_rows: HashMap<String, Row>,
    ahead_begin: Option<Ahead<()>>,
    /// The heads of the one-to-one parties of the messages locked ahead, locked ahead in turn
    /// (sent when a chunk's rows come back; `lock_heads`), and who they are: merged into
    /// `heads` before any append.
    heads_ahead: Vec<Ahead<Vec<Row>>>,
    heads_pending: HashSet<String>,
    backend_pid: i32,
    /// The bound of the webhook outbox, when webhooks are on.
    webhooks: Option<std::sync::Arc<super::webhooks::WebhookGauge>>,
    /// `ClientIP` of the webhooks written next ([`super::webhooks::CallbackOrigin`]).
    client_ip: Option<std::net::IpAddr>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("backend_pid", &self.backend_pid)
            .field("in_tx", &self.in_tx)
            .finish()
    }
}

const BACKEND: Backend = Backend::Postgres;

fn row_message(row: &Row) -> Result<Message, StoreError> {
    let get = |e: postgres::Error| StoreError(format!("postgres: reading a message: {e}"));
    MessageRow {
        msg_id: row.try_get(0).map_err(get)?,
        sender: row.try_get(1).map_err(get)?,
        receiver: row.try_get(2).map_err(get)?,
        group_id: row.try_get(3).map_err(get)?,
        time_ms: row.try_get(4).map_err(get)?,
        seq: row.try_get(5).map_err(get)?,
        elem: row.try_get(6).map_err(get)?,
        revoke: row.try_get(7).map_err(get)?,
        reply_to: row.try_get(8).map_err(get)?,
        cloud_custom_data: row.try_get(9).map_err(get)?,
    }
    .into_message(BACKEND)
}

fn row_conversation(row: &Row) -> Result<ConvMember, StoreError> {
    let get = |e: postgres::Error| StoreError(format!("postgres: reading a conversation: {e}"));
    BACKEND.conversation(
        &row.try_get::<_, String>(0).map_err(get)?,
        row.try_get(1).map_err(get)?,
        row.try_get(2).map_err(get)?,
        row.try_get(3).map_err(get)?,
    )
}

/// The connection settings of `url`, named `app` in `pg_stat_activity`.
pub(crate) fn config(url: &str, app: &str) -> Result<Config, StoreError> {
    async_config(url, app).map(Config::from)
}

/// [`config`] for tokio-postgres.
fn async_config(url: &str, app: &str) -> Result<tokio_postgres::Config, StoreError> {
    let mut cfg: tokio_postgres::Config = url
        .parse()
        .map_err(|e| StoreError(format!("postgres: bad database URL: {e}")))?;
    cfg.application_name(app);
    if cfg.get_password().is_none() {
        // Keeps the password out of the URL (and so out of process listings).
        if let Ok(p) = std::env::var("PGPASSWORD") {
            cfg.password(p);
        }
    }
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(Duration::from_secs(10));
    }
    Ok(cfg)
}

impl PgStore {
    /// Connects to `url` (`postgres://user[:password]@host:port/db`), creates the schema if it
    /// is missing, and prepares every statement. Blocking: call it outside async code.
    pub fn connect(url: &str) -> Result<PgStore, StoreError> {
        let mut client = Conn::connect(&async_config(url, "im-revoke-hub")?)?;
        Self::create_schema(&mut client)?;
        // Every statement of the hub's finds its rows by key, through an index: the planner
        // must not pick a sequential scan because a table was small when a statement's generic
        // plan was made (the commit's `UPDATE messages … FROM unnest(…)` was planned as a hash
        // join over a sequential scan of all of `messages`, kept as the table grew; BENCHMARKS.md,
        // "Where the CPU goes"). A statement with no index to use still scans.
        client
            .batch_execute(&format!(
                "SET lock_timeout = '{LOCK_TIMEOUT}'; SET enable_seqscan = off"
            ))
            .map_err(|e| pg_error(&e))?;
        let backend_pid: i32 = client
            .query_one("SELECT pg_backend_pid()", &[])
            .and_then(|r| r.try_get(0))
            .map_err(|e| pg_error(&e))?;
        let st = Statements::prepare(&mut client).map_err(|e| pg_error(&e))?;
        Ok(PgStore {
            conn: client,
            st,
            in_tx: false,
            savepoint: Savepoint::None,
            savepoints: 0,
            failed: false,
            absent_messages: HashSet::new(),
            absent_groups: HashSet::new(),
            touched: BTreeSet::new(),
            request: 0,
            deferred: Deferred::default(),
            replay: Deferred::default(),
            heads: HashMap::new(),
            journal: Vec::new(),
            locked: HashMap::new(),
            skipped: false,
            wait: false,
            ahead_sent: Vec::new(),
            ahead: HashMap::new(),
            ahead_rows: HashMap::new(),
            ahead_begin: None,
            heads_ahead: Vec::new(),
            heads_pending: HashSet::new(),
            backend_pid,
            webhooks: None,
            client_ip: None,
        })
    }

    /// The PostgreSQL backend process of this store's connection: notifications it sends carry
    /// this id, so a node can skip its own.
    pub fn backend_pid(&self) -> i32 {
        self.backend_pid
    }

    /// Bounds the webhook outbox with `gauge` (the deliverer keeps its count).
    pub fn set_webhook_gauge(&mut self, gauge: std::sync::Arc<super::webhooks::WebhookGauge>) {
        self.webhooks = Some(gauge);
    }

    /// Whether a batch's transaction is open (tests).
    pub fn in_transaction(&self) -> bool {
        self.in_tx
    }

    /// Runs `f` on the connection; a failure marks the transaction as failed.
    /// A revoked message's attachments, in the revoke's own transaction, as on SQLite: 410
    /// from its commit on, and the deletion of the bytes scheduled durably (any node's sweeper
    /// does it).
    fn revoked_attachments(&mut self, msg: &Message) -> Result<(), StoreError> {
        let attached = msg
            .elem
            .as_ref()
            .is_some_and(|e| !e.attachment_keys().is_empty());
        if msg.revoke.is_some() && attached {
            let id = msg.msg_id.as_str();
            self.write(|c, st| {
                c.execute(&st.schedule_revoked, &[&id])?;
                c.execute(&st.mark_revoked, &[&id])
            })?;
        }
        Ok(())
    }

    /// Checks that the transaction can go on, and begins it (with the next statement) if none
    /// is open.
    fn ready(&mut self) -> Result<(), StoreError> {
        if self.failed {
            return Err(StoreError(
                "postgres: the transaction failed; the request must be undone first".into(),
            ));
        }
        if !self.in_tx {
            self.conn.prelude.push("BEGIN");
            self.in_tx = true;
        }
        Ok(())
    }

    fn exec<T>(
        &mut self,
        f: impl FnOnce(&mut Conn, &Statements) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let r = f(&mut self.conn, &self.st);
        self.conn.prelude.clear();
        r.map_err(|e| {
            self.failed = true;
            let e = pg_error(&e);
            if e.is_conflict() {
                // Its retry waits for the lock.
                self.skipped = true;
            }
            e
        })
    }

    /// Runs `f` on the connection; a failure marks the transaction as failed.
    fn run<T>(
        &mut self,
        f: impl FnOnce(&mut Conn, &Statements) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        self.ready()?;
        self.exec(f)
    }

    /// Like [`PgStore::run`], for a read that must see the deferred writes: sends them first.
    fn read<T>(
        &mut self,
        f: impl FnOnce(&mut Conn, &Statements) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        self.flush()?;
        self.run(f)
    }

    /// Like [`PgStore::run`], for a statement that writes or locks: sets the request's
    /// savepoint first (in the statement's round trip).
    fn write<T>(
        &mut self,
        f: impl FnOnce(&mut Conn, &Statements) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        self.ready()?;
        if self.savepoint == Savepoint::Pending {
            self.conn.prelude.push("SAVEPOINT request");
            self.savepoint = Savepoint::Set;
            self.savepoints += 1;
        }
        self.exec(f)
    }

    /// Like [`PgStore::write`], for a statement that may wait for a head another writer holds
    /// or is creating: a first attempt waits [`FIRST_LOCK_WAIT`] at most (set after the
    /// savepoint, so undoing the request undoes it too; set back with the next statement).
    fn write_heads<T>(
        &mut self,
        f: impl FnOnce(&mut Conn, &Statements) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        if self.wait {
            return self.write(f);
        }
        self.write(|c, st| {
            c.prelude.push(SET_FIRST_LOCK_WAIT);
            f(c, st)
        })
        .inspect(|_| self.conn.prelude.push(SET_LOCK_TIMEOUT))
    }

    /// Appends an event to each of `users`' logs: a statement for the logs this transaction
    /// does not hold yet (their heads locked in the order given), the others deferred.
    fn append(
        &mut self,
        users: &[&str],
        kind: EventKind,
        target: &str,
    ) -> Result<Vec<u64>, StoreError> {
        self.ready()?;
        self.take_heads_ahead()?;
        let k = i16::from(kind.as_u8());
        let fresh: Vec<&str> = users
            .iter()
            .copied()
            .filter(|u| !self.heads.contains_key(*u))
            .collect();
        let mut taken = HashMap::with_capacity(fresh.len());
        let mut held = HashMap::with_capacity(fresh.len());
        if !fresh.is_empty() {
            let rows = self.run(|c, st| c.query(&st.lock_heads, &[&fresh]))?;
            for r in &rows {
                let get = |e: postgres::Error| StoreError(format!("postgres: {e}"));
                let user: String = r.try_get(0).map_err(get)?;
                let head: i64 = r.try_get(1).map_err(get)?;
                held.insert(user, head);
            }
        }
        let rest: Vec<&str> = fresh
            .iter()
            .copied()
            .filter(|u| !held.contains_key(*u))
            .collect();
        if !rest.is_empty() {
            let rows =
                self.write_heads(|c, st| c.query(&st.append_events, &[&rest, &k, &target]))?;
            for r in &rows {
                let get = |e: postgres::Error| StoreError(format!("postgres: {e}"));
                let user: String = r.try_get(0).map_err(get)?;
                let seq: i64 = r.try_get(1).map_err(get)?;
                taken.insert(user, seq);
            }
        }
        let mut out = Vec::with_capacity(users.len());
        for u in users {
            let seq = match taken.get(*u) {
                Some(&seq) => seq,
                None => {
                    let Some(&head) = self.heads.get(*u).or_else(|| held.get(*u)) else {
                        return Err(StoreError(format!("postgres: no seq returned for {u}")));
                    };
                    self.deferred.events.push((
                        self.request,
                        u.to_string(),
                        head + 1,
                        k,
                        target.to_string(),
                    ));
                    head + 1
                }
            };
            let before = self.heads.insert(u.to_string(), seq);
            self.journal.push((u.to_string(), before));
            out.push(BACKEND.read_u64(seq)?);
        }
        self.touched.extend(users.iter().map(|u| u.to_string()));
        Ok(out)
    }

    /// Forgets what the current request did in this store's memory (its writes on the server
    /// were rolled back, or there were none).
    fn forget_request(&mut self) {
        let req = self.request;
        let mut d = std::mem::take(&mut self.replay);
        d.messages
            .extend(self.deferred.messages.drain(..).filter(|e| e.0 != req));
        d.events
            .extend(self.deferred.events.drain(..).filter(|e| e.0 != req));
        self.deferred = d;
        while let Some((user, before)) = self.journal.pop() {
            match before {
                Some(h) => self.heads.insert(user, h),
                None => self.heads.remove(&user),
            };
        }
        self.locked.retain(|_, r| *r != req);
        self.absent_messages.clear();
        self.absent_groups.clear();
    }

    fn query_messages(
        &mut self,
        for_update: bool,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Message>, StoreError> {
        let rows = if for_update {
            self.write(|c, st| c.query(&st.message_for_update, params))?
        } else {
            self.run(|c, st| c.query(&st.message, params))?
        };
        rows.iter().map(row_message).collect()
    }

    fn read_group(
        &mut self,
        group_id: &str,
        for_update: bool,
    ) -> Result<Option<Group>, StoreError> {
        let row = if for_update {
            self.write(|c, st| c.query_opt(&st.group_for_update, &[&group_id]))?
        } else {
            self.run(|c, st| c.query_opt(&st.group, &[&group_id]))?
        };
        match row {
            Some(r) => {
                let body: String = r
                    .try_get(0)
                    .map_err(|e| StoreError(format!("postgres: {e}")))?;
                Ok(Some(BACKEND.group(&body)?))
            }
            None => Ok(None),
        }
    }

    fn event_row(row: &Row) -> Result<EventRecord, StoreError> {
        let get = |e: postgres::Error| StoreError(format!("postgres: reading an event: {e}"));
        let seq: i64 = row.try_get(0).map_err(get)?;
        let kind: i16 = row.try_get(1).map_err(get)?;
        BACKEND.event(seq, i64::from(kind), row.try_get(2).map_err(get)?)
    }
}

impl Store for PgStore {
    fn message(&mut self, msg_id: &str) -> Result<Option<Message>, StoreError> {
        if let Some(m) = self.deferred.message(msg_id) {
            return Ok(Some(m.clone()));
        }
        Ok(self.query_messages(false, &[&msg_id])?.pop())
    }

    fn message_for_update(&mut self, msg_id: &str) -> Result<Option<Message>, StoreError> {
        if let Some(m) = self.deferred.message(msg_id) {
            // Changed earlier in this transaction, so locked by it already.
            return Ok(Some(m.clone()));
        }
        let m = if self.wait {
            self.query_messages(true, &[&msg_id])?.pop()
        } else {
            let row = match self.locked_ahead(msg_id)? {
                Some(row) => Some(row),
                None => self.run(|c, st| c.query_opt(&st.message_lock, &[&msg_id]))?,
            };
            match row {
                None => None,
                Some(r) => {
                    let locked: bool = r
                        .try_get(10)
                        .map_err(|e| StoreError(format!("postgres: {e}")))?;
                    if !locked {
                        self.skipped = true;
                        return Err(StoreError::conflict(format!(
                            "message {msg_id} is locked by another writer"
                        )));
                    }
                    Some(row_message(&r)?)
                }
            }
        };
        if m.is_none() {
            self.absent_messages.insert(msg_id.to_string());
        } else {
            self.locked
                .entry(msg_id.to_string())
                .or_insert(self.request);
        }
        Ok(m)
    }

    fn lock_ahead(&mut self, msg_ids: &[&str]) {
        self.send_locks_ahead(msg_ids);
    }

    fn put_message(&mut self, msg: &Message) -> Result<(), StoreError> {
        self.forget_ahead(&msg.msg_id);
        if self.deferred.message(&msg.msg_id).is_some() {
            // The deferred change must not land over this write later.
            self.flush()?;
        }
        let v = MessageValues::new(msg)?;
        let insert = self.absent_messages.remove(&msg.msg_id);
        let params: [&(dyn ToSql + Sync); 11] = [
            &msg.msg_id,
            &v.conv,
            &v.seq,
            &msg.sender,
            &msg.receiver,
            &msg.group_id,
            &v.time_ms,
            &v.elem,
            &v.revoke,
            &v.reply_to,
            &v.cloud_custom_data,
        ];
        let n = self.write(|c, st| {
            let s = if insert {
                &st.insert_message
            } else {
                &st.upsert_message
            };
            c.execute(s, &params)
        })?;
        if n != 1 {
            return Err(StoreError::conflict(format!(
                "message {} was stored by another node meanwhile",
                msg.msg_id
            )));
        }
        self.revoked_attachments(msg)
    }

    fn update_message(&mut self, msg: &Message) -> Result<(), StoreError> {
        self.forget_ahead(&msg.msg_id);
        if self.locked.contains_key(&msg.msg_id) {
            // Locked by this transaction: written at the commit, with the other changes.
            self.ready()?;
            MessageValues::new(msg)?;
            self.deferred.messages.push((self.request, msg.clone()));
            return self.revoked_attachments(msg);
        }
        let v = MessageValues::new(msg)?;
        let params: [&(dyn ToSql + Sync); 5] = [
            &msg.msg_id,
            &v.elem,
            &v.revoke,
            &v.reply_to,
            &v.cloud_custom_data,
        ];
        let n = self.write(|c, st| c.execute(&st.update_message, &params))?;
        if n == 0 {
            // Not there after all (the contract says it is, locked): stored whole, nothing lost.
            return self.put_message(msg);
        }
        self.revoked_attachments(msg)
    }

    fn claim_attachments(
        &mut self,
        sender: &str,
        msg_id: &str,
        keys: &[String],
    ) -> Result<Option<Vec<UploadFacts>>, StoreError> {
        let mut facts = Vec::with_capacity(keys.len());
        for k in keys {
            let row = self.write(|c, st| c.query_opt(&st.claimable, &[k, &sender]))?;
            let Some(row) = row else {
                return Ok(None);
            };
            facts.push(uploads::facts((row.get(0), row.get(1), row.get(2))));
        }
        for k in keys {
            self.write(|c, st| c.execute(&st.claim, &[&msg_id, k]))?;
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
        let rows = self.read(|c, st| c.query(&st.history, &[&key, &before, &limit]))?;
        rows.iter().map(row_message).collect()
    }

    fn conv_head(&mut self, conv: &ConvId) -> Result<u64, StoreError> {
        let key = conv.key();
        let head: i64 = self.run(|c, st| c.query_one(&st.conv_head, &[&key])?.try_get(0))?;
        BACKEND.read_u64(head)
    }

    fn next_conv_seq(&mut self, conv: &ConvId) -> Result<u64, StoreError> {
        let key = conv.key();
        // The conversation's head row may be held by another node's batch that waits for a
        // head this one holds: a first attempt waits FIRST_LOCK_WAIT at most, as for log heads.
        let head: i64 =
            self.write_heads(|c, st| c.query_one(&st.next_conv_seq, &[&key])?.try_get(0))?;
        BACKEND.read_u64(head)
    }

    fn append_event(
        &mut self,
        user: &str,
        kind: EventKind,
        target: &str,
    ) -> Result<u64, StoreError> {
        Ok(self.append(&[user], kind, target)?[0])
    }

    fn append_events(
        &mut self,
        users: &[&str],
        kind: EventKind,
        target: &str,
    ) -> Result<Vec<u64>, StoreError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        self.append(users, kind, target)
    }

    fn events_after(
        &mut self,
        user: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let (after, limit) = (bound(after), bound(limit));
        let rows = self.read(|c, st| c.query(&st.events_after, &[&user, &after, &limit]))?;
        rows.iter().map(Self::event_row).collect()
    }

    fn user_head(&mut self, user: &str) -> Result<u64, StoreError> {
        self.take_heads_ahead()?;
        if let Some(&head) = self.heads.get(user) {
            return BACKEND.read_u64(head);
        }
        let row = self.run(|c, st| c.query_opt(&st.user_head, &[&user]))?;
        match row {
            Some(r) => BACKEND.read_u64(
                r.try_get(0)
                    .map_err(|e| StoreError(format!("postgres: {e}")))?,
            ),
            None => Ok(0),
        }
    }

    fn group(&mut self, group_id: &str) -> Result<Option<Group>, StoreError> {
        self.read_group(group_id, false)
    }

    fn group_for_update(&mut self, group_id: &str) -> Result<Option<Group>, StoreError> {
        let g = self.read_group(group_id, true)?;
        if g.is_none() {
            self.absent_groups.insert(group_id.to_string());
        }
        Ok(g)
    }

    fn put_group(&mut self, group: &Group) -> Result<(), StoreError> {
        let body = to_json(group)?;
        let insert = self.absent_groups.remove(&group.group_id);
        let gid = group.group_id.as_str();
        let members: Vec<&str> = group.members.iter().map(String::as_str).collect();
        let n = self.write(|c, st| {
            let s = if insert {
                &st.insert_group
            } else {
                &st.upsert_group
            };
            c.execute(s, &[&gid, &body])
        })?;
        if n != 1 {
            return Err(StoreError::conflict(format!(
                "group {gid} was created by another node meanwhile"
            )));
        }
        self.write(|c, st| {
            c.execute(&st.delete_members, &[&gid])?;
            c.execute(&st.insert_members, &[&members, &gid])
        })?;
        Ok(())
    }

    fn groups_of(&mut self, user: &str) -> Result<Vec<Group>, StoreError> {
        let rows = self.run(|c, st| c.query(&st.groups_of, &[&user]))?;
        rows.iter()
            .map(|r| {
                let body: String = r
                    .try_get(0)
                    .map_err(|e| StoreError(format!("postgres: {e}")))?;
                BACKEND.group(&body)
            })
            .collect()
    }

    fn conversations_of(&mut self, user: &str) -> Result<Vec<ConvMember>, StoreError> {
        let rows = self.read(|c, st| c.query(&st.conversations_of, &[&user]))?;
        rows.iter().map(row_conversation).collect()
    }

    fn conversation_summaries(&mut self, user: &str) -> Result<Vec<ConvSummary>, StoreError> {
        let rows = self.read(|c, st| c.query(&st.conversation_summaries, &[&user]))?;
        rows.iter()
            .map(|r| {
                let get = |e: postgres::Error| {
                    StoreError(format!("postgres: reading a conversation summary: {e}"))
                };
                BACKEND.summary(
                    &r.try_get::<_, String>(0).map_err(get)?,
                    r.try_get(1).map_err(get)?,
                    r.try_get(2).map_err(get)?,
                    r.try_get(3).map_err(get)?,
                    r.try_get(4).map_err(get)?,
                    r.try_get(5).map_err(get)?,
                    r.try_get(6).map_err(get)?,
                )
            })
            .collect()
    }

    fn conversation_of(
        &mut self,
        user: &str,
        conv: &ConvId,
    ) -> Result<Option<ConvMember>, StoreError> {
        let key = conv.key();
        let row = self.read(|c, st| c.query_opt(&st.conversation_of, &[&user, &key]))?;
        row.as_ref().map(row_conversation).transpose()
    }

    fn put_conversation(&mut self, user: &str, m: &ConvMember) -> Result<(), StoreError> {
        let (conv, read_seq, until_seq, since_ms) = conversation_values(m)?;
        self.write(|c, st| {
            c.execute(
                &st.upsert_conversation,
                &[&user, &conv, &read_seq, &until_seq, &since_ms],
            )
        })?;
        Ok(())
    }

    fn unread_count(
        &mut self,
        conv: &ConvId,
        reader: &str,
        after: u64,
        upto: u64,
    ) -> Result<u64, StoreError> {
        let (key, after, upto) = (conv.key(), bound(after), bound(upto));
        let n: i64 = self.read(|c, st| {
            c.query_one(&st.unread_count, &[&key, &after, &upto, &reader])?
                .try_get(0)
        })?;
        BACKEND.read_u64(n)
    }

    fn enqueue_callback(&mut self, cb: &im_revoke_core::CallbackRecord) -> Result<(), StoreError> {
        if self.webhooks.as_ref().is_some_and(|g| !g.admit()) {
            return Ok(());
        }
        let ip = super::webhooks::client_ip_text(self.client_ip);
        let (command, platform, body, ip, msg_id, operator) = super::webhooks::insert_args(cb, &ip);
        self.write(|c, st| {
            c.execute(
                &st.insert_webhook,
                &[&command, &platform, &body, &ip, &msg_id, &operator],
            )
        })?;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        self.savepoint = Savepoint::None;
        self.savepoints = 0;
        self.absent_messages.clear();
        self.absent_groups.clear();
        let deferred = std::mem::take(&mut self.deferred);
        self.replay = Deferred::default();
        self.heads.clear();
        self.journal.clear();
        self.locked.clear();
        // Locks sent ahead and not asked for end with the transaction; a `BEGIN` sent with
        // them is the transaction's and is answered before the `COMMIT`.
        self.drop_ahead();
        let begun = match self.ahead_begin.take() {
            Some(begin) => self.conn.rt.block_on(begin).map_err(|e| pg_error(&e)),
            None => Ok(()),
        };
        if !self.in_tx {
            return Ok(());
        }
        if let Err(e) = begun {
            self.failed = true;
            tracing::debug!("postgres: BEGIN sent ahead failed: {e}");
        }
        let touched = std::mem::take(&mut self.touched);
        let r = if self.failed {
            // COMMIT of an aborted transaction would quietly roll back: never report that as
            // durable.
            Err(StoreError(
                "postgres: commit of a failed transaction".into(),
            ))
        } else {
            // The deferred writes, the wake-up signal and COMMIT: one round trip.
            DeferredArgs::new(&deferred)
                .and_then(|args| self.send(&args, &notify::payloads(&touched), true))
        };
        self.in_tx = false;
        if r.is_err() {
            // Leave the connection usable for inspection; the host stops anyway (fail-stop).
            let _ = self.conn.batch_execute("ROLLBACK");
            self.failed = false;
        }
        r
    }

    fn begin_request(&mut self) -> Result<(), StoreError> {
        if self.savepoints >= MAX_SAVEPOINTS {
            // Frames are released only after the hub's commit: committing earlier is safe.
            self.commit()?;
        }
        self.savepoint = Savepoint::Pending;
        self.request += 1;
        self.wait = std::mem::take(&mut self.skipped);
        self.replay = Deferred::default();
        self.journal.clear();
        self.absent_messages.clear();
        self.absent_groups.clear();
        Ok(())
    }

    fn undo_request(&mut self) -> Result<(), StoreError> {
        match self.savepoint {
            Savepoint::Set => {
                self.conn
                    .batch_execute("ROLLBACK TO SAVEPOINT request")
                    .map_err(|e| StoreError(format!("postgres: rollback to savepoint: {e}")))?;
                self.failed = false;
                self.savepoint = Savepoint::Pending;
            }
            _ if !self.failed => {} // nothing written yet
            _ => {
                return Err(StoreError(
                    "postgres: a request failed before its savepoint".into(),
                ))
            }
        }
        self.forget_request();
        Ok(())
    }
}

impl super::webhooks::CallbackOrigin for PgStore {
    fn set_client_ip(&mut self, ip: Option<std::net::IpAddr>) {
        self.client_ip = ip;
    }

    fn finish_webhooks(&mut self, _f: &super::webhooks::Finish) -> Result<(), StoreError> {
        // PostgreSQL's deliverer writes on its own connection (`PgQueue`): no page cache of
        // the hub's to keep, and its claims must be visible to the other nodes at once.
        Err(StoreError(
            "postgres: webhook rounds are written by the deliverer's connection".into(),
        ))
    }
}
