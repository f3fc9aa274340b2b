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

fn record(command: &'static str, platform: &'static str, body: Value) -> CallbackRecord {
    CallbackRecord {
        command,
        platform,
        body: body.to_string(),
    }
}

/// The webhook of a message just sent (`C2C.CallbackAfterSendMsg` or
/// `Group.CallbackAfterSendMsg`), by a client or, when `admin` is given, over REST.
pub fn after_send(msg: &Message, admin: Option<&str>, event_ms: u64) -> CallbackRecord {
    let platform = if admin.is_some() {
        PLATFORM_REST
    } else {
        PLATFORM_WEB
    };
    let random = msg_random(&msg.msg_id);
    let time_s = msg.time_ms / 1000;
    match (&msg.group_id, &msg.receiver) {
        (Some(g), _) => record(
            GROUP_AFTER_SEND,
            platform,
            json!({
                "CallbackCommand": GROUP_AFTER_SEND,
                "GroupId": g,
                "Type": GROUP_TYPE,
                "From_Account": msg.sender,
                "Operator_Account": admin.unwrap_or(&msg.sender),
                "Random": random,
                "MsgSeq": msg.seq,
                "MsgTime": time_s,
                "OnlineOnlyFlag": 0,
                "MsgBody": msg_body(msg.elem.as_ref()),
                "CloudCustomData": msg.cloud_custom_data.as_deref().unwrap_or(""),
                "EventTime": event_ms,
            }),
        ),
        (None, to) => record(
            C2C_AFTER_SEND,
            platform,
            json!({
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
        ),
    }
}

/// The webhook of a message just revoked (`C2C.CallbackAfterMsgWithDraw` or
/// `Group.CallbackAfterRecallMsg`), by a client or, when `admin` is given, over REST.
pub fn after_revoke(msg: &Message, admin: Option<&str>, event_ms: u64) -> CallbackRecord {
    let platform = if admin.is_some() {
        PLATFORM_REST
    } else {
        PLATFORM_WEB
    };
    let operator = msg
        .revoke
        .as_ref()
        .map_or(msg.sender.as_str(), |r| r.user_id.as_str());
    match (&msg.group_id, &msg.receiver) {
        (Some(g), _) => record(
            GROUP_AFTER_RECALL,
            platform,
            json!({
                "CallbackCommand": GROUP_AFTER_RECALL,
                "GroupId": g,
                "Type": GROUP_TYPE,
                "Operator_Account": operator,
                "MsgSeqList": [{ "MsgSeq": msg.seq }],
                "TopicId": "",
                "EventTime": event_ms,
            }),
        ),
        (None, to) => record(
            C2C_AFTER_WITHDRAW,
            platform,
            json!({
                "CallbackCommand": C2C_AFTER_WITHDRAW,
                "From_Account": msg.sender,
                "To_Account": to.as_deref().unwrap_or(&msg.sender),
                "MsgKey": msg_key(msg),
                "Operator_Account": operator,
                "EventTime": event_ms,
            }),
        ),
    }
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

    #[test]
    fn bodies_have_tencents_fields() {
        let mut m = msg("m1");
        let v: Value = serde_json::from_str(&after_send(&m, None, 5).body).unwrap();
        assert_eq!(v["CloudCustomData"], "");
        m.cloud_custom_data = Some("{\"k\":1}".into());
        let cb = after_send(&m, None, 5);
        assert_eq!(cb.command, C2C_AFTER_SEND);
        assert_eq!(cb.platform, PLATFORM_WEB);
        let v: Value = serde_json::from_str(&cb.body).unwrap();
        assert_eq!(v["From_Account"], "alice");
        assert_eq!(v["To_Account"], "bob");
        assert_eq!(v["MsgSeq"], 7);
        assert_eq!(v["MsgTime"], 1_700_000_000);
        assert_eq!(v["MsgKey"], msg_key(&m));
        assert_eq!(v["MsgBody"][0]["MsgContent"]["Text"], "hi");
        assert_eq!(v["CloudCustomData"], "{\"k\":1}");
        let mut g = m.clone();
        g.group_id = Some("g1".into());
        let v: Value = serde_json::from_str(&after_send(&g, None, 5).body).unwrap();
        assert_eq!(v["CloudCustomData"], "{\"k\":1}");
        let cb = after_revoke(&m, Some("administrator"), 6);
        assert_eq!(cb.command, C2C_AFTER_WITHDRAW);
        assert_eq!(cb.platform, PLATFORM_REST);
    }
}
