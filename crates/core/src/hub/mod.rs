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
//! ## Where things are
//!
//! - this file: the [`Hub`] and its public API — login and logout, the request loop
//!   (`Hub::handle` → `Hub::dispatch`, which checks the per-user rate limit in
//!   `Hub::take_token` and routes each frame; the per-user fan-out budget, charged by the
//!   reach of each send, revoke and group change, is `Hub::charge_fanout`), the conflict
//!   retries of a shared hub
//!   (`Hub::dispatch_retrying`), [`Hub::wake`], [`Hub::commit`];
//! - `messages.rs`: `send`, `revoke`, `history`, `findMessages`, `sync`. The revoke time limit
//!   and who may revoke what are checked in `policy.rs` (`check_revoke`), called from
//!   `messages.rs::revoke`; the message size limit is in `messages.rs::send`, and msgIDs unique
//!   per sender in `messages.rs::own_key`;
//! - `groups.rs`: group requests (create, add and remove members, set a role, list) and the
//!   group cache; who may change a group, the member caps (per group and per call) and the
//!   reqIds a group remembers with their request are checked there (that a sender is a member,
//!   in `messages.rs::send`);
//! - `sequence.rs`: the sequencer — event and message seqs, chosen once at construction
//!   (owned: cached heads; shared: store-assigned) — and the fan-out every event goes through
//!   (`sequence.rs::fan_out`: seqs from the sequencer, then `deliver` to each recipient's
//!   sessions), and the catch-up of a shared hub (`catch_up`);
//! - the store behind it: `store.rs` (the trait, and the memory store). A revoke is written by
//!   `Store::put_message` (called from `messages.rs::revoke`), which the server's SQLite and
//!   PostgreSQL stores implement.
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

#[cfg(feature = "callbacks")]
mod admin;
mod conversations;
mod groups;
mod messages;
mod sequence;

#[cfg(feature = "callbacks")]
pub use admin::{AdminHistory, RecallResult, ADMIN_SESSION};
pub use messages::derived_msg_id;

use crate::error::{Code, ImError};
use crate::limit::TokenBucket;
use crate::model::{check_msg_id, check_user_id};
use crate::policy::Config;
use crate::protocol::{ClientFrame, ClientLimits, ServerFrame, PROTOCOL_VERSION};
use crate::store::{Store, StoreError};
use sequence::Sequencer;
use std::collections::HashMap;

/// How many entries each of the hub's caches may hold before it is dropped and refilled.
pub const CACHE_ENTRIES: usize = 200_000;

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

/// Why a request failed: refused (answered with its error), or the store failed (the hub stops).
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

/// The authority. Generic over its [`Store`].
pub struct Hub<S: Store> {
    cfg: Config,
    store: S,
    sessions: HashMap<SessionId, String>,
    online: HashMap<String, Vec<SessionId>>,
    /// Owned (cached heads and groups) or shared (store-assigned seqs, per-session cursors).
    seq: Sequencer,
    rates: HashMap<String, TokenBucket>,
    /// Each user's fan-out budget (recipients per second), charged by `Hub::charge_fanout`.
    fanout: HashMap<String, TokenBucket>,
    /// Whether the request being handled is charged (false on a conflict retry).
    charging: bool,
    outbox: Vec<Outgoing>,
    poisoned: Option<StoreError>,
    /// The host's download URLs of attachments (`None`: URLs are kept as sent).
    signer: Option<crate::attachment::UrlSigner>,
    /// Webhooks on: every send and revoke writes one into the store's outbox (`admin.rs`).
    #[cfg(feature = "callbacks")]
    callbacks: bool,
}

impl<S: Store> Hub<S> {
    /// A hub over `store` with configuration `cfg`.
    pub fn new(cfg: Config, store: S) -> Self {
        Hub::with(cfg, store, Sequencer::owned())
    }

    /// A hub over a `store` that other hubs (other server nodes) write too: sequences come
    /// from the store, nothing shared is cached, conflicting requests are retried, and events
    /// written elsewhere are delivered by [`Hub::wake`]. See the module documentation.
    #[cfg(feature = "shared")]
    pub fn shared(cfg: Config, store: S) -> Self {
        Hub::with(cfg, store, Sequencer::shared())
    }

    fn with(cfg: Config, store: S, seq: Sequencer) -> Self {
        Hub {
            cfg,
            store,
            sessions: HashMap::new(),
            online: HashMap::new(),
            seq,
            rates: HashMap::new(),
            fanout: HashMap::new(),
            charging: true,
            outbox: Vec::new(),
            poisoned: None,
            signer: None,
            #[cfg(feature = "callbacks")]
            callbacks: false,
        }
    }

    /// Has the host make every attachment URL in what each session receives: `sign(key, user)`
    /// (the server's signed, expiring download URL). With a signer, the URLs a sender gives are
    /// never stored nor shown to anyone.
    pub fn set_url_signer(&mut self, sign: crate::attachment::UrlSigner) {
        self.signer = Some(sign);
    }

    /// Whether this hub shares its store with others ([`Hub::shared`]). Always false without
    /// the `shared` feature, so that the embedded hub of the browser module carries none of it.
    pub fn is_shared(&self) -> bool {
        self.seq.is_shared()
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
        self.seq.login(session, head_seq);
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
        self.seq.logout(session);
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
        let r = if self.seq.is_shared() {
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
            self.seq.keep_moves();
            self.store.begin_request()?;
            let r = self.dispatch(session, frame.clone(), now, attempt == 0);
            if !matches!(&r, Err(Fail::Store(e)) if e.is_conflict()) {
                self.seq.keep_moves();
                return r;
            }
            self.outbox.truncate(mark);
            self.seq.undo_moves();
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
        if !self.seq.is_shared() || self.poisoned.is_some() {
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
        self.seq.keep_moves();
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
        let mut out = std::mem::take(&mut self.outbox);
        if let Some(sign) = &self.signer {
            for o in &mut out {
                if let Some(user) = self.sessions.get(&o.session) {
                    crate::attachment::sign_frame(&mut o.frame, user, sign);
                }
            }
        }
        Ok(out)
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

    /// Keeps memory bounded on a long-running server (see [`CACHE_ENTRIES`]). Rate buckets
    /// dropped this way start full again: a little leniency, once in a while.
    fn trim_caches(&mut self) {
        self.seq.trim();
        if self.rates.len() > CACHE_ENTRIES {
            self.rates = HashMap::new();
        }
        if self.fanout.len() > CACHE_ENTRIES {
            self.fanout = HashMap::new();
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
        self.charging = charge;
        if let Some(id) = frame.req_id().filter(|_| charge) {
            check_msg_id(id)?;
            self.take_token(&user, now)?;
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
                reply_to,
                cloud_custom_data,
            } => self.send(
                session,
                &user,
                req_id,
                msg_id,
                receiver,
                group_id,
                elem,
                (reply_to, cloud_custom_data),
                now,
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
                self.joined_groups(session, &user, req_id, now)
            }
            ClientFrame::GetConversationList {
                req_id,
                next_seq,
                count,
            } => self.conversation_list(session, &user, req_id, next_seq, count, now),
            ClientFrame::GetConversation {
                req_id,
                conversation_id,
            } => self.get_conversation(session, &user, req_id, &conversation_id, now),
            ClientFrame::CleanConversationUnreadMessageCount {
                req_id,
                conversation_id,
                clean_sequence,
            } => self.clean_unread(
                session,
                &user,
                req_id,
                &conversation_id,
                clean_sequence,
                now,
            ),
        }
    }

    /// The fan-out budget: a send, revoke or group change of `user` that reaches `recipients`
    /// users costs that many tokens of `user`'s fan-out bucket, taken before anything is
    /// written (not again on a conflict retry). Over budget: 60018, like the request rate.
    fn charge_fanout(&mut self, user: &str, recipients: usize, now: u64) -> R<()> {
        if !self.charging {
            return Ok(());
        }
        let (rate, burst) = (
            self.cfg.user_fanout_rate_per_sec,
            self.cfg.user_fanout_burst,
        );
        let bucket = self
            .fanout
            .entry(user.to_string())
            .or_insert_with(|| TokenBucket::new(rate, burst, now));
        if !bucket.try_take_n(recipients as u64, now) {
            return Err(bad(
                Code::FreqLimit,
                "fan-out budget exceeded: this reaches too many recipients for now; retry later",
            ));
        }
        Ok(())
    }

    /// The per-user rate limit: one token of `user`'s bucket per request.
    fn take_token(&mut self, user: &str, now: u64) -> R<()> {
        let (rate, burst) = (self.cfg.user_rate_per_sec, self.cfg.user_burst);
        let bucket = self
            .rates
            .entry(user.to_string())
            .or_insert_with(|| TokenBucket::new(rate, burst, now));
        if !bucket.try_take(now) {
            return Err(bad(
                Code::FreqLimit,
                "too many requests: slow down and retry",
            ));
        }
        Ok(())
    }
}
