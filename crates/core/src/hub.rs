//! The hub: the authoritative state machine, sans I/O.
//!
//! Inputs are logins, frames from sessions and the current server time; outputs are frames to
//! deliver to sessions, released by [`Hub::commit`] only after the store has made the batch
//! durable. The server drives it with sockets, a clock and SQLite; the embedded `LocalHub` of the
//! browser module drives the very same code in memory.
//!
//! Every event (new message, revoke, group change) is appended to the event log of each user it
//! concerns, with a per-user sequence without gaps. Online sessions receive it live; a session
//! that was offline asks for everything after the last seq it applied (`sync`). The session that
//! caused an event receives, instead of the event, an acknowledgement carrying the same seq.
//! So every session sees every event of its user exactly once, in order.
//!
//! ## One hub per node, one shared store ([`Hub::shared`])
//!
//! Several server nodes may each drive a hub over one database. Such a hub keeps no cache of
//! shared state (heads, groups), lets the store assign every sequence under its locks, retries a
//! request that clashed with another node's writes (see [`crate::store`]), and remembers, per
//! session, the last seq it delivered (its cursor). Events that other nodes wrote reach this
//! node's sessions by [`Hub::wake`]: the host calls it when the database signals that those users
//! have new events, and the hub reads and delivers what follows each cursor — from the log, so a
//! lost or merged signal loses nothing (the next one, or a client's own `sync`, catches up). A live
//! event or an acknowledgement that would jump over events of other nodes not delivered yet is
//! preceded by them, so sessions still see their events in order, each once.

use crate::error::{Code, ImError};
use crate::limit::TokenBucket;
use crate::model::{
    check_group_id, check_msg_id, check_user_id, ConvId, Elem, Group, GroupRole, Message,
    RevokeInfo, GROUP_RECENT_REQS, MAX_GROUP_NAME,
};
use crate::policy::{check_revoke, Actor, Config};
use crate::protocol::{
    ClientFrame, ClientLimits, Envelope, Event, Revoked, ServerFrame, PROTOCOL_VERSION,
};
use crate::store::{EventKind, EventRecord, Store, StoreError};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

#[cfg(feature = "callbacks")]
mod admin;
#[cfg(feature = "callbacks")]
pub use admin::{AdminHistory, RecallResult, ADMIN_SESSION};

/// How many entries each of the hub's caches may hold before it is dropped and refilled.
pub const CACHE_ENTRIES: usize = 200_000;

/// Whether the multi-node code is compiled in (the `shared` feature; the server has it).
const SHARED: bool = cfg!(feature = "shared");

/// How many times a shared hub runs one request that keeps clashing with other writers before
/// it answers 20005 (without stopping: nothing of the request was written).
pub const CONFLICT_RETRIES: u32 = 8;

/// Identifies one connection (one device of one user). Chosen by the host.
pub type SessionId = u64;

/// A frame for one session.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    /// The session to deliver to.
    pub session: SessionId,
    /// The frame.
    pub frame: ServerFrame,
}

enum Fail {
    Im(ImError),
    Store(StoreError),
}

impl From<ImError> for Fail {
    fn from(e: ImError) -> Self {
        Fail::Im(e)
    }
}

impl From<Code> for Fail {
    fn from(c: Code) -> Self {
        Fail::Im(ImError::new(c))
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

type R<T> = Result<T, Fail>;

fn bad(code: Code, desc: &str) -> Fail {
    Fail::Im(ImError::with_desc(code, desc))
}

/// Who hears about a message's events: its group's members (shared with the group cache), or
/// the parties of a one-to-one conversation.
enum Parties {
    Group(Arc<Group>),
    Users(Vec<String>),
}

impl Parties {
    fn iter(&self) -> impl Iterator<Item = &String> {
        let (members, users) = match self {
            Parties::Group(g) => (Some(g.members.iter()), None),
            Parties::Users(v) => (None, Some(v.iter())),
        };
        members
            .into_iter()
            .flatten()
            .chain(users.into_iter().flatten())
    }
}

/// The authority. Generic over its [`Store`].
pub struct Hub<S: Store> {
    cfg: Config,
    store: S,
    sessions: HashMap<SessionId, String>,
    online: HashMap<String, Vec<SessionId>>,
    user_heads: HashMap<String, u64>,
    conv_heads: HashMap<ConvId, u64>,
    /// Shared, not copied, by every request that reads a group (a 10,000-member group is
    /// 10,000 strings).
    groups: HashMap<String, Arc<Group>>,
    rates: HashMap<String, TokenBucket>,
    outbox: Vec<Outgoing>,
    poisoned: Option<StoreError>,
    /// Several hubs share the store (see the module documentation).
    shared: bool,
    /// Shared hubs: the last event seq delivered to each session (live, acknowledged, synced).
    cursors: HashMap<SessionId, u64>,
    /// Shared hubs: cursors as they were before the request being handled moved them.
    cursor_undo: Vec<(SessionId, u64)>,
    /// Webhooks on: every send and revoke writes one into the store's outbox (`admin.rs`).
    #[cfg(feature = "callbacks")]
    callbacks: bool,
}

impl<S: Store> Hub<S> {
    /// A hub over `store` with configuration `cfg`.
    pub fn new(cfg: Config, store: S) -> Self {
        Hub {
            cfg,
            store,
            sessions: HashMap::new(),
            online: HashMap::new(),
            user_heads: HashMap::new(),
            conv_heads: HashMap::new(),
            groups: HashMap::new(),
            rates: HashMap::new(),
            outbox: Vec::new(),
            poisoned: None,
            shared: false,
            cursors: HashMap::new(),
            cursor_undo: Vec::new(),
            #[cfg(feature = "callbacks")]
            callbacks: false,
        }
    }

    /// Whether this hub shares its store (compiled out without the `shared` feature, so that the
    /// embedded hub of the browser module carries none of it).
    #[inline(always)]
    fn sharing(&self) -> bool {
        SHARED && self.shared
    }

    /// A hub over a `store` that other hubs (other server nodes) write too: sequences come
    /// from the store, nothing shared is cached, conflicting requests are retried, and events
    /// written elsewhere are delivered by [`Hub::wake`]. See the module documentation.
    #[cfg(feature = "shared")]
    pub fn shared(cfg: Config, store: S) -> Self {
        Hub {
            shared: true,
            ..Hub::new(cfg, store)
        }
    }

    /// Whether this hub shares its store with others ([`Hub::shared`]).
    pub fn is_shared(&self) -> bool {
        SHARED && self.shared
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The store (for inspection).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store, mutably (for hosts that need to inspect it between batches).
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// The user logged in on `session`, if any.
    pub fn session_user(&self, session: SessionId) -> Option<&str> {
        self.sessions.get(&session).map(String::as_str)
    }

    /// Number of sessions logged in.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// The store failure that stopped this hub, if any. A poisoned hub answers every request
    /// with 20005 and its [`Hub::commit`] fails: the host must stop and restart from the store.
    pub fn poisoned(&self) -> Option<&StoreError> {
        self.poisoned.as_ref()
    }

    /// Logs `session` in as `user_id`; the host has already checked the credentials.
    /// Queues `loginOk` (or an error frame) for the session.
    pub fn login(&mut self, session: SessionId, user_id: &str, version: u32, now_ms: u64) -> bool {
        let r = self.try_login(session, user_id, version, now_ms);
        self.finish(session, None, r).is_some()
    }

    fn try_login(&mut self, session: SessionId, user: &str, version: u32, now: u64) -> R<()> {
        if version != PROTOCOL_VERSION {
            return Err(bad(
                Code::UnsupportedVersion,
                "this server speaks protocol version 1",
            ));
        }
        if self.sessions.contains_key(&session) {
            return Err(Code::AlreadyLoggedIn.into());
        }
        check_user_id(user)?;
        let head_seq = self.user_head(user)?;
        if self.sharing() {
            // The client catches up to the head itself (`sync`); live delivery goes on from it.
            self.cursors.insert(session, head_seq);
        }
        self.sessions.insert(session, user.to_string());
        self.online
            .entry(user.to_string())
            .or_default()
            .push(session);
        self.push(
            session,
            ServerFrame::LoginOk {
                v: PROTOCOL_VERSION,
                user_id: user.to_string(),
                server_time: now,
                head_seq,
                limits: ClientLimits::from(&self.cfg),
            },
        );
        Ok(())
    }

    /// Forgets `session` (connection closed). Nothing is queued.
    pub fn logout(&mut self, session: SessionId) {
        self.cursors.remove(&session);
        if let Some(user) = self.sessions.remove(&session) {
            if let Some(list) = self.online.get_mut(&user) {
                list.retain(|s| *s != session);
                if list.is_empty() {
                    // The rate bucket stays: reconnecting does not refill it.
                    self.online.remove(&user);
                }
            }
        }
    }

    /// Handles one frame from `session` at server time `now_ms`, queueing the answer and any
    /// fan-out. `login` frames must go through [`Hub::login`] after the host checked them.
    pub fn handle(&mut self, session: SessionId, frame: ClientFrame, now_ms: u64) {
        let req_id = frame.req_id().map(str::to_string);
        let r = if self.sharing() {
            self.dispatch_retrying(session, frame, now_ms)
        } else {
            self.dispatch(session, frame, now_ms, true)
        };
        self.finish(session, req_id.as_deref(), r);
    }

    /// Shared hubs: runs the request; when it clashed with another writer, undoes it alone
    /// (its writes, its frames, the cursors it moved), commits the requests before it (so that
    /// the locks they hold are released), and runs it again.
    fn dispatch_retrying(&mut self, session: SessionId, frame: ClientFrame, now: u64) -> R<()> {
        let mut attempt = 0;
        loop {
            let mark = self.outbox.len();
            self.cursor_undo.clear();
            self.store.begin_request()?;
            let r = self.dispatch(session, frame.clone(), now, attempt == 0);
            if !matches!(&r, Err(Fail::Store(e)) if e.is_conflict()) {
                self.cursor_undo.clear();
                return r;
            }
            self.outbox.truncate(mark);
            while let Some((s, c)) = self.cursor_undo.pop() {
                if self.cursors.contains_key(&s) {
                    self.cursors.insert(s, c);
                }
            }
            self.store.undo_request()?;
            self.store.commit()?;
            attempt += 1;
            if attempt >= CONFLICT_RETRIES {
                return Err(bad(
                    Code::InternalError,
                    "busy: the request kept clashing with concurrent writes; nothing was stored, retry",
                ));
            }
        }
    }

    /// Shared hubs: delivers to the sessions of each of `users` (those logged in here) the
    /// events of their logs after their cursors — events other nodes wrote. The host calls it
    /// when the database signals new events for these users (PostgreSQL NOTIFY), and for every
    /// user online here after it may have missed signals. Nothing for a hub that is not shared.
    pub fn wake<'a>(&mut self, users: impl IntoIterator<Item = &'a str>) {
        if !self.sharing() || self.poisoned.is_some() {
            return;
        }
        for user in users {
            let Some(sessions) = self.online.get(user).cloned() else {
                continue;
            };
            match self.catch_up(user, &sessions, None) {
                Ok(()) => {}
                Err(Fail::Im(_)) => {} // an event names a group that no longer reads: skip
                Err(Fail::Store(e)) => {
                    self.poisoned.get_or_insert(e);
                    return;
                }
            }
        }
        self.cursor_undo.clear();
    }

    /// [`Hub::wake`] for every user logged in here (after signals may have been lost).
    pub fn wake_all(&mut self) {
        let users: Vec<String> = self.online.keys().cloned().collect();
        self.wake(users.iter().map(String::as_str));
    }

    /// Queues an error frame for `session` (for hosts: malformed frames, auth failures).
    pub fn reject(&mut self, session: SessionId, req_id: Option<&str>, e: ImError) {
        self.push(session, ServerFrame::error(req_id, e));
    }

    /// Makes the batch durable and returns the frames to deliver, in order. On a store failure
    /// nothing is returned and the hub is poisoned.
    pub fn commit(&mut self) -> Result<Vec<Outgoing>, StoreError> {
        self.trim_caches();
        if let Some(e) = &self.poisoned {
            self.outbox.clear();
            return Err(e.clone());
        }
        if let Err(e) = self.store.commit() {
            self.poisoned = Some(e.clone());
            self.outbox.clear();
            return Err(e);
        }
        Ok(std::mem::take(&mut self.outbox))
    }

    /// Lets the store do a step of deferred work ([`Store::maintain`]) and commits it. The host
    /// calls it only when no frame is waiting. Returns whether more work remains; on a store
    /// failure the hub is poisoned, as by a failed [`Hub::commit`].
    pub fn maintain(&mut self) -> Result<bool, StoreError> {
        if let Some(e) = &self.poisoned {
            return Err(e.clone());
        }
        let r = self
            .store
            .maintain()
            .and_then(|more| self.store.commit().map(|()| more));
        if let Err(e) = &r {
            self.poisoned = Some(e.clone());
        }
        r
    }

    /// Keeps memory bounded on a long-running server: the caches are write-through copies of
    /// the store, so one that grew past its bound is simply dropped and refilled on demand.
    /// (Rate buckets dropped this way start full again: a little leniency, once in a while.)
    fn trim_caches(&mut self) {
        let max = CACHE_ENTRIES;
        if self.user_heads.len() > max {
            self.user_heads = HashMap::new();
        }
        if self.conv_heads.len() > max {
            self.conv_heads = HashMap::new();
        }
        if self.groups.len() > max / 10 {
            self.groups = HashMap::new();
        }
        if self.rates.len() > max {
            self.rates = HashMap::new();
        }
    }

    fn finish(&mut self, session: SessionId, req_id: Option<&str>, r: R<()>) -> Option<()> {
        match r {
            Ok(()) => Some(()),
            Err(Fail::Im(e)) => {
                self.push(session, ServerFrame::error(req_id, e));
                None
            }
            Err(Fail::Store(e)) => {
                self.poisoned.get_or_insert(e);
                self.push(
                    session,
                    ServerFrame::error(req_id, ImError::new(Code::InternalError)),
                );
                None
            }
        }
    }

    fn push(&mut self, session: SessionId, frame: ServerFrame) {
        self.outbox.push(Outgoing { session, frame });
    }

    /// Handles one frame; `charge` takes from the user's rate bucket (not again on a retry).
    fn dispatch(
        &mut self,
        session: SessionId,
        frame: ClientFrame,
        now: u64,
        charge: bool,
    ) -> R<()> {
        if self.poisoned.is_some() {
            return Err(Code::InternalError.into());
        }
        let Some(user) = self.sessions.get(&session).cloned() else {
            return Err(Code::NotLoggedIn.into());
        };
        if let Some(id) = frame.req_id().filter(|_| charge) {
            check_msg_id(id)?;
            let (rate, burst) = (self.cfg.user_rate_per_sec, self.cfg.user_burst);
            let bucket = self
                .rates
                .entry(user.clone())
                .or_insert_with(|| TokenBucket::new(rate, burst, now));
            if !bucket.try_take(now) {
                return Err(bad(
                    Code::FreqLimit,
                    "too many requests: slow down and retry",
                ));
            }
        }
        match frame {
            ClientFrame::Login { .. } => Err(Code::AlreadyLoggedIn.into()),
            ClientFrame::Ping { t } => {
                self.push(
                    session,
                    ServerFrame::Pong {
                        t,
                        server_time: now,
                    },
                );
                Ok(())
            }
            ClientFrame::Send {
                req_id,
                msg_id,
                receiver,
                group_id,
                elem,
            } => self.send(
                session, &user, req_id, msg_id, receiver, group_id, elem, now,
            ),
            ClientFrame::Revoke {
                req_id,
                msg_id,
                reason,
                group_id,
            } => self.revoke(session, &user, req_id, &msg_id, reason, group_id, now),
            ClientFrame::History {
                req_id,
                user_id,
                group_id,
                before_seq,
                count,
            } => self.history(
                session, &user, req_id, user_id, group_id, before_seq, count, now,
            ),
            ClientFrame::FindMessages { req_id, msg_ids } => {
                self.find(session, &user, req_id, msg_ids, now)
            }
            ClientFrame::Sync { req_id, after_seq } => {
                self.sync(session, &user, req_id, after_seq, now)
            }
            ClientFrame::CreateGroup {
                req_id,
                group_id,
                name,
                admins,
                members,
            } => self.create_group(session, &user, req_id, group_id, name, admins, members, now),
            ClientFrame::AddGroupMembers {
                req_id,
                group_id,
                members,
            } => self.add_members(session, &user, req_id, &group_id, members, now),
            ClientFrame::RemoveGroupMembers {
                req_id,
                group_id,
                members,
            } => self.remove_members(session, &user, req_id, &group_id, members, now),
            ClientFrame::SetGroupMemberRole {
                req_id,
                group_id,
                user_id,
                role,
            } => self.set_role(session, &user, req_id, &group_id, &user_id, role, now),
            ClientFrame::GetJoinedGroups { req_id } => {
                let mut groups = self.store.groups_of(&user)?;
                for g in &mut groups {
                    g.recent_req_ids.clear();
                }
                self.push(
                    session,
                    ServerFrame::Groups {
                        req_id,
                        server_time: now,
                        groups,
                    },
                );
                Ok(())
            }
        }
    }

    // ----- sequences and caches -----

    fn user_head(&mut self, user: &str) -> R<u64> {
        if self.sharing() {
            return Ok(self.store.user_head(user)?);
        }
        if let Some(h) = self.user_heads.get(user) {
            return Ok(*h);
        }
        let h = self.store.user_head(user)?;
        self.user_heads.insert(user.to_string(), h);
        Ok(h)
    }

    fn group(&mut self, group_id: &str) -> R<Arc<Group>> {
        if let Some(g) = self.groups.get(group_id) {
            return Ok(g.clone());
        }
        check_group_id(group_id)?;
        match self.store.group(group_id)? {
            Some(g) => {
                let g = Arc::new(g);
                if !self.sharing() {
                    self.groups.insert(group_id.to_string(), g.clone());
                }
                Ok(g)
            }
            None => Err(Code::GroupNotFound.into()),
        }
    }

    /// The group, to be changed by this request (locked in a shared store).
    fn group_for_update(&mut self, group_id: &str) -> R<Group> {
        if !self.sharing() {
            return Ok(Group::clone(&*self.group(group_id)?));
        }
        check_group_id(group_id)?;
        self.store
            .group_for_update(group_id)?
            .ok_or_else(|| Code::GroupNotFound.into())
    }

    fn save_group(&mut self, g: Group) -> R<()> {
        self.store.put_group(&g)?;
        if !self.sharing() {
            self.groups.insert(g.group_id.clone(), Arc::new(g));
        }
        Ok(())
    }

    /// Shared hubs: moves `session`'s cursor up to `seq` (never down), undoably.
    fn advance(&mut self, session: SessionId, seq: u64) {
        if let Some(c) = self.cursors.get_mut(&session) {
            if *c < seq {
                self.cursor_undo.push((session, *c));
                *c = seq;
            }
        }
    }

    /// Shared hubs: delivers to `sessions` (all of `user`'s here) the events of `user`'s log
    /// after their cursors, up to `upto` (all if `None`), in order, each once.
    fn catch_up(&mut self, user: &str, sessions: &[SessionId], upto: Option<u64>) -> R<()> {
        let page = self.cfg.sync_page.max(1);
        let Some(mut from) = sessions
            .iter()
            .filter_map(|s| self.cursors.get(s).copied())
            .min()
        else {
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
                    if self.cursors.get(&s).is_some_and(|c| *c < seq) {
                        self.push(
                            s,
                            ServerFrame::Event(Envelope {
                                seq,
                                event: event.clone(),
                            }),
                        );
                        self.advance(s, seq);
                    }
                }
                from = seq;
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Appends `ev` to each recipient's log and delivers it live to their sessions, except to
    /// `origin`. Returns the seq assigned in `origin_user`'s log (0 if not a recipient).
    fn fan_out<'a>(
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
        if self.sharing() {
            return self.fan_out_shared(recipients, origin, origin_user, kind, target, ev);
        }
        for user in recipients {
            // This hub is the only writer: the head it caches is the store's, so the next seq is
            // known without asking the store for it.
            let seq = self.user_head(user)? + 1;
            self.store.append_event_at(user, seq, kind, target)?;
            match self.user_heads.get_mut(user.as_str()) {
                Some(h) => *h = seq,
                None => {
                    self.user_heads.insert(user.clone(), seq);
                }
            }
            if user == origin_user {
                origin_seq = seq;
            }
            if let Some(sessions) = self.online.get(user.as_str()) {
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
                }
            }
        }
        Ok(origin_seq)
    }

    /// [`Hub::fan_out`] of a shared hub: the store assigns all the seqs in one go (heads locked
    /// in userID order); a session that has not had every earlier event of its log yet (written
    /// by other nodes) gets those first.
    fn fan_out_shared<'a>(
        &mut self,
        recipients: impl IntoIterator<Item = &'a String>,
        origin: SessionId,
        origin_user: &str,
        kind: EventKind,
        target: &str,
        ev: Arc<Event>,
    ) -> R<u64> {
        let mut users: Vec<&str> = recipients.into_iter().map(String::as_str).collect();
        users.sort_unstable();
        users.dedup();
        let seqs = self.store.append_events(&users, kind, target)?;
        if seqs.len() != users.len() {
            return Err(
                StoreError("append_events returned the wrong number of seqs".into()).into(),
            );
        }
        let mut origin_seq = 0;
        for (user, seq) in users.into_iter().zip(seqs) {
            if user == origin_user {
                origin_seq = seq;
            }
            let Some(sessions) = self.online.get(user).cloned() else {
                continue;
            };
            // The request's writes are done: only a store failure may fail it now. (A backlog
            // that cannot be read otherwise is left to the client's `sync` on the gap.)
            if let Err(Fail::Store(e)) = self.catch_up(user, &sessions, Some(seq - 1)) {
                return Err(Fail::Store(e));
            }
            for s in sessions {
                if s != origin {
                    self.push(
                        s,
                        ServerFrame::Event(Envelope {
                            seq,
                            event: ev.clone(),
                        }),
                    );
                }
                // The origin's acknowledgement carries this seq.
                self.advance(s, seq);
            }
        }
        Ok(origin_seq)
    }

    /// Everyone who should hear about events of `conv`.
    fn parties(&mut self, msg: &Message) -> R<Parties> {
        Ok(match (&msg.group_id, &msg.receiver) {
            (Some(g), _) => Parties::Group(self.group(g)?),
            (None, Some(r)) if *r != msg.sender => {
                Parties::Users(vec![msg.sender.clone(), r.clone()])
            }
            _ => Parties::Users(vec![msg.sender.clone()]),
        })
    }

    // ----- requests -----

    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: String,
        msg_id: String,
        receiver: Option<String>,
        group_id: Option<String>,
        elem: Elem,
        now: u64,
    ) -> R<()> {
        check_msg_id(&msg_id)?;
        // First: a resend of a message already accepted is answered as before, whatever has
        // changed since (the sender may have left the group meanwhile).
        if let Some(existing) = self.store.message_for_update(&msg_id)? {
            // A resend of a message we already have: answer as before, without a new event.
            if existing.sender == user
                && existing.receiver == receiver
                && existing.group_id == group_id
            {
                self.push(
                    session,
                    ServerFrame::SendOk {
                        req_id,
                        server_time: now,
                        seq: 0,
                        message: existing.view_for(user),
                    },
                );
                return Ok(());
            }
            return Err(Code::MsgIdConflict.into());
        }
        match &elem {
            Elem::Text { text } if text.is_empty() => {
                return Err(bad(Code::InvalidParameters, "text is empty"))
            }
            e if e.size() > self.cfg.max_text_bytes => {
                return Err(bad(
                    Code::BodySizeLimit,
                    "text is longer than the configured maximum",
                ))
            }
            _ => {}
        }
        let conv = match (&receiver, &group_id) {
            (Some(r), None) => {
                check_user_id(r)?;
                ConvId::c2c(user, r)
            }
            (None, Some(g)) => {
                let group = self.group(g)?;
                if group.role_of(user).is_none() {
                    return Err(bad(Code::GroupPermissionDeny, "not a member of this group"));
                }
                ConvId::Group(g.clone())
            }
            _ => {
                return Err(bad(
                    Code::InvalidParameters,
                    "give exactly one of receiver and groupID",
                ))
            }
        };
        let seq = if self.sharing() {
            self.store.next_conv_seq(&conv)?
        } else {
            (match self.conv_heads.get(&conv) {
                Some(h) => *h,
                None => self.store.conv_head(&conv)?,
            }) + 1
        };
        let msg = Message {
            msg_id,
            sender: user.to_string(),
            receiver,
            group_id,
            time_ms: now,
            seq,
            elem: Some(elem),
            revoke: None,
        };
        self.store.put_message(&msg)?;
        if !self.sharing() {
            self.conv_heads.insert(conv, seq);
        }
        let parties = self.parties(&msg)?;
        let ev = Event::NewMessage {
            message: msg.clone(),
        };
        let my_seq = self.fan_out(
            parties.iter(),
            session,
            user,
            EventKind::NewMessage,
            &msg.msg_id,
            ev,
        )?;
        #[cfg(feature = "callbacks")]
        self.callback(|| crate::callback::after_send(&msg, None, now))?;
        self.push(
            session,
            ServerFrame::SendOk {
                req_id,
                server_time: now,
                seq: my_seq,
                message: msg,
            },
        );
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn revoke(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: String,
        msg_id: &str,
        reason: String,
        group_hint: Option<String>,
        now: u64,
    ) -> R<()> {
        if reason.len() > self.cfg.max_reason_bytes {
            return Err(bad(Code::InvalidParameters, "reason is too long"));
        }
        let not_found = if group_hint.is_some() {
            Code::GroupRevokeMsgNotFound
        } else {
            Code::MsgNotFound
        };
        if check_msg_id(msg_id).is_err() {
            return Err(not_found.into());
        }
        let Some(mut msg) = self.store.message_for_update(msg_id)? else {
            return Err(not_found.into());
        };
        let (actor_role, sender_role) = match &msg.group_id {
            Some(g) => {
                let group = self.group(g)?;
                (group.role_of(user), group.role_of(&msg.sender))
            }
            None => {
                // Strangers to a one-to-one conversation do not learn that the message exists.
                if msg.sender != user && msg.receiver.as_deref() != Some(user) {
                    return Err(Code::MsgNotFound.into());
                }
                (None, None)
            }
        };
        if let Some(done) = &msg.revoke {
            if done.req_id == req_id && done.user_id == user {
                // A retry of the revoke that already succeeded: same answer, no new event.
                let revoked = Revoked::of(&msg).expect("revoked");
                self.push(
                    session,
                    ServerFrame::RevokeOk {
                        req_id,
                        server_time: now,
                        seq: 0,
                        revoked,
                    },
                );
                return Ok(());
            }
        }
        let allowed = check_revoke(
            &msg,
            Actor {
                user_id: user,
                role: actor_role,
            },
            sender_role,
            now,
            &self.cfg,
        )?;
        msg.revoke = Some(RevokeInfo {
            user_id: user.to_string(),
            role: allowed.role,
            reason,
            time_ms: now,
            req_id: req_id.clone(),
        });
        self.store.put_message(&msg)?;
        let parties = self.parties(&msg)?;
        let revoked = Revoked::of(&msg).expect("just revoked");
        let my_seq = self.fan_out(
            parties.iter(),
            session,
            user,
            EventKind::MessageRevoked,
            msg_id,
            Event::MessageRevoked(revoked.clone()),
        )?;
        #[cfg(feature = "callbacks")]
        self.callback(|| crate::callback::after_revoke(&msg, None, now))?;
        self.push(
            session,
            ServerFrame::RevokeOk {
                req_id,
                server_time: now,
                seq: my_seq,
                revoked,
            },
        );
        Ok(())
    }

    /// Whether `user` may read `msg`: a party of its one-to-one conversation, or a current
    /// member of its group.
    fn may_read(&mut self, user: &str, msg: &Message) -> R<bool> {
        Ok(match &msg.group_id {
            Some(g) => match self.group(g) {
                Ok(group) => group.members.contains(user),
                Err(Fail::Im(_)) => false,
                Err(e) => return Err(e),
            },
            None => msg.sender == user || msg.receiver.as_deref() == Some(user),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn history(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: String,
        peer: Option<String>,
        group_id: Option<String>,
        before_seq: Option<u64>,
        count: u32,
        now: u64,
    ) -> R<()> {
        let conv = match (peer, group_id) {
            (Some(p), None) => {
                check_user_id(&p)?;
                ConvId::c2c(user, &p)
            }
            (None, Some(g)) => {
                if !self.group(&g)?.members.contains(user) {
                    return Err(bad(Code::GroupPermissionDeny, "not a member of this group"));
                }
                ConvId::Group(g)
            }
            _ => {
                return Err(bad(
                    Code::InvalidParameters,
                    "give exactly one of userID and groupID",
                ))
            }
        };
        let count = (count as usize).min(self.cfg.max_page);
        let mut messages = self.store.history(&conv, before_seq, count + 1)?;
        let is_completed = messages.len() <= count;
        messages.truncate(count);
        let messages = messages.iter().map(|m| m.view_for(user)).collect();
        self.push(
            session,
            ServerFrame::Messages {
                req_id,
                server_time: now,
                messages,
                is_completed,
            },
        );
        Ok(())
    }

    fn find(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: String,
        msg_ids: Vec<String>,
        now: u64,
    ) -> R<()> {
        if msg_ids.len() > self.cfg.max_page {
            return Err(bad(
                Code::InvalidParameters,
                "too many msgIDs in one request",
            ));
        }
        let mut messages = Vec::new();
        for id in &msg_ids {
            if check_msg_id(id).is_err() {
                continue;
            }
            if let Some(m) = self.store.message(id)? {
                if self.may_read(user, &m)? {
                    messages.push(m.view_for(user));
                }
            }
        }
        self.push(
            session,
            ServerFrame::Messages {
                req_id,
                server_time: now,
                messages,
                is_completed: true,
            },
        );
        Ok(())
    }

    fn sync(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: String,
        after: u64,
        now: u64,
    ) -> R<()> {
        let page = self.cfg.sync_page.max(1);
        let mut recs = self.store.events_after(user, after, page + 1)?;
        let has_more = recs.len() > page;
        recs.truncate(page);
        let mut events = Vec::with_capacity(recs.len());
        for rec in recs {
            let event = self.materialize(user, &rec)?;
            events.push(Envelope {
                seq: rec.seq,
                event: Arc::new(event),
            });
        }
        if let Some(last) = events.last() {
            self.advance(session, last.seq);
        }
        self.push(
            session,
            ServerFrame::SyncOk {
                req_id,
                server_time: now,
                events,
                has_more,
            },
        );
        Ok(())
    }

    /// The event an entry of `user`'s log stands for, as `user` sees it now.
    fn materialize(&mut self, user: &str, rec: &EventRecord) -> R<Event> {
        Ok(match rec.kind {
            EventKind::NewMessage | EventKind::MessageRevoked => {
                let m = self.store.message(&rec.target)?.ok_or_else(|| {
                    StoreError(format!("event log names a missing message {}", rec.target))
                })?;
                if rec.kind == EventKind::NewMessage {
                    Event::NewMessage {
                        message: m.view_for(user),
                    }
                } else {
                    Event::MessageRevoked(Revoked::of(&m).ok_or_else(|| {
                        StoreError(format!("revoke event for unrevoked {}", rec.target))
                    })?)
                }
            }
            EventKind::GroupChanged => {
                let mut group = Group::clone(&*self.group(&rec.target)?);
                group.recent_req_ids.clear();
                Event::GroupChanged { group }
            }
        })
    }

    fn check_members(&self, users: &[String]) -> R<()> {
        for u in users {
            if check_user_id(u).is_err() {
                return Err(bad(
                    Code::GroupInvalidParameters,
                    "invalid userID in member list",
                ));
            }
        }
        Ok(())
    }

    /// If `req_id` already changed `group`, answers the retry like the first time (without a
    /// new event) and returns true.
    fn replayed(&mut self, session: SessionId, req_id: &str, group: &Group, now: u64) -> bool {
        if !group.recent_req_ids.iter().any(|r| r == req_id) {
            return false;
        }
        let mut public = group.clone();
        public.recent_req_ids.clear();
        self.push(
            session,
            ServerFrame::GroupOk {
                req_id: req_id.to_string(),
                server_time: now,
                seq: 0,
                group: public,
            },
        );
        true
    }

    fn group_changed(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: String,
        mut group: Group,
        audience: &BTreeSet<String>,
        now: u64,
    ) -> R<()> {
        let gid = group.group_id.clone();
        group.recent_req_ids.push(req_id.clone());
        let excess = group.recent_req_ids.len().saturating_sub(GROUP_RECENT_REQS);
        group.recent_req_ids.drain(..excess);
        self.save_group(group.clone())?;
        group.recent_req_ids.clear();
        let my_seq = self.fan_out(
            audience,
            session,
            user,
            EventKind::GroupChanged,
            &gid,
            Event::GroupChanged {
                group: group.clone(),
            },
        )?;
        self.push(
            session,
            ServerFrame::GroupOk {
                req_id,
                server_time: now,
                seq: my_seq,
                group,
            },
        );
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn create_group(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: String,
        group_id: String,
        name: String,
        admins: Vec<String>,
        members: Vec<String>,
        now: u64,
    ) -> R<()> {
        check_group_id(&group_id)?;
        if name.len() > MAX_GROUP_NAME {
            return Err(bad(Code::GroupInvalidParameters, "group name is too long"));
        }
        self.check_members(&admins)?;
        self.check_members(&members)?;
        match self.group_for_update(&group_id) {
            Ok(g) if g.owner == user && self.replayed(session, &req_id, &g, now) => return Ok(()),
            Ok(_) => return Err(Code::GroupIdInUse.into()),
            Err(Fail::Im(e)) if e.code == Code::GroupNotFound => {}
            Err(e) => return Err(e),
        }
        let admins: BTreeSet<String> = admins.into_iter().filter(|a| a != user).collect();
        let mut all: BTreeSet<String> = members.into_iter().collect();
        all.extend(admins.iter().cloned());
        all.insert(user.to_string());
        if all.len() > self.cfg.max_group_members {
            return Err(Code::GroupFullMemberCount.into());
        }
        let group = Group {
            group_id,
            name,
            owner: user.to_string(),
            admins,
            members: all.clone(),
            created_ms: now,
            recent_req_ids: Vec::new(),
        };
        self.group_changed(session, user, req_id, group, &all, now)
    }

    fn add_members(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: String,
        group_id: &str,
        members: Vec<String>,
        now: u64,
    ) -> R<()> {
        let mut group = self.group_for_update(group_id)?;
        if self.replayed(session, &req_id, &group, now) {
            return Ok(());
        }
        if !matches!(
            group.role_of(user),
            Some(GroupRole::Owner | GroupRole::Admin)
        ) {
            return Err(bad(
                Code::GroupPermissionDeny,
                "only the owner or an admin may add members",
            ));
        }
        self.check_members(&members)?;
        let new: BTreeSet<String> = members
            .into_iter()
            .filter(|m| !group.members.contains(m))
            .collect();
        if new.is_empty() {
            return Err(Code::GroupAlreadyMember.into());
        }
        if group.members.len() + new.len() > self.cfg.max_group_members {
            return Err(Code::GroupFullMemberCount.into());
        }
        group.members.extend(new);
        let audience = group.members.clone();
        self.group_changed(session, user, req_id, group, &audience, now)
    }

    fn remove_members(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: String,
        group_id: &str,
        members: Vec<String>,
        now: u64,
    ) -> R<()> {
        let mut group = self.group_for_update(group_id)?;
        if self.replayed(session, &req_id, &group, now) {
            return Ok(());
        }
        let actor = group.role_of(user);
        if actor.is_none() {
            return Err(bad(Code::GroupPermissionDeny, "not a member of this group"));
        }
        self.check_members(&members)?;
        for m in &members {
            let target = group.role_of(m);
            let allowed = match (actor, target) {
                (_, None) => {
                    return Err(bad(
                        Code::GroupInvalidParameters,
                        "not a member of this group",
                    ))
                }
                (_, Some(GroupRole::Owner)) => false, // the owner cannot be removed or leave
                _ if m == user => true,               // anyone else may leave
                (Some(GroupRole::Owner), _) => true,
                (Some(GroupRole::Admin), Some(GroupRole::Member)) => true,
                _ => false,
            };
            if !allowed {
                return Err(bad(
                    Code::GroupPermissionDeny,
                    "not allowed to remove this member",
                ));
            }
        }
        // Those removed hear about it too, then no more.
        let audience = group.members.clone();
        for m in &members {
            group.members.remove(m);
            group.admins.remove(m);
        }
        self.group_changed(session, user, req_id, group, &audience, now)
    }

    #[allow(clippy::too_many_arguments)]
    fn set_role(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: String,
        group_id: &str,
        target: &str,
        role: GroupRole,
        now: u64,
    ) -> R<()> {
        let mut group = self.group_for_update(group_id)?;
        if self.replayed(session, &req_id, &group, now) {
            return Ok(());
        }
        if group.owner != user {
            return Err(bad(
                Code::GroupPermissionDeny,
                "only the owner may change roles",
            ));
        }
        match (group.role_of(target), role) {
            (None, _) => {
                return Err(bad(
                    Code::GroupInvalidParameters,
                    "not a member of this group",
                ))
            }
            (Some(GroupRole::Owner), _) | (_, GroupRole::Owner) => {
                return Err(bad(
                    Code::GroupInvalidParameters,
                    "the owner's role cannot be changed here",
                ))
            }
            (_, GroupRole::Admin) => {
                group.admins.insert(target.to_string());
            }
            (_, GroupRole::Member) => {
                group.admins.remove(target);
            }
        }
        let audience = group.members.clone();
        self.group_changed(session, user, req_id, group, &audience, now)
    }
}
