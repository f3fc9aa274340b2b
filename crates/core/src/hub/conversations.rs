//! Conversations and replies, as the authority derives them.
//!
//! The only conversation state stored is each user's place in each conversation
//! ([`ConvMember`]: the read position, and for a group they left the last seq they may see).
//! Everything else is derived from the conversation's messages when a conversation is listed:
//! `unreadCount` counts the messages from others after the read position that are not revoked,
//! `lastMessage` is the newest message (its tombstone once revoked), `orderKey` its time. So a
//! send or a revoke writes nothing per member beyond the event it already appends to each
//! member's log; a client keeps its counts from those same events.
//!
//! A user's place is written when the conversation begins for them: a one-to-one conversation's
//! first message (both parties), a group's creation (every member), joining a group (read up to
//! then), leaving it (the last seq they may see), and marking it read
//! (`cleanConversationUnreadMessageCount`, which also tells the user's other devices with a
//! `conversationRead` event in the user's log).
//!
//! A reply stores only the link to its original ([`ReplyTo::link`]); the quote (`abstract`,
//! `isRevoked`) is filled from the original's current state whenever the hub hands the reply out
//! ([`Hub::dress`]). Once the original is revoked no copy handed out holds its text.

use super::{bad, Fail, Hub, SessionId, R};
use crate::error::Code;
use crate::model::{ConvId, Message, ReplyTo, MAX_CLOUD_CUSTOM_DATA};
use crate::protocol::{
    Conversation, Event, ServerFrame, CONVERSATION_C2C, CONVERSATION_GROUP, MAX_CONVERSATION_PAGE,
};
use crate::store::{read_target, ConvMember, EventKind, Store};

impl<S: Store> Hub<S> {
    /// `msg` as `user` may see it: the revoked content hidden from others, and a reply's quote
    /// filled from its original as it is now.
    pub(super) fn dress(&mut self, user: &str, msg: &Message) -> R<Message> {
        let mut m = msg.view_for(user);
        if let Some(link) = &m.reply_to {
            m.reply_to = Some(match self.store.message(&link.msg_id)? {
                Some(original) => ReplyTo::of(&original),
                None => {
                    let mut q = link.clone();
                    q.revoked();
                    q
                }
            });
        }
        Ok(m)
    }

    /// Checks what a new message carries besides its text: `cloudCustomData` within its limit,
    /// and a `replyTo` naming a message `user` may read. Returns the quote of the original.
    pub(super) fn check_extras(
        &mut self,
        user: &str,
        reply_to: Option<&str>,
        cloud_custom_data: Option<&str>,
    ) -> R<Option<ReplyTo>> {
        if cloud_custom_data.is_some_and(|d| d.len() > MAX_CLOUD_CUSTOM_DATA) {
            return Err(bad(
                Code::BodySizeLimit,
                "cloudCustomData is longer than 8192 bytes",
            ));
        }
        let Some(id) = reply_to else {
            return Ok(None);
        };
        let not_found = || Fail::from(Code::ReplyTargetNotFound);
        if crate::model::check_msg_id(id).is_err() {
            return Err(not_found());
        }
        let original = self.store.message(id)?.ok_or_else(not_found)?;
        if !self.may_read(user, &original)? {
            return Err(not_found());
        }
        Ok(Some(ReplyTo::of(&original)))
    }

    /// The conversation begins for `users` (who have no place in it yet, or left it): their
    /// place, read up to `read_seq`. `fresh`: the conversation is new, nobody has a place yet.
    pub(super) fn join_conversation<'a>(
        &mut self,
        users: impl IntoIterator<Item = &'a String>,
        conv: &ConvId,
        read_seq: u64,
        fresh: bool,
        now: u64,
    ) -> R<()> {
        for u in users {
            let known = match fresh {
                true => None,
                false => self.store.conversation_of(u, conv)?,
            };
            let place = match known {
                Some(mut p) => {
                    p.until_seq = None;
                    p.read_seq = p.read_seq.max(read_seq);
                    p
                }
                None => ConvMember {
                    conv: conv.clone(),
                    read_seq,
                    until_seq: None,
                    since_ms: now,
                },
            };
            self.store.put_conversation(u, &place)?;
        }
        Ok(())
    }

    /// `users` left the group conversation `conv`: they keep it, up to its current head.
    pub(super) fn leave_conversation<'a>(
        &mut self,
        users: impl IntoIterator<Item = &'a String>,
        conv: &ConvId,
    ) -> R<()> {
        let head = self.store.conv_head(conv)?;
        for u in users {
            if let Some(mut p) = self.store.conversation_of(u, conv)? {
                p.until_seq = Some(head);
                self.store.put_conversation(u, &p)?;
            }
        }
        Ok(())
    }

    /// One conversation as `user` sees it now.
    fn conversation(&mut self, user: &str, place: &ConvMember) -> R<Conversation> {
        let upto = match place.until_seq {
            Some(u) => u,
            None => self.store.conv_head(&place.conv)?,
        };
        let unread_count = self
            .store
            .unread_count(&place.conv, user, place.read_seq, upto)?;
        self.conversation_at(user, place, upto, unread_count)
    }

    /// [`Hub::conversation`] with its head and unread count known (from a summary).
    fn conversation_at(
        &mut self,
        user: &str,
        place: &ConvMember,
        upto: u64,
        unread_count: u64,
    ) -> R<Conversation> {
        let conv = &place.conv;
        let last = match upto {
            0 => None,
            _ => self.store.history(conv, Some(upto + 1), 1)?.pop(),
        };
        let last_message = match last {
            Some(m) => Some(self.dress(user, &m)?),
            None => None,
        };
        let (kind, user_id, group_id, show_name) = match conv {
            ConvId::C2c(a, b) => {
                let peer = if a == user { b } else { a };
                (CONVERSATION_C2C, Some(peer.clone()), None, peer.clone())
            }
            ConvId::Group(g) => {
                let name = match self.group(g) {
                    Ok(group) if !group.name.is_empty() => group.name.clone(),
                    Ok(_) | Err(Fail::Im(_)) => g.clone(),
                    Err(e) => return Err(e),
                };
                (CONVERSATION_GROUP, None, Some(g.clone()), name)
            }
        };
        Ok(Conversation {
            conversation_id: conv.id_for(user),
            kind,
            user_id,
            group_id,
            show_name,
            unread_count,
            order_key: last_message.as_ref().map_or(place.since_ms, |m| m.time_ms),
            last_message,
            read_seq: place.read_seq.min(upto),
        })
    }

    /// `getConversationList`: a page of `user`'s conversations, newest activity first (ties by
    /// conversationID), from position `next_seq`; with the total unread count.
    pub(super) fn conversation_list(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: String,
        next_seq: u64,
        count: u32,
        now: u64,
    ) -> R<()> {
        if count == 0 || count > MAX_CONVERSATION_PAGE {
            return Err(bad(
                Code::InvalidParameters,
                "count must be 1 to 100 conversations",
            ));
        }
        let head_seq = self.user_head(user)?;
        // Ordered and counted from the summaries (one store query); only the page's
        // conversations are read whole.
        let sums = self.store.conversation_summaries(user)?;
        if next_seq > sums.len() as u64 {
            return Err(bad(
                Code::InvalidParameters,
                "nextSeq is past the end of the conversation list",
            ));
        }
        let total_unread_count = sums.iter().map(|s| s.unread).sum();
        let mut order: Vec<(u64, String, usize)> = sums
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let key = s.last_time_ms.unwrap_or(s.member.since_ms);
                (key, s.member.conv.id_for(user), i)
            })
            .collect();
        order.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let start = next_seq as usize;
        let end = (start + count as usize).min(order.len());
        let is_finished = end == order.len();
        let mut conversation_list = Vec::with_capacity(end - start);
        for (_, _, i) in &order[start..end] {
            let s = &sums[*i];
            conversation_list.push(self.conversation_at(user, &s.member, s.upto, s.unread)?);
        }
        self.push(
            session,
            ServerFrame::Conversations {
                req_id,
                server_time: now,
                head_seq,
                next_seq: end as u64,
                is_finished,
                conversation_list,
                total_unread_count,
            },
        );
        Ok(())
    }

    /// `user`'s place in the conversation they call `conversation_id` (300007 when they have
    /// none: never in it, or no such conversation).
    fn place(&mut self, user: &str, conversation_id: &str) -> R<ConvMember> {
        let conv = ConvId::parse(user, conversation_id)?;
        self.store
            .conversation_of(user, &conv)?
            .ok_or_else(|| Code::ConversationNotFound.into())
    }

    /// `getConversation`: one conversation, in the same answer as a list.
    pub(super) fn get_conversation(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: String,
        conversation_id: &str,
        now: u64,
    ) -> R<()> {
        let head_seq = self.user_head(user)?;
        let place = self.place(user, conversation_id)?;
        let c = self.conversation(user, &place)?;
        self.push(
            session,
            ServerFrame::Conversations {
                req_id,
                server_time: now,
                head_seq,
                next_seq: 0,
                is_finished: true,
                total_unread_count: c.unread_count,
                conversation_list: vec![c],
            },
        );
        Ok(())
    }

    /// `cleanConversationUnreadMessageCount`: `user` has read the conversation up to its newest
    /// message (or up to `clean_sequence`, when not 0). The read position never moves back; a
    /// clean that moves nothing is answered with seq 0 and no event (so a retry is harmless).
    pub(super) fn clean_unread(
        &mut self,
        session: SessionId,
        user: &str,
        req_id: String,
        conversation_id: &str,
        clean_sequence: u64,
        now: u64,
    ) -> R<()> {
        let mut place = self.place(user, conversation_id)?;
        let upto = match place.until_seq {
            Some(u) => u,
            None => self.store.conv_head(&place.conv)?,
        };
        let target = match clean_sequence {
            0 => upto,
            s => s.min(upto),
        };
        let id = place.conv.id_for(user);
        let mut seq = 0;
        if target > place.read_seq {
            place.read_seq = target;
            self.store.put_conversation(user, &place)?;
            let me = user.to_string();
            seq = self.fan_out(
                std::iter::once(&me),
                session,
                user,
                EventKind::ConversationRead,
                &read_target(&id, target),
                Event::ConversationRead {
                    conversation_id: id.clone(),
                    read_seq: target,
                },
            )?;
        }
        self.push(
            session,
            ServerFrame::ReadOk {
                req_id,
                server_time: now,
                seq,
                conversation_id: id,
                read_seq: place.read_seq,
            },
        );
        Ok(())
    }
}
