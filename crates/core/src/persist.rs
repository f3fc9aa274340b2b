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

use std::collections::HashMap;

use crate::hash::Fast;

use crate::model::{check_msg_id, Elem, Message, RevokeInfo, RevokerRole};
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
    match sdk_app_id {
        Some(app) => format!("im-revoke|{url}|{app}|{user_id}"),
        None => format!("im-revoke|{url}||{user_id}"),
    }
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
    /// The new cursor, when it moved.
    pub cursor: Option<u64>,
    /// The whole outbox, when it changed.
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
    let mut w = String::with_capacity(160);
    w.push('{');
    field_str(&mut w, "msgID", &m.msg_id);
    w.push(',');
    field_str(&mut w, "sender", &m.sender);
    w.push(',');
    field_opt(&mut w, "receiver", m.receiver.as_deref());
    w.push(',');
    field_opt(&mut w, "groupID", m.group_id.as_deref());
    w.push_str(",\"timeMs\":");
    w.push_str(&m.time_ms.to_string());
    w.push_str(",\"seq\":");
    w.push_str(&m.seq.to_string());
    w.push_str(",\"elem\":");
    match &m.elem {
        Some(Elem::Text { text }) => {
            w.push_str("{\"elemType\":\"text\",");
            field_str(&mut w, "text", text);
            w.push('}');
        }
        None => w.push_str("null"),
    }
    w.push_str(",\"revoke\":");
    match &m.revoke {
        Some(r) => w.push_str(&encode_revoke(r)),
        None => w.push_str("null"),
    }
    w.push('}');
    w
}

/// The wire's `revoke` object as JSON text.
pub fn encode_revoke(r: &RevokeInfo) -> String {
    let mut w = String::with_capacity(96);
    w.push('{');
    field_str(&mut w, "userID", &r.user_id);
    w.push_str(",\"role\":");
    json_string(
        &mut w,
        match r.role {
            RevokerRole::Sender => "sender",
            RevokerRole::Owner => "owner",
            RevokerRole::Admin => "admin",
        },
    );
    w.push(',');
    field_str(&mut w, "reason", &r.reason);
    w.push_str(",\"timeMs\":");
    w.push_str(&r.time_ms.to_string());
    w.push(',');
    field_str(&mut w, "reqId", &r.req_id);
    w.push('}');
    w
}

fn field_str(w: &mut String, k: &str, v: &str) {
    json_string(w, k);
    w.push(':');
    json_string(w, v);
}

fn field_opt(w: &mut String, k: &str, v: Option<&str>) {
    json_string(w, k);
    w.push(':');
    match v {
        Some(s) => json_string(w, s),
        None => w.push_str("null"),
    }
}

/// A JSON string: `"`, `\` and control characters escaped.
fn json_string(w: &mut String, s: &str) {
    w.push('"');
    for c in s.chars() {
        match c {
            '"' => w.push_str("\\\""),
            '\\' => w.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let n = u32::from(c) as usize;
                w.push_str("\\u00");
                w.push(char::from(HEX[n >> 4]));
                w.push(char::from(HEX[n & 15]));
            }
            c => w.push(c),
        }
    }
    w.push('"');
}

/// The LRU policy: given every cached entry's last-use stamp, the keys to evict so that `keep`
/// remain (the least recently used first). Called once the cache holds an eighth more than its
/// cap, so eviction costs O(log n) per message, amortized.
pub fn evict<K>(entries: impl Iterator<Item = (K, u64)>, keep: usize) -> Vec<K> {
    let mut all: Vec<(u64, K)> = entries.map(|(k, s)| (s, k)).collect();
    if all.len() <= keep {
        return Vec::new();
    }
    let n = all.len() - keep;
    all.select_nth_unstable_by_key(n - 1, |e| e.0);
    all.truncate(n);
    all.into_iter().map(|(_, k)| k).collect()
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
    map: HashMap<String, (u64, u64), Fast>,
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
        assert!(migrate(SCHEMA_VERSION));
        assert!(!migrate(0));
    }
}
