//! Writes of the open transaction that wait for its commit.

use super::*;

/// Writes of the open transaction that wait for its commit (or for a read that must see them),
/// to be sent as one statement per table: changes to messages the transaction holds locked (a
/// revoke, [`Store::update_message`]), and events appended to logs whose head row it holds
/// (a head it took earlier in the transaction, then counted on here). None of them can clash
/// with another writer, as their rows are locked already: sending them late only saves round
/// trips. Each entry carries its request, to be dropped when that request is undone.
#[derive(Default)]
pub(super) struct Deferred {
    pub(super) messages: Vec<(u64, Message)>,
    /// `(request, user, seq, kind, target)`.
    pub(super) events: Vec<(u64, String, i64, i16, String)>,
}

impl Deferred {
    pub(super) fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.events.is_empty()
    }

    /// The newest deferred version of message `msg_id`.
    pub(super) fn message(&self, msg_id: &str) -> Option<&Message> {
        self.messages
            .iter()
            .rev()
            .find(|(_, m)| m.msg_id == msg_id)
            .map(|(_, m)| m)
    }

    /// The entries of requests other than `req`.
    pub(super) fn others(&self, req: u64) -> Deferred {
        Deferred {
            messages: self
                .messages
                .iter()
                .filter(|e| e.0 != req)
                .cloned()
                .collect(),
            events: self.events.iter().filter(|e| e.0 != req).cloned().collect(),
        }
    }
}

/// [`Deferred`] as the arrays of its statements.
#[derive(Default)]
pub(super) struct DeferredArgs {
    pub(super) msg_ids: Vec<String>,
    pub(super) elems: Vec<Option<String>>,
    pub(super) revokes: Vec<Option<String>>,
    pub(super) reply_tos: Vec<Option<String>>,
    pub(super) custom: Vec<Option<String>>,
    pub(super) ev_users: Vec<String>,
    pub(super) ev_seqs: Vec<i64>,
    pub(super) ev_kinds: Vec<i16>,
    pub(super) ev_targets: Vec<String>,
    pub(super) head_users: Vec<String>,
    pub(super) heads: Vec<i64>,
}

impl DeferredArgs {
    pub(super) fn new(d: &Deferred) -> Result<DeferredArgs, StoreError> {
        let mut a = DeferredArgs::default();
        // A message changed twice: its last version.
        let mut seen = HashSet::new();
        for (_, m) in d.messages.iter().rev() {
            if seen.insert(m.msg_id.as_str()) {
                let v = MessageValues::new(m)?;
                a.msg_ids.push(m.msg_id.clone());
                a.elems.push(v.elem);
                a.revokes.push(v.revoke);
                a.reply_tos.push(v.reply_to);
                a.custom.push(v.cloud_custom_data);
            }
        }
        let mut heads: std::collections::BTreeMap<&str, i64> = Default::default();
        for (_, user, seq, kind, target) in &d.events {
            a.ev_users.push(user.clone());
            a.ev_seqs.push(*seq);
            a.ev_kinds.push(*kind);
            a.ev_targets.push(target.clone());
            let h = heads.entry(user).or_insert(*seq);
            *h = (*h).max(*seq);
        }
        for (user, head) in heads {
            a.head_users.push(user.to_string());
            a.heads.push(head);
        }
        Ok(a)
    }
}

impl PgStore {
    /// Sends the deferred writes now (a read must see them).
    pub(super) fn flush(&mut self) -> Result<(), StoreError> {
        if self.deferred.is_empty() {
            return Ok(());
        }
        self.ready()?;
        let d = std::mem::take(&mut self.deferred);
        let req = self.request;
        let mine = d.messages.iter().any(|e| e.0 == req) || d.events.iter().any(|e| e.0 == req);
        if mine && self.savepoint == Savepoint::Pending {
            // The current request's writes must stay undoable.
            self.conn.prelude.push("SAVEPOINT request");
            self.savepoint = Savepoint::Set;
            self.savepoints += 1;
        }
        if self.savepoint == Savepoint::Set {
            // Undoing the current request would undo these writes of earlier requests too.
            let earlier = d.others(self.request);
            self.replay.messages.extend(earlier.messages);
            self.replay.events.extend(earlier.events);
        }
        let args = DeferredArgs::new(&d)?;
        let r = self.send(&args, &[], false);
        if r.is_err() {
            self.failed = true;
        }
        r
    }

    /// Sends the deferred writes `a`, then a NOTIFY for each of `payloads`, then `COMMIT` if
    /// `commit`, all in one round trip. Any failure fails the whole (a COMMIT after a failed
    /// statement would only roll back).
    pub(super) fn send(
        &mut self,
        a: &DeferredArgs,
        payloads: &[String],
        commit: bool,
    ) -> Result<(), StoreError> {
        let pre = self.conn.prelude.join("; ");
        self.conn.prelude.clear();
        let client: &tokio_postgres::Client = &self.conn.client;
        let st = &self.st;
        let mut futs: Vec<Sent<'_>> = Vec::new();
        let mut expect: Vec<(&str, Option<usize>)> = Vec::new();
        if !pre.is_empty() {
            let pre = &pre;
            futs.push(Box::pin(async move {
                client.batch_execute(pre).await.map(|()| 0)
            }));
            expect.push(("begin", None));
        }
        if !a.msg_ids.is_empty() {
            futs.push(Box::pin(async move {
                client
                    .execute(
                        &st.write_messages,
                        &[&a.msg_ids, &a.elems, &a.revokes, &a.reply_tos, &a.custom],
                    )
                    .await
            }));
            expect.push(("deferred message changes", Some(a.msg_ids.len())));
        }
        if !a.ev_users.is_empty() {
            futs.push(Box::pin(async move {
                client
                    .execute(
                        &st.write_events,
                        &[&a.ev_users, &a.ev_seqs, &a.ev_kinds, &a.ev_targets],
                    )
                    .await
            }));
            expect.push(("deferred events", Some(a.ev_users.len())));
            futs.push(Box::pin(async move {
                client
                    .execute(&st.write_heads, &[&a.head_users, &a.heads])
                    .await
            }));
            expect.push(("deferred heads", Some(a.head_users.len())));
        }
        for p in payloads {
            futs.push(Box::pin(async move {
                client.execute(&st.notify, &[&CHANNEL, p]).await
            }));
            expect.push(("notify", None));
        }
        if commit {
            futs.push(Box::pin(async move {
                client.batch_execute("COMMIT").await.map(|()| 0)
            }));
            expect.push(("commit", None));
        }
        if futs.is_empty() {
            return Ok(());
        }
        let results = self.conn.rt.block_on(in_order(futs));
        for (r, (what, n)) in results.into_iter().zip(expect) {
            match r {
                Err(e) => return Err(StoreError(format!("postgres: {what}: {e}"))),
                Ok(got) => {
                    if let Some(n) = n {
                        if got != n as u64 {
                            return Err(StoreError(format!(
                                "postgres: {what}: {got} rows written, {n} expected"
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
