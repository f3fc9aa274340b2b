//! Webhooks to the app's backend in Tencent's shapes, and the `MsgKey` of a message (feature
//! `callbacks`, for the server; the browser module carries none of it).
//!
//! The hub writes one [`CallbackRecord`] per send or revoke into the store's outbox, in the same
//! transaction (see [`crate::store::Store::enqueue_callback`]); the host delivers them. Bodies
//! follow Tencent Cloud Chat's third-party callbacks:
//!
//! - [`C2C_AFTER_SEND`] `C2C.CallbackAfterSendMsg`: `From_Account`, `To_Account`, `MsgSeq`,
//!   `MsgRandom`, `MsgTime` (s), `MsgKey`, `OnlineOnlyFlag`, `SendMsgResult`, `ErrorInfo`,
//!   `MsgBody`, `CloudCustomData`, `EventTime` (ms);
//! - [`C2C_AFTER_WITHDRAW`] `C2C.CallbackAfterMsgWithDraw`: `From_Account`, `To_Account`,
//!   `MsgKey`, `EventTime`, and (this server's addition) `Operator_Account`;
//! - [`GROUP_AFTER_SEND`] `Group.CallbackAfterSendMsg`: `GroupId`, `Type`, `From_Account`,
//!   `Operator_Account`, `Random`, `MsgSeq`, `MsgTime`, `OnlineOnlyFlag`, `MsgBody`,
//!   `CloudCustomData`, `EventTime`;
//! - [`GROUP_AFTER_RECALL`] `Group.CallbackAfterRecallMsg`: `GroupId`, `Type`,
//!   `Operator_Account`, `MsgSeqList: [{MsgSeq}]`, `TopicId`, `EventTime`.
//!
//! ## MsgKey
//!
//! Tencent identifies a one-to-one message by `MsgKey = "{MsgSeq}_{MsgRandom}_{MsgTime}"`. Here
//! `MsgSeq` is the message's seq in its conversation, `MsgTime` its server time in seconds, and
//! `MsgRandom` the 32-bit number of [`msg_random`]: the one the backend gave when it sent the
//! message over REST, otherwise a hash of the msgID. The key maps back to one message: the
//! conversation (from `From_Account` and `To_Account`) and the seq find it, the random and the
//! time must then match, so a key of another conversation finds nothing.

use crate::model::{Elem, Message};
use crate::store::CallbackRecord;
use serde_json::{json, Value};

/// A one-to-one message was sent.
pub const C2C_AFTER_SEND: &str = "C2C.CallbackAfterSendMsg";
/// A one-to-one message was recalled.
pub const C2C_AFTER_WITHDRAW: &str = "C2C.CallbackAfterMsgWithDraw";
/// A group message was sent.
pub const GROUP_AFTER_SEND: &str = "Group.CallbackAfterSendMsg";
/// Group messages were recalled.
pub const GROUP_AFTER_RECALL: &str = "Group.CallbackAfterRecallMsg";

/// `OptPlatform` of a client's request.
pub const PLATFORM_WEB: &str = "Web";
/// `OptPlatform` of an admin's REST request.
pub const PLATFORM_REST: &str = "RESTAPI";

/// How the msgIDs of messages sent over REST start (see [`rest_msg_id`]).
pub const REST_MSG_ID_PREFIX: &str = "rest-";

/// Tencent's group `Type` in callbacks (this server has one kind of group).
const GROUP_TYPE: &str = "Public";

fn fnv1a(parts: &[&str]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0x1f)) {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h
}

/// The msgID of a one-to-one message an admin sends over REST as `from` to `to` with Tencent's
/// `MsgRandom` `random` at server second `time_s`: a resend of the same request in the same
/// second is the same message (Tencent deduplicates by `MsgRandom` within the second too).
pub fn rest_msg_id(from: &str, to: &str, random: u32, time_s: u64) -> String {
    format!(
        "{REST_MSG_ID_PREFIX}{time_s}-{:08x}-{random}",
        fnv1a(&[from, to])
    )
}

/// The message's `MsgRandom`: the one given over REST (read back from its msgID), otherwise a
/// stable hash of the msgID.
pub fn msg_random(msg_id: &str) -> u32 {
    msg_id
        .strip_prefix(REST_MSG_ID_PREFIX)
        .and_then(|rest| rest.rsplit('-').next())
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| fnv1a(&[msg_id]))
}

/// The message's `MsgKey`, `"{seq}_{random}_{time_s}"` (see the module documentation).
pub fn msg_key(msg: &Message) -> String {
    format!(
        "{}_{}_{}",
        msg.seq,
        msg_random(&msg.msg_id),
        msg.time_ms / 1000
    )
}

/// The conversation seq a well-formed `MsgKey` names, or `None` when it is malformed.
pub fn msg_key_seq(key: &str) -> Option<u64> {
    let mut it = key.split('_');
    let seq = it.next()?.parse::<u64>().ok()?;
    it.next()?.parse::<u32>().ok()?;
    it.next()?.parse::<u64>().ok()?;
    if it.next().is_some() || seq == 0 {
        return None;
    }
    Some(seq)
}

/// Tencent's `MsgBody` of a message: `[{MsgType, MsgContent}]`; empty when there is no content
/// (revoked).
pub fn msg_body(elem: Option<&Elem>) -> Value {
    match elem {
        Some(Elem::Text { text }) => {
            json!([{ "MsgType": "TIMTextElem", "MsgContent": { "Text": text } }])
        }
        Some(Elem::Custom {
            data,
            desc,
            extension,
        }) => json!([{ "MsgType": "TIMCustomElem",
                       "MsgContent": { "Data": data, "Desc": desc, "Ext": extension } }]),
        Some(Elem::Image { image_list }) => {
            let list: Vec<Value> = image_list
                .iter()
                .map(|i| {
                    json!({ "Type": i.kind, "Size": i.size, "Width": i.width,
                                 "Height": i.height, "URL": i.url })
                })
                .collect();
            let uuid = image_list.first().map_or("", |i| i.uuid.as_str());
            json!([{ "MsgType": "TIMImageElem",
                     "MsgContent": { "UUID": uuid, "ImageInfoArray": list } }])
        }
        Some(Elem::File {
            uuid,
            file_name,
            file_size,
            url,
        }) => json!([{ "MsgType": "TIMFileElem",
                       "MsgContent": { "UUID": uuid, "FileName": file_name,
                                       "FileSize": file_size, "Url": url } }]),
        None => json!([]),
    }
}

/// Whether the message's element keeps, until it is revoked, something its revoke clears
/// (an attachment's URL): a send's body built from the stored message after its revoke would
/// differ, so such a webhook keeps its body ([`CallbackRecord::body`]).
fn revoke_changes_body(elem: Option<&Elem>) -> bool {
    match elem {
        Some(Elem::Image { image_list }) => image_list.iter().any(|i| !i.url.is_empty()),
        Some(Elem::File { url, .. }) => !url.is_empty(),
        _ => false,
    }
}

/// The webhook of `msg`, a reference to the stored message unless `keep_body` (then with the
/// body `body()` gives).
fn record(
    command: &'static str,
    admin: Option<&str>,
    msg: &Message,
    keep_body: bool,
    body: impl FnOnce() -> Value,
) -> CallbackRecord {
    CallbackRecord {
        command,
        platform: if admin.is_some() {
            PLATFORM_REST
        } else {
            PLATFORM_WEB
        },
        msg_id: msg.msg_id.clone(),
        admin: admin.map(str::to_string),
        body: keep_body.then(|| body().to_string()),
    }
}

/// The body of a send's webhook: `operator` is the group body's `Operator_Account`.
fn send_body(msg: &Message, operator: &str, event_ms: u64) -> Value {
    let random = msg_random(&msg.msg_id);
    let time_s = msg.time_ms / 1000;
    match (&msg.group_id, &msg.receiver) {
        (Some(g), _) => json!({
            "CallbackCommand": GROUP_AFTER_SEND,
            "GroupId": g,
            "Type": GROUP_TYPE,
            "From_Account": msg.sender,
            "Operator_Account": operator,
            "Random": random,
            "MsgSeq": msg.seq,
            "MsgTime": time_s,
            "OnlineOnlyFlag": 0,
            "MsgBody": msg_body(msg.elem.as_ref()),
            "CloudCustomData": msg.cloud_custom_data.as_deref().unwrap_or(""),
            "EventTime": event_ms,
        }),
        (None, to) => json!({
            "CallbackCommand": C2C_AFTER_SEND,
            "From_Account": msg.sender,
            "To_Account": to.as_deref().unwrap_or(&msg.sender),
            "MsgSeq": msg.seq,
            "MsgRandom": random,
            "MsgTime": time_s,
            "MsgKey": msg_key(msg),
            "OnlineOnlyFlag": 0,
            "SendMsgResult": 0,
            "ErrorInfo": "send msg succeed",
            "MsgBody": msg_body(msg.elem.as_ref()),
            "CloudCustomData": msg.cloud_custom_data.as_deref().unwrap_or(""),
            "EventTime": event_ms,
        }),
    }
}

/// The body of a revoke's webhook.
fn revoke_body(msg: &Message, event_ms: u64) -> Value {
    let operator = msg
        .revoke
        .as_ref()
        .map_or(msg.sender.as_str(), |r| r.user_id.as_str());
    match (&msg.group_id, &msg.receiver) {
        (Some(g), _) => json!({
            "CallbackCommand": GROUP_AFTER_RECALL,
            "GroupId": g,
            "Type": GROUP_TYPE,
            "Operator_Account": operator,
            "MsgSeqList": [{ "MsgSeq": msg.seq }],
            "TopicId": "",
            "EventTime": event_ms,
        }),
        (None, to) => json!({
            "CallbackCommand": C2C_AFTER_WITHDRAW,
            "From_Account": msg.sender,
            "To_Account": to.as_deref().unwrap_or(&msg.sender),
            "MsgKey": msg_key(msg),
            "Operator_Account": operator,
            "EventTime": event_ms,
        }),
    }
}

/// The webhook of a message just sent (`C2C.CallbackAfterSendMsg` or
/// `Group.CallbackAfterSendMsg`), by a client or, when `admin` is given, over REST.
///
/// It refers to the stored message (whose row commits with it): [`body_of`] builds the body at
/// delivery. It keeps the body itself only when the stored message could no longer give it:
/// an event time other than the message's, or an attachment URL that a revoke would clear.
pub fn after_send(msg: &Message, admin: Option<&str>, event_ms: u64) -> CallbackRecord {
    let command = if msg.group_id.is_some() {
        GROUP_AFTER_SEND
    } else {
        C2C_AFTER_SEND
    };
    let keep = event_ms != msg.time_ms || revoke_changes_body(msg.elem.as_ref());
    record(command, admin, msg, keep, || {
        send_body(msg, admin.unwrap_or(&msg.sender), event_ms)
    })
}

/// The webhook of a message just revoked (`C2C.CallbackAfterMsgWithDraw` or
/// `Group.CallbackAfterRecallMsg`), by a client or, when `admin` is given, over REST.
///
/// It refers to the stored message, revoked in the same transaction (a message is revoked
/// once): [`body_of`] builds the body at delivery, with the revoke's time as `EventTime`. It
/// keeps the body itself when `event_ms` is not the revoke's time.
pub fn after_revoke(msg: &Message, admin: Option<&str>, event_ms: u64) -> CallbackRecord {
    let command = if msg.group_id.is_some() {
        GROUP_AFTER_RECALL
    } else {
        C2C_AFTER_WITHDRAW
    };
    let keep = msg.revoke.as_ref().map(|r| r.time_ms) != Some(event_ms);
    record(command, admin, msg, keep, || revoke_body(msg, event_ms))
}

/// The JSON body of a webhook that refers to its message ([`CallbackRecord::body`] is `None`),
/// from the message as stored now: the body [`after_send`] or [`after_revoke`] would have
/// written. `None` when `command` is not one of the four, or names a revoke and `msg` is not
/// revoked.
pub fn body_of(command: &str, admin: Option<&str>, msg: &Message) -> Option<String> {
    let v = match command {
        C2C_AFTER_SEND | GROUP_AFTER_SEND => {
            send_body(msg, admin.unwrap_or(&msg.sender), msg.time_ms)
        }
        C2C_AFTER_WITHDRAW | GROUP_AFTER_RECALL => revoke_body(msg, msg.revoke.as_ref()?.time_ms),
        _ => return None,
    };
    Some(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str) -> Message {
        Message {
            msg_id: id.into(),
            sender: "alice".into(),
            receiver: Some("bob".into()),
            group_id: None,
            time_ms: 1_700_000_000_123,
            seq: 7,
            elem: Some(Elem::Text { text: "hi".into() }),
            revoke: None,
            reply_to: None,
            cloud_custom_data: None,
        }
    }

    #[test]
    fn rest_messages_keep_their_random() {
        let id = rest_msg_id("alice", "bob", 4_294_967_295, 1_700_000_000);
        assert!(id.len() <= crate::model::MAX_MSG_ID, "{id}");
        crate::model::check_msg_id(&id).unwrap();
        assert_eq!(msg_random(&id), 4_294_967_295);
        assert_eq!(msg_key(&msg(&id)), "7_4294967295_1700000000");
        assert_ne!(
            rest_msg_id("alice", "bob", 1, 5),
            rest_msg_id("alice", "carol", 1, 5)
        );
    }

    #[test]
    fn client_messages_hash_their_msg_id() {
        assert_eq!(msg_random("m1"), msg_random("m1"));
        assert_ne!(msg_random("m1"), msg_random("m2"));
        assert_eq!(msg_random("rest-x"), fnv1a(&["rest-x"]));
    }

    #[test]
    fn msg_key_parsing() {
        assert_eq!(msg_key_seq("31906_833502_1572869830"), Some(31906));
        for bad in [
            "",
            "1_2",
            "1_2_3_4",
            "a_2_3",
            "0_1_1",
            "1_4294967296_3",
            "-1_2_3",
        ] {
            assert_eq!(msg_key_seq(bad), None, "{bad}");
        }
    }

    /// The body a webhook delivers: its own, or built from `stored` (the message as its row
    /// is at delivery).
    fn delivered(cb: &CallbackRecord, stored: &Message) -> String {
        cb.body
            .clone()
            .or_else(|| body_of(cb.command, cb.admin.as_deref(), stored))
            .expect("a body")
    }

    #[test]
    fn bodies_have_tencents_fields() {
        let mut m = msg("m1");
        let v: Value = serde_json::from_str(&delivered(&after_send(&m, None, 5), &m)).unwrap();
        assert_eq!(v["CloudCustomData"], "");
        m.cloud_custom_data = Some("{\"k\":1}".into());
        let cb = after_send(&m, None, 5);
        assert_eq!(cb.command, C2C_AFTER_SEND);
        assert_eq!(cb.platform, PLATFORM_WEB);
        let v: Value = serde_json::from_str(&delivered(&cb, &m)).unwrap();
        assert_eq!(v["From_Account"], "alice");
        assert_eq!(v["To_Account"], "bob");
        assert_eq!(v["MsgSeq"], 7);
        assert_eq!(v["MsgTime"], 1_700_000_000);
        assert_eq!(v["MsgKey"], msg_key(&m));
        assert_eq!(v["MsgBody"][0]["MsgContent"]["Text"], "hi");
        assert_eq!(v["CloudCustomData"], "{\"k\":1}");
        let mut g = m.clone();
        g.group_id = Some("g1".into());
        let v: Value = serde_json::from_str(&delivered(&after_send(&g, None, 5), &g)).unwrap();
        assert_eq!(v["CloudCustomData"], "{\"k\":1}");
        let cb = after_revoke(&m, Some("administrator"), 6);
        assert_eq!(cb.command, C2C_AFTER_WITHDRAW);
        assert_eq!(cb.platform, PLATFORM_REST);
    }

    fn revoke(m: &Message, by: &str, at: u64) -> Message {
        let mut r = m.clone();
        r.revoke = Some(crate::model::RevokeInfo {
            user_id: by.into(),
            role: crate::model::RevokerRole::Sender,
            reason: "oops".into(),
            time_ms: at,
            req_id: "r1".into(),
        });
        crate::attachment::clear_urls(&mut r);
        r
    }

    /// A webhook that refers to its message delivers, from the stored message (revoked since,
    /// or not), exactly the body written at once would have been; one that could not keeps
    /// its body.
    #[test]
    fn bodies_built_at_delivery_are_the_bodies_of_the_event() {
        let now = 1_700_000_000_123;
        let mut group = msg("g-1");
        group.receiver = None;
        group.group_id = Some("g1".into());
        group.cloud_custom_data = Some("data".into());
        let image = Message {
            elem: Some(Elem::Image {
                image_list: vec![crate::model::ImageInfo {
                    kind: 1,
                    size: 10,
                    width: 2,
                    height: 3,
                    url: "https://cdn/x.png".into(),
                    uuid: "u1".into(),
                }],
            }),
            ..msg("img")
        };
        let signed = Message {
            elem: Some(Elem::Image {
                image_list: vec![crate::model::ImageInfo {
                    url: String::new(),
                    ..match image.elem.clone() {
                        Some(Elem::Image { image_list }) => image_list[0].clone(),
                        _ => unreachable!(),
                    }
                }],
            }),
            ..msg("img2")
        };
        for m in [msg("m1"), msg("rest-5-x-42"), group, image, signed] {
            for admin in [None, Some("administrator")] {
                let sent = after_send(&m, admin, now);
                let full = send_body(&m, admin.unwrap_or(&m.sender), now).to_string();
                // Built from the row as sent, and as it is after a revoke.
                let revoked = revoke(&m, "bob", now + 5);
                assert_eq!(delivered(&sent, &m), full, "{m:?}");
                assert_eq!(delivered(&sent, &revoked), full, "{m:?}");
                assert_eq!(sent.body.is_some(), m.msg_id == "img", "{m:?}");
                let gone = after_revoke(&revoked, admin, now + 5);
                assert!(gone.body.is_none());
                assert_eq!(
                    delivered(&gone, &revoked),
                    revoke_body(&revoked, now + 5).to_string()
                );
                // Another event time than the stored one: the body is kept.
                let late = after_revoke(&revoked, admin, now + 6);
                assert_eq!(late.body, Some(revoke_body(&revoked, now + 6).to_string()));
                assert!(after_send(&m, admin, now + 1).body.is_some());
            }
        }
        assert_eq!(body_of(C2C_AFTER_WITHDRAW, None, &msg("m1")), None);
        assert_eq!(body_of("other", None, &msg("m1")), None);
    }
}
