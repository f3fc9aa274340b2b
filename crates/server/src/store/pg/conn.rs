//! The hub's PostgreSQL connection (pipelined statements on a runtime of its own) and its
//! prepared statements.

use super::*;
use postgres::error::SqlState;
use std::sync::Arc;

/// The hub's connection: a tokio-postgres client driven by a single-threaded runtime of its own
/// (the hub thread blocks on it, as the `postgres` crate would), so that statements can be
/// pipelined: `BEGIN` and a request's `SAVEPOINT` go in the round trip of the statement that
/// needs them ([`Conn::prelude`]), and the deferred writes, the NOTIFY and `COMMIT` in one
/// ([`PgStore::commit`]).
pub(super) struct Conn {
    pub(super) rt: tokio::runtime::Runtime,
    /// Shared with the statements sent ahead ([`PgStore::lock_ahead`]), which own their futures.
    pub(super) client: Arc<tokio_postgres::Client>,
    /// Simple statements to send ahead of the next statement, in its round trip.
    pub(super) prelude: Vec<&'static str>,
}

pub(super) type Sent<'a> = Pin<Box<dyn Future<Output = Result<u64, postgres::Error>> + 'a>>;

/// A statement sent ahead of the request that needs its answer ([`PgStore::lock_ahead`]).
pub(super) type Ahead<T> = Pin<Box<dyn Future<Output = Result<T, postgres::Error>> + Send>>;

/// Polls `futs` in their order until all are done: each sends its statement when first polled,
/// so the statements go out in this order, in one round trip. Every result is returned (an
/// error in one does not hide the others).
pub(super) async fn in_order(mut futs: Vec<Sent<'_>>) -> Vec<Result<u64, postgres::Error>> {
    let mut out: Vec<Option<Result<u64, postgres::Error>>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in futs.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(r) => *o = Some(r),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter()
        .map(|o| o.expect("polled to the end"))
        .collect()
}

impl Conn {
    pub(super) fn connect(cfg: &tokio_postgres::Config) -> Result<Conn, StoreError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError(format!("postgres: a runtime for the connection: {e}")))?;
        let (client, connection) = rt.block_on(cfg.connect(NoTls)).map_err(|e| pg_error(&e))?;
        // Runs whenever the hub thread blocks on the runtime; ends with the connection.
        rt.spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("postgres: the hub's connection ended: {e}");
            }
        });
        Ok(Conn {
            rt,
            client: Arc::new(client),
            prelude: Vec::new(),
        })
    }

    /// Runs `fut` (a request of `client`'s), after the prelude if there is one, in one round
    /// trip.
    pub(super) fn drive<T>(
        rt: &tokio::runtime::Runtime,
        client: &tokio_postgres::Client,
        prelude: &mut Vec<&'static str>,
        fut: impl Future<Output = Result<T, postgres::Error>>,
    ) -> Result<T, postgres::Error> {
        if prelude.is_empty() {
            return rt.block_on(fut);
        }
        let pre = prelude.join("; ");
        prelude.clear();
        rt.block_on(async {
            let (a, b) = futures_util::future::join(client.batch_execute(&pre), fut).await;
            a?;
            b
        })
    }

    pub(super) fn execute<T: ?Sized + ToStatement>(
        &mut self,
        q: &T,
        p: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        Self::drive(
            &self.rt,
            &self.client,
            &mut self.prelude,
            self.client.execute(q, p),
        )
    }

    pub(super) fn query<T: ?Sized + ToStatement>(
        &mut self,
        q: &T,
        p: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        Self::drive(
            &self.rt,
            &self.client,
            &mut self.prelude,
            self.client.query(q, p),
        )
    }

    pub(super) fn query_one<T: ?Sized + ToStatement>(
        &mut self,
        q: &T,
        p: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, postgres::Error> {
        Self::drive(
            &self.rt,
            &self.client,
            &mut self.prelude,
            self.client.query_one(q, p),
        )
    }

    pub(super) fn query_opt<T: ?Sized + ToStatement>(
        &mut self,
        q: &T,
        p: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, postgres::Error> {
        Self::drive(
            &self.rt,
            &self.client,
            &mut self.prelude,
            self.client.query_opt(q, p),
        )
    }

    pub(super) fn batch_execute(&mut self, q: &str) -> Result<(), postgres::Error> {
        Self::drive(
            &self.rt,
            &self.client,
            &mut self.prelude,
            self.client.batch_execute(q),
        )
    }

    /// Sends the statement of `f` now, without waiting for its answer: a tokio-postgres request
    /// goes to the connection when its future is first polled (an answer there already is kept
    /// in place). Statements started one after another go out in that order.
    pub(super) fn start<T: Send + 'static>(&self, f: &mut Ahead<T>) {
        self.rt.block_on(std::future::poll_fn(|cx| {
            if let Poll::Ready(r) = f.as_mut().poll(cx) {
                *f = Box::pin(std::future::ready(r));
            }
            Poll::Ready(())
        }));
    }

    /// Lets the connection's task write out the statements started.
    pub(super) fn flush_started(&self) {
        self.rt.block_on(tokio::task::yield_now());
    }

    pub(super) fn prepare(&mut self, q: &str) -> Result<Statement, postgres::Error> {
        self.rt.block_on(self.client.prepare(q))
    }
}

pub(super) struct Statements {
    pub(super) message: Statement,
    pub(super) message_for_update: Statement,
    pub(super) message_lock: Statement,
    pub(super) messages_lock: Statement,
    pub(super) insert_message: Statement,
    pub(super) upsert_message: Statement,
    pub(super) update_message: Statement,
    pub(super) history: Statement,
    pub(super) conv_head: Statement,
    pub(super) next_conv_seq: Statement,
    pub(super) append_events: Statement,
    pub(super) lock_heads: Statement,
    pub(super) events_after: Statement,
    pub(super) user_head: Statement,
    pub(super) group: Statement,
    pub(super) group_for_update: Statement,
    pub(super) insert_group: Statement,
    pub(super) upsert_group: Statement,
    pub(super) delete_members: Statement,
    pub(super) insert_members: Statement,
    pub(super) groups_of: Statement,
    pub(super) conversations_of: Statement,
    pub(super) conversation_of: Statement,
    pub(super) upsert_conversation: Statement,
    pub(super) unread_count: Statement,
    pub(super) conversation_summaries: Statement,
    pub(super) notify: Statement,
    pub(super) claimable: Statement,
    pub(super) claim: Statement,
    pub(super) schedule_revoked: Statement,
    pub(super) mark_revoked: Statement,
    pub(super) insert_webhook: Statement,
    pub(super) write_messages: Statement,
    pub(super) write_events: Statement,
    pub(super) write_heads: Statement,
}

impl Statements {
    pub(super) fn prepare(c: &mut Conn) -> Result<Statements, postgres::Error> {
        let sql = Sql::new(BACKEND);
        Ok(Statements {
            message: c.prepare(&sql.message)?,
            message_for_update: c.prepare(&format!("{} FOR UPDATE", sql.message))?,
            // Locks the message without waiting, so that no savepoint is needed (nothing can
            // fail): the row and `true` when locked, the row and `false` when another writer
            // holds it (the request is then a conflict, and its retry waits), no row when
            // absent. The row comes from the locking read: the newest version.
            message_lock: c.prepare(&format!(
                "WITH l AS ({m} FOR UPDATE SKIP LOCKED)
                 SELECT *, true FROM l
                 UNION ALL
                 SELECT *, false FROM ({m}) AS o WHERE NOT EXISTS (SELECT 1 FROM l)",
                m = sql.message
            ))?,
            // Several messages locked without waiting (`PgStore::lock_ahead`): only the rows
            // this transaction now holds come back, each with `true` as `message_lock` gives it.
            messages_lock: c.prepare(&format!(
                "SELECT {}, true FROM messages WHERE msg_id = ANY($1)
                 FOR UPDATE SKIP LOCKED",
                super::super::rows::MESSAGE_COLUMNS
            ))?,
            insert_message: c.prepare(&format!(
                "{}
                 ON CONFLICT (msg_id) DO NOTHING",
                sql.insert_message
            ))?,
            upsert_message: c.prepare(&sql.upsert_message)?,
            update_message: c.prepare(&sql.update_message)?,
            // Prepared once: a statement given as text costs a round trip more per send.
            insert_webhook: c.prepare(super::super::webhooks::INSERT_PG)?,
            history: c.prepare(&sql.history)?,
            conv_head: c.prepare(
                "SELECT GREATEST(
                    COALESCE((SELECT head FROM conv_heads WHERE conv = $1), 0),
                    COALESCE((SELECT MAX(seq) FROM messages WHERE conv = $1), 0))",
            )?,
            // The head row is locked until the commit. After waiting for another writer's
            // commit, `conv_heads.head` is that writer's (the latest row version); MAX(seq)
            // covers messages stored without a head (none, by the hub).
            next_conv_seq: c.prepare(
                "INSERT INTO conv_heads AS h (conv, head)
                 VALUES ($1, COALESCE((SELECT MAX(seq) FROM messages WHERE conv = $1), 0) + 1)
                 ON CONFLICT (conv) DO UPDATE SET head = GREATEST(
                    h.head, COALESCE((SELECT MAX(seq) FROM messages WHERE conv = $1), 0)) + 1
                 RETURNING head",
            )?,
            // Heads are locked in the order given (the hub sorts), so writers cannot deadlock
            // on them.
            append_events: c.prepare(
                "WITH h AS (
                    INSERT INTO user_heads AS u (user_id, head)
                    SELECT t.id, 1 FROM unnest($1::text[]) WITH ORDINALITY AS t(id, i) ORDER BY t.i
                    ON CONFLICT (user_id) DO UPDATE SET head = u.head + 1
                    RETURNING user_id, head)
                 INSERT INTO events (user_id, seq, kind, target)
                 SELECT user_id, head, $2, $3 FROM h
                 RETURNING user_id, seq",
            )?,
            // The heads of existing logs, locked without waiting (no savepoint needed): those
            // another writer holds, and new logs, are taken by `append_events`.
            lock_heads: c.prepare(
                "SELECT user_id, head FROM user_heads WHERE user_id = ANY($1::text[])
                 FOR UPDATE SKIP LOCKED",
            )?,
            events_after: c.prepare(&sql.events_after)?,
            user_head: c.prepare("SELECT head FROM user_heads WHERE user_id = $1")?,
            group: c.prepare(&sql.group)?,
            group_for_update: c.prepare(&format!("{} FOR UPDATE", sql.group))?,
            insert_group: c.prepare(
                "INSERT INTO groups (group_id, body) VALUES ($1, $2) ON CONFLICT (group_id) DO NOTHING",
            )?,
            upsert_group: c.prepare(&sql.upsert_group)?,
            delete_members: c.prepare(&sql.delete_members)?,
            insert_members: c.prepare(
                "INSERT INTO group_members (user_id, group_id) SELECT unnest($1::text[]), $2",
            )?,
            groups_of: c.prepare(
                "SELECT g.body FROM group_members m JOIN groups g ON g.group_id = m.group_id
                 WHERE m.user_id = $1 ORDER BY m.group_id COLLATE \"C\"",
            )?,
            conversations_of: c.prepare(&sql.conversations_of)?,
            conversation_of: c.prepare(&sql.conversation_of)?,
            upsert_conversation: c.prepare(&sql.upsert_conversation)?,
            unread_count: c.prepare(&sql.unread_count)?,
            conversation_summaries: c.prepare(&sql.conversation_summaries)?,
            notify: c.prepare("SELECT pg_notify($1, $2)")?,
            // Locked until the commit: of two nodes claiming one upload, the second waits and
            // then finds it sent.
            claimable: c.prepare(&format!("{} FOR UPDATE", uploads::pg(uploads::CLAIMABLE)))?,
            claim: c.prepare(&uploads::pg(uploads::CLAIM))?,
            schedule_revoked: c.prepare(&uploads::pg(uploads::SCHEDULE_REVOKED))?,
            mark_revoked: c.prepare(&uploads::pg(uploads::MARK_REVOKED))?,
            // The deferred writes of a transaction (`Deferred`), each one statement at the
            // commit whatever their number. `= ANY($1)` lets the rows be found by their keys in
            // the index (the join alone was planned as a scan of the whole table).
            write_messages: c.prepare(
                "UPDATE messages AS m SET elem = u.elem, revoke = u.revoke, reply_to = u.reply_to,
                    cloud_custom_data = u.cloud_custom_data
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
                    AS u(msg_id, elem, revoke, reply_to, cloud_custom_data)
                 WHERE m.msg_id = u.msg_id AND m.msg_id = ANY($1::text[])",
            )?,
            write_events: c.prepare(
                "INSERT INTO events (user_id, seq, kind, target)
                 SELECT * FROM unnest($1::text[], $2::bigint[], $3::smallint[], $4::text[])",
            )?,
            write_heads: c.prepare(
                "UPDATE user_heads AS h SET head = u.head
                 FROM unnest($1::text[], $2::bigint[]) AS u(user_id, head)
                 WHERE h.user_id = u.user_id AND h.user_id = ANY($1::text[])",
            )?,
        })
    }
}

/// Whether a PostgreSQL error is a clash with another writer (retry the request).
fn is_conflict(e: &postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::LOCK_NOT_AVAILABLE
            || *c == SqlState::UNIQUE_VIOLATION
    })
}

/// A PostgreSQL error as a [`StoreError`] (a [`StoreError::conflict`] when retrying may help).
pub(crate) fn pg_error(e: &postgres::Error) -> StoreError {
    if is_conflict(e) {
        StoreError::conflict(format!("postgres: {e}"))
    } else {
        StoreError(format!("postgres: {e}"))
    }
}
