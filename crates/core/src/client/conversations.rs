//! The client's conversation list, unread counts, replies and local search.
//!
//! The list is loaded from the authority once per device (every page, at the first login) and
//! from then on kept from the user's event log alone: a new message, a revoke and a read
//! (`conversationRead`, from this user's other devices) each change one conversation. An answer
//! from the authority (`conversations`) reflects every event up to its `headSeq`: it replaces
//! what the client had for those conversations, and events up to that seq are not applied to
//! them again (each conversation remembers the seq of the answer it came from, `as_of`).
//!
//! Unread counts are kept exactly, without holding every unread message: a conversation's
//! count is the server's count up to the last message the answer showed (`base`, for seqs up
//! to `snap_head`) plus the seqs of unread messages learned from events since (`extra`). A
//! revoke of one of them lowers the count by one; a read up to a seq drops them; a read that
//! falls inside `base` (never made by `cleanConversationUnreadMessageCount(id, 0, 0)`) asks
//! the authority again. Counts never include one's own messages and never go below zero.
//!
//! Listeners hear about each change once, after the frame that caused it:
//! `onNewConversation`, `onConversationChanged`, `onTotalUnreadMessageCountChanged`. The
//! conversations' views for those calls are made only while someone listens
//! ([`Client::listen_conversations`]); otherwise a frame's changes stay untold, as
//! conversationIDs, until [`Client::tell_untold_conversations`] or the next frame. The state
//! is the same either way: only the views are skipped.
//!
//! Replies: the client indexes the replies it holds by their original, so the revoke event of
//! an original is enough to clear every quote of it (`onRecvMessageModified(reply)`, once each).

use super::{Client, Done, Kind};
use crate::error::{Code, ImError};
use crate::model::{ConvId, Message, MessageStatus, StringSet};
use crate::protocol::{ClientFrame, Conversation, Revoked, MAX_CONVERSATION_PAGE};
use crate::sorted::{SeqSet, SortedMap};
use crate::view::{
    ConversationPage, ConversationView, MessageView, SearchResult, SearchResultItem,
};

/// Most keywords one local search takes (as V2TIM).
pub const MAX_SEARCH_KEYWORDS: usize = 5;

/// Whether `hay` contains `needle`, ASCII letters compared without case. Byte-wise: a match of
/// a whole UTF-8 `needle` can only start on a character boundary.
fn contains_ignore_ascii_case(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    n.len() <= h.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// One conversation as this device knows it.
#[derive(Clone, Debug, Default)]
pub(super) struct Conv {
    kind: u8,
    user_id: Option<String>,
    group_id: Option<String>,
    show_name: String,
    read_seq: u64,
    snap_head: u64,
    base: u64,
    extra: SeqSet,
    /// The newest message: its conversation seq and msgID (its copy is in the message cache).
    last: Option<(u64, String)>,
    order_key: u64,
    /// The user's event seq of the answer this conversation came from (0: from events alone).
    as_of: u64,
}

impl Conv {
    fn unread(&self) -> u64 {
        self.base + self.extra.len() as u64
    }
}

/// The conversation state of a device.
#[derive(Debug, Default)]
pub(super) struct Book {
    convs: SortedMap<String, Conv>,
    /// Every page has been loaded once.
    loaded: bool,
    /// The total unread count listeners were last told.
    told_total: u64,
    new: StringSet,
    changed: StringSet,
    /// Seqs of the revoke events already taken off the counts, ahead of the cursor (a
    /// device's own revoke is applied twice: at its answer and at its event, same seq).
    /// Forgotten once the cursor passes them: no event is applied again after that.
    counted_revokes: SeqSet,
    /// Replies held, by the msgID of their original.
    replies: SortedMap<String, Vec<String>>,
    /// Nobody listens to the conversation notifications ([`Client::listen_conversations`]).
    quiet: bool,
    /// The last frame's changes (`new`, `changed`, the total) were not told: nobody listened.
    untold: bool,
}

impl Client {
    // ----- API -----

    /// `getConversationList(nextSeq, count)`: a page from the authority (also merged into the
    /// list this device keeps). Returns the request id.
    pub fn conversation_list(
        &mut self,
        next_seq: u64,
        count: u32,
        now: f64,
    ) -> Result<String, ImError> {
        if count == 0 || count > MAX_CONVERSATION_PAGE {
            return Err(ImError::with_desc(
                Code::InvalidParameters,
                "count must be 1 to 100 conversations",
            ));
        }
        let req_id = self.next_id("c");
        let frame = ClientFrame::GetConversationList {
            req_id: req_id.clone(),
            next_seq,
            count,
        };
        self.queue(req_id.clone(), frame, Kind::Conversations, now);
        Ok(req_id)
    }

    /// `getConversation(conversationID)`: one conversation from the authority.
    pub fn conversation(&mut self, conversation_id: &str, now: f64) -> Result<String, ImError> {
        ConvId::parse(&self.user, conversation_id)?;
        Ok(self.fetch_conversation(conversation_id, Kind::Conversations, now))
    }

    fn fetch_conversation(&mut self, conversation_id: &str, kind: Kind, now: f64) -> String {
        let req_id = self.next_id("c");
        let frame = ClientFrame::GetConversation {
            req_id: req_id.clone(),
            conversation_id: conversation_id.to_string(),
        };
        self.queue(req_id.clone(), frame, kind, now);
        req_id
    }

    /// `getTotalUnreadMessageCount()`: from the list this device keeps once it is loaded (the
    /// completion is ready at once), from the authority before.
    pub fn total_unread(&mut self, now: f64) -> String {
        let req_id = self.next_id("t");
        if self.book.loaded {
            let total = self.book.convs.values().map(Conv::unread).sum();
            self.done.push((req_id.clone(), Ok(Done::Total(total))));
        } else {
            let frame = ClientFrame::GetConversationList {
                req_id: req_id.clone(),
                next_seq: 0,
                count: 1,
            };
            self.queue(req_id.clone(), frame, Kind::Total, now);
        }
        req_id
    }

    pub(super) fn book_loaded(&self) -> bool {
        self.book.loaded
    }

    /// The total unread count of the list this device keeps.
    pub fn local_total_unread(&self) -> u64 {
        self.book.convs.values().map(Conv::unread).sum()
    }

    /// A conversation of the list this device keeps.
    pub fn local_conversation(&self, conversation_id: &str) -> Option<ConversationView> {
        self.conv_view(conversation_id)
    }

    /// `cleanConversationUnreadMessageCount(conversationID, 0, 0)`: marks the conversation read
    /// up to its newest message (`clean_sequence` 0) or up to that seq. Returns the request id.
    pub fn clean_unread(
        &mut self,
        conversation_id: &str,
        clean_sequence: u64,
        now: f64,
    ) -> Result<String, ImError> {
        ConvId::parse(&self.user, conversation_id)?;
        let req_id = self.next_id("k");
        let frame = ClientFrame::CleanConversationUnreadMessageCount {
            req_id: req_id.clone(),
            conversation_id: conversation_id.to_string(),
            clean_sequence,
        };
        self.queue(req_id.clone(), frame, Kind::Query, now);
        Ok(req_id)
    }

    /// `searchLocalMessages({ keywordList, keywordListMatchType, conversationID })` over the
    /// messages this device holds: any keyword (`match_all` false, V2TIM's default) or all of
    /// them, case-insensitive for ASCII letters (as SQLite's `LIKE`, what V2TIM's own local
    /// search runs on; other characters match exactly — full Unicode case folding would cost
    /// the browser module its tables). Revoked messages are never found, not even by their
    /// sender. Matches come newest first; conversations by their newest match (ties by
    /// conversationID).
    pub fn search_local(
        &self,
        keywords: &[String],
        match_all: bool,
        conversation_id: Option<&str>,
    ) -> Result<SearchResult, ImError> {
        let words: Vec<&str> = keywords
            .iter()
            .map(|k| k.trim())
            .filter(|k| !k.is_empty())
            .collect();
        if words.is_empty() || keywords.len() > MAX_SEARCH_KEYWORDS {
            return Err(ImError::with_desc(
                Code::InvalidParameters,
                "keywordList must hold 1 to 5 non-empty keywords",
            ));
        }
        let only = conversation_id
            .map(|id| ConvId::parse(&self.user, id))
            .transpose()?;
        let mut items: Vec<SearchResultItem> = Vec::new();
        for l in self.messages.values() {
            let m = &l.msg;
            if m.revoke.is_some() || l.status == MessageStatus::Revoked {
                continue;
            }
            let Some(crate::model::Elem::Text { text }) = &m.elem else {
                continue;
            };
            let conv = m.conv();
            if only.as_ref().is_some_and(|c| *c != conv) {
                continue;
            }
            let hit = |w: &&str| contains_ignore_ascii_case(text, w);
            let ok = if match_all {
                words.iter().all(hit)
            } else {
                words.iter().any(hit)
            };
            if !ok {
                continue;
            }
            // Ordered by insertion (no sort: a sort is several KB of the browser module).
            let id = conv.id_for(&self.user);
            let i = match items.iter().position(|i| i.conversation_id == id) {
                Some(i) => i,
                None => {
                    items.push(SearchResultItem {
                        conversation_id: id,
                        message_count: 0,
                        message_list: Vec::new(),
                    });
                    items.len() - 1
                }
            };
            let item = &mut items[i];
            let key = (m.time_ms, m.seq);
            let at = item
                .message_list
                .partition_point(|v| (v.time_ms, v.seq) >= key);
            item.message_list.insert(at, self.view(l));
            item.message_count += 1;
        }
        let newest = |i: &SearchResultItem| i.message_list.first().map_or(0, |m| m.time_ms);
        let before = |a: &SearchResultItem, b: &SearchResultItem| {
            newest(a) > newest(b)
                || (newest(a) == newest(b) && a.conversation_id < b.conversation_id)
        };
        for i in 1..items.len() {
            let mut j = i;
            while j > 0 && before(&items[j], &items[j - 1]) {
                items.swap(j, j - 1);
                j -= 1;
            }
        }
        Ok(SearchResult {
            total_count: items.iter().map(|i| i.message_count).sum(),
            message_search_result_items: items,
        })
    }

    // ----- from the authority -----

    /// At a device's first login: load every page of the list.
    pub(super) fn load_conversations(&mut self, next_seq: u64, now: f64) {
        let req_id = self.next_id("c");
        let frame = ClientFrame::GetConversationList {
            req_id: req_id.clone(),
            next_seq,
            count: MAX_CONVERSATION_PAGE,
        };
        self.queue(req_id, frame, Kind::ConvLoad, now);
    }

    /// A `conversations` answer, reflecting every event up to `head`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_conversations(
        &mut self,
        req_id: String,
        kind: Kind,
        head: u64,
        next_seq: u64,
        is_finished: bool,
        list: Vec<Conversation>,
        total: u64,
        now: f64,
    ) {
        let ids: Vec<String> = list.iter().map(|c| c.conversation_id.clone()).collect();
        for c in list {
            self.merge_conversation(head, c);
        }
        match kind {
            Kind::ConvLoad if is_finished => self.book.loaded = true,
            Kind::ConvLoad => self.load_conversations(next_seq, now),
            Kind::Total => self.done.push((req_id, Ok(Done::Total(total)))),
            Kind::Conversations => {
                let conversation_list = ids.iter().filter_map(|id| self.conv_view(id)).collect();
                self.done.push((
                    req_id,
                    Ok(Done::Conversations(ConversationPage {
                        next_seq,
                        is_finished,
                        conversation_list,
                    })),
                ));
            }
            _ => {}
        }
    }

    fn merge_conversation(&mut self, head: u64, c: Conversation) {
        let id = c.conversation_id.clone();
        if self.book.convs.get(&id).is_some_and(|k| k.as_of > head) {
            return; // what this device has is newer
        }
        let before = self.conv_view(&id);
        let last = c.last_message.map(|m| {
            let seq = m.seq;
            let v = self.upsert(m);
            (seq, v.msg_id)
        });
        let conv = Conv {
            kind: c.kind,
            user_id: c.user_id,
            group_id: c.group_id,
            show_name: c.show_name,
            read_seq: c.read_seq,
            snap_head: last.as_ref().map_or(0, |l| l.0),
            base: c.unread_count,
            extra: SeqSet::default(),
            last,
            order_key: c.order_key,
            as_of: head,
        };
        self.book.convs.insert(id.clone(), conv);
        if before.is_none() {
            self.book.new.insert(id);
        } else if before != self.conv_view(&id) {
            self.book.changed.insert(id);
        }
    }

    /// A `readOk` answer: applied now (reads only move forward, so applying it again when its
    /// event's turn comes changes nothing).
    pub(super) fn on_read(&mut self, event_seq: u64, conversation_id: &str, read_seq: u64) {
        let now = self.now;
        let Some(c) = self.book.convs.get_mut(conversation_id) else {
            return;
        };
        if event_seq != 0 && event_seq <= c.as_of {
            return;
        }
        if read_seq <= c.read_seq {
            return;
        }
        let before = c.unread();
        c.read_seq = read_seq;
        c.extra.keep_above(read_seq);
        let refetch = if read_seq >= c.snap_head {
            c.base = 0;
            false
        } else {
            c.base > 0
        };
        if c.unread() != before {
            self.book.changed.insert(conversation_id.to_string());
        }
        if refetch {
            self.fetch_conversation(conversation_id, Kind::ConvFetch, now);
        }
    }

    // ----- from events -----

    /// A new message in one of this user's conversations (event `event_seq`; also this device's
    /// own send, when it is acknowledged).
    pub(super) fn conv_new_message(&mut self, event_seq: u64, m: &Message) {
        let conv = m.conv();
        let id = conv.id_for(&self.user);
        let mine = m.sender == self.user;
        let is_new = !self.book.convs.contains_key(&id);
        if is_new {
            let (kind, user_id, group_id, show_name) = match &conv {
                ConvId::C2c(..) => {
                    // As `trim_start_matches`, without its slice by index (whose panic path
                    // brings string formatting into the browser module).
                    let mut peer = id.as_str();
                    while let Some(rest) = peer.strip_prefix("c2c_") {
                        peer = rest;
                    }
                    let peer = peer.to_string();
                    (1, Some(peer.clone()), None, peer)
                }
                ConvId::Group(g) => {
                    let name = self
                        .groups
                        .get(g)
                        .map(|g| g.name.clone())
                        .filter(|n| !n.is_empty())
                        .unwrap_or_else(|| g.clone());
                    (2, None, Some(g.clone()), name)
                }
            };
            self.book.convs.insert(
                id.clone(),
                Conv {
                    kind,
                    user_id,
                    group_id,
                    show_name,
                    ..Conv::default()
                },
            );
            self.book.new.insert(id.clone());
            if m.seq > 1 && self.book.loaded {
                // Older messages exist that this device has no count of: ask.
                let now = self.now;
                self.fetch_conversation(&id, Kind::ConvFetch, now);
            }
        }
        let c = self.book.convs.get_mut(&id).expect("just ensured");
        if event_seq <= c.as_of {
            return;
        }
        let mut changed = false;
        if !mine && m.revoke.is_none() && m.seq > c.read_seq && c.extra.insert(m.seq) {
            changed = true;
        }
        if c.last.as_ref().is_none_or(|(s, _)| *s < m.seq) {
            c.last = Some((m.seq, m.msg_id.clone()));
            c.order_key = c.order_key.max(m.time_ms);
            changed = true;
        }
        if changed && !is_new {
            self.book.changed.insert(id);
        }
    }

    /// A revoke (event `event_seq`): the conversation's count drops by one if it was unread,
    /// its preview turns into the tombstone if it was the last message, and every reply this
    /// device holds to it loses its quote.
    pub(super) fn conv_revoked(&mut self, event_seq: u64, r: &Revoked) {
        let id = match (&r.group_id, &r.receiver) {
            (Some(g), _) => ConvId::group_id(g),
            (None, Some(rcv)) => ConvId::c2c_id_for(&r.sender, rcv, &self.user),
            (None, None) => ConvId::c2c_id_for(&r.sender, &r.sender, &self.user),
        };
        let from_other = r.sender != self.user;
        // At or before the cursor: applied as an event already (an answer after its event).
        let applied = self.cursor.is_some_and(|c| event_seq <= c);
        if let Some(c) = self.book.convs.get_mut(&id) {
            if event_seq > c.as_of && !applied && self.book.counted_revokes.insert(event_seq) {
                let mut changed = false;
                if from_other && r.seq > c.read_seq {
                    if c.extra.remove(r.seq) {
                        changed = true;
                    } else if r.seq <= c.snap_head && c.base > 0 {
                        c.base -= 1;
                        changed = true;
                    }
                }
                if c.last.as_ref().is_some_and(|(_, m)| *m == r.msg_id) {
                    changed = true;
                }
                if changed {
                    self.book.changed.insert(id);
                }
            }
        }
        // Quotes of the revoked message.
        let replies = self
            .book
            .replies
            .get(&r.msg_id)
            .cloned()
            .unwrap_or_default();
        for reply in replies {
            let Some(l) = self.messages.get_mut(&reply) else {
                continue;
            };
            let Some(q) = l.msg.reply_to.as_mut() else {
                continue;
            };
            if q.is_revoked {
                continue;
            }
            q.revoked();
            let view = self.view(&self.messages[&reply].clone());
            self.notes.push(super::Notification::MessageModified(view));
            let conv_id = self.messages[&reply].msg.conv().id_for(&self.user);
            if self
                .book
                .convs
                .get(&conv_id)
                .is_some_and(|c| c.last.as_ref().is_some_and(|(_, m)| *m == reply))
            {
                self.book.changed.insert(conv_id);
            }
        }
    }

    /// A message entering the cache: index it if it is a reply, and quote an original this
    /// device already knows to be revoked as revoked.
    pub(super) fn note_reply(&mut self, m: &mut Message) {
        let Some(q) = m.reply_to.as_mut() else {
            return;
        };
        if !q.is_revoked
            && self
                .messages
                .get(&q.msg_id)
                .is_some_and(|o| o.msg.revoke.is_some())
        {
            q.revoked();
        }
        let list = self
            .book
            .replies
            .get_or_insert_with(q.msg_id.clone(), Vec::new);
        if !list.contains(&m.msg_id) {
            list.push(m.msg_id.clone());
        }
    }

    /// The cursor reached `cursor`: revokes at or before it are never applied again.
    pub(super) fn conv_cursor(&mut self, cursor: u64) {
        self.book.counted_revokes.keep_above(cursor);
    }

    /// Tells the listeners what changed (once per frame); while nobody listens, leaves it
    /// untold, without making the views.
    pub(super) fn flush_conversations(&mut self) {
        if self.book.quiet {
            self.book.untold = true;
        } else {
            self.tell_conversations();
        }
    }

    fn tell_conversations(&mut self) {
        let new = std::mem::take(&mut self.book.new);
        let changed = std::mem::take(&mut self.book.changed);
        let new_views: Vec<ConversationView> =
            new.iter().filter_map(|id| self.conv_view(id)).collect();
        let changed_views: Vec<ConversationView> = changed
            .iter()
            .filter(|id| !new.contains(id))
            .filter_map(|id| self.conv_view(id))
            .collect();
        if !new_views.is_empty() {
            self.notes
                .push(super::Notification::NewConversation(new_views));
        }
        if !changed_views.is_empty() {
            self.notes
                .push(super::Notification::ConversationChanged(changed_views));
        }
        let total = self.local_total_unread();
        if total != self.book.told_total {
            self.book.told_total = total;
            self.notes
                .push(super::Notification::TotalUnreadChanged(total));
        }
    }

    /// Before a frame: what the last one left untold is dropped (the total as if told).
    pub(super) fn drop_untold_conversations(&mut self) {
        if std::mem::take(&mut self.book.untold) {
            self.book.new.clear();
            self.book.changed.clear();
            self.book.told_total = self.local_total_unread();
        }
    }

    /// Whether anyone listens to the conversation notifications (`onNewConversation`,
    /// `onConversationChanged`, `onTotalUnreadMessageCountChanged`; the default). While not,
    /// a frame makes no conversation views: its changes stay untold until
    /// [`Client::tell_untold_conversations`] or the next frame, which drops them. Unread
    /// counts, last messages and the list are the same either way.
    pub fn listen_conversations(&mut self, on: bool) {
        self.book.quiet = !on;
    }

    /// Whether the last frame's conversation changes were left untold (and not dropped yet).
    pub fn has_untold_conversations(&self) -> bool {
        self.book.untold
    }

    /// Makes the notifications of what the last frame left untold, with the conversations as
    /// they are now (see [`Client::take_notifications`]).
    pub fn tell_untold_conversations(&mut self) {
        if std::mem::take(&mut self.book.untold) {
            self.tell_conversations();
        }
    }

    fn conv_view(&self, id: &str) -> Option<ConversationView> {
        let c = self.book.convs.get(id)?;
        let last_message: Option<MessageView> = c
            .last
            .as_ref()
            .and_then(|(_, msg_id)| self.local_message(msg_id));
        Some(ConversationView {
            conversation_id: id.to_string(),
            kind: c.kind,
            user_id: c.user_id.clone(),
            group_id: c.group_id.clone(),
            show_name: c.show_name.clone(),
            unread_count: c.unread(),
            last_message,
            order_key: c.order_key,
        })
    }

    /// Every conversation this device keeps, newest activity first (tests, the demo).
    pub fn local_conversations(&self) -> Vec<ConversationView> {
        let mut v: Vec<ConversationView> = self
            .book
            .convs
            .keys()
            .filter_map(|id| self.conv_view(id))
            .collect();
        v.sort_by(|a, b| {
            b.order_key
                .cmp(&a.order_key)
                .then_with(|| a.conversation_id.cmp(&b.conversation_id))
        });
        v
    }
}
