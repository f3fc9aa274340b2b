//! The recent part of the SQLite event log: `events_recent` (rows in arrival order) and its
//! index in memory, rebuilt from the table when the store opens ([`SqliteStore::load_recent`]),
//! and the bulk moves of those events to `events`, user by user ([`SqliteStore::move_step`]).
//! Why the log has two tables: see the top of `store/sqlite.rs`.

use super::{db, SqliteStore, BACKEND};
use crate::store::rows::{bound, to_i64};
use im_revoke_core::store::{EventKind, EventRecord, Store, StoreError};
use rusqlite::params;
use std::collections::HashMap;
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
}

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
        type RecentRow = (i64, String, i64, i64, String);
        let rows: Vec<RecentRow> = {
            let conn = self.begin()?;
            let mut st = conn
                .prepare("SELECT id, user_id, seq, kind, target FROM events_recent ORDER BY id")
                .map_err(db)?;
            let rows = st
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)?
        };
        let mut moved_upto: HashMap<String, u64> = HashMap::new();
        for (id, user, seq, kind, target) in rows {
            self.recent.last_id = self.recent.last_id.max(id);
            let seq = BACKEND.read_u64(seq)?;
            let kind = BACKEND.event_kind(kind, "events_recent")?;
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
            self.conn.execute_batch("BEGIN IMMEDIATE").map_err(db)?;
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
                for e in events.drain(..n) {
                    insert
                        .execute(params![user, to_i64(e.seq)?, e.kind.as_u8(), &*e.target])
                        .map_err(db)?;
                }
                recent.count -= n;
                left -= n;
                if events.is_empty() {
                    recent.by_user.remove(user);
                    mv.next += 1;
                }
            }
            return Ok(true);
        }
        // Every row up to `upto_id` is in `events` now: delete them, oldest first.
        let deleted = conn
            .prepare_cached(
                "DELETE FROM events_recent WHERE id IN
                    (SELECT id FROM events_recent WHERE id <= ?1 ORDER BY id LIMIT ?2)",
            )
            .map_err(db)?
            .execute(params![mv.upto_id, bound(budget.max(1))])
            .map_err(db)?;
        if deleted < budget.max(1) {
            recent.moving = None;
            return Ok(false);
        }
        Ok(true)
    }
}
