//! The storage trait the hub persists through, and an in-memory implementation.
//!
//! The hub calls the store synchronously while it handles frames: reads, then writes. Writes
//! need not be durable until [`Store::commit`]; reads must see the writes made since the last
//! commit (a database store keeps one transaction open between commits). The host calls
//! [`crate::hub::Hub::commit`] after handling a batch of frames, and only then delivers the
//! frames the hub produced — so every acknowledgement and every fan-out follows a durable
//! write (group commit: one commit for many frames).
//!
//! If a write or the commit fails, the hub is poisoned and the host must stop (fail-stop): the
//! uncommitted batch was never acknowledged, clients resend on reconnect, and requests are
//! idempotent, so nothing acknowledged is lost and nothing is applied twice.
//!
//! ## Several writers (multi-node)
//!
//! A store that several hubs share (PostgreSQL under several server nodes, see
//! [`crate::hub::Hub::shared`]) assigns the sequences itself, atomically: [`Store::append_event`]
//! and [`Store::next_conv_seq`] return the seq they took, held under a lock until the commit so
//! that no two writers take the same one and none is left out. It also locks what the hub is
//! about to change ([`Store::message_for_update`], [`Store::group_for_update`]), and reports a
//! clash with another writer (a deadlock, a lock wait that timed out, a row another writer
//! inserted meanwhile) as a [`StoreError::conflict`]: the hub then undoes that one request
//! ([`Store::begin_request`] / [`Store::undo_request`]), commits the requests before it, and runs
//! it again. Single-writer stores (memory, SQLite) never conflict and keep the defaults.

use crate::model::{ConvId, Group, Message};
use std::collections::{BTreeMap, HashMap};

/// A storage failure. The hub turns it into code 20005 and poisons itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("storage error: {0}")]
pub struct StoreError(pub String);

/// How a [`StoreError::conflict`]'s text starts.
const CONFLICT: &str = "conflict with another writer: ";

impl StoreError {
    /// A clash with a concurrent writer of a shared store: nothing is broken, the request can be
    /// undone and run again (see the module documentation).
    pub fn conflict(what: impl std::fmt::Display) -> StoreError {
        StoreError(format!("{CONFLICT}{what}"))
    }

    /// Whether this is a [`StoreError::conflict`].
    pub fn is_conflict(&self) -> bool {
        self.0.starts_with(CONFLICT)
    }
}

/// What an entry of a user's event log refers to. The log stores references; the hub
/// materialises the event from the current message or group when it replays the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A new message (target: msgID).
    NewMessage,
    /// A revoke (target: msgID).
    MessageRevoked,
    /// A group change (target: groupID).
    GroupChanged,
    /// The user read a conversation (target: see [`read_target`]).
    ConversationRead,
}

/// The target of a [`EventKind::ConversationRead`] entry: `<readSeq>:<conversationID>` (the
/// event is materialised from it alone, without reading the store).
pub fn read_target(conversation_id: &str, read_seq: u64) -> String {
    format!("{read_seq}:{conversation_id}")
}

/// The conversationID and read seq of a [`read_target`].
pub fn parse_read_target(target: &str) -> Option<(&str, u64)> {
    let (seq, id) = target.split_once(':')?;
    Some((id, seq.parse().ok()?))
}

/// One user's place in one conversation: the only conversation state that is stored (unread
/// counts, the last message and the order are derived from the messages when listing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvMember {
    /// The conversation.
    pub conv: ConvId,
    /// The conversation seq the user has read up to.
    pub read_seq: u64,
    /// A group the user has left (or been removed from): the last seq they may see. `None` while
    /// they are in it (and always for one-to-one conversations).
    pub until_seq: Option<u64>,
    /// Server time when the conversation began for this user, ms (its order before any message).
    pub since_ms: u64,
}

/// What listing needs of one of a user's conversations, short of its last message: how far
/// the user may see, when the newest message they may see was sent, their unread count
/// ([`Store::conversation_summaries`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvSummary {
    /// The user's place.
    pub member: ConvMember,
    /// The last seq the user may see: `until_seq`, or the conversation's head.
    pub upto: u64,
    /// `time_ms` of the message at seq `upto` (`None` before any message).
    pub last_time_ms: Option<u64>,
    /// [`Store::unread_count`] from `read_seq` to `upto`.
    pub unread: u64,
}

impl EventKind {
    /// Stable number for storage.
    pub fn as_u8(self) -> u8 {
        match self {
            EventKind::NewMessage => 1,
            EventKind::MessageRevoked => 2,
            EventKind::GroupChanged => 3,
            EventKind::ConversationRead => 4,
        }
    }

    /// From the stable number.
    pub fn from_u8(n: u8) -> Option<EventKind> {
        match n {
            1 => Some(EventKind::NewMessage),
            2 => Some(EventKind::MessageRevoked),
            3 => Some(EventKind::GroupChanged),
            4 => Some(EventKind::ConversationRead),
            _ => None,
        }
    }
}

/// One entry of a user's event log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRecord {
    /// Position in the user's log.
    pub seq: u64,
    /// What happened.
    pub kind: EventKind,
    /// The msgID or groupID it happened to.
    pub target: String,
}

/// A webhook to deliver to the app's backend (Tencent's third-party callbacks), written by the
/// hub into the store's outbox in the same transaction as the message or revoke it reports, and
/// delivered later, at least once, by the host (see [`Store::enqueue_callback`]).
///
/// Most webhooks are a reference to the message they report, stored in the same transaction:
/// the host builds the JSON body when it delivers, from the stored message
/// (`callback::body_of`, feature `callbacks`), so that the outbox row stays a few dozen bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackRecord {
    /// Tencent's `CallbackCommand`, e.g. `C2C.CallbackAfterSendMsg`.
    pub command: &'static str,
    /// Tencent's `OptPlatform` of who caused it: `Web` (a client) or `RESTAPI` (an admin).
    pub platform: &'static str,
    /// The msgID of the message it reports.
    pub msg_id: String,
    /// The admin whose REST request caused it (`None` for a client's).
    pub admin: Option<String>,
    /// The JSON body to POST when the stored message cannot give it later; `None` (nearly
    /// always): built from the stored message at delivery.
    pub body: Option<String>,
}

/// What a store knows of an upload it keeps, from the bytes themselves (`None`: not known).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UploadFacts {
    /// Bytes.
    pub size: Option<u64>,
    /// Pixels, for an image (read from its header).
    pub width: Option<u32>,
    /// Pixels, for an image.
    pub height: Option<u32>,
}

/// Durable storage for the hub. See the module documentation for the contract.
pub trait Store {
    /// The message with this msgID.
    fn message(&mut self, msg_id: &str) -> Result<Option<Message>, StoreError>;
    /// The message with this msgID, read by a request that may then create or change it: a
    /// shared store locks it until the commit (a concurrent writer waits, then sees the change),
    /// and a later [`Store::put_message`] of a msgID found absent here must insert, never
    /// overwrite (another writer's insert meanwhile is a [`StoreError::conflict`]).
    fn message_for_update(&mut self, msg_id: &str) -> Result<Option<Message>, StoreError> {
        self.message(msg_id)
    }
    /// A hint before a batch of requests: these messages will be read by
    /// [`Store::message_for_update`] in the batch (the batch's revokes). A database store that
    /// pipelines statements may send their locks at once, so that the database takes them
    /// while the hub handles the requests before them; it must still answer each read exactly
    /// as it would without the hint. The default does nothing.
    fn lock_ahead(&mut self, msg_ids: &[&str]) {
        let _ = msg_ids;
    }
    /// Inserts a new message or replaces it (when it is revoked).
    fn put_message(&mut self, msg: &Message) -> Result<(), StoreError>;
    /// Writes a change to a message this transaction read with [`Store::message_for_update`]
    /// and found (a revoke): only what a change can touch — the element, the revoke, the reply
    /// link and `cloudCustomData`; its conversation, seq, parties and time are as stored. A
    /// database store updates the row in place (no index of it changes); the default is
    /// [`Store::put_message`].
    fn update_message(&mut self, msg: &Message) -> Result<(), StoreError> {
        self.put_message(msg)
    }
    /// Attaches the uploads `keys` to message `msg_id` of `sender`, in the batch's transaction:
    /// `None` (and nothing changed) unless every one is `sender`'s own upload, not attached
    /// yet and not deleted; else what the store knows of each upload, in the order of `keys`
    /// (the message then carries those figures, not the sender's). A store that keeps no
    /// uploads refuses (the default); the memory store keeps the uploads its host registered
    /// (the embedded hub's browser keeps the bytes, and knows no more of them).
    fn claim_attachments(
        &mut self,
        sender: &str,
        msg_id: &str,
        keys: &[String],
    ) -> Result<Option<Vec<UploadFacts>>, StoreError> {
        let _ = (sender, msg_id, keys);
        Ok(None)
    }
    /// Up to `limit` messages of `conv` with seq < `before_seq` (all if `None`), newest first.
    fn history(
        &mut self,
        conv: &ConvId,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError>;
    /// Latest message seq in `conv` (0 if none).
    fn conv_head(&mut self, conv: &ConvId) -> Result<u64, StoreError>;
    /// The seq the next message of `conv` takes: the head + 1, reserved for this writer until
    /// the commit (a shared store locks the conversation's head; single-writer stores need not).
    fn next_conv_seq(&mut self, conv: &ConvId) -> Result<u64, StoreError> {
        Ok(self.conv_head(conv)? + 1)
    }

    /// Appends an event to `user`'s log at the head + 1 and returns that seq. Atomic: two
    /// writers never take the same seq, and the log stays contiguous from 1.
    fn append_event(
        &mut self,
        user: &str,
        kind: EventKind,
        target: &str,
    ) -> Result<u64, StoreError>;
    /// Appends an event to `user`'s log at `seq`, which the caller knows to be the head + 1: a
    /// single-writer hub caches every head it wrote, so the store need not look the head up
    /// again. Only a single-writer hub calls it, with the head it has cached since it last read
    /// the store's; a store must at least refuse a `seq` already taken (never overwrite). The
    /// default appends with [`Store::append_event`] and checks that it took `seq`; a database
    /// store writes the row directly, its primary key refusing a duplicate.
    fn append_event_at(
        &mut self,
        user: &str,
        seq: u64,
        kind: EventKind,
        target: &str,
    ) -> Result<(), StoreError> {
        let took = self.append_event(user, kind, target)?;
        if took != seq {
            return Err(StoreError(format!(
                "event log of {user}: expected to append seq {seq}, the log took {took}"
            )));
        }
        Ok(())
    }
    /// [`Store::append_event_at`] for each `(user, seq)` of `entries`, in order: one event (the
    /// same `kind` and `target`) appended to the logs of all its recipients, as a single-writer
    /// hub's fan-out does. A user may appear more than once (with consecutive seqs). The default
    /// appends one by one; a database store may write the whole fan-out as one record, so that
    /// a send to a large group costs one row, not one row per member (issue 20: another user's
    /// request waits behind that write).
    fn append_events_at(
        &mut self,
        entries: &[(&str, u64)],
        kind: EventKind,
        target: &str,
    ) -> Result<(), StoreError> {
        for (user, seq) in entries {
            self.append_event_at(user, *seq, kind, target)?;
        }
        Ok(())
    }
    /// [`Store::append_event`] for each of `users` (sorted, without duplicates, so that writers
    /// lock heads in one order), returning their seqs in the same order. A database store does
    /// it in one statement; the default appends one by one.
    fn append_events(
        &mut self,
        users: &[&str],
        kind: EventKind,
        target: &str,
    ) -> Result<Vec<u64>, StoreError> {
        users
            .iter()
            .map(|u| self.append_event(u, kind, target))
            .collect()
    }
    /// Up to `limit` entries of `user`'s log with seq > `after`, in order.
    fn events_after(
        &mut self,
        user: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError>;
    /// Latest seq of `user`'s log (0 if empty).
    fn user_head(&mut self, user: &str) -> Result<u64, StoreError>;

    /// The group with this groupID.
    fn group(&mut self, group_id: &str) -> Result<Option<Group>, StoreError>;
    /// The group, read by a request that may then create or change it: locked like
    /// [`Store::message_for_update`], and a [`Store::put_group`] of a groupID found absent here
    /// must insert, never overwrite.
    fn group_for_update(&mut self, group_id: &str) -> Result<Option<Group>, StoreError> {
        self.group(group_id)
    }
    /// Inserts or replaces a group.
    fn put_group(&mut self, group: &Group) -> Result<(), StoreError>;
    /// Every group `user` is a member of.
    fn groups_of(&mut self, user: &str) -> Result<Vec<Group>, StoreError>;

    /// Every conversation `user` is (or was) in, in no particular order.
    fn conversations_of(&mut self, user: &str) -> Result<Vec<ConvMember>, StoreError>;
    /// `user`'s place in `conv`, if they are (or were) in it.
    fn conversation_of(
        &mut self,
        user: &str,
        conv: &ConvId,
    ) -> Result<Option<ConvMember>, StoreError>;
    /// Every conversation of `user` ([`Store::conversations_of`]) with what ordering and
    /// counting it needs. The default asks per conversation; SQL stores answer in one query (a
    /// user with 1,000 conversations lists them in one round trip instead of 3,000).
    fn conversation_summaries(&mut self, user: &str) -> Result<Vec<ConvSummary>, StoreError> {
        let places = self.conversations_of(user)?;
        let mut out = Vec::with_capacity(places.len());
        for member in places {
            let upto = match member.until_seq {
                Some(u) => u,
                None => self.conv_head(&member.conv)?,
            };
            let last_time_ms = match upto {
                0 => None,
                _ => self
                    .history(&member.conv, Some(upto + 1), 1)?
                    .pop()
                    .map(|m| m.time_ms),
            };
            let unread = self.unread_count(&member.conv, user, member.read_seq, upto)?;
            out.push(ConvSummary {
                member,
                upto,
                last_time_ms,
                unread,
            });
        }
        Ok(out)
    }
    /// Inserts or replaces `user`'s place in `m.conv`.
    fn put_conversation(&mut self, user: &str, m: &ConvMember) -> Result<(), StoreError>;
    /// How many messages of `conv` with `after` < seq <= `upto` are from someone other than
    /// `reader` and not revoked (the unread count, derived).
    fn unread_count(
        &mut self,
        conv: &ConvId,
        reader: &str,
        after: u64,
        upto: u64,
    ) -> Result<u64, StoreError>;

    /// Makes every write since the last commit durable, atomically.
    fn commit(&mut self) -> Result<(), StoreError>;

    /// Adds a webhook to the outbox, as a write of the current batch (durable with it at
    /// [`Store::commit`], undone with it by [`Store::undo_request`]). The hub calls it only when
    /// callbacks are on ([`crate::hub::Hub::set_callbacks`]). Default: drops it (stores that
    /// deliver no webhooks).
    fn enqueue_callback(&mut self, cb: &CallbackRecord) -> Result<(), StoreError> {
        let _ = cb;
        Ok(())
    }

    /// Does a bounded step of deferred work (a store may defer reorganising what it wrote, e.g.
    /// moving recent events into per-user order), as writes of the current batch; the caller
    /// commits them. The host calls it (through [`crate::hub::Hub::maintain`]) only while it
    /// has nothing else to do. Returns whether more work remains. Default: none.
    fn maintain(&mut self) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// Marks the start of one request's writes (a savepoint), so that a conflict can undo them
    /// alone. Default: nothing (a single-writer store never conflicts).
    fn begin_request(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Undoes the writes since [`Store::begin_request`] after a [`StoreError::conflict`],
    /// keeping those before it. Default: impossible (never called on a single-writer store).
    fn undo_request(&mut self) -> Result<(), StoreError> {
        Err(StoreError("this store cannot undo a request".into()))
    }
}

/// Keeps everything in memory. Used by the embedded hub and by tests; "durable" here means
/// "for the life of the page".
#[derive(Clone, Debug, Default)]
pub struct MemStore {
    messages: HashMap<String, Message>,
    convs: HashMap<ConvId, BTreeMap<u64, String>>,
    logs: HashMap<String, Vec<EventRecord>>,
    groups: HashMap<String, Group>,
    members: HashMap<String, BTreeMap<ConvId, ConvMember>>,
    /// The uploads its host registered ([`MemStore::add_upload`]): key → (owner, the message
    /// that claimed it).
    uploads: HashMap<String, (String, Option<String>)>,
    /// Keys of uploads whose message was revoked, for the host to drop ([`MemStore::take_gone`]).
    gone: Vec<String>,
    /// Counts commits (tests use it to check group commit).
    pub commits: u64,
    /// Webhooks enqueued, in order (nothing delivers them: tests read them). Only with the
    /// `callbacks` feature, so that the embedded hub carries none of it.
    #[cfg(feature = "callbacks")]
    pub callbacks: Vec<CallbackRecord>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of messages stored.
    pub fn message_count(&self) -> usize {
        self.messages.len()
    }

    /// Registers an upload of `owner` (its bytes are the host's): a message of `owner` may then
    /// claim it, once.
    pub fn add_upload(&mut self, key: &str, owner: &str) {
        self.uploads
            .insert(key.to_string(), (owner.to_string(), None));
    }

    /// The keys of the uploads whose message was revoked since the last call: the host drops
    /// their bytes.
    pub fn take_gone(&mut self) -> Vec<String> {
        std::mem::take(&mut self.gone)
    }
}

impl Store for MemStore {
    fn message(&mut self, msg_id: &str) -> Result<Option<Message>, StoreError> {
        Ok(self.messages.get(msg_id).cloned())
    }

    fn put_message(&mut self, msg: &Message) -> Result<(), StoreError> {
        if let (Some(_), Some(e)) = (&msg.revoke, &msg.elem) {
            for key in e.attachment_keys() {
                if matches!(self.uploads.get(key), Some((_, Some(m))) if *m == msg.msg_id) {
                    self.uploads.remove(key);
                    self.gone.push(key.to_string());
                }
            }
        }
        self.convs
            .entry(msg.conv())
            .or_default()
            .insert(msg.seq, msg.msg_id.clone());
        self.messages.insert(msg.msg_id.clone(), msg.clone());
        Ok(())
    }

    /// Only the sender's own registered uploads, not claimed by another message (a retry of
    /// the same message claims them again).
    fn claim_attachments(
        &mut self,
        sender: &str,
        msg_id: &str,
        keys: &[String],
    ) -> Result<Option<Vec<UploadFacts>>, StoreError> {
        let ok = keys.iter().all(|k| {
            matches!(self.uploads.get(k), Some((o, m)) if o == sender
                && m.as_deref().is_none_or(|m| m == msg_id))
        });
        if ok {
            for k in keys {
                if let Some((_, m)) = self.uploads.get_mut(k) {
                    *m = Some(msg_id.to_string());
                }
            }
        }
        Ok(ok.then(|| vec![UploadFacts::default(); keys.len()]))
    }

    fn history(
        &mut self,
        conv: &ConvId,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        let Some(c) = self.convs.get(conv) else {
            return Ok(Vec::new());
        };
        let upper = before_seq.unwrap_or(u64::MAX);
        Ok(c.range(..upper)
            .rev()
            .take(limit)
            .filter_map(|(_, id)| self.messages.get(id).cloned())
            .collect())
    }

    fn conv_head(&mut self, conv: &ConvId) -> Result<u64, StoreError> {
        Ok(self
            .convs
            .get(conv)
            .and_then(|c| c.keys().next_back().copied())
            .unwrap_or(0))
    }

    fn append_event(
        &mut self,
        user: &str,
        kind: EventKind,
        target: &str,
    ) -> Result<u64, StoreError> {
        let log = self.logs.entry(user.to_string()).or_default();
        let seq = log.len() as u64 + 1;
        log.push(EventRecord {
            seq,
            kind,
            target: target.to_string(),
        });
        Ok(seq)
    }

    fn events_after(
        &mut self,
        user: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        Ok(self
            .logs
            .get(user)
            .map(|l| {
                l.iter()
                    .skip(after.min(l.len() as u64) as usize)
                    .take(limit)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    fn user_head(&mut self, user: &str) -> Result<u64, StoreError> {
        Ok(self.logs.get(user).map_or(0, |l| l.len() as u64))
    }

    fn group(&mut self, group_id: &str) -> Result<Option<Group>, StoreError> {
        Ok(self.groups.get(group_id).cloned())
    }

    fn put_group(&mut self, group: &Group) -> Result<(), StoreError> {
        self.groups.insert(group.group_id.clone(), group.clone());
        Ok(())
    }

    fn groups_of(&mut self, user: &str) -> Result<Vec<Group>, StoreError> {
        let mut v: Vec<Group> = self
            .groups
            .values()
            .filter(|g| g.members.contains(user))
            .cloned()
            .collect();
        v.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        Ok(v)
    }

    fn conversations_of(&mut self, user: &str) -> Result<Vec<ConvMember>, StoreError> {
        Ok(self
            .members
            .get(user)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default())
    }

    fn conversation_of(
        &mut self,
        user: &str,
        conv: &ConvId,
    ) -> Result<Option<ConvMember>, StoreError> {
        Ok(self.members.get(user).and_then(|m| m.get(conv)).cloned())
    }

    fn put_conversation(&mut self, user: &str, m: &ConvMember) -> Result<(), StoreError> {
        self.members
            .entry(user.to_string())
            .or_default()
            .insert(m.conv.clone(), m.clone());
        Ok(())
    }

    fn unread_count(
        &mut self,
        conv: &ConvId,
        reader: &str,
        after: u64,
        upto: u64,
    ) -> Result<u64, StoreError> {
        let Some(c) = self.convs.get(conv) else {
            return Ok(0);
        };
        if upto <= after {
            return Ok(0);
        }
        Ok(c.range(after + 1..=upto)
            .filter_map(|(_, id)| self.messages.get(id))
            .filter(|m| m.sender != reader && m.revoke.is_none())
            .count() as u64)
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        self.commits += 1;
        Ok(())
    }

    #[cfg(feature = "callbacks")]
    fn enqueue_callback(&mut self, cb: &CallbackRecord) -> Result<(), StoreError> {
        self.callbacks.push(cb.clone());
        Ok(())
    }
}
