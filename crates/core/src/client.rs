//! The client-side state machine, sans I/O: what one device knows and does.
//!
//! The browser module drives it: it feeds in server frames and the local clock, and takes out
//! frames to send, listener notifications and request completions. It keeps:
//! - the local message cache (what `findMessages`/bubbles show) with statuses;
//! - the ordered outbox of requests not yet answered, resent in order after a reconnect (every
//!   request is idempotent on the server: sends by msgID, revokes by reqId);
//! - the event cursor: events are applied strictly in seq order, exactly once; out-of-order
//!   arrivals wait in a gap buffer, and a gap triggers a `sync`;
//! - an estimate of the server clock (offset from the lowest-round-trip sample), so that
//!   `canRevoke` and the early fail (6223) are right even when the local clock is off.
//!
//! A revoke of a message whose send is still in flight is queued behind the send in the
//! outbox: the server sees the send first, then the revoke — never lost, never reordered.

use crate::error::{Code, ImError};
use crate::model::{
    check_group_id, check_msg_id, check_user_id, Elem, Group, GroupRole, Message, MessageStatus,
    RevokeInfo, RevokerRole,
};
use crate::policy::{check_revoke, Actor, Config};
use crate::protocol::{ClientFrame, ClientLimits, Envelope, Event, Revoked, ServerFrame};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

mod snapshot;

/// How long a request may wait for its answer before it fails (ms).
pub const DEFAULT_REQUEST_TIMEOUT_MS: f64 = 30_000.0;

/// How long after a refused catch-up (a `sync` answered with an error, such as the rate limit
/// 60018) the client asks again (ms), from [`Client::expire`].
pub const SYNC_RETRY_MS: f64 = 1_000.0;

/// A message as JavaScript sees it (plain object; Tencent's field names).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    /// Stable ID.
    #[serde(rename = "msgID")]
    pub msg_id: String,
    /// Sender's userID.
    pub sender: String,
    /// One-to-one: the other party, seen from this user (Tencent's `userID`).
    #[serde(rename = "userID")]
    pub user_id: Option<String>,
    /// Group messages: the groupID.
    #[serde(rename = "groupID")]
    pub group_id: Option<String>,
    /// Server time, seconds (0 until the server accepted it).
    pub timestamp: u64,
    /// Server time, milliseconds.
    pub time_ms: u64,
    /// Position in the conversation (0 until sent).
    pub seq: u64,
    /// 1 sending, 2 sent, 3 failed, 4 deleted, 5 imported, 6 revoked.
    pub status: MessageStatus,
    /// Sent by this user.
    pub is_self: bool,
    /// 1 = text.
    pub elem_type: u8,
    /// The text, or `null` once revoked (except for its sender).
    pub text_elem: Option<TextElem>,
    /// Revoked?
    pub is_revoked: bool,
    /// Who revoked it.
    pub revoker_info: Option<RevokerInfo>,
    /// Why.
    pub revoke_reason: Option<String>,
    /// When it was revoked, server ms.
    pub revoke_time_ms: Option<u64>,
}

/// `textElem` of a message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TextElem {
    /// The text.
    pub text: String,
}

/// `revokerInfo`: who revoked, in what capacity.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokerInfo {
    /// The revoker's userID.
    #[serde(rename = "userID")]
    pub user_id: String,
    /// "sender", "owner" or "admin".
    pub role: RevokerRole,
}

impl From<&RevokeInfo> for RevokerInfo {
    fn from(r: &RevokeInfo) -> Self {
        RevokerInfo {
            user_id: r.user_id.clone(),
            role: r.role,
        }
    }
}

/// `canRevoke`'s answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CanRevoke {
    /// Whether a revoke would be accepted now (by the estimate of the server clock).
    pub allowed: bool,
    /// Milliseconds left (0 when not allowed; `null` when there is no limit).
    pub remaining_ms: Option<f64>,
    /// Why not, when not allowed.
    pub code: Option<u32>,
}

/// Something listeners should hear about.
#[derive(Clone, Debug, PartialEq)]
pub enum Notification {
    /// `onRecvNewMessage(msg)`.
    NewMessage(MessageView),
    /// `onRecvMessageRevoked(msgID, revokerInfo, reason)`.
    MessageRevoked {
        /// The revoked message.
        msg_id: String,
        /// Who revoked it.
        revoker: RevokerInfo,
        /// Why.
        reason: String,
    },
    /// A group this user is in changed.
    GroupChanged(Group),
}

/// A request's successful result.
#[derive(Clone, Debug, PartialEq)]
pub enum Done {
    /// `sendMessage` resolved with the sent message.
    Sent(MessageView),
    /// `revokeMessage` resolved.
    Revoked(MessageView),
    /// History or find: messages (and, for history, whether no older ones remain).
    Messages(Vec<MessageView>, bool),
    /// A group operation.
    Group(Group),
    /// The groups this user is in.
    Groups(Vec<Group>),
}

/// A finished request.
pub type Completion = (String, Result<Done, ImError>);

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Send(String),
    Revoke(String),
    Query,
    Sync,
    /// Fetching the joined groups at the first login (no caller waits for it).
    Refresh,
}

#[derive(Debug)]
struct Pending {
    frame: ClientFrame,
    kind: Kind,
    queued_at: f64,
    sent_at: Option<f64>,
}

#[derive(Clone, Debug)]
struct Local {
    msg: Message,
    status: MessageStatus,
    /// Last use, for the LRU (`snapshot`).
    used: u64,
}

enum Slot {
    /// This device caused the event; its effect was applied when the answer came.
    Own,
    /// Likewise, for a revoke or a group change, whose effect is applied again (silently) when
    /// its turn comes: an older event still waiting in the gap may have overwritten it, or
    /// brought the message the revoke is about.
    OwnAgain(Arc<Event>),
    Event(Arc<Event>),
}

/// The client's maps hash with a multiply-rotate hash (FxHash's), several times cheaper per
/// key than std's SipHash on the event path. What SipHash adds is resistance to chosen
/// collisions with random keys, and the browser (wasm32-unknown-unknown) gives std no
/// randomness: its keys there are fixed, so that resistance was not there to lose. The
/// authority (`hub`) keeps std's hasher.
type Fast = BuildHasherDefault<FxHasher>;

#[derive(Default)]
struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, b: u8) {
        self.add(u64::from(b));
    }

    #[inline]
    fn finish(&self) -> u64 {
        // The product's high bits depend on every input bit, its low bits only on the low
        // input bits; the table indexes by the low bits: bring the high ones down.
        self.0.rotate_left(26)
    }
}

/// One device's state.
pub struct Client {
    user: String,
    cfg: Config,
    prefix: String,
    counter: u64,
    logged_in: bool,
    cursor: Option<u64>,
    gap: BTreeMap<u64, Slot>,
    syncing: bool,
    sync_retry_at: Option<f64>,
    /// msgIDs whose revoke this device reported before its event was applied (its own
    /// revoke's success): a message is revoked once, so it is reported once. Bounded: the
    /// cursor makes the rest exact (`persist::Told`).
    revokes_told: crate::persist::Told,
    /// What changed for the browser's store, when it keeps one (`snapshot`).
    store: Option<Box<snapshot::Tracker>>,
    /// The message cache's cap and use counter (LRU, `snapshot`).
    cache_cap: usize,
    used: u64,
    messages: HashMap<String, Local, Fast>,
    groups: HashMap<String, Group, Fast>,
    pending: HashMap<String, Pending, Fast>,
    order: VecDeque<String>,
    offset_ms: f64,
    best_rtt: f64,
    now: f64,
    frames: Vec<ClientFrame>,
    notes: Vec<Notification>,
    done: Vec<Completion>,
    /// How long a request may wait for its answer before failing, ms.
    pub request_timeout_ms: f64,
}

impl Client {
    /// A client for `user`. `seed` should be random (it makes msgIDs and reqIds unique).
    pub fn new(user: &str, seed: u64) -> Result<Client, ImError> {
        check_user_id(user)?;
        Ok(Client {
            user: user.to_string(),
            cfg: Config::default(),
            prefix: format!("{seed:016x}"),
            counter: 0,
            logged_in: false,
            cursor: None,
            gap: BTreeMap::new(),
            syncing: false,
            sync_retry_at: None,
            revokes_told: crate::persist::Told::default(),
            store: None,
            cache_cap: crate::persist::DEFAULT_CACHE_SIZE,
            used: 0,
            messages: HashMap::default(),
            groups: HashMap::default(),
            pending: HashMap::default(),
            order: VecDeque::new(),
            offset_ms: 0.0,
            best_rtt: f64::INFINITY,
            now: 0.0,
            frames: Vec::new(),
            notes: Vec::new(),
            done: Vec::new(),
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
        })
    }

    /// This client's userID.
    pub fn user_id(&self) -> &str {
        &self.user
    }

    /// Whether the server has accepted the login on the current connection.
    pub fn is_logged_in(&self) -> bool {
        self.logged_in
    }

    /// The last event seq applied (`None` before the first login).
    pub fn cursor(&self) -> Option<u64> {
        self.cursor
    }

    /// The limits in force (from the server at login; defaults before).
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Estimated server time, ms, at local time `now`.
    pub fn server_now(&self, now: f64) -> f64 {
        now + self.offset_ms
    }

    /// Half the best round trip seen: how far off the server-clock estimate may be, ms.
    pub fn clock_uncertainty_ms(&self) -> f64 {
        if self.best_rtt.is_finite() {
            self.best_rtt / 2.0
        } else {
            f64::INFINITY
        }
    }

    /// Takes the frames to send, in order.
    pub fn take_frames(&mut self) -> Vec<ClientFrame> {
        std::mem::take(&mut self.frames)
    }

    /// Takes the listener notifications, in order.
    pub fn take_notifications(&mut self) -> Vec<Notification> {
        std::mem::take(&mut self.notes)
    }

    /// Takes the finished requests, in order.
    pub fn take_completions(&mut self) -> Vec<Completion> {
        std::mem::take(&mut self.done)
    }

    /// Whether any output is waiting.
    pub fn has_output(&self) -> bool {
        !(self.frames.is_empty() && self.notes.is_empty() && self.done.is_empty())
    }

    fn next_id(&mut self, tag: &str) -> String {
        self.counter += 1;
        format!("{tag}{}-{}", self.prefix, self.counter)
    }

    // ----- connection -----

    /// The login frame for a new connection.
    pub fn login_frame(&self, user_sig: &str) -> ClientFrame {
        ClientFrame::Login {
            v: crate::protocol::PROTOCOL_VERSION,
            user_id: self.user.clone(),
            user_sig: user_sig.to_string(),
        }
    }

    /// The connection dropped: nothing is lost; unanswered requests are resent after the next
    /// login, in their original order.
    pub fn disconnected(&mut self) {
        self.logged_in = false;
        self.syncing = false;
        self.frames.clear(); // whatever was not written is resent after the next login
        for p in self.pending.values_mut() {
            p.sent_at = None;
        }
        self.order
            .retain(|id| self.pending.get(id).is_some_and(|p| p.kind != Kind::Sync));
        self.pending.retain(|_, p| p.kind != Kind::Sync);
    }

    /// Fails requests that waited longer than `request_timeout_ms`: 9520 while connected,
    /// 9508 while not, and retries a refused catch-up. Call it from a timer, at
    /// [`Client::next_deadline`].
    pub fn expire(&mut self, now: f64) {
        if self.sync_retry_at.is_some_and(|t| now >= t) {
            self.sync_retry_at = None;
            self.start_sync(now);
        }
        let limit = self.request_timeout_ms;
        let expired: Vec<String> = self
            .order
            .iter()
            .filter(|id| {
                self.pending
                    .get(*id)
                    .is_some_and(|p| p.kind != Kind::Sync && now - p.queued_at > limit)
            })
            .cloned()
            .collect();
        let code = if self.logged_in {
            Code::NetWaitAckTimeout
        } else {
            Code::NetDisconnect
        };
        for id in expired {
            self.fail(&id, ImError::new(code));
        }
    }

    /// The earliest local time at which [`Client::expire`] would fail or retry something.
    pub fn next_deadline(&self) -> Option<f64> {
        self.pending
            .values()
            .filter(|p| p.kind != Kind::Sync && p.queued_at.is_finite())
            .map(|p| p.queued_at + self.request_timeout_ms)
            .chain(self.sync_retry_at)
            .reduce(f64::min)
    }

    fn queue(&mut self, req_id: String, frame: ClientFrame, kind: Kind, now: f64) {
        let sent_at = if self.logged_in {
            self.frames.push(frame.clone());
            Some(now)
        } else {
            None
        };
        self.order.push_back(req_id.clone());
        self.pending.insert(
            req_id,
            Pending {
                frame,
                kind,
                queued_at: now,
                sent_at,
            },
        );
    }

    /// Removes the request `req_id` answered with event seq `seq`. An answer to a request this
    /// device no longer waits for (a duplicate, or one it gave up on) still names an event in
    /// this user's log: fetch it with a sync so the cursor never stalls.
    fn take_pending(
        &mut self,
        req_id: &str,
        seq: u64,
        server_time: u64,
        now: f64,
    ) -> Option<Pending> {
        let Some(p) = self.pending.remove(req_id) else {
            if seq > self.cursor.unwrap_or(0) {
                self.start_sync(now);
            }
            return None;
        };
        self.order.retain(|id| id != req_id);
        if let Some(sent) = p.sent_at {
            self.clock_sample(sent, server_time as f64, now);
        }
        Some(p)
    }

    fn clock_sample(&mut self, sent: f64, server_time: f64, now: f64) {
        let rtt = (now - sent).max(0.0);
        if rtt <= self.best_rtt {
            self.best_rtt = rtt;
            self.offset_ms = server_time + rtt / 2.0 - now;
        }
    }

    fn fail(&mut self, req_id: &str, e: ImError) {
        let Some(p) = self.pending.remove(req_id) else {
            return;
        };
        self.order.retain(|id| id != req_id);
        if let Kind::Send(msg_id) = &p.kind {
            if let Some(l) = self.messages.get_mut(msg_id) {
                if l.status == MessageStatus::Sending {
                    l.status = MessageStatus::Failed;
                }
            }
            let id = msg_id.clone();
            self.mark(&id);
        }
        if p.kind != Kind::Refresh {
            self.done.push((req_id.to_string(), Err(e)));
        }
    }

    // ----- API -----

    /// `createTextMessage`: a new local message with a fresh msgID (status 1 until sent).
    pub fn create_text_message(&mut self, text: &str) -> MessageView {
        let msg_id = self.next_id("");
        let msg = Message {
            msg_id: msg_id.clone(),
            sender: self.user.clone(),
            receiver: None,
            group_id: None,
            time_ms: 0,
            seq: 0,
            elem: Some(Elem::Text {
                text: text.to_string(),
            }),
            revoke: None,
        };
        let local = Local {
            msg,
            status: MessageStatus::Sending,
            used: self.next_use(),
        };
        let view = self.view(&local);
        self.messages.insert(msg_id, local);
        view
    }

    /// `sendMessage(msg, receiver, groupID)`: returns the request id whose completion resolves
    /// the promise.
    pub fn send(
        &mut self,
        msg_id: &str,
        receiver: Option<&str>,
        group_id: Option<&str>,
        now: f64,
    ) -> Result<String, ImError> {
        match (receiver, group_id) {
            (Some(r), None) => check_user_id(r)?,
            (None, Some(g)) => check_group_id(g)?,
            _ => {
                return Err(ImError::with_desc(
                    Code::InvalidParameters,
                    "give exactly one of receiver and groupID",
                ))
            }
        }
        let max = self.cfg.max_text_bytes;
        let l = self.messages.get_mut(msg_id).ok_or_else(|| {
            ImError::with_desc(
                Code::InvalidParameters,
                "unknown message: create it with createTextMessage",
            )
        })?;
        if l.msg.sender != self.user || l.msg.seq != 0 {
            return Err(ImError::with_desc(
                Code::InvalidParameters,
                "this message was already sent",
            ));
        }
        if l.msg.elem.as_ref().map_or(0, Elem::size) > max {
            return Err(ImError::new(Code::MsgBodySizeLimit));
        }
        if let Some(Elem::Text { text }) = &l.msg.elem {
            if text.is_empty() {
                return Err(ImError::with_desc(Code::InvalidParameters, "text is empty"));
            }
        }
        let in_flight = self
            .pending
            .values()
            .any(|p| p.kind == Kind::Send(msg_id.to_string()));
        if in_flight {
            return Err(ImError::new(Code::InProgress));
        }
        l.msg.receiver = receiver.map(str::to_string);
        l.msg.group_id = group_id.map(str::to_string);
        l.status = MessageStatus::Sending;
        let elem = l.msg.elem.clone().expect("created with content");
        let req_id = self.next_id("s");
        let frame = ClientFrame::Send {
            req_id: req_id.clone(),
            msg_id: msg_id.to_string(),
            receiver: receiver.map(str::to_string),
            group_id: group_id.map(str::to_string),
            elem,
        };
        self.queue(req_id.clone(), frame, Kind::Send(msg_id.to_string()), now);
        self.mark(msg_id);
        Ok(req_id)
    }

    fn role_in(&self, group_id: &str, user: &str) -> Option<GroupRole> {
        self.groups.get(group_id).and_then(|g| g.role_of(user))
    }

    /// Policy verdict by the estimated server clock, for a message this client knows.
    fn local_verdict(&self, l: &Local, now: f64) -> Result<Option<f64>, ImError> {
        // The server stamped the message, so its clock has reached at least that stamp: an
        // estimate that lags behind it (a slow first answer) never stretches the window.
        let server_now_f = self.server_now(now).max(l.msg.time_ms as f64).max(0.0);
        let server_now = server_now_f as u64;
        let mut msg = l.msg.clone();
        if l.status == MessageStatus::Sending {
            msg.time_ms = server_now; // will be stamped about now
        }
        let (actor_role, sender_role) = match &msg.group_id {
            Some(g) => (
                self.role_in(g, &self.user).or(Some(GroupRole::Member)),
                self.role_in(g, &msg.sender),
            ),
            None => (None, None),
        };
        let allowed = check_revoke(
            &msg,
            Actor {
                user_id: &self.user,
                role: actor_role,
            },
            sender_role,
            server_now,
            &self.cfg,
        )?;
        Ok(allowed
            .deadline_ms
            .map(|d| (d as f64 - server_now_f).max(0.0)))
    }

    /// `canRevoke(msg)`: whether a revoke would be accepted now, and how long is left, by the
    /// estimated server clock and the roles this client knows.
    pub fn can_revoke(&self, msg_id: &str, now: f64) -> CanRevoke {
        let verdict = match self.messages.get(msg_id) {
            None => Err(ImError::new(Code::MsgNotFound)),
            Some(l) if l.status == MessageStatus::Failed => Err(ImError::with_desc(
                Code::InvalidParameters,
                "the message was not sent",
            )),
            Some(l) => self.local_verdict(l, now),
        };
        match verdict {
            Ok(remaining_ms) => CanRevoke {
                allowed: true,
                remaining_ms,
                code: None,
            },
            Err(e) => CanRevoke {
                allowed: false,
                remaining_ms: Some(0.0),
                code: Some(e.code.num()),
            },
        }
    }

    /// `revokeMessage(msgID, reason)`: returns the request id whose completion settles the
    /// promise. Fails early with 6223 only when the estimated server clock is past the window
    /// by more than the estimate's uncertainty; everything else is for the server to decide.
    pub fn revoke(&mut self, msg_id: &str, reason: &str, now: f64) -> Result<String, ImError> {
        check_msg_id(msg_id)?;
        if reason.len() > self.cfg.max_reason_bytes {
            return Err(ImError::with_desc(
                Code::InvalidParameters,
                "reason is too long",
            ));
        }
        let mut group_hint = None;
        if let Some(l) = self.messages.get(msg_id) {
            if l.status == MessageStatus::Failed {
                return Err(ImError::with_desc(
                    Code::InvalidParameters,
                    "the message was not sent",
                ));
            }
            if l.msg.revoke.is_some() {
                return Err(ImError::new(Code::AlreadyRevoked));
            }
            group_hint = l.msg.group_id.clone();
            if l.msg.sender == self.user && l.msg.seq == 0 && l.status != MessageStatus::Sending {
                return Err(ImError::with_desc(
                    Code::InvalidParameters,
                    "the message was never sent",
                ));
            }
            if let Err(e) = self.local_verdict(l, now) {
                if e.code.is_revoke_time_limit() {
                    let deadline = l.msg.time_ms as f64 + self.cfg.revoke_time_limit_ms as f64;
                    let past = self.server_now(now) - deadline;
                    if past > self.clock_uncertainty_ms() {
                        return Err(ImError::new(Code::RevokeTimeLimitExceed));
                    }
                }
            }
        }
        let already = self
            .pending
            .values()
            .any(|p| p.kind == Kind::Revoke(msg_id.to_string()));
        if already {
            return Err(ImError::new(Code::InProgress));
        }
        let req_id = self.next_id("r");
        let frame = ClientFrame::Revoke {
            req_id: req_id.clone(),
            msg_id: msg_id.to_string(),
            reason: reason.to_string(),
            group_id: group_hint,
        };
        self.queue(req_id.clone(), frame, Kind::Revoke(msg_id.to_string()), now);
        Ok(req_id)
    }

    /// `getHistoryMessageList`: a page of a conversation, newest first.
    pub fn history(
        &mut self,
        user_id: Option<&str>,
        group_id: Option<&str>,
        before_seq: Option<u64>,
        count: u32,
        now: f64,
    ) -> Result<String, ImError> {
        if user_id.is_some() == group_id.is_some() {
            return Err(ImError::with_desc(
                Code::InvalidParameters,
                "give exactly one of userID and groupID",
            ));
        }
        let req_id = self.next_id("h");
        if let Some(page) = self.local_history(user_id, group_id, before_seq, count) {
            // From the store's copy at once; the server's page reconciles the cache.
            self.done.push((req_id.clone(), Ok(page)));
            self.reconcile(user_id, group_id, before_seq, count, now);
            return Ok(req_id);
        }
        let frame = ClientFrame::History {
            req_id: req_id.clone(),
            user_id: user_id.map(str::to_string),
            group_id: group_id.map(str::to_string),
            before_seq,
            count,
        };
        self.queue(req_id.clone(), frame, Kind::Query, now);
        Ok(req_id)
    }

    /// `findMessages`: looks the msgIDs up on the server (which also refreshes the cache).
    pub fn find(&mut self, msg_ids: Vec<String>, now: f64) -> Result<String, ImError> {
        let req_id = self.next_id("f");
        let frame = ClientFrame::FindMessages {
            req_id: req_id.clone(),
            msg_ids,
        };
        self.queue(req_id.clone(), frame, Kind::Query, now);
        Ok(req_id)
    }

    /// `getJoinedGroupList`: the groups this user is in (also refreshes the cache that
    /// `canRevoke` reads roles from).
    pub fn joined_groups(&mut self, now: f64) -> String {
        let req_id = self.next_id("j");
        let frame = ClientFrame::GetJoinedGroups {
            req_id: req_id.clone(),
        };
        self.queue(req_id.clone(), frame, Kind::Query, now);
        req_id
    }

    /// A message from the local cache.
    pub fn local_message(&self, msg_id: &str) -> Option<MessageView> {
        self.messages.get(msg_id).map(|l| self.view(l))
    }

    /// A group from the local cache.
    pub fn local_group(&self, group_id: &str) -> Option<&Group> {
        self.groups.get(group_id)
    }

    /// Number of messages cached.
    pub fn cached_messages(&self) -> usize {
        self.messages.len()
    }

    /// A group request (create, add, remove, set role) as a frame; returns the request id.
    pub fn group_request(&mut self, make: impl FnOnce(String) -> ClientFrame, now: f64) -> String {
        let req_id = self.next_id("g");
        let frame = make(req_id.clone());
        self.queue(req_id.clone(), frame, Kind::Query, now);
        req_id
    }

    // ----- incoming -----

    /// Feeds one frame from the server, received at local time `now`.
    pub fn handle(&mut self, frame: ServerFrame, now: f64) {
        self.now = now;
        match frame {
            ServerFrame::LoginOk {
                head_seq,
                limits,
                server_time,
                ..
            } => self.on_login(head_seq, limits, server_time, now),
            ServerFrame::SendOk {
                req_id,
                server_time,
                seq,
                message,
            } => {
                if self.take_pending(&req_id, seq, server_time, now).is_some() {
                    let view = self.upsert(message);
                    self.done.push((req_id, Ok(Done::Sent(view))));
                    self.accept(seq, Slot::Own);
                }
            }
            ServerFrame::RevokeOk {
                req_id,
                server_time,
                seq,
                revoked,
            } => {
                if self.take_pending(&req_id, seq, server_time, now).is_some() {
                    let msg_id = revoked.msg_id.clone();
                    self.apply_revoke(&revoked);
                    self.revokes_told.insert(msg_id.clone(), seq);
                    let view = self
                        .local_message(&msg_id)
                        .unwrap_or_else(|| self.stub(&revoked));
                    self.done.push((req_id, Ok(Done::Revoked(view))));
                    self.accept(
                        seq,
                        Slot::OwnAgain(Arc::new(Event::MessageRevoked(revoked))),
                    );
                }
            }
            ServerFrame::Messages {
                req_id,
                server_time,
                messages,
                is_completed,
            } => {
                if self.take_pending(&req_id, 0, server_time, now).is_some() {
                    let views = messages.into_iter().map(|m| self.upsert(m)).collect();
                    self.done
                        .push((req_id, Ok(Done::Messages(views, is_completed))));
                }
            }
            ServerFrame::GroupOk {
                req_id,
                server_time,
                seq,
                group,
            } => {
                if self.take_pending(&req_id, seq, server_time, now).is_some() {
                    self.groups.insert(group.group_id.clone(), group.clone());
                    self.done.push((req_id, Ok(Done::Group(group.clone()))));
                    self.accept(seq, Slot::OwnAgain(Arc::new(Event::GroupChanged { group })));
                }
            }
            ServerFrame::SyncOk {
                req_id,
                server_time,
                events,
                has_more,
            } => {
                if self.take_pending(&req_id, 0, server_time, now).is_some() {
                    self.syncing = false;
                    for Envelope { seq, event } in events {
                        self.accept(seq, Slot::Event(event));
                    }
                    if has_more || !self.gap.is_empty() {
                        self.start_sync(now);
                    }
                }
            }
            ServerFrame::Groups {
                req_id,
                server_time,
                groups,
            } => {
                if let Some(p) = self.take_pending(&req_id, 0, server_time, now) {
                    for g in &groups {
                        self.groups.insert(g.group_id.clone(), g.clone());
                    }
                    if p.kind != Kind::Refresh {
                        self.done.push((req_id, Ok(Done::Groups(groups))));
                    }
                }
            }
            ServerFrame::Event(Envelope { seq, event }) => self.accept(seq, Slot::Event(event)),
            ServerFrame::Error {
                req_id: Some(id),
                code,
                desc,
            } => {
                if let Some(p) = self.pending.get(&id) {
                    if p.kind == Kind::Sync {
                        self.pending.remove(&id);
                        self.order.retain(|x| *x != id);
                        self.syncing = false;
                        // Still behind: without a retry, the missed events would wait for the
                        // next live event or reconnect (possibly forever).
                        self.sync_retry_at = Some(now + SYNC_RETRY_MS);
                        return;
                    }
                }
                self.fail(&id, ImError { code, desc });
            }
            ServerFrame::Error { req_id: None, .. } => {}
            ServerFrame::Pong { t, server_time } => self.clock_sample(t, server_time as f64, now),
        }
    }

    fn on_login(&mut self, head: u64, limits: ClientLimits, server_time: u64, now: f64) {
        self.logged_in = true;
        self.cfg = limits.to_config();
        if !self.best_rtt.is_finite() {
            self.offset_ms = server_time as f64 - now;
        }
        match self.cursor {
            None => {
                // A new device: start from now, and learn the groups (and roles) it is in.
                self.cursor = Some(head);
                let req_id = self.next_id("j");
                let frame = ClientFrame::GetJoinedGroups {
                    req_id: req_id.clone(),
                };
                self.queue(req_id, frame, Kind::Refresh, now);
            }
            Some(c) if c < head => self.start_sync(now),
            Some(_) => {}
        }
        // Resend everything unanswered, in the original order.
        for id in self.order.clone() {
            if let Some(p) = self.pending.get_mut(&id) {
                if p.sent_at.is_none() && p.kind != Kind::Sync {
                    p.sent_at = Some(now);
                    self.frames.push(p.frame.clone());
                }
            }
        }
    }

    fn start_sync(&mut self, now: f64) {
        if self.syncing || !self.logged_in {
            return;
        }
        self.syncing = true;
        self.sync_retry_at = None;
        let req_id = self.next_id("y");
        let frame = ClientFrame::Sync {
            req_id: req_id.clone(),
            after_seq: self.cursor.unwrap_or(0),
        };
        self.pending.insert(
            req_id.clone(),
            Pending {
                frame: frame.clone(),
                kind: Kind::Sync,
                queued_at: now,
                sent_at: Some(now),
            },
        );
        self.order.push_back(req_id);
        self.frames.push(frame);
    }

    /// Applies the event at `seq` exactly once and in order.
    fn accept(&mut self, seq: u64, slot: Slot) {
        if seq == 0 {
            return; // an idempotent retry: no new event
        }
        let cursor = self.cursor.unwrap_or(0);
        if seq <= cursor || self.gap.contains_key(&seq) {
            return; // already applied (or waiting)
        }
        if seq > cursor + 1 {
            self.gap.insert(seq, slot);
            if self.gap.len() == 1 && !self.syncing {
                // A gap: something was missed; ask for it. (An ack racing ahead of its
                // predecessors also lands here; the sync then finds nothing new.)
                self.start_sync(self.now);
            }
            return;
        }
        self.apply_slot(slot);
        let mut c = seq;
        while let Some(next) = self.gap.remove(&(c + 1)) {
            self.apply_slot(next);
            c += 1;
        }
        self.cursor = Some(c);
        self.revokes_told.prune(c);
    }

    fn apply_slot(&mut self, slot: Slot) {
        let ev = match slot {
            Slot::Event(ev) => ev,
            Slot::Own => return,
            Slot::OwnAgain(ev) => {
                match &*ev {
                    Event::MessageRevoked(r) => self.apply_revoke(r),
                    Event::GroupChanged { group } => {
                        self.groups.insert(group.group_id.clone(), group.clone());
                    }
                    Event::NewMessage { .. } => {}
                }
                return;
            }
        };
        match &*ev {
            Event::NewMessage { message } => {
                let known = self.messages.contains_key(&message.msg_id);
                let view = self.upsert(message.clone());
                if !known {
                    self.notes.push(Notification::NewMessage(view));
                }
            }
            Event::MessageRevoked(r) => {
                // Our own revoke, replayed after a reconnect before its answer: the answer
                // settles it; listeners are for revokes made elsewhere. Nor is a revoke told
                // twice: a retried revoke is answered (with seq 0) before its event may arrive.
                let mine =
                    r.revoke.user_id == self.user && self.pending.contains_key(&r.revoke.req_id);
                self.apply_revoke(r);
                let first = !self.revokes_told.contains(&r.msg_id);
                if !mine && first {
                    self.notes.push(Notification::MessageRevoked {
                        msg_id: r.msg_id.clone(),
                        revoker: RevokerInfo::from(&r.revoke),
                        reason: r.revoke.reason.clone(),
                    });
                }
            }
            Event::GroupChanged { group } => {
                self.groups.insert(group.group_id.clone(), group.clone());
                self.notes.push(Notification::GroupChanged(group.clone()));
            }
        }
    }

    fn apply_revoke(&mut self, r: &Revoked) {
        if let Some(l) = self.messages.get_mut(&r.msg_id) {
            l.msg.revoke = Some(r.revoke.clone());
            l.status = MessageStatus::Revoked;
            if l.msg.sender != self.user {
                l.msg.elem = None;
            }
            self.mark(&r.msg_id);
        } else {
            self.tombstone(r);
        }
    }

    /// Merges a message from the server into the cache; returns its view. A copy without the
    /// revoke never undoes one already applied, and the sender keeps their own text.
    fn upsert(&mut self, mut m: Message) -> MessageView {
        let status = |m: &Message| {
            if m.revoke.is_some() {
                MessageStatus::Revoked
            } else {
                MessageStatus::Sent
            }
        };
        let l = match self.messages.get_mut(&m.msg_id) {
            Some(l) => {
                if !(l.msg.revoke.is_some() && m.revoke.is_none()) {
                    if m.elem.is_none() && m.sender == self.user {
                        m.elem = l.msg.elem.take();
                    }
                    l.status = status(&m);
                    l.msg = m;
                }
                l.used = self.used + 1;
                l.clone()
            }
            None => {
                let l = Local {
                    status: status(&m),
                    msg: m,
                    used: self.used + 1,
                };
                self.messages.insert(l.msg.msg_id.clone(), l.clone());
                self.evict_over_cap();
                l
            }
        };
        self.used += 1;
        self.mark(&l.msg.msg_id);
        self.view(&l)
    }

    fn stub(&self, r: &Revoked) -> MessageView {
        self.view(&Local {
            msg: Message {
                msg_id: r.msg_id.clone(),
                sender: r.sender.clone(),
                receiver: r.receiver.clone(),
                group_id: r.group_id.clone(),
                time_ms: 0,
                seq: 0,
                elem: None,
                revoke: Some(r.revoke.clone()),
            },
            status: MessageStatus::Revoked,
            used: 0,
        })
    }

    fn view(&self, l: &Local) -> MessageView {
        let m = &l.msg;
        let is_self = m.sender == self.user;
        let user_id = match (&m.group_id, &m.receiver) {
            (Some(_), _) => None,
            (None, Some(r)) if is_self => Some(r.clone()),
            (None, _) if !is_self => Some(m.sender.clone()),
            _ => None,
        };
        MessageView {
            msg_id: m.msg_id.clone(),
            sender: m.sender.clone(),
            user_id,
            group_id: m.group_id.clone(),
            timestamp: m.time_ms / 1000,
            time_ms: m.time_ms,
            seq: m.seq,
            status: l.status,
            is_self,
            elem_type: crate::model::ELEM_TYPE_TEXT,
            text_elem: m.elem.as_ref().map(|e| match e {
                Elem::Text { text } => TextElem { text: text.clone() },
            }),
            is_revoked: m.revoke.is_some(),
            revoker_info: m.revoke.as_ref().map(RevokerInfo::from),
            revoke_reason: m.revoke.as_ref().map(|r| r.reason.clone()),
            revoke_time_ms: m.revoke.as_ref().map(|r| r.time_ms),
        }
    }
}

#[cfg(test)]
mod hash_tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    /// IDs that differ only in their last characters (`bench-msg-1234`) must spread over the
    /// low bits, which pick the bucket.
    #[test]
    fn similar_ids_spread_over_buckets() {
        let b = Fast::default();
        let mut buckets = HashSet::new();
        for i in 0..4096 {
            buckets.insert(b.hash_one(format!("bench-msg-{i}")) & 4095);
        }
        assert!(
            buckets.len() > 2500,
            "{} distinct buckets of 4096",
            buckets.len()
        );
    }
}
