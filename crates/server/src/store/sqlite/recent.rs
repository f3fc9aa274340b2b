//! The recent part of the SQLite event log: `events_recent` (rows in arrival order) and its
//! index in memory, rebuilt from the table when the store opens ([`SqliteStore::load_recent`]),
//! and the bulk moves of those events to `events`, user by user ([`SqliteStore::move_step`]).
//! Why the log has two tables: see the top of `store/sqlite.rs`.
//!
//! A row of `events_recent` is one event of one user, or (its `fanout` column set) one event of
//! many users: a fan-out of at least [`super::PACK_FROM`] recipients, listed as JSON
//! `[[userID, seq], ...]` (`SqliteStore::append_events_at`; its `user_id` is empty and its
//! `seq` the number of recipients). Both kinds are indexed the same
//! way here; the deletes after a move count a fan-out row as its number of recipients.

use super::{db, SqliteStore, BACKEND};
use crate::store::rows::{bound, to_i64};
use im_revoke_core::store::{EventKind, EventRecord, Store, StoreError};
use rusqlite::params;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// One recent event of a user.
struct RecentEvent {
    seq: u64,
    kind: EventKind,
    /// Shared by every member of one fan-out.
    target: Arc<str>,
}

/// The in-memory index of `events_recent`: per user, its events not yet in `events` (their seqs
/// follow that user's last one in `events`).
#[derive(Default)]
pub(super) struct Recent {
    by_user: HashMap<String, Vec<RecentEvent>>,
    /// Events in `by_user`.
    pub(super) count: usize,
    /// The largest `events_recent.id` written.
    pub(super) last_id: i64,
    /// The target of the last append (a fan-out appends the same one many times).
    last_target: Option<Arc<str>>,
    /// The move in progress.
    pub(super) moving: Option<Move>,
    /// Fan-out rows of `events_recent` not deleted yet: id → recipients.
    fanouts: BTreeMap<i64, usize>,
    /// The last seq in `events` of users without recent events, as far as known (set by
    /// moves and by reads of the table; only moves write `events`).
    cold: HashMap<String, u64>,
}

/// Users whose `events` head [`Recent`] remembers at most (then it forgets them all and reads
/// them again as needed).
const COLD_HEADS: usize = 200_000;

/// A move of recent events to `events`: the users who had some when it started, in userID
/// order; once all are moved, every `events_recent` row up to `upto_id` is in `events`.
pub(super) struct Move {
    users: Vec<String>,
    next: usize,
    upto_id: i64,
}

impl Recent {
    /// The last seq of `user`'s recent events, if it has any.
    pub(super) fn head(&self, user: &str) -> Option<u64> {
        self.by_user.get(user).and_then(|v| v.last()).map(|e| e.seq)
    }

    /// The last seq of `user` in `events`, if remembered.
    pub(super) fn cold_head(&self, user: &str) -> Option<u64> {
        self.cold.get(user).copied()
    }

    /// Remembers `head` as the last seq of `user` in `events`.
    pub(super) fn set_cold_head(&mut self, user: &str, head: u64) {
        if self.cold.len() >= COLD_HEADS {
            self.cold = HashMap::new();
        }
        match self.cold.get_mut(user) {
            Some(h) => *h = head,
            None => {
                self.cold.insert(user.to_string(), head);
            }
        }
    }

    /// Row `id` of `events_recent` is a fan-out to `recipients` users.
    pub(super) fn packed(&mut self, id: i64, recipients: usize) {
        self.fanouts.insert(id, recipients);
    }

    fn target(&mut self, target: &str) -> Arc<str> {
        match &self.last_target {
            Some(t) if &**t == target => t.clone(),
            _ => {
                let t: Arc<str> = Arc::from(target);
                self.last_target = Some(t.clone());
                t
            }
        }
    }

    /// Indexes an event written to `events_recent` (its seq follows the user's head).
    pub(super) fn push(&mut self, user: &str, seq: u64, kind: EventKind, target: &str) {
        let target = self.target(target);
        let entry = RecentEvent { seq, kind, target };
        match self.by_user.get_mut(user) {
            Some(v) => v.push(entry),
            None => {
                self.by_user.insert(user.to_string(), vec![entry]);
            }
        }
        self.count += 1;
    }

    /// Indexes `user`'s event `seq` if the user has recent events and `seq` follows the last
    /// one (one lookup); false (nothing indexed) otherwise: the caller checks the head the
    /// longer way, or refuses.
    pub(super) fn push_next(
        &mut self,
        user: &str,
        seq: u64,
        kind: EventKind,
        target: &str,
    ) -> bool {
        let target = self.target(target);
        match self.by_user.get_mut(user) {
            Some(v) if v.last().is_some_and(|e| e.seq + 1 == seq) => {
                v.push(RecentEvent { seq, kind, target });
                self.count += 1;
                true
            }
            _ => false,
        }
    }

    /// Un-indexes `user`'s last recent event (a fan-out that was not written after all).
    pub(super) fn pop(&mut self, user: &str) {
        if let Some(v) = self.by_user.get_mut(user) {
            if v.pop().is_some() {
                self.count -= 1;
            }
            if v.is_empty() {
                self.by_user.remove(user);
            }
        }
    }

    /// Appends to `out` up to `limit` (in all) of `user`'s recent events after those in `out`
    /// (or after `after` when `out` is empty).
    pub(super) fn extend_after(
        &self,
        user: &str,
        after: u64,
        limit: usize,
        out: &mut Vec<EventRecord>,
    ) {
        if out.len() >= limit {
            return;
        }
        if let Some(recent) = self.by_user.get(user) {
            let from = out.last().map_or(after, |e| e.seq);
            let more = limit - out.len();
            out.extend(
                recent
                    .iter()
                    .filter(|e| e.seq > from)
                    .take(more)
                    .map(|e| EventRecord {
                        seq: e.seq,
                        kind: e.kind,
                        target: e.target.to_string(),
                    }),
            );
        }
    }
}

impl SqliteStore {
    /// Fills the in-memory index from `events_recent`, skipping the rows already moved to
    /// `events` (a move stopped by a crash leaves them behind; the next move deletes them).
    pub(super) fn load_recent(&mut self) -> Result<(), StoreError> {
        type RecentRow = (i64, String, i64, i64, String, Option<String>);
        let rows: Vec<RecentRow> = {
            let conn = self.begin()?;
            let mut st = conn
                .prepare(
                    "SELECT id, user_id, seq, kind, target, fanout FROM events_recent ORDER BY id",
                )
                .map_err(db)?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)?
        };
        let mut moved_upto: HashMap<String, u64> = HashMap::new();
        for (id, user, seq, kind, target, fanout) in rows {
            self.recent.last_id = self.recent.last_id.max(id);
            let kind = BACKEND.event_kind(kind, "events_recent")?;
            let entries: Vec<(String, u64)> = match fanout {
                None => vec![(user, BACKEND.read_u64(seq)?)],
                Some(list) => {
                    let entries: Vec<(String, u64)> = serde_json::from_str(&list)
                        .map_err(|_| BACKEND.corrupt("events_recent (a fan-out list)"))?;
                    self.recent.packed(id, entries.len());
                    entries
                }
            };
            for (user, seq) in entries {
                let cold = match moved_upto.get(&user) {
                    Some(h) => *h,
                    None => {
                        let h = self.cold_head(&user)?;
                        moved_upto.insert(user.clone(), h);
                        h
                    }
                };
                if seq <= cold {
                    continue;
                }
                let head = self.recent.head(&user).unwrap_or(cold);
                if seq != head + 1 {
                    return Err(BACKEND.corrupt("events_recent (a gap in a log)"));
                }
                self.recent.push(&user, seq, kind, &target);
            }
        }
        self.commit()
    }

    /// Moves up to `budget` recent events to `events`, user by user in userID order (starting
    /// a move if none is in progress and some are waiting), then deletes the moved rows of
    /// `events_recent`, `budget` rows per step. Returns whether a move is still in progress.
    pub(super) fn move_step(&mut self, budget: usize) -> Result<bool, StoreError> {
        if self.recent.moving.is_none() {
            if self.recent.count == 0 {
                return Ok(false);
            }
            let mut list: Vec<String> = self.recent.by_user.keys().cloned().collect();
            list.sort_unstable();
            self.recent.moving = Some(Move {
                users: list,
                next: 0,
                upto_id: self.recent.last_id,
            });
        }
        if !self.in_tx {
            super::run_cached(&self.conn, "BEGIN IMMEDIATE")?;
            self.in_tx = true;
        }
        let conn = &self.conn;
        let recent = &mut self.recent;
        let Some(mv) = recent.moving.as_mut() else {
            return Ok(false);
        };
        if mv.next < mv.users.len() {
            let mut insert = conn
                .prepare_cached(
                    "INSERT INTO events (user_id, seq, kind, target) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(db)?;
            let mut left = budget.max(1);
            while left > 0 && mv.next < mv.users.len() {
                let user = &mv.users[mv.next];
                let Some(events) = recent.by_user.get_mut(user) else {
                    mv.next += 1;
                    continue;
                };
                // The oldest first: what stays recent still follows what was moved.
                let n = left.min(events.len());
                let mut last = None;
                for e in events.drain(..n) {
                    insert
                        .execute(params![user, to_i64(e.seq)?, e.kind.as_u8(), &*e.target])
                        .map_err(db)?;
                    last = Some(e.seq);
                }
                recent.count -= n;
                left -= n;
                if events.is_empty() {
                    if let Some(last) = last {
                        if recent.cold.len() >= COLD_HEADS {
                            recent.cold = HashMap::new();
                        }
                        recent.cold.insert(user.clone(), last);
                    }
                    recent.by_user.remove(user);
                    mv.next += 1;
                }
            }
            return Ok(true);
        }
        // Every row up to `upto_id` is in `events` now: delete them, oldest first, at most
        // `budget` rows and fan-out rows of about `budget` recipients in all (at least one).
        let budget = budget.max(1);
        let mut upto = mv.upto_id;
        let mut recipients = 0;
        for (&id, &n) in recent.fanouts.range(..=mv.upto_id) {
            recipients += n;
            if recipients >= budget {
                upto = id;
                break;
            }
        }
        let deleted = conn
            .prepare_cached(
                "DELETE FROM events_recent WHERE id IN
                    (SELECT id FROM events_recent WHERE id <= ?1 ORDER BY id LIMIT ?2)",
            )
            .map_err(db)?
            .execute(params![upto, bound(budget)])
            .map_err(db)?;
        // Fan-out rows below the oldest row left are gone.
        let oldest: Option<i64> = conn
            .prepare_cached("SELECT MIN(id) FROM events_recent")
            .map_err(db)?
            .query_row([], |r| r.get(0))
            .map_err(db)?;
        match oldest {
            Some(o) => recent.fanouts = recent.fanouts.split_off(&o),
            None => recent.fanouts.clear(),
        }
        if deleted < budget && upto == mv.upto_id {
            recent.moving = None;
            return Ok(false);
        }
        Ok(true)
    }
}
