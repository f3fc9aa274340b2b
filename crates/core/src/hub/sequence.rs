//! The sequencer — how a hub numbers the events of each user's log and the messages of each
//! conversation — and the fan-out, which appends an event to its recipients' logs and delivers it
//! live. Everything that differs between the two modes of a hub is in this file.
//!
//! The mode is chosen once, at construction:
//!
//! - [`Sequencer::Owned`] ([`Hub::new`]): the hub is its store's only writer. The heads it caches
//!   (and the groups, see `groups.rs`) are the store's, so the next seq is known without asking
//!   the store.
//! - `Sequencer::Shared` (`Hub::shared`, feature `shared`): other nodes write the same store.
//!   The store assigns every seq under its locks, nothing shared is cached, and each session has
//!   a cursor — the last seq delivered to it — so that events other nodes wrote reach it first,
//!   in order, each once (`Hub::catch_up`, also run by [`Hub::wake`]).

use super::groups::GroupCache;
use super::{Fail, Hub, Outgoing, SessionId, CACHE_ENTRIES, R};
use crate::model::ConvId;
use crate::protocol::{Envelope, Event, ServerFrame};
#[cfg(feature = "shared")]
use crate::store::StoreError;
use crate::store::{EventKind, Store};
use std::collections::HashMap;
use std::sync::Arc;

/// How this hub numbers events (see the module documentation).
pub(super) enum Sequencer {
    /// The only writer: cached heads.
    Owned(Owned),
    /// One of several writers: store-assigned seqs, per-session cursors.
    #[cfg(feature = "shared")]
    Shared(Shared),
}

/// The state of an owned sequencer: write-through copies of the store.
#[derive(Default)]
pub(super) struct Owned {
    user_heads: HashMap<String, u64>,
    conv_heads: HashMap<ConvId, u64>,
    groups: GroupCache,
}

/// The state of a shared sequencer (never built without the `shared` feature).
#[derive(Default)]
#[cfg_attr(not(feature = "shared"), allow(dead_code))]
pub(super) struct Shared {
    /// The last event seq delivered to each session (live, acknowledged, synced).
    cursors: HashMap<SessionId, u64>,
    /// Cursors as they were before the request being handled moved them.
    undo: Vec<(SessionId, u64)>,
}

impl Sequencer {
    /// The sequencer of [`Hub::new`].
    pub(super) fn owned() -> Self {
        Sequencer::Owned(Owned::default())
    }

    /// The sequencer of `Hub::shared`.
    #[cfg(feature = "shared")]
    pub(super) fn shared() -> Self {
        Sequencer::Shared(Shared::default())
    }

    /// Whether other hubs write the store too. This and the accessors below are always inlined:
    /// without the `shared` feature they are constants at every call site, which leaves the code
    /// of the shared mode out of the browser module.
    #[inline(always)]
    pub(super) fn is_shared(&self) -> bool {
        self.cursors().is_some()
    }

    #[inline(always)]
    fn cursors(&self) -> Option<&Shared> {
        match self {
            Sequencer::Owned(_) => None,
            #[cfg(feature = "shared")]
            Sequencer::Shared(s) => Some(s),
        }
    }

    #[inline(always)]
    fn cursors_mut(&mut self) -> Option<&mut Shared> {
        match self {
            Sequencer::Owned(_) => None,
            #[cfg(feature = "shared")]
            Sequencer::Shared(s) => Some(s),
        }
    }

    /// The group cache, for a hub that keeps one (the owned one).
    #[inline(always)]
    pub(super) fn groups(&mut self) -> Option<&mut GroupCache> {
        match self {
            Sequencer::Owned(o) => Some(&mut o.groups),
            #[cfg(feature = "shared")]
            Sequencer::Shared(_) => None,
        }
    }

    /// `session` logged in with `head` as the head of its user's log. A shared hub goes on
    /// delivering live from there: the client catches up to the head itself (`sync`).
    pub(super) fn login(&mut self, session: SessionId, head: u64) {
        if let Some(s) = self.cursors_mut() {
            s.cursors.insert(session, head);
        }
    }

    /// `session` is gone.
    pub(super) fn logout(&mut self, session: SessionId) {
        if let Some(s) = self.cursors_mut() {
            s.cursors.remove(&session);
        }
    }

    /// The last seq delivered to `session` (shared hubs only).
    fn cursor(&self, session: SessionId) -> Option<u64> {
        self.cursors()?.cursors.get(&session).copied()
    }

    /// Shared hubs: moves `session`'s cursor up to `seq` (never down), undoably.
    pub(super) fn advance(&mut self, session: SessionId, seq: u64) {
        if let Some(s) = self.cursors_mut() {
            if let Some(c) = s.cursors.get_mut(&session) {
                if *c < seq {
                    s.undo.push((session, *c));
                    *c = seq;
                }
            }
        }
    }

    /// Keeps the cursor moves made so far: they can no longer be undone.
    pub(super) fn keep_moves(&mut self) {
        if let Some(s) = self.cursors_mut() {
            s.undo.clear();
        }
    }

    /// Undoes the cursor moves since [`Sequencer::keep_moves`] (of sessions still here).
    pub(super) fn undo_moves(&mut self) {
        if let Some(s) = self.cursors_mut() {
            while let Some((session, c)) = s.undo.pop() {
                if let Some(cursor) = s.cursors.get_mut(&session) {
                    *cursor = c;
                }
            }
        }
    }

    /// Owned hubs: `seq` is now the head of `conv` in the store.
    pub(super) fn conv_written(&mut self, conv: ConvId, seq: u64) {
        match self {
            Sequencer::Owned(o) => {
                o.conv_heads.insert(conv, seq);
            }
            #[cfg(feature = "shared")]
            Sequencer::Shared(_) => {}
        }
    }

    /// Keeps memory bounded on a long-running server: the caches are write-through copies of
    /// the store, so one that grew past its bound is simply dropped and refilled on demand.
    pub(super) fn trim(&mut self) {
        let max = CACHE_ENTRIES;
        match self {
            Sequencer::Owned(o) => {
                if o.user_heads.len() > max {
                    o.user_heads = HashMap::new();
                }
                if o.conv_heads.len() > max {
                    o.conv_heads = HashMap::new();
                }
                o.groups.trim(max / 10);
            }
            #[cfg(feature = "shared")]
            Sequencer::Shared(_) => {}
        }
    }
}

impl<S: Store> Hub<S> {
    /// The seq of the last event in `user`'s log.
    pub(super) fn user_head(&mut self, user: &str) -> R<u64> {
        match &mut self.seq {
            Sequencer::Owned(o) => {
                if let Some(h) = o.user_heads.get(user) {
                    return Ok(*h);
                }
                let h = self.store.user_head(user)?;
                o.user_heads.insert(user.to_string(), h);
                Ok(h)
            }
            #[cfg(feature = "shared")]
            Sequencer::Shared(_) => Ok(self.store.user_head(user)?),
        }
    }

    /// The seq of a new message in `conv` (to be recorded by [`Sequencer::conv_written`] once
    /// the message is stored).
    pub(super) fn next_conv_seq(&mut self, conv: &ConvId) -> R<u64> {
        Ok(match &self.seq {
            Sequencer::Owned(o) => {
                (match o.conv_heads.get(conv) {
                    Some(h) => *h,
                    None => self.store.conv_head(conv)?,
                }) + 1
            }
            #[cfg(feature = "shared")]
            Sequencer::Shared(_) => self.store.next_conv_seq(conv)?,
        })
    }

    /// Owned hubs: the seq of a new event in `user`'s log (its cached head + 1), recorded as
    /// the head. The caller writes the event ([`Store::append_events_at`]) in this request.
    fn next_owned(&mut self, user: &str) -> R<u64> {
        match &mut self.seq {
            Sequencer::Owned(o) => {
                // This hub is the only writer: the head it caches is the store's, so the next
                // seq is known without asking the store for it.
                if let Some(h) = o.user_heads.get_mut(user) {
                    *h += 1;
                    return Ok(*h);
                }
                let seq = self.store.user_head(user)? + 1;
                o.user_heads.insert(user.to_string(), seq);
                Ok(seq)
            }
            #[cfg(feature = "shared")]
            Sequencer::Shared(_) => {
                unreachable!("fan_out numbers events itself for owned hubs only")
            }
        }
    }

    /// Shared hubs: appends an event to the log of each of `recipients` and returns the seq
    /// each got. The store assigns them all in one go (heads locked in userID order).
    #[cfg(feature = "shared")]
    fn append_shared<'a>(
        &mut self,
        recipients: impl IntoIterator<Item = &'a String>,
        kind: EventKind,
        target: &str,
    ) -> R<Vec<(&'a str, u64)>> {
        let mut users: Vec<&str> = recipients.into_iter().map(String::as_str).collect();
        users.sort_unstable();
        users.dedup();
        let seqs = self.store.append_events(&users, kind, target)?;
        if seqs.len() != users.len() {
            return Err(
                StoreError("append_events returned the wrong number of seqs".into()).into(),
            );
        }
        Ok(users.into_iter().zip(seqs).collect())
    }

    /// Appends `ev` to each recipient's log and delivers it live to their sessions, except to
    /// `origin`. Returns the seq assigned in `origin_user`'s log (0 if not a recipient).
    ///
    /// The sequencer assigns the seqs (an owned one user by user, a shared one all at once);
    /// the delivery is the same ([`Hub::deliver`]).
    pub(super) fn fan_out<'a>(
        &mut self,
        recipients: impl IntoIterator<Item = &'a String>,
        origin: SessionId,
        origin_user: &str,
        kind: EventKind,
        target: &str,
        ev: Event,
    ) -> R<u64> {
        let ev = Arc::new(ev);
        let mut origin_seq = 0;
        match self.seq {
            Sequencer::Owned(_) => {
                // Every recipient's seq first, then the whole fan-out in one write (a store may
                // make it one record: a send to a 6,000-member group must not hold the hub, and
                // every other user's request behind it, for 6,000 row writes), then delivery.
                let mut entries: Vec<(&str, u64)> = Vec::new();
                for user in recipients {
                    let seq = self.next_owned(user)?;
                    entries.push((user.as_str(), seq));
                }
                self.store.append_events_at(&entries, kind, target)?;
                for (user, seq) in entries {
                    if user == origin_user {
                        origin_seq = seq;
                    }
                    self.deliver(user, seq, origin, &ev)?;
                }
            }
            #[cfg(feature = "shared")]
            Sequencer::Shared(_) => {
                for (user, seq) in self.append_shared(recipients, kind, target)? {
                    if user == origin_user {
                        origin_seq = seq;
                    }
                    self.deliver(user, seq, origin, &ev)?;
                }
            }
        }
        Ok(origin_seq)
    }

    /// Delivers event `seq` of `user` live to `user`'s sessions here, except to `origin` (whose
    /// acknowledgement carries the seq). In a shared hub, a session that has not had every
    /// earlier event of its log yet (written by other nodes) gets those first.
    fn deliver(&mut self, user: &str, seq: u64, origin: SessionId, ev: &Arc<Event>) -> R<()> {
        self.deliver_missed(user, seq)?;
        let Some(sessions) = self.online.get(user) else {
            return Ok(());
        };
        for &s in sessions {
            if s != origin {
                self.outbox.push(Outgoing {
                    session: s,
                    frame: ServerFrame::Event(Envelope {
                        seq,
                        event: ev.clone(),
                    }),
                });
            }
            self.seq.advance(s, seq);
        }
        Ok(())
    }

    /// Before event `seq` of `user` goes live: delivers to `user`'s sessions the events before
    /// it that they have not had (written by other nodes). Nothing for an owned hub, which wrote
    /// and delivered every event itself.
    fn deliver_missed(&mut self, user: &str, seq: u64) -> R<()> {
        if !self.seq.is_shared() {
            return Ok(());
        }
        let Some(sessions) = self.online.get(user).cloned() else {
            return Ok(());
        };
        // The request's writes are done: only a store failure may fail it now. (A backlog that
        // cannot be read otherwise is left to the client's `sync` on the gap.)
        match self.catch_up(user, &sessions, Some(seq - 1)) {
            Err(Fail::Store(e)) => Err(Fail::Store(e)),
            _ => Ok(()),
        }
    }

    /// Shared hubs: delivers to `sessions` (all of `user`'s here) the events of `user`'s log
    /// after their cursors, up to `upto` (all if `None`), in order, each once.
    pub(super) fn catch_up(
        &mut self,
        user: &str,
        sessions: &[SessionId],
        upto: Option<u64>,
    ) -> R<()> {
        let page = self.cfg.sync_page.max(1);
        let Some(mut from) = sessions.iter().filter_map(|s| self.seq.cursor(*s)).min() else {
            return Ok(());
        };
        loop {
            let want = match upto {
                Some(u) if u <= from => return Ok(()),
                Some(u) => page.min(usize::try_from(u - from).unwrap_or(page)),
                None => page,
            };
            let recs = self.store.events_after(user, from, want)?;
            let full = recs.len() == want;
            for rec in recs {
                let seq = rec.seq;
                let event = Arc::new(self.materialize(user, &rec)?);
                for &s in sessions {
                    if self.seq.cursor(s).is_some_and(|c| c < seq) {
                        self.push(
                            s,
                            ServerFrame::Event(Envelope {
                                seq,
                                event: event.clone(),
                            }),
                        );
                        self.seq.advance(s, seq);
                    }
                }
                from = seq;
            }
            if !full {
                return Ok(());
            }
        }
    }
}
