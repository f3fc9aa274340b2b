//! What a browser client keeps between page loads, and how much it keeps in memory: the
//! snapshot/restore model the browser module's store (`src/storage.rs`, IndexedDB) writes and
//! reads, sans I/O.
//!
//! What is kept, per (server, SDKAppID, userID):
//! - the **cursor**: the seq of the last event of this user's log the client applied. After a
//!   reload the client logs in and syncs from it (`sync afterSeq`), so what happened while the
//!   page was closed — a revoke above all — is applied and told exactly once: an event at or
//!   below the cursor was applied (and its effect stored) before the page closed, one above it
//!   was not.
//! - the **messages** the client was shown or sent, one record each ([`encode_message`]); a
//!   revoke turns the stored copy into the tombstone: its text erased for everyone but the
//!   sender ([`Tombstone`] for copies no longer in memory).
//! - the **outbox**: sends and revokes not yet answered, with their request ids
//!   ([`OutboxEntry`]); after a reload they are sent again with the same ids, so the server's
//!   dedup (sends by msgID, revokes by reqId) makes the retry harmless.
//!
//! The cursor, the outbox and the messages an event changed are written in one transaction
//! (one [`Delta`]): the stored cursor never runs ahead of the stored effects.
//!
//! Nothing read back is trusted: [`restore`] checks the schema version, the user and every
//! record (through the frame decoder, [`crate::wire::decode_server`]); anything else is
//! [`Corrupt`] and the store is rebuilt from the server.
//!
//! Memory is bounded: the message cache is least-recently-used with a cap
//! ([`DEFAULT_CACHE_SIZE`], settable), evicting in batches ([`evict`]); the set of revokes told
//! ahead of their event ([`Told`]) is pruned as the cursor passes them and capped
//! ([`TOLD_CAP`]). Exactly-once comes from the cursor, not from ever-growing sets.

use crate::json::Writer;
use crate::sorted::SortedMap;

use crate::model::{check_msg_id, Message, RevokeInfo, RevokerRole};
use crate::protocol::ServerFrame;

/// The stored layout's version (IndexedDB's database version). A store written by another
/// version is migrated by [`migrate`] or rebuilt.
pub const SCHEMA_VERSION: u32 = 1;

/// Messages kept in memory by default (the `cacheSize` option changes it). The store keeps
/// more: it is what a reload restores from (the newest `cacheSize` of them).
pub const DEFAULT_CACHE_SIZE: usize = 5_000;

/// Revokes told before their event was applied that are remembered, at most.
pub const TOLD_CAP: usize = 1_024;

/// The database's name for a user on a server (and an SDKAppID when known): one database per
/// (server, SDKAppID, userID), so two accounts or two servers never share one.
pub fn db_name(url: &str, sdk_app_id: Option<u64>, user_id: &str) -> String {
    let mut w = Writer(String::with_capacity(16 + url.len() + user_id.len()));
    w.0.push_str("im-revoke|");
    w.0.push_str(url);
    w.0.push('|');
    if let Some(app) = sdk_app_id {
        w.digits(app);
    }
    w.0.push('|');
    w.0.push_str(user_id);
    w.0
}

/// What to do with a store opened at `old` version (0: a new database): `true` keeps its
/// records, `false` drops them (the store is then rebuilt from the server). The one place a
/// future layout change adds its migration.
pub fn migrate(old: u32) -> bool {
    old == SCHEMA_VERSION
}

/// An unanswered request kept across a reload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The request id (the same after the reload).
    pub req_id: String,
    /// The message sent or revoked.
    pub msg_id: String,
    /// `Some(reason)` for a revoke, `None` for a send (whose content is the stored message).
    pub revoke: Option<String>,
}

/// A stored message record: its key, its time (the store's index, for eviction) and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The msgID.
    pub id: String,
    /// Server time, ms (0 until sent).
    pub time_ms: u64,
    /// The record, as [`encode_message`] writes it.
    pub text: String,
}

/// A revoke of a message no longer in memory: the store rewrites its stored copy, if any, with
/// `revoke` (JSON, the wire's `revoke` object) and, when `erase`, without its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tombstone {
    /// The msgID.
    pub id: String,
    /// The wire's `revoke` object, as JSON text.
    pub revoke: String,
    /// Erase the text (everyone but the sender).
    pub erase: bool,
}

/// What changed since the last write, to write in one transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    /// The cursor, when the meta record is to be written (`outbox` is `Some`; `None` also
    /// before the first login).
    pub cursor: Option<u64>,
    /// The whole outbox, when the meta record is to be written: when the cursor moved or the
    /// outbox changed (the record holds both, so the store needs no copy of them).
    pub outbox: Option<Vec<OutboxEntry>>,
    /// Messages to write (whole records).
    pub put: Vec<Record>,
    /// Stored copies to turn into tombstones.
    pub tombstones: Vec<Tombstone>,
}

impl Delta {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.cursor.is_none()
            && self.outbox.is_none()
            && self.put.is_empty()
            && self.tombstones.is_empty()
    }
}

/// A store's content found not to be this user's, or not readable: it is rebuilt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corrupt(pub &'static str);

/// What [`restore`] gives the client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    /// The stored cursor (`None`: a new store).
    pub cursor: Option<u64>,
    /// The stored messages, newest first.
    pub messages: Vec<Message>,
    /// The outbox, in order.
    pub outbox: Vec<OutboxEntry>,
}

/// The stored meta record as read (each field `None` when absent or of the wrong type).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoredMeta {
    /// The schema version it was written with.
    pub schema: Option<f64>,
    /// Whose it is.
    pub user: Option<String>,
    /// The cursor (`null` before the first login).
    pub cursor: Option<f64>,
    /// The outbox entries.
    pub outbox: Vec<OutboxEntry>,
}

/// Checks what was read from a store against who is logging in: the schema, the user, every
/// message record (decoded by the frame decoder, and about this user), every outbox entry.
/// `meta` is `None` for an empty store.
pub fn restore(
    user: &str,
    meta: Option<StoredMeta>,
    records: &[String],
) -> Result<Restored, Corrupt> {
    let Some(meta) = meta else {
        return if records.is_empty() {
            Ok(Restored::default())
        } else {
            Err(Corrupt("messages without a meta record"))
        };
    };
    if meta.schema != Some(f64::from(SCHEMA_VERSION)) {
        return Err(Corrupt("another schema"));
    }
    if meta.user.as_deref() != Some(user) {
        return Err(Corrupt("another user's store"));
    }
    let cursor = match meta.cursor {
        None => None,
        Some(c) if c >= 0.0 && c.fract() == 0.0 && c < 9_007_199_254_740_992.0 => Some(c as u64),
        Some(_) => return Err(Corrupt("cursor")),
    };
    for e in &meta.outbox {
        check_msg_id(&e.msg_id).map_err(|_| Corrupt("outbox"))?;
        if e.req_id.is_empty() || e.req_id.len() > 128 {
            return Err(Corrupt("outbox"));
        }
    }
    let messages = decode_messages(records).ok_or(Corrupt("message record"))?;
    for m in &messages {
        let about_me =
            m.group_id.is_some() || m.sender == user || m.receiver.as_deref() == Some(user);
        if check_msg_id(&m.msg_id).is_err() || !about_me {
            return Err(Corrupt("message record"));
        }
    }
    Ok(Restored {
        cursor,
        messages,
        outbox: meta.outbox,
    })
}

/// Decodes message records, all or none (`None` if any is malformed).
pub fn decode_messages(records: &[String]) -> Option<Vec<Message>> {
    let mut text = String::with_capacity(records.iter().map(|r| r.len() + 1).sum::<usize>() + 80);
    text.push_str("{\"type\":\"messages\",\"reqId\":\"\",\"serverTime\":0,\"isCompleted\":true,\"messages\":[");
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(r);
    }
    text.push_str("]}");
    match crate::wire::decode_server(&text)? {
        // As many messages as records: no record spilled into its neighbours.
        ServerFrame::Messages { messages, .. } if messages.len() == records.len() => Some(messages),
        _ => None,
    }
}

/// A message as a stored record: the wire's message object (what the frame decoder reads).
pub fn encode_message(m: &Message) -> String {
    let mut w = Writer(String::with_capacity(160));
    w.0.push_str("{\"msgID\":");
    w.string(&m.msg_id);
    w.str("sender", &m.sender);
    w.opt_str("receiver", &m.receiver);
    w.opt_str("groupID", &m.group_id);
    w.num("timeMs", m.time_ms);
    w.num("seq", m.seq);
    w.key("elem");
    match &m.elem {
        Some(e) => w.0.push_str(&crate::wire::elem_json(e)),
        None => w.0.push_str("null"),
    }
    w.key("revoke");
    match &m.revoke {
        Some(r) => revoke_object(&mut w, r),
        None => w.0.push_str("null"),
    }
    if let Some(r) = &m.reply_to {
        w.key("replyTo");
        w.0.push_str("{\"msgID\":");
        w.string(&r.msg_id);
        w.str("sender", &r.sender);
        w.str("abstract", &r.abstract_text);
        w.key("isRevoked");
        w.0.push_str(if r.is_revoked { "true" } else { "false" });
        w.0.push('}');
    }
    if let Some(d) = &m.cloud_custom_data {
        w.str("cloudCustomData", d);
    }
    w.finish()
}

/// The wire's `revoke` object as JSON text.
pub fn encode_revoke(r: &RevokeInfo) -> String {
    let mut w = Writer(String::with_capacity(96));
    revoke_object(&mut w, r);
    w.0
}

fn revoke_object(w: &mut Writer, r: &RevokeInfo) {
    w.0.push_str("{\"userID\":");
    w.string(&r.user_id);
    w.str(
        "role",
        match r.role {
            RevokerRole::Sender => "sender",
            RevokerRole::Owner => "owner",
            RevokerRole::Admin => "admin",
        },
    );
    w.str("reason", &r.reason);
    w.num("timeMs", r.time_ms);
    w.str("reqId", &r.req_id);
    w.0.push('}');
}

/// The LRU policy: given every cached entry's last-use stamp, the keys to evict so that `keep`
/// remain (the least recently used first). Called once the cache holds an eighth more than its
/// cap, so eviction costs O(log n) per message, amortized. No sort: [`cut`] finds the stamp
/// below which the victims lie, then one pass takes them.
pub fn evict<K>(entries: impl Iterator<Item = (K, u64)>, keep: usize) -> Vec<K> {
    let all: Vec<(K, u64)> = entries.collect();
    if all.len() <= keep {
        return Vec::new();
    }
    let stamps: Vec<u64> = all.iter().map(|e| e.1).collect();
    let (at, mut ties) = cut(&stamps, all.len() - keep);
    let mut out = Vec::with_capacity(all.len() - keep);
    for (k, s) in all {
        if s < at || (s == at && ties > 0) {
            if s == at {
                ties -= 1;
            }
            out.push(k);
        }
    }
    out
}

/// The smallest stamp `at` with at least `n` (≥ 1, ≤ `stamps.len()`) stamps at or below it,
/// and how many of those equal to it are to go too: everything below `at` plus that many at
/// `at` are the `n` oldest. A binary search over the stamps' range (at most 64 counting passes).
#[inline(never)]
fn cut(stamps: &[u64], n: usize) -> (u64, usize) {
    let (mut lo, mut hi) = (u64::MAX, 0);
    for &s in stamps {
        lo = lo.min(s);
        hi = hi.max(s);
    }
    let at_or_below = |t: u64| stamps.iter().filter(|&&s| s <= t).count();
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if at_or_below(mid) >= n {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let below = stamps.iter().filter(|&&s| s < lo).count();
    (lo, n - below)
}

/// When the cache is over its cap by enough to evict (an eighth, at least one).
pub fn over(len: usize, cap: usize) -> bool {
    len > cap + (cap / 8).max(1)
}

/// Revokes this device reported before their event was applied (its own revoke's answer), so
/// that the event, when it comes, is not told again. Each entry is kept until the cursor passes
/// the event's seq (known from the answer); an answer without a seq (an idempotent retry) is
/// kept until [`TOLD_CAP`] newer ones push it out.
#[derive(Debug, Default)]
pub struct Told {
    map: SortedMap<String, (u64, u64)>,
    next: u64,
}

impl Told {
    /// Remembers `msg_id`, told, whose event has seq `seq` (0: unknown).
    pub fn insert(&mut self, msg_id: String, seq: u64) {
        self.next += 1;
        let bound = if seq == 0 { u64::MAX } else { seq };
        self.map.insert(msg_id, (bound, self.next));
        if self.map.len() > TOLD_CAP {
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, v)| v.1)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.map.remove(&k);
            }
        }
    }

    /// Whether `msg_id`'s revoke was told already.
    pub fn contains(&self, msg_id: &str) -> bool {
        self.map.contains_key(msg_id)
    }

    /// Forgets the entries whose event the cursor has passed.
    pub fn prune(&mut self, cursor: u64) {
        if !self.map.is_empty() {
            self.map.retain(|_, v| v.0 > cursor);
        }
    }

    /// How many are remembered.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Elem, ReplyTo};

    fn msg(id: &str, text: &str) -> Message {
        Message {
            msg_id: id.into(),
            sender: "alice".into(),
            receiver: Some("bob".into()),
            group_id: None,
            time_ms: 1_700_000_000_123,
            seq: 7,
            elem: Some(Elem::Text { text: text.into() }),
            revoke: None,
            reply_to: None,
            cloud_custom_data: None,
        }
    }

    fn meta(user: &str) -> StoredMeta {
        StoredMeta {
            schema: Some(f64::from(SCHEMA_VERSION)),
            user: Some(user.into()),
            cursor: Some(12.0),
            outbox: vec![OutboxEntry {
                req_id: "r1".into(),
                msg_id: "m1".into(),
                revoke: Some("typo".into()),
            }],
        }
    }

    #[test]
    fn records_round_trip_with_escapes_and_revokes() {
        let mut a = msg("m1", "he said \"hi\"\n\\ \u{1} é 😀");
        let mut b = msg("m2", "");
        b.group_id = Some("g1".into());
        b.receiver = None;
        b.elem = None;
        b.revoke = Some(RevokeInfo {
            user_id: "alice".into(),
            role: RevokerRole::Owner,
            reason: "x\ty".into(),
            time_ms: 5,
            req_id: "r9".into(),
        });
        a.seq = 0;
        let recs = vec![encode_message(&a), encode_message(&b)];
        assert_eq!(decode_messages(&recs), Some(vec![a, b]));
    }

    #[test]
    fn records_keep_reply_to_and_cloud_custom_data() {
        let mut a = msg("m3", "re: hi");
        a.reply_to = Some(ReplyTo {
            msg_id: "m1".into(),
            sender: "bob".into(),
            abstract_text: "hi \"there\"\n".into(),
            is_revoked: false,
        });
        a.cloud_custom_data = Some("{\"k\":[1,\"v\"]}".into());
        let mut b = msg("m4", "re: gone");
        b.reply_to = Some(ReplyTo {
            msg_id: "m2".into(),
            sender: "alice".into(),
            abstract_text: String::new(),
            is_revoked: true,
        });
        let recs = vec![encode_message(&a), encode_message(&b)];
        assert_eq!(decode_messages(&recs), Some(vec![a, b]));
    }

    #[test]
    fn restore_checks_schema_user_and_records() {
        let rec = vec![encode_message(&msg("m1", "hi"))];
        let r = restore("bob", Some(meta("bob")), &rec).unwrap();
        assert_eq!(r.cursor, Some(12));
        assert_eq!(r.messages.len(), 1);
        assert_eq!(r.outbox.len(), 1);
        assert_eq!(restore("bob", None, &[]), Ok(Restored::default()));
        assert!(
            restore("carol", Some(meta("carol")), &rec).is_err(),
            "not about carol"
        );
        assert!(
            restore("eve", Some(meta("bob")), &[]).is_err(),
            "another user"
        );
        let mut m = meta("bob");
        m.schema = Some(99.0);
        assert!(restore("bob", Some(m), &[]).is_err());
        let mut m = meta("bob");
        m.cursor = Some(-1.5);
        assert!(restore("bob", Some(m), &[]).is_err());
        for bad in ["", "{", "null", "{}", "1]", r#"{"msgID":"m1"}"#] {
            let recs = vec![bad.to_string()];
            assert!(restore("bob", Some(meta("bob")), &recs).is_err(), "{bad:?}");
        }
        // A record that would spill into its neighbour's place.
        let spill = format!("{},{}", rec[0], rec[0]);
        assert!(restore("bob", Some(meta("bob")), &[spill]).is_err());
        assert!(restore("bob", None, &rec).is_err());
    }

    #[test]
    fn evicts_least_recently_used() {
        let e = evict(vec![("a", 5), ("b", 1), ("c", 9), ("d", 2)].into_iter(), 2);
        let mut e = e;
        e.sort();
        assert_eq!(e, ["b", "d"]);
        assert!(evict(vec![("a", 1)].into_iter(), 2).is_empty());
        let mut e = evict(vec![("a", 3), ("b", 3), ("c", 3), ("d", 1)].into_iter(), 2);
        e.sort();
        assert!(
            e == ["a", "d"] || e == ["b", "d"] || e == ["c", "d"],
            "{e:?}"
        );
        let stamps: Vec<(usize, u64)> = (0..1000).map(|i| (i, (i as u64 * 7919) % 1000)).collect();
        let mut e = evict(stamps.into_iter(), 900);
        e.sort_by_key(|&i| (i as u64 * 7919) % 1000);
        let got: Vec<u64> = e.iter().map(|&i| (i as u64 * 7919) % 1000).collect();
        assert_eq!(got, (0..100).collect::<Vec<u64>>());
        assert!(!over(5_625, 5_000));
        assert!(over(5_626, 5_000));
        assert!(over(2, 0));
    }

    #[test]
    fn told_is_pruned_by_the_cursor_and_capped() {
        let mut t = Told::default();
        t.insert("a".into(), 10);
        t.insert("b".into(), 0);
        t.prune(9);
        assert!(t.contains("a"));
        t.prune(10);
        assert!(!t.contains("a"));
        assert!(t.contains("b"), "no seq: kept until pushed out");
        for i in 0..(TOLD_CAP * 2) {
            t.insert(format!("x{i}"), 0);
        }
        assert_eq!(t.len(), TOLD_CAP);
        assert!(!t.contains("b"));
    }

    #[test]
    fn names_and_migrations() {
        assert_ne!(
            db_name("ws://a", None, "bob"),
            db_name("ws://a", Some(1), "bob")
        );
        assert_ne!(
            db_name("ws://a", None, "bob"),
            db_name("ws://b", None, "bob")
        );
        assert_eq!(
            db_name("ws://a", Some(1400), "bob"),
            "im-revoke|ws://a|1400|bob"
        );
        assert_eq!(db_name("ws://a", None, "bob"), "im-revoke|ws://a||bob");
        assert!(migrate(SCHEMA_VERSION));
        assert!(!migrate(0));
    }
}
