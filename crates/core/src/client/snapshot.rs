//! The client's side of [`crate::persist`]: what it hands the browser's store to write, how it
//! comes back from what the store read, the LRU of its message cache, and history answered
//! from the cache while a store is kept.

use super::{Client, Done, Kind, Local, MessageView};
use crate::model::{Message, MessageStatus, StringSet};
use crate::persist::{
    encode_message, encode_revoke, evict, over, Delta, OutboxEntry, Record, Restored, Tombstone,
};
use crate::protocol::{ClientFrame, Revoked};

/// The store's time key of a message not sent yet (the largest integer JavaScript holds
/// exactly).
const UNSENT: u64 = (1 << 53) - 1;

/// What changed since the last [`Client::take_persist`].
#[derive(Debug, Default)]
pub(super) struct Tracker {
    dirty: StringSet,
    tombstones: Vec<Tombstone>,
    cursor: Option<u64>,
    outbox: Vec<OutboxEntry>,
}

impl Client {
    /// Keeps track of what the browser's store must write (see [`Client::take_persist`]);
    /// also makes `history` answer from the cache when it can. Call before [`Client::restore`].
    pub fn keep_store(&mut self) {
        if self.store.is_none() {
            self.store = Some(Box::default());
        }
    }

    /// Sets how many messages the cache keeps (least recently used go first; messages being
    /// sent or revoked stay).
    pub fn set_cache_size(&mut self, n: usize) {
        self.cache_cap = n;
        self.evict_over_cap();
    }

    /// The cache's cap.
    pub fn cache_size(&self) -> usize {
        self.cache_cap
    }

    /// How many revokes are remembered as told ahead of their event (bounded).
    pub fn told_revokes(&self) -> usize {
        self.revokes_told.len()
    }

    /// Comes back from what the store kept (checked by [`crate::persist::restore`]), before
    /// the first login: the cursor (the login then syncs from it), the messages (newest
    /// first), and the outbox, queued again with the same request ids. Restored requests have
    /// no caller and never time out: they go out after every login until answered.
    pub fn restore(&mut self, r: Restored) {
        self.cursor = r.cursor;
        // Owned strings: the one set type of the client (`dirty`'s), not a second one of `&str`;
        // inserted one by one, as everywhere in the client (no sort code in the browser module).
        let mut sends = StringSet::new();
        for e in r.outbox.iter().filter(|e| e.revoke.is_none()) {
            sends.insert(e.msg_id.clone());
        }
        let keep = r.messages.len().min(self.cache_cap);
        for m in r.messages.into_iter().take(keep).rev() {
            let status = if m.revoke.is_some() {
                MessageStatus::Revoked
            } else if m.seq > 0 {
                MessageStatus::Sent
            } else if sends.contains(m.msg_id.as_str()) {
                MessageStatus::Sending
            } else {
                MessageStatus::Failed
            };
            let used = self.next_use();
            self.messages.insert(
                m.msg_id.clone(),
                Local {
                    msg: m,
                    status,
                    used,
                },
            );
        }
        for e in r.outbox {
            let Some((frame, kind)) = self.outbox_frame(&e) else {
                continue;
            };
            if self.pending.contains_key(&e.req_id) {
                continue;
            }
            self.queue(e.req_id, frame, kind, f64::INFINITY);
        }
        if let Some(t) = &mut self.store {
            t.cursor = self.cursor;
        }
        let outbox = self.outbox();
        if let Some(t) = &mut self.store {
            t.outbox = outbox;
        }
    }

    /// This client starts writing a store that another tab of the user wrote until it closed
    /// (`r`: what the store holds, checked by [`crate::persist::restore`]). The other tab's
    /// outbox is adopted — its unsent messages and queued revokes go out from here with their
    /// request ids, so the server's dedup makes a repeat harmless — while this client keeps its
    /// own cursor and cache, which are current. Returns everything to write: the cursor, the
    /// merged outbox and every cached message.
    pub fn take_over_store(&mut self, r: Restored) -> Delta {
        self.keep_store();
        for e in r.outbox {
            if self.pending.contains_key(&e.req_id) {
                continue;
            }
            if e.revoke.is_none() && !self.messages.contains_key(&e.msg_id) {
                // The unsent message itself comes from the store (unsent records come first).
                if let Some(m) = r
                    .messages
                    .iter()
                    .find(|m| m.msg_id == e.msg_id && m.seq == 0 && m.revoke.is_none())
                {
                    let used = self.next_use();
                    self.messages.insert(
                        m.msg_id.clone(),
                        Local {
                            msg: m.clone(),
                            status: MessageStatus::Sending,
                            used,
                        },
                    );
                }
            }
            let Some((frame, kind)) = self.outbox_frame(&e) else {
                continue;
            };
            self.queue(e.req_id, frame, kind, f64::INFINITY);
        }
        let ids: Vec<String> = self.messages.keys().cloned().collect();
        if let Some(t) = &mut self.store {
            for id in ids {
                t.dirty.insert(id);
            }
            t.cursor = None;
        }
        let mut d = self.take_persist().unwrap_or_default();
        d.cursor = self.cursor;
        d.outbox = Some(self.outbox());
        d
    }

    fn outbox_frame(&self, e: &OutboxEntry) -> Option<(ClientFrame, Kind)> {
        let local = self.messages.get(&e.msg_id);
        Some(match &e.revoke {
            Some(reason) => (
                ClientFrame::Revoke {
                    req_id: e.req_id.clone(),
                    msg_id: e.msg_id.clone(),
                    reason: reason.clone(),
                    group_id: local.and_then(|l| l.msg.group_id.clone()),
                },
                Kind::Revoke(e.msg_id.clone()),
            ),
            None => {
                let m = &local?.msg;
                if m.sender != self.user
                    || m.seq != 0
                    || m.receiver.is_some() == m.group_id.is_some()
                {
                    return None;
                }
                (
                    ClientFrame::Send {
                        req_id: e.req_id.clone(),
                        msg_id: m.msg_id.clone(),
                        receiver: m.receiver.clone(),
                        group_id: m.group_id.clone(),
                        elem: m.elem.clone()?,
                        reply_to: m.reply_to.as_ref().map(|q| q.msg_id.clone()),
                        cloud_custom_data: m.cloud_custom_data.clone(),
                    },
                    Kind::Send(m.msg_id.clone()),
                )
            }
        })
    }

    /// The unanswered sends and revokes, in order.
    fn outbox(&self) -> Vec<OutboxEntry> {
        self.order
            .iter()
            .filter_map(|id| {
                let p = self.pending.get(id)?;
                let (msg_id, revoke) = match (&p.kind, &*p.frame) {
                    (Kind::Send(m), _) => (m.clone(), None),
                    (Kind::Revoke(m), ClientFrame::Revoke { reason, .. }) => {
                        (m.clone(), Some(reason.clone()))
                    }
                    _ => return None,
                };
                Some(OutboxEntry {
                    req_id: id.clone(),
                    msg_id,
                    revoke,
                })
            })
            .collect()
    }

    /// What the store must write since the last call, in one transaction (`None`: nothing, or
    /// no store kept).
    pub fn take_persist(&mut self) -> Option<Delta> {
        let mut t = self.store.take()?;
        let mut d = Delta::default();
        let outbox = self.outbox();
        // The meta record whole (cursor and outbox) when either changed.
        if self.cursor != t.cursor || outbox != t.outbox {
            d.cursor = self.cursor;
            t.cursor = self.cursor;
            d.outbox = Some(outbox.clone());
            t.outbox = outbox;
        }
        for id in std::mem::take(&mut t.dirty) {
            if let Some(l) = self.messages.get(&id) {
                // Unsent messages sort newest: a reload always restores them.
                let time_ms = if l.msg.seq == 0 {
                    UNSENT
                } else {
                    l.msg.time_ms
                };
                d.put.push(Record {
                    id,
                    time_ms,
                    text: encode_message(&l.msg),
                });
            }
        }
        d.tombstones = std::mem::take(&mut t.tombstones);
        self.store = Some(t);
        (!d.is_empty()).then_some(d)
    }

    /// A cached message changed: the store writes it.
    pub(super) fn mark(&mut self, msg_id: &str) {
        if let Some(t) = &mut self.store {
            if !t.dirty.contains(msg_id) {
                t.dirty.insert(msg_id.to_string());
            }
        }
    }

    /// A revoke of a message not in memory: the store turns its copy, if any, into the
    /// tombstone (text erased for everyone but the sender).
    pub(super) fn tombstone(&mut self, r: &Revoked) {
        let erase = r.sender != self.user;
        if let Some(t) = &mut self.store {
            t.tombstones.push(Tombstone {
                id: r.msg_id.clone(),
                revoke: encode_revoke(&r.revoke),
                erase,
            });
        }
    }

    pub(super) fn next_use(&mut self) -> u64 {
        self.used += 1;
        self.used
    }

    /// Evicts the least recently used messages once the cache is an eighth over its cap, down
    /// to the cap; never one being sent or revoked, nor one the store has yet to write.
    pub(super) fn evict_over_cap(&mut self) {
        if !over(self.messages.len(), self.cache_cap) {
            return;
        }
        let mut busy = StringSet::new();
        for p in self.pending.values() {
            if let Kind::Send(m) | Kind::Revoke(m) = &p.kind {
                busy.insert(m.clone());
            }
        }
        let dirty = self.store.as_ref().map(|t| &t.dirty);
        // Collected once (one pass over the map, and one copy of its iteration in the module).
        let candidates: Vec<(&String, u64)> = self
            .messages
            .iter()
            .filter(|(id, l)| {
                l.status != MessageStatus::Sending
                    && !busy.contains(id.as_str())
                    && !dirty.is_some_and(|d| d.contains(id.as_str()))
            })
            .map(|(id, l)| (id, l.used))
            .collect();
        let stay = self.messages.len() - candidates.len();
        let victims: Vec<String> =
            evict(candidates.into_iter(), self.cache_cap.saturating_sub(stay))
                .into_iter()
                .cloned()
                .collect();
        for id in victims {
            self.messages.remove(&id);
        }
    }

    /// A history page from the cache, while a store is kept: the newest `count` messages of the
    /// conversation below `before_seq` when the cache holds them without a gap (or down to its
    /// first message). `None`: ask the server.
    pub(super) fn local_history(
        &self,
        user_id: Option<&str>,
        group_id: Option<&str>,
        before_seq: Option<u64>,
        count: u32,
    ) -> Option<Done> {
        self.store.as_ref()?;
        let me = self.user.as_str();
        let page: Vec<&Local> = self
            .messages
            .values()
            .filter(|l| {
                l.msg.seq > 0
                    && before_seq.is_none_or(|b| l.msg.seq < b)
                    && in_conversation(me, &l.msg, user_id, group_id)
            })
            .collect();
        let top = page.iter().map(|l| l.msg.seq).max()?;
        if before_seq.is_some_and(|b| top + 1 != b) {
            return None;
        }
        // No sort: slot `i` holds the message with seq `top - i` (the page is the run of
        // consecutive seqs from `top` down; it ends at a gap, or after a seq held twice).
        let len = page.len().min(count as usize);
        let mut slots: Vec<Option<&Local>> = vec![None; len];
        let mut twice = vec![false; len];
        for l in &page {
            let d = top - l.msg.seq;
            if d < len as u64 {
                let i = d as usize;
                twice[i] |= slots[i].is_some();
                slots[i] = Some(l);
            }
        }
        let mut views: Vec<MessageView> = Vec::new();
        for (slot, twice) in slots.iter().zip(&twice) {
            let Some(l) = slot else { break };
            views.push(self.view(l));
            if *twice {
                break;
            }
        }
        let last = views.last().map_or(0, |v| v.seq);
        if views.len() == count as usize || last == 1 {
            if before_seq.is_none() {
                // Unsent first (`append`, not `splice`: no splice code in the browser module).
                let mut all = self.unsent_in(user_id, group_id);
                all.append(&mut views);
                views = all;
            }
            Some(Done::Messages(views, last == 1))
        } else {
            None
        }
    }

    /// The messages of one conversation this device has sent but the server has not accepted
    /// yet (being sent, in the outbox, or failed: no seq), newest first. They lead the newest
    /// history page, so a message in the outbox shows in its conversation after a reload too.
    pub(super) fn unsent_in(
        &self,
        user_id: Option<&str>,
        group_id: Option<&str>,
    ) -> Vec<MessageView> {
        let me = self.user.as_str();
        // Few, so kept in order as they are found (no sort: smaller wasm).
        let mut unsent: Vec<&Local> = Vec::new();
        for l in self.messages.values().filter(|l| {
            l.msg.seq == 0
                && matches!(l.status, MessageStatus::Sending | MessageStatus::Failed)
                && in_conversation(me, &l.msg, user_id, group_id)
        }) {
            let at = unsent
                .iter()
                .position(|u| u.msg.time_ms < l.msg.time_ms)
                .unwrap_or(unsent.len());
            unsent.insert(at, l);
        }
        unsent.into_iter().map(|l| self.view(l)).collect()
    }

    /// Asks the server for the page `history` answered from the cache (no caller waits: its
    /// answer refreshes the cache and the store).
    pub(super) fn reconcile(
        &mut self,
        user_id: Option<&str>,
        group_id: Option<&str>,
        before_seq: Option<u64>,
        count: u32,
        now: f64,
    ) {
        let req_id = self.next_id("h");
        let frame = ClientFrame::History {
            req_id: req_id.clone(),
            user_id: user_id.map(str::to_string),
            group_id: group_id.map(str::to_string),
            before_seq,
            count,
        };
        self.queue(req_id, frame, Kind::Refresh, now);
    }
}

/// Whether `m` belongs to the conversation with `user_id` (one-to-one) or `group_id`, as `me`
/// sees it. A message not sent yet has neither receiver nor group, so it is in none.
fn in_conversation(me: &str, m: &Message, user_id: Option<&str>, group_id: Option<&str>) -> bool {
    match (user_id, group_id) {
        (_, Some(g)) => m.group_id.as_deref() == Some(g),
        (Some(p), None) => {
            m.group_id.is_none()
                && ((m.sender == me && m.receiver.as_deref() == Some(p))
                    || (m.sender == p && m.receiver.as_deref() == Some(me)))
        }
        (None, None) => false,
    }
}
