//! Locks sent ahead of a batch's requests ([`Store::lock_ahead`]): the batch's revoked messages,
//! then the log heads of their one-to-one parties, each statement sent without waiting and its
//! answer taken by the read that needs it (see the module's documentation, "Locks sent ahead").

use super::*;

impl PgStore {
    /// [`Store::lock_ahead`]: sends the locks of `msg_ids` (those not held or written by the
    /// transaction yet), [`LOCK_AHEAD_CHUNK`] to a statement, without waiting.
    pub(super) fn send_locks_ahead(&mut self, msg_ids: &[&str]) {
        if self.failed || self.wait || self.ready().is_err() {
            return;
        }
        // A batch holds up to `max_batch` (1,024) revokes: duplicates found by a set, not by a
        // scan of the list per msgID.
        let mut seen: HashSet<&str> = HashSet::with_capacity(msg_ids.len());
        let mut ids: Vec<String> = Vec::new();
        for &id in msg_ids {
            if seen.insert(id)
                && !self.ahead.contains_key(id)
                && !self.ahead_rows.contains_key(id)
                && !self.locked.contains_key(id)
                && self.deferred.message(id).is_none()
            {
                ids.push(id.to_string());
            }
        }
        if ids.len() < 2 {
            return;
        }
        // Each future sends its statement when first polled: polled once here, in order, they
        // go out together (after the prelude, `BEGIN`, if this begins the transaction).
        let mut begin: Option<Ahead<()>> = None;
        if !self.conn.prelude.is_empty() {
            let pre = self.conn.prelude.join("; ");
            self.conn.prelude.clear();
            let client = self.conn.client.clone();
            begin = Some(Box::pin(async move { client.batch_execute(&pre).await }));
        }
        let mut sent: Vec<Option<Ahead<Vec<Row>>>> = Vec::new();
        for chunk in ids.chunks(LOCK_AHEAD_CHUNK) {
            let i = self.ahead_sent.len() + sent.len();
            for id in chunk {
                self.ahead.insert(id.clone(), i);
            }
            let client = self.conn.client.clone();
            let st = self.st.messages_lock.clone();
            let chunk = chunk.to_vec();
            sent.push(Some(Box::pin(
                async move { client.query(&st, &[&chunk]).await },
            )));
        }
        if let Some(b) = begin.as_mut() {
            self.conn.start(b);
        }
        for f in sent.iter_mut().flatten() {
            self.conn.start(f);
        }
        self.conn.flush_started();
        if begin.is_some() {
            self.ahead_begin = begin;
        }
        self.ahead_sent.extend(sent);
    }

    /// The answer of the lock of `msg_id` sent ahead, if one was: the row when this
    /// transaction holds it, else `None` (then it is asked again in its turn: a message absent
    /// then may have been created by an earlier request of the batch since, and one another
    /// writer held may be free now).
    pub(super) fn locked_ahead(&mut self, msg_id: &str) -> Result<Option<Row>, StoreError> {
        if let Some(i) = self.ahead.remove(msg_id) {
            if let Some(fut) = self.ahead_sent.get_mut(i).and_then(Option::take) {
                let begun = match self.ahead_begin.take() {
                    Some(begin) => self.conn.rt.block_on(begin),
                    None => Ok(()),
                };
                match begun.and_then(|()| self.conn.rt.block_on(fut)) {
                    Ok(rows) => {
                        self.lock_heads_ahead(&rows)?;
                        for r in rows {
                            let id: String = r.try_get(0).map_err(|e| pg_error(&e))?;
                            // A msgID written since it was sent no longer takes its row.
                            if self.ahead.remove(&id).is_some() || id == msg_id {
                                self.ahead_rows.insert(id, r);
                            }
                        }
                    }
                    Err(e) => {
                        self.failed = true;
                        self.drop_ahead();
                        return Err(pg_error(&e));
                    }
                }
            }
        }
        Ok(self.ahead_rows.remove(msg_id))
    }

    /// Sends, without waiting, the locks of the heads of the one-to-one parties of `rows` (the
    /// messages just locked ahead) that this transaction does not hold: their revokes append to
    /// those logs. Not while the current request's savepoint is set (undoing the request would
    /// release locks taken after it).
    fn lock_heads_ahead(&mut self, rows: &[Row]) -> Result<(), StoreError> {
        if self.savepoint == Savepoint::Set || self.failed {
            return Ok(());
        }
        let get = |e: postgres::Error| StoreError(format!("postgres: {e}"));
        let mut users: Vec<String> = Vec::new();
        for r in rows {
            let group: Option<String> = r.try_get(3).map_err(get)?;
            if group.is_some() {
                continue;
            }
            let sender: String = r.try_get(1).map_err(get)?;
            let receiver: Option<String> = r.try_get(2).map_err(get)?;
            for u in std::iter::once(sender).chain(receiver) {
                if !self.heads.contains_key(&u) && self.heads_pending.insert(u.clone()) {
                    users.push(u);
                }
            }
        }
        if users.is_empty() {
            return Ok(());
        }
        let client = self.conn.client.clone();
        let st = self.st.lock_heads.clone();
        let mut fut: Ahead<Vec<Row>> = Box::pin(async move { client.query(&st, &[&users]).await });
        // Goes out now, behind the statements already sent.
        self.conn.start(&mut fut);
        self.conn.flush_started();
        self.heads_ahead.push(fut);
        Ok(())
    }

    /// Takes the answers of the heads locked ahead into `heads` (a head this transaction took
    /// meanwhile by another statement is kept as it is).
    pub(super) fn take_heads_ahead(&mut self) -> Result<(), StoreError> {
        if self.heads_ahead.is_empty() {
            return Ok(());
        }
        self.heads_pending.clear();
        for fut in std::mem::take(&mut self.heads_ahead) {
            let rows = match self.conn.rt.block_on(fut) {
                Ok(rows) => rows,
                Err(e) => {
                    self.failed = true;
                    self.drop_ahead();
                    return Err(pg_error(&e));
                }
            };
            for r in &rows {
                let get = |e: postgres::Error| StoreError(format!("postgres: {e}"));
                let user: String = r.try_get(0).map_err(get)?;
                let head: i64 = r.try_get(1).map_err(get)?;
                self.heads.entry(user).or_insert(head);
            }
        }
        Ok(())
    }

    /// Forgets `msg_id`'s lock sent ahead: its answer is the row as it was before a write.
    pub(super) fn forget_ahead(&mut self, msg_id: &str) {
        if !self.ahead.is_empty() || !self.ahead_rows.is_empty() {
            self.ahead.remove(msg_id);
            self.ahead_rows.remove(msg_id);
        }
    }

    /// Forgets every lock sent ahead (the transaction ends, or failed).
    pub(super) fn drop_ahead(&mut self) {
        self.ahead.clear();
        self.ahead_rows.clear();
        self.ahead_sent.clear();
        self.heads_ahead.clear();
        self.heads_pending.clear();
    }
}
