//! Message requests: `send`, `revoke`, `history`, `findMessages` and `sync`, and how an entry of
//! a user's event log reads back as an event (`Hub::materialize`, used by `sync` and by the
//! shared hub's catch-up in `sequence.rs`).
//!
//! Who may revoke what until when is decided in `policy.rs` (`check_revoke`), called from
//! `Hub::revoke`; both paths hand their event to `Hub::fan_out` (`sequence.rs`).

use super::{bad, Fail, Hub, SessionId, R};
use crate::error::Code;
use crate::model::{
    check_msg_id, check_user_id, ConvId, Elem, Group, Message, ReplyTo, RevokeInfo,
};
use crate::policy::{check_revoke, Actor};
use crate::protocol::{Envelope, Event, Revoked, ServerFrame};
use crate::store::{parse_read_target, EventKind, EventRecord, Store, StoreError};
use std::sync::Arc;

/// How many keys `Hub::own_key` tries for one msgID (the client's, then derived ones) before
/// it gives up with 300002 (only a deliberately crafted collision gets that far).
const MSG_KEY_PROBES: u32 = 4;

/// The key of `sender`'s message `msg_id` when another sender's message has that msgID:
/// a prefix of the msgID, a dot and 16 hex digits of a hash of (sender, msgID, attempt).
/// Deterministic (a resend finds the same key), within the msgID length and alphabet.
pub fn derived_msg_id(msg_id: &str, sender: &str, attempt: u32) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325; // FNV-1a 64
    for b in sender
        .bytes()
        .chain([0])
        .chain(msg_id.bytes())
        .chain(attempt.to_le_bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let keep = msg_id.len().min(crate::model::MAX_MSG_ID - 17);
    format!("{}.{h:016x}", &msg_id[..keep])
}

/// Who hears about a message's events: its group's members (shared with the group cache), or
/// the parties of a one-to-one conversation.
pub(super) enum Parties {
    Group(Arc<Group>),
    Users(Vec<String>),
}

impl Parties {
    pub(super) fn iter(&self) -> impl Iterator<Item = &String> {
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

impl<S: Store> Hub<S> {
    /// Everyone who should hear about events of `conv`.
    pub(super) fn parties(&mut self, msg: &Message) -> R<Parties> {
        Ok(match (&msg.group_id, &msg.receiver) {
            (Some(g), _) => Parties::Group(self.group(g)?),
            (None, Some(r)) if *r != msg.sender => {
                Parties::Users(vec![msg.sender.clone(), r.clone()])
            }
            _ => Parties::Users(vec![msg.sender.clone()]),
        })
    }

    /// The key `user`'s message `msg_id` is stored under: `Ok(key)` for a new message, or
    /// `Err(existing)` for a resend of one `user` already sent to the same conversation.
    ///
    /// msgIDs are unique per sender. When `msg_id` is free it is the key (what every honest
    /// client sees: the msgID it made at create, for life). When another sender already has a
    /// message with that msgID, the send is accepted all the same under a key derived from the
    /// msgID and the sender (`derived_msg_id`), the same on every resend: the requester learns
    /// nothing about the other message and cannot make its sender's send fail. The same
    /// msgID reused by the same sender in another conversation is refused with 300002.
    fn own_key(
        &mut self,
        user: &str,
        msg_id: String,
        receiver: &Option<String>,
        group_id: &Option<String>,
    ) -> R<Result<String, Message>> {
        let mut key = msg_id.clone();
        for attempt in 1..=MSG_KEY_PROBES {
            match self.store.message_for_update(&key)? {
                None => return Ok(Ok(key)),
                Some(m) if m.sender == user => {
                    if m.receiver == *receiver && m.group_id == *group_id {
                        return Ok(Err(m));
                    }
                    return Err(Code::MsgIdConflict.into());
                }
                Some(_) => key = derived_msg_id(&msg_id, user, attempt),
            }
        }
        Err(Code::MsgIdConflict.into())
    }

    /// `send`: stores a new message (its conversation seq from the sequencer) and fans it out.
    /// A resend of a message already accepted gets the same answer and no new event.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: String,
        msg_id: String,
        receiver: Option<String>,
        group_id: Option<String>,
        elem: Elem,
        extras: (Option<String>, Option<String>),
        now: u64,
    ) -> R<()> {
        check_msg_id(&msg_id)?;
        let (reply_to, cloud_custom_data) = extras;
        // First: a resend of a message already accepted is answered as before, whatever has
        // changed since (the sender may have left the group meanwhile). msgIDs are unique per
        // sender: another sender's message with this msgID is not revealed (see `own_key`).
        let msg_id = match self.own_key(user, msg_id, &receiver, &group_id)? {
            Ok(key) => key,
            Err(existing) => {
                let message = self.dress(user, &existing)?;
                self.push(
                    session,
                    ServerFrame::SendOk {
                        req_id,
                        server_time: now,
                        seq: 0,
                        message,
                    },
                );
                return Ok(());
            }
        };
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
            e => crate::attachment::check_elem(e)?,
        }
        let conv = match (&receiver, &group_id) {
            (Some(r), None) => {
                check_user_id(r)?;
                self.charge_fanout(user, if r == user { 1 } else { 2 }, now)?;
                ConvId::c2c(user, r)
            }
            (None, Some(g)) => {
                // A group one is not in answers as one that does not exist: 10010.
                let group = self.group(g)?;
                if group.role_of(user).is_none() {
                    return Err(Code::GroupNotFound.into());
                }
                self.charge_fanout(user, group.members.len(), now)?;
                ConvId::Group(g.clone())
            }
            _ => {
                return Err(bad(
                    Code::InvalidParameters,
                    "give exactly one of receiver and groupID",
                ))
            }
        };
        let mut elem = elem;
        let keys: Vec<String> = elem
            .attachment_keys()
            .into_iter()
            .map(String::from)
            .collect();
        if !keys.is_empty() {
            let Some(facts) = self.store.claim_attachments(user, &msg_id, &keys)? else {
                return Err(Code::AttachmentNotOwned.into());
            };
            elem.set_upload_facts(&facts);
        }
        if self.signer.is_some() {
            elem.each_url_mut(|_, url| url.clear());
        }
        let quote = self.check_extras(user, reply_to.as_deref(), cloud_custom_data.as_deref())?;
        let seq = self.next_conv_seq(&conv)?;
        let mut msg = Message {
            msg_id,
            sender: user.to_string(),
            receiver,
            group_id,
            time_ms: now,
            seq,
            elem: Some(elem),
            revoke: None,
            // Stored without the original's text (conversations.rs).
            reply_to: quote.as_ref().map(ReplyTo::link),
            cloud_custom_data,
        };
        self.store.put_message(&msg)?;
        msg.reply_to = quote;
        if seq == 1 && !conv.is_group() {
            // A one-to-one conversation begins for both parties with its first message.
            let parties = [msg.sender.clone(), msg.receiver.clone().unwrap_or_default()];
            let n = if parties[0] == parties[1] { 1 } else { 2 };
            self.join_conversation(&parties[..n], &conv, 0, true, now)?;
        }
        self.seq.conv_written(conv, seq);
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

    /// `revoke`: marks a message revoked if `check_revoke` (policy.rs) allows it — the time
    /// limit, who may revoke whose message — and fans the revoke out. A retry of a revoke that
    /// succeeded gets the same answer and no new event.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn revoke(
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
        // Outsiders to a group do not learn that its message exists (its sender, who left the
        // group, knows it does: they get 10007 from the policy). After the retry above: a
        // revoker who left since their revoke succeeded still gets its answer.
        if msg.group_id.is_some() && actor_role.is_none() && msg.sender != user {
            return Err(not_found.into());
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
        let parties = self.parties(&msg)?;
        self.charge_fanout(user, parties.iter().count(), now)?;
        msg.revoke = Some(RevokeInfo {
            user_id: user.to_string(),
            role: allowed.role,
            reason,
            time_ms: now,
            req_id: req_id.clone(),
        });
        // Its attachments are gone from the commit on: no copy keeps a URL to them.
        crate::attachment::clear_urls(&mut msg);
        self.store.update_message(&msg)?;
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
    pub(super) fn may_read(&mut self, user: &str, msg: &Message) -> R<bool> {
        Ok(match &msg.group_id {
            Some(g) => match self.group(g) {
                Ok(group) => group.members.contains(user),
                Err(Fail::Im(_)) => false,
                Err(e) => return Err(e),
            },
            None => msg.sender == user || msg.receiver.as_deref() == Some(user),
        })
    }

    /// `history`: a page of one conversation, newest first, for a party or member.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn history(
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
                // A group one is not in answers as one that does not exist: 10010.
                if !self.group(&g)?.members.contains(user) {
                    return Err(Code::GroupNotFound.into());
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
        let messages = messages
            .iter()
            .map(|m| self.dress(user, m))
            .collect::<R<_>>()?;
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

    /// `findMessages`: the messages among `msg_ids` that `user` may read.
    pub(super) fn find(
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
                    messages.push(self.dress(user, &m)?);
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

    /// `sync`: a page of `user`'s event log after `after`, as `user` sees those events now.
    pub(super) fn sync(
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
            self.seq.advance(session, last.seq);
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
    pub(super) fn materialize(&mut self, user: &str, rec: &EventRecord) -> R<Event> {
        Ok(match rec.kind {
            EventKind::NewMessage | EventKind::MessageRevoked => {
                let m = self.store.message(&rec.target)?.ok_or_else(|| {
                    StoreError(format!("event log names a missing message {}", rec.target))
                })?;
                if rec.kind == EventKind::NewMessage {
                    Event::NewMessage {
                        message: self.dress(user, &m)?,
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
            EventKind::ConversationRead => {
                let (id, read_seq) = parse_read_target(&rec.target).ok_or_else(|| {
                    StoreError(format!("malformed read event target {}", rec.target))
                })?;
                Event::ConversationRead {
                    conversation_id: id.to_string(),
                    read_seq,
                }
            }
        })
    }
}
