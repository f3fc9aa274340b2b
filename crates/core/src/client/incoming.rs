//! What the server says to the client: answers matched to their requests, events applied
//! exactly once in seq order (out-of-order ones wait in the gap, which triggers a `sync`), and
//! the merge of server copies into the local cache.

use super::{Client, Done, Kind, Local, Notification, Pending, Slot, SYNC_RETRY_MS};
use crate::error::ImError;
use crate::model::{Message, MessageStatus};
use crate::protocol::{ClientFrame, ClientLimits, Envelope, Event, Revoked, ServerFrame};
use crate::view::{MessageView, RevokerInfo};
use std::sync::Arc;

impl Client {
    /// Feeds one frame from the server, received at local time `now`.
    pub fn handle(&mut self, mut frame: ServerFrame, now: f64) {
        if let Some(origin) = &self.file_origin {
            crate::attachment::absolutize(&mut frame, origin);
        }
        self.now = now;
        self.drop_untold_conversations();
        self.handle_frame(frame, now);
        self.flush_conversations();
    }

    fn handle_frame(&mut self, frame: ServerFrame, now: f64) {
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
                    self.conv_new_message(seq, &message);
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
                if let Some(p) = self.take_pending(&req_id, seq, server_time, now) {
                    let msg_id = revoked.msg_id.clone();
                    self.apply_revoke(seq, &revoked);
                    let first = !self.revokes_told.contains(&msg_id);
                    self.revokes_told.insert(msg_id.clone(), seq);
                    let view = self
                        .local_message(&msg_id)
                        .unwrap_or_else(|| self.stub(&revoked));
                    self.done.push((req_id, Ok(Done::Revoked(view))));
                    let ev = Arc::new(Event::MessageRevoked(revoked));
                    // A revoke with no caller (queued before a reload, or left by a tab that
                    // closed) has no promise to settle: this device's listeners hear it, once.
                    if p.callerless() && first {
                        self.notes.extend(revoked_note(ev.clone()));
                    }
                    self.accept(seq, Slot::OwnAgain(ev));
                }
            }
            ServerFrame::Messages {
                req_id,
                server_time,
                messages,
                is_completed,
            } => {
                if let Some(p) = self.take_pending(&req_id, 0, server_time, now) {
                    let mut views: Vec<MessageView> =
                        messages.into_iter().map(|m| self.upsert(m)).collect();
                    // The newest page of a conversation starts with what this device has not
                    // got accepted yet (the outbox), as the cached page does.
                    if let ClientFrame::History {
                        user_id,
                        group_id,
                        before_seq: None,
                        ..
                    } = &*p.frame
                    {
                        let mut all = self.unsent_in(user_id.as_deref(), group_id.as_deref());
                        all.append(&mut views);
                        views = all;
                    }
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
            ServerFrame::Conversations {
                req_id,
                server_time,
                head_seq,
                next_seq,
                is_finished,
                conversation_list,
                total_unread_count,
            } => {
                if let Some(p) = self.take_pending(&req_id, 0, server_time, now) {
                    self.on_conversations(
                        req_id,
                        p.kind,
                        head_seq,
                        next_seq,
                        is_finished,
                        conversation_list,
                        total_unread_count,
                        now,
                    );
                }
            }
            ServerFrame::ReadOk {
                req_id,
                server_time,
                seq,
                conversation_id,
                read_seq,
            } => {
                if self.take_pending(&req_id, seq, server_time, now).is_some() {
                    self.on_read(seq, &conversation_id, read_seq);
                    self.done.push((req_id, Ok(Done::Read)));
                    self.accept(seq, Slot::Own);
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
        if !self.book_loaded() && !self.pending.values().any(|p| p.kind == Kind::ConvLoad) {
            // The conversation list, loaded once per device (events keep it from then on).
            self.load_conversations(0, now);
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

    pub(super) fn start_sync(&mut self, now: f64) {
        if self.syncing || !self.logged_in {
            return;
        }
        self.syncing = true;
        self.sync_retry_at = None;
        let req_id = self.next_id("y");
        let frame = Arc::new(ClientFrame::Sync {
            req_id: req_id.clone(),
            after_seq: self.cursor.unwrap_or(0),
        });
        self.pending.insert(
            req_id.clone(),
            Pending {
                frame: frame.clone(),
                kind: Kind::Sync,
                queued_at: now,
                sent_at: Some(now),
            },
        );
        self.order.push(req_id);
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
        self.apply_slot(seq, slot);
        let mut c = seq;
        while let Some(next) = self.gap.remove(&(c + 1)) {
            self.apply_slot(c + 1, next);
            c += 1;
        }
        self.cursor = Some(c);
        self.revokes_told.prune(c);
        self.conv_cursor(c);
    }

    fn apply_slot(&mut self, seq: u64, slot: Slot) {
        let ev = match slot {
            Slot::Event(ev) => ev,
            Slot::Own => return,
            Slot::OwnAgain(ev) => {
                match &*ev {
                    Event::MessageRevoked(r) => self.apply_revoke(seq, r),
                    Event::GroupChanged { group } => {
                        self.groups.insert(group.group_id.clone(), group.clone());
                    }
                    Event::NewMessage { .. } | Event::ConversationRead { .. } => {}
                }
                return;
            }
        };
        match &*ev {
            Event::NewMessage { message } => {
                self.conv_new_message(seq, message);
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
                self.apply_revoke(seq, r);
                let first = !self.revokes_told.contains(&r.msg_id);
                if !mine && first {
                    self.notes.extend(revoked_note(ev));
                }
            }
            Event::GroupChanged { group } => {
                self.groups.insert(group.group_id.clone(), group.clone());
                self.notes.push(Notification::GroupChanged(group.clone()));
            }
            Event::ConversationRead {
                conversation_id,
                read_seq,
            } => self.on_read(seq, conversation_id, *read_seq),
        }
    }

    /// Applies a revoke (event `seq`) to every copy this device holds: the message (its text
    /// kept only for its sender, to re-edit), the conversation's count and preview, and the
    /// quotes of it in replies. Its attachments are gone: the sender's copy keeps no URL.
    fn apply_revoke(&mut self, seq: u64, r: &Revoked) {
        if let Some(l) = self.messages.get_mut(&r.msg_id) {
            l.msg.revoke = Some(r.revoke.clone());
            l.status = MessageStatus::Revoked;
            if l.msg.sender != self.user {
                l.msg.elem = None;
            }
            crate::attachment::clear_urls(&mut l.msg);
            self.mark(&r.msg_id);
        } else {
            self.tombstone(r);
        }
        self.conv_revoked(seq, r);
    }

    /// Merges a message from the server into the cache; returns its view. A copy without the
    /// revoke never undoes one already applied, and the sender keeps their own text.
    pub(super) fn upsert(&mut self, mut m: Message) -> MessageView {
        self.note_reply(&mut m);
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
                reply_to: None,
                cloud_custom_data: None,
            },
            status: MessageStatus::Revoked,
            used: 0,
        })
    }
}

/// `onRecvMessageRevoked`'s notification of a revoke event, its strings moved out of the event
/// when nothing else holds it (the usual case: an event of one frame), copied otherwise.
fn revoked_note(ev: Arc<Event>) -> Option<Notification> {
    let r = match Arc::try_unwrap(ev) {
        Ok(Event::MessageRevoked(r)) => r,
        Err(ev) => match &*ev {
            Event::MessageRevoked(r) => r.clone(),
            _ => return None,
        },
        Ok(_) => return None,
    };
    Some(Notification::MessageRevoked {
        msg_id: r.msg_id,
        revoker: RevokerInfo {
            user_id: r.revoke.user_id,
            role: r.revoke.role,
        },
        reason: r.revoke.reason,
    })
}
