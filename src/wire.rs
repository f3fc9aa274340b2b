//! Frames as JavaScript values, for the WebSocket transport's text frames.
//!
//! Encoding a `ClientFrame` goes through serde-wasm-bindgen (its derived `Serialize`, then
//! `JSON.stringify`). Decoding a `ServerFrame` reads the parsed JSON field by field instead of
//! `serde_wasm_bindgen::from_value`: the frames are internally tagged enums (`type`, `kind`,
//! `elemType`), which serde deserializes through its buffering `Content` type, and with
//! serde's error formatting (floats, `Debug`) that path measured 47 KB of gzipped wasm —
//! more than half the module. This decoder costs about 4 KB. It builds the core's own types
//! with struct literals, so a field added to the core fails to compile here, and the browser
//! test `wire_round_trip` checks `decode(serialize(frame)) == frame` for every frame kind, so
//! a renamed field cannot drift unnoticed.

use std::sync::Arc;

use im_revoke_core::protocol::{ClientLimits, Envelope, Event, Revoked};
use im_revoke_core::{
    ClientFrame, Code, Elem, Group, Message, RevokeInfo, RevokerRole, ServerFrame,
};
use js_sys::{Array, Reflect, JSON};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

const SER: serde_wasm_bindgen::Serializer = serde_wasm_bindgen::Serializer::json_compatible();

/// A client frame as JSON text.
pub(crate) fn encode(frame: &ClientFrame) -> Option<String> {
    let v = frame.serialize(&SER).ok()?;
    JSON::stringify(&v).ok()?.as_string()
}

/// A server frame from JSON text; `None` for anything malformed.
pub(crate) fn decode(text: &str) -> Option<ServerFrame> {
    decode_value(&JSON::parse(text).ok()?)
}

fn field(v: &JsValue, key: &str) -> JsValue {
    if !v.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(v, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn absent(v: &JsValue) -> bool {
    v.is_undefined() || v.is_null()
}

fn string(v: &JsValue, key: &str) -> Option<String> {
    field(v, key).as_string()
}

fn opt_string(v: &JsValue, key: &str) -> Option<Option<String>> {
    let f = field(v, key);
    if absent(&f) {
        Some(None)
    } else {
        f.as_string().map(Some)
    }
}

/// A non-negative integer no larger than 2^53 - 1.
fn as_uint(f: &JsValue) -> Option<u64> {
    let x = f.as_f64()?;
    (x >= 0.0 && x.fract() == 0.0 && x <= 9_007_199_254_740_991.0).then_some(x as u64)
}

fn uint(v: &JsValue, key: &str) -> Option<u64> {
    as_uint(&field(v, key))
}

fn boolean(v: &JsValue, key: &str) -> Option<bool> {
    field(v, key).as_bool()
}

fn list<T>(v: &JsValue, key: &str, item: impl Fn(&JsValue) -> Option<T>) -> Option<Vec<T>> {
    let arr: Array = field(v, key).dyn_into().ok()?;
    // A plain loop: `collect::<Option<Vec<_>>>()` costs more wasm per item type.
    let mut out = Vec::with_capacity(arr.length() as usize);
    for x in arr.iter() {
        out.push(item(&x)?);
    }
    Some(out)
}

fn opt_object<T>(v: &JsValue, key: &str, f: impl Fn(&JsValue) -> Option<T>) -> Option<Option<T>> {
    let x = field(v, key);
    if absent(&x) {
        Some(None)
    } else {
        f(&x).map(Some)
    }
}

fn revoke_info(v: &JsValue) -> Option<RevokeInfo> {
    Some(RevokeInfo {
        user_id: string(v, "userID")?,
        role: match string(v, "role")?.as_str() {
            "sender" => RevokerRole::Sender,
            "owner" => RevokerRole::Owner,
            "admin" => RevokerRole::Admin,
            _ => return None,
        },
        reason: string(v, "reason")?,
        time_ms: uint(v, "timeMs")?,
        req_id: string(v, "reqId")?,
    })
}

fn elem(v: &JsValue) -> Option<Elem> {
    match string(v, "elemType")?.as_str() {
        "text" => Some(Elem::Text {
            text: string(v, "text")?,
        }),
        _ => None,
    }
}

fn message(v: &JsValue) -> Option<Message> {
    Some(Message {
        msg_id: string(v, "msgID")?,
        sender: string(v, "sender")?,
        receiver: opt_string(v, "receiver")?,
        group_id: opt_string(v, "groupID")?,
        time_ms: uint(v, "timeMs")?,
        seq: uint(v, "seq")?,
        elem: opt_object(v, "elem", elem)?,
        revoke: opt_object(v, "revoke", revoke_info)?,
    })
}

fn group(v: &JsValue) -> Option<Group> {
    let mut admins = std::collections::BTreeSet::new();
    for a in list(v, "admins", JsValue::as_string)? {
        admins.insert(a);
    }
    let mut members = std::collections::BTreeSet::new();
    for m in list(v, "members", JsValue::as_string)? {
        members.insert(m);
    }
    Some(Group {
        group_id: string(v, "groupID")?,
        name: string(v, "name")?,
        owner: string(v, "owner")?,
        admins,
        members,
        created_ms: uint(v, "createdMs")?,
        // The authority's own bookkeeping; never sent to clients.
        recent_req_ids: Vec::new(),
    })
}

fn revoked(v: &JsValue) -> Option<Revoked> {
    Some(Revoked {
        msg_id: string(v, "msgID")?,
        sender: string(v, "sender")?,
        receiver: opt_string(v, "receiver")?,
        group_id: opt_string(v, "groupID")?,
        revoke: revoke_info(&field(v, "revoke"))?,
    })
}

fn envelope(e: &JsValue) -> Option<Envelope> {
    let ev = field(e, "event");
    let event = match string(&ev, "kind")?.as_str() {
        "newMessage" => Event::NewMessage {
            message: message(&field(&ev, "message"))?,
        },
        "messageRevoked" => Event::MessageRevoked(revoked(&ev)?),
        "groupChanged" => Event::GroupChanged {
            group: group(&field(&ev, "group"))?,
        },
        _ => return None,
    };
    Some(Envelope {
        seq: uint(e, "seq")?,
        event: Arc::new(event),
    })
}

fn limits(l: &JsValue) -> Option<ClientLimits> {
    let admin = field(l, "adminRevokeTimeLimitMs");
    Some(ClientLimits {
        revoke_time_limit_ms: uint(l, "revokeTimeLimitMs")?,
        admin_revoke_time_limit_ms: if absent(&admin) {
            None
        } else {
            Some(as_uint(&admin)?)
        },
        max_text_bytes: uint(l, "maxTextBytes")? as usize,
        max_reason_bytes: uint(l, "maxReasonBytes")? as usize,
    })
}

/// A server frame from its parsed JSON; `None` for anything malformed.
pub fn decode_value(v: &JsValue) -> Option<ServerFrame> {
    Some(match string(v, "type")?.as_str() {
        "loginOk" => ServerFrame::LoginOk {
            v: u32::try_from(uint(v, "v")?).ok()?,
            user_id: string(v, "userID")?,
            server_time: uint(v, "serverTime")?,
            head_seq: uint(v, "headSeq")?,
            limits: limits(&field(v, "limits"))?,
        },
        "sendOk" => ServerFrame::SendOk {
            req_id: string(v, "reqId")?,
            server_time: uint(v, "serverTime")?,
            seq: uint(v, "seq")?,
            message: message(&field(v, "message"))?,
        },
        "revokeOk" => ServerFrame::RevokeOk {
            req_id: string(v, "reqId")?,
            server_time: uint(v, "serverTime")?,
            seq: uint(v, "seq")?,
            revoked: revoked(&field(v, "revoked"))?,
        },
        "messages" => ServerFrame::Messages {
            req_id: string(v, "reqId")?,
            server_time: uint(v, "serverTime")?,
            messages: list(v, "messages", message)?,
            is_completed: boolean(v, "isCompleted")?,
        },
        "syncOk" => ServerFrame::SyncOk {
            req_id: string(v, "reqId")?,
            server_time: uint(v, "serverTime")?,
            events: list(v, "events", envelope)?,
            has_more: boolean(v, "hasMore")?,
        },
        "groupOk" => ServerFrame::GroupOk {
            req_id: string(v, "reqId")?,
            server_time: uint(v, "serverTime")?,
            seq: uint(v, "seq")?,
            group: group(&field(v, "group"))?,
        },
        "groups" => ServerFrame::Groups {
            req_id: string(v, "reqId")?,
            server_time: uint(v, "serverTime")?,
            groups: list(v, "groups", group)?,
        },
        "event" => ServerFrame::Event(envelope(v)?),
        "error" => ServerFrame::Error {
            req_id: opt_string(v, "reqId")?,
            code: Code::from_num(u32::try_from(uint(v, "code")?).ok()?)?,
            desc: string(v, "desc")?,
        },
        "pong" => ServerFrame::Pong {
            t: field(v, "t").as_f64()?,
            server_time: uint(v, "serverTime")?,
        },
        _ => return None,
    })
}
