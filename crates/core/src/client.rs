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
//!
//! Files: this one holds the state and the outbox (connection, timeouts, answers matched to
//! requests); `client/requests.rs` what the app asks (create, send, revoke, `canRevoke`,
//! queries); `client/incoming.rs` what the server says (answers, events in seq order, the
//! gap and catch-up, the cache merge). The JavaScript-facing views are in
//! [`crate::view`] (re-exported here).

mod conversations;
mod incoming;
mod requests;
mod snapshot;

pub use conversations::MAX_SEARCH_KEYWORDS;

use crate::view::{ConversationPage, ConversationView, MessageView, RevokerInfo};

use crate::error::{Code, ImError};
use crate::hash::Fast;
use crate::model::{check_user_id, Group, Message, MessageStatus};
use crate::policy::Config;
use crate::protocol::{ClientFrame, Event};
use crate::sorted::SortedMap;
use std::collections::HashMap;
use std::sync::Arc;

/// How long a request may wait for its answer before it fails (ms).
pub const DEFAULT_REQUEST_TIMEOUT_MS: f64 = 30_000.0;

/// How long after a refused catch-up (a `sync` answered with an error, such as the rate limit
/// 60018) the client asks again (ms), from [`Client::expire`].
pub const SYNC_RETRY_MS: f64 = 1_000.0;

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
    /// `onRecvMessageModified(msg)`: a message this device holds changed (a reply whose
    /// original was revoked).
    MessageModified(MessageView),
    /// `onNewConversation(list)`.
    NewConversation(Vec<ConversationView>),
    /// `onConversationChanged(list)`.
    ConversationChanged(Vec<ConversationView>),
    /// `onTotalUnreadMessageCountChanged(total)`.
    TotalUnreadChanged(u64),
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
    /// A page of conversations (`getConversation`: a page of one).
    Conversations(ConversationPage),
    /// The total unread count.
    Total(u64),
    /// A conversation was marked read.
    Read,
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
    /// `getConversationList` or `getConversation` for a caller.
    Conversations,
    /// `getTotalUnreadMessageCount` before the list is loaded.
    Total,
    /// Loading the conversation list at the first login (no caller waits for it).
    ConvLoad,
    /// Fetching one conversation whose count this device cannot know (no caller waits).
    ConvFetch,
}

impl Kind {
    /// Whether no caller waits for the request (its failure is silent).
    fn internal(&self) -> bool {
        matches!(self, Kind::Refresh | Kind::ConvLoad | Kind::ConvFetch)
    }
}

#[derive(Debug)]
struct Pending {
    /// Shared with [`Client::take_frames`]'s output (a resend shares it again): the client never
    /// copies a frame.
    frame: Arc<ClientFrame>,
    kind: Kind,
    queued_at: f64,
    sent_at: Option<f64>,
}

impl Pending {
    /// Restored from the store (after a reload, or adopted from a tab that closed): nobody
    /// waits for its answer, and it never times out (queued "at" infinity).
    fn callerless(&self) -> bool {
        self.queued_at == f64::INFINITY
    }
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

/// `n` as 16 lowercase hex digits (`format!("{n:016x}")`).
fn hex16(n: u64) -> String {
    (0..16)
        .rev()
        .map(|i| char::from(b"0123456789abcdef"[((n >> (i * 4)) & 15) as usize]))
        .collect()
}

/// One device's state.
pub struct Client {
    user: String,
    cfg: Config,
    prefix: String,
    counter: u64,
    /// Keys msgIDs (see [`Client::with_id_key`]); without one they are `{seed}-{counter}`.
    id_key: Option<[u8; 16]>,
    logged_in: bool,
    cursor: Option<u64>,
    gap: SortedMap<u64, Slot>,
    syncing: bool,
    sync_retry_at: Option<f64>,
    /// msgIDs whose revoke this device has reported (its own revoke's success, or a listener
    /// call): a message is revoked once, so it is reported once.
    revokes_told: crate::persist::Told,
    /// What changed for the browser's store, when it keeps one (`snapshot`).
    store: Option<Box<snapshot::Tracker>>,
    /// The message cache's cap and use counter (LRU, `snapshot`).
    cache_cap: usize,
    used: u64,
    messages: HashMap<String, Local, Fast>,
    groups: SortedMap<String, Group>,
    pending: SortedMap<String, Pending>,
    order: Vec<String>,
    offset_ms: f64,
    best_rtt: f64,
    now: f64,
    frames: Vec<Arc<ClientFrame>>,
    notes: Vec<Notification>,
    done: Vec<Completion>,
    book: conversations::Book,
    /// Image and file messages whose uploads are under way (between `check_attach` and
    /// `attach` / `abort_attach`): a revoke meanwhile cancels the send instead (8021).
    uploading: Vec<String>,
    /// How long a request may wait for its answer before failing, ms.
    pub request_timeout_ms: f64,
    /// Where the server's relative download URLs (`/file/…`) are made absolute, e.g.
    /// `http://127.0.0.1:8080` (see [`crate::attachment::http_origin`]).
    pub file_origin: Option<String>,
}

impl Client {
    /// A client for `user`. `seed` should be random (it makes msgIDs and reqIds unique).
    pub fn new(user: &str, seed: u64) -> Result<Client, ImError> {
        check_user_id(user)?;
        Ok(Client {
            user: user.to_string(),
            cfg: Config::default(),
            prefix: hex16(seed),
            counter: 0,
            id_key: None,
            logged_in: false,
            cursor: None,
            gap: Default::default(),
            syncing: false,
            sync_retry_at: None,
            revokes_told: crate::persist::Told::default(),
            store: None,
            cache_cap: crate::persist::DEFAULT_CACHE_SIZE,
            used: 0,
            messages: HashMap::default(),
            groups: SortedMap::default(),
            pending: SortedMap::default(),
            order: Vec::new(),
            offset_ms: 0.0,
            best_rtt: f64::INFINITY,
            now: 0.0,
            frames: Vec::new(),
            notes: Vec::new(),
            done: Vec::new(),
            book: Default::default(),
            uploading: Vec::new(),
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
            file_origin: None,
        })
    }

    /// Makes msgIDs unpredictable: each is [`crate::model::keyed_msg_id`] of `key` (16 random
    /// bytes from the host, e.g. `crypto.getRandomValues`). Hosts facing a server should set it.
    pub fn with_id_key(mut self, key: [u8; 16]) -> Self {
        self.id_key = Some(key);
        self
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

    /// Takes the frames to send, in order (shared with the requests waiting for their answer:
    /// a transport that needs a frame of its own takes it with `Arc::unwrap_or_clone`).
    pub fn take_frames(&mut self) -> Vec<Arc<ClientFrame>> {
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

    /// A fresh msgID: keyed (unpredictable) when the host gave a key.
    fn next_msg_id(&mut self) -> String {
        match &self.id_key {
            Some(key) => {
                self.counter += 1;
                crate::model::keyed_msg_id(key, self.counter)
            }
            None => self.next_id(""),
        }
    }

    fn next_id(&mut self, tag: &str) -> String {
        self.counter += 1;
        // By hand, not `format!`: the browser module then needs no integer formatting.
        let mut w = crate::json::Writer(String::with_capacity(tag.len() + self.prefix.len() + 8));
        w.0.push_str(tag);
        w.0.push_str(&self.prefix);
        w.0.push('-');
        w.digits(self.counter);
        w.0
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
        let frame = Arc::new(frame);
        let sent_at = if self.logged_in {
            self.frames.push(frame.clone());
            Some(now)
        } else {
            None
        };
        self.order.push(req_id.clone());
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
        if !p.kind.internal() {
            self.done.push((req_id.to_string(), Err(e)));
        }
    }

    fn view(&self, l: &Local) -> MessageView {
        MessageView::of(&l.msg, l.status, &self.user)
    }
}
