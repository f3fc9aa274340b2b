//! Frames as JSON text without serde: the browser module's decoder and encoder.
//!
//! The server reads and writes frames with serde (`protocol::json`). The browser module reads
//! them with [`decode_server`] and writes its requests with [`encode_client`] instead, because
//! they are both small and fast there:
//! - small: no serde `Deserialize` machinery (internally tagged enums go through serde's
//!   buffering `Content` type), no float parsing tables, no error formatting;
//! - fast: one pass over the text already in wasm memory, strings borrowed from it unless they
//!   hold escapes, and no call out to JavaScript (`JSON.parse` followed by a property lookup
//!   per field cost a string conversion per field name). The most frequent frame, a revoke
//!   event, is first read in the server's own field order straight into the frame (no JSON
//!   tree, no lookups by key); any other layout gives way to the general reader.
//!
//! It accepts every frame that serde's decoder accepts and decodes it to an equal value (tests
//! below against `protocol::json`, and the differential fuzz target `server_decode`), ignores
//! fields it does not know (as serde does) and refuses anything malformed with `None`, never a
//! panic. Two documented differences, both about values the server never writes: numbers given
//! for `f64` fields (only `pong.t`, the client's own clock echoed back) are exact for integers
//! and decimals of up to 19 significant digits and within a few units in the last place beyond;
//! and a group's `recentReqIds` (the authority's bookkeeping) is not read.
//!
//! This file maps frames to and from JSON values; the JSON reader and writer themselves are in
//! `json.rs`.

use std::sync::Arc;

use crate::json::{parse, Expect, Fields, Json, Writer};
use crate::model::{Elem, Group, ImageInfo, Message, ReplyTo, RevokeInfo, RevokerRole};
use crate::protocol::{
    ClientFrame, ClientLimits, Conversation, Envelope, Event, Revoked, ServerFrame,
};
use crate::Code;

// --- reading server frames ------------------------------------------------------------------
//
// Each value is read through `Fields`: every field is read (an absent or mistyped one reads as
// empty and marks the value failed), then `done` keeps or refuses the whole. A required nested
// object is read first, before the fields around it, so that its failure returns with nothing
// to drop.

fn role(s: &str) -> Option<RevokerRole> {
    match s {
        "sender" => Some(RevokerRole::Sender),
        "owner" => Some(RevokerRole::Owner),
        "admin" => Some(RevokerRole::Admin),
        _ => None,
    }
}

fn revoke_info(v: &Json) -> Option<RevokeInfo> {
    let mut f = Fields::of(v);
    let role = role(f.get("role").and_then(Json::str)?)?;
    let r = RevokeInfo {
        user_id: f.string("userID"),
        role,
        reason: f.string("reason"),
        time_ms: f.uint("timeMs"),
        req_id: f.string("reqId"),
    };
    f.done(r)
}

fn image(v: &Json) -> Option<ImageInfo> {
    let mut f = Fields::of(v);
    let i = ImageInfo {
        kind: f.small("type"),
        uuid: f.string("uuid"),
        url: f.string("url"),
        width: f.small("width"),
        height: f.small("height"),
        size: f.uint("size"),
    };
    f.done(i)
}

#[inline(never)] // from `message` and `decode_elem`: one copy
fn elem(v: &Json) -> Option<Elem> {
    let mut f = Fields::of(v);
    let e = match v.get("elemType")?.str()? {
        "text" => Elem::Text {
            text: f.string("text"),
        },
        "custom" => Elem::Custom {
            data: f.string("data"),
            desc: f.string("desc"),
            extension: f.string("extension"),
        },
        "image" => Elem::Image {
            image_list: f.list("imageList", image),
        },
        "file" => Elem::File {
            uuid: f.string("uuid"),
            file_name: f.string("fileName"),
            file_size: f.uint("fileSize"),
            url: f.string("url"),
        },
        _ => return None,
    };
    f.done(e)
}

fn message(v: &Json) -> Option<Message> {
    let mut f = Fields::of(v);
    let m = Message {
        msg_id: f.string("msgID"),
        sender: f.string("sender"),
        receiver: f.opt_string("receiver"),
        group_id: f.opt_string("groupID"),
        time_ms: f.uint("timeMs"),
        seq: f.uint("seq"),
        elem: f.opt_object("elem", elem),
        revoke: f.opt_object("revoke", revoke_info),
        reply_to: f.opt_object("replyTo", reply_to),
        cloud_custom_data: f.opt_string("cloudCustomData"),
    };
    f.done(m)
}

fn reply_to(v: &Json) -> Option<ReplyTo> {
    let mut f = Fields::of(v);
    let r = ReplyTo {
        msg_id: f.string("msgID"),
        sender: f.string("sender"),
        abstract_text: f.string("abstract"),
        is_revoked: f.boolean("isRevoked"),
    };
    f.done(r)
}

fn conversation(v: &Json) -> Option<Conversation> {
    let mut f = Fields::of(v);
    let c = Conversation {
        conversation_id: f.string("conversationID"),
        kind: f.small("type"),
        user_id: f.opt_string("userID"),
        group_id: f.opt_string("groupID"),
        show_name: f.string("showName"),
        unread_count: f.uint("unreadCount"),
        last_message: f.opt_object("lastMessage", message),
        order_key: f.uint("orderKey"),
        read_seq: f.uint("readSeq"),
    };
    f.done(c)
}

fn group(v: &Json) -> Option<Group> {
    let mut f = Fields::of(v);
    let g = Group {
        group_id: f.string("groupID"),
        name: f.string("name"),
        owner: f.string("owner"),
        admins: f.string_set("admins"),
        members: f.string_set("members"),
        created_ms: f.uint("createdMs"),
        // The authority's own bookkeeping; never sent to clients.
        recent_req_ids: Vec::new(),
    };
    f.done(g)
}

fn revoked(v: &Json) -> Option<Revoked> {
    let revoke = revoke_info(v.get("revoke")?)?;
    let mut f = Fields::of(v);
    let r = Revoked {
        msg_id: f.string("msgID"),
        sender: f.string("sender"),
        receiver: f.opt_string("receiver"),
        group_id: f.opt_string("groupID"),
        // Absent in frames of servers from before it (serde's default).
        seq: match v.get("seq") {
            None => 0,
            Some(x) => f.check(x.uint()),
        },
        revoke,
    };
    f.done(r)
}

fn envelope(e: &Json) -> Option<Envelope> {
    let ev = e.get("event")?;
    let event = match ev.get("kind")?.str()? {
        "newMessage" => Event::NewMessage {
            message: message(ev.get("message")?)?,
        },
        "messageRevoked" => Event::MessageRevoked(revoked(ev)?),
        "groupChanged" => Event::GroupChanged {
            group: group(ev.get("group")?)?,
        },
        "conversationRead" => {
            let mut f = Fields::of(ev);
            let r = Event::ConversationRead {
                conversation_id: f.string("conversationID"),
                read_seq: f.uint("readSeq"),
            };
            f.done(r)?
        }
        _ => return None,
    };
    let seq = e.get("seq")?.uint()?;
    Some(Envelope {
        seq,
        event: Arc::new(event),
    })
}

fn limits(l: &Json) -> Option<ClientLimits> {
    let mut f = Fields::of(l);
    let c = ClientLimits {
        revoke_time_limit_ms: f.uint("revokeTimeLimitMs"),
        admin_revoke_time_limit_ms: match l.get("adminRevokeTimeLimitMs") {
            None | Some(Json::Null) => None,
            Some(x) => Some(f.check(x.uint())),
        },
        max_text_bytes: f.small("maxTextBytes"),
        max_reason_bytes: f.small("maxReasonBytes"),
    };
    f.done(c)
}

fn frame(v: &Json) -> Option<ServerFrame> {
    let mut f = Fields::of(v);
    let frame = match v.get("type")?.str()? {
        "loginOk" => {
            let limits = limits(v.get("limits")?)?;
            ServerFrame::LoginOk {
                v: f.small("v"),
                user_id: f.string("userID"),
                server_time: f.uint("serverTime"),
                head_seq: f.uint("headSeq"),
                limits,
            }
        }
        "sendOk" => {
            let message = message(v.get("message")?)?;
            ServerFrame::SendOk {
                req_id: f.string("reqId"),
                server_time: f.uint("serverTime"),
                seq: f.uint("seq"),
                message,
            }
        }
        "revokeOk" => {
            let revoked = revoked(v.get("revoked")?)?;
            ServerFrame::RevokeOk {
                req_id: f.string("reqId"),
                server_time: f.uint("serverTime"),
                seq: f.uint("seq"),
                revoked,
            }
        }
        "messages" => ServerFrame::Messages {
            req_id: f.string("reqId"),
            server_time: f.uint("serverTime"),
            messages: f.list("messages", message),
            is_completed: f.boolean("isCompleted"),
        },
        "syncOk" => ServerFrame::SyncOk {
            req_id: f.string("reqId"),
            server_time: f.uint("serverTime"),
            events: f.list("events", envelope),
            has_more: f.boolean("hasMore"),
        },
        "groupOk" => {
            let group = group(v.get("group")?)?;
            ServerFrame::GroupOk {
                req_id: f.string("reqId"),
                server_time: f.uint("serverTime"),
                seq: f.uint("seq"),
                group,
            }
        }
        "groups" => ServerFrame::Groups {
            req_id: f.string("reqId"),
            server_time: f.uint("serverTime"),
            groups: f.list("groups", group),
        },
        "conversations" => ServerFrame::Conversations {
            req_id: f.string("reqId"),
            server_time: f.uint("serverTime"),
            head_seq: f.uint("headSeq"),
            next_seq: f.uint("nextSeq"),
            is_finished: f.boolean("isFinished"),
            conversation_list: f.list("conversationList", conversation),
            total_unread_count: f.uint("totalUnreadCount"),
        },
        "readOk" => ServerFrame::ReadOk {
            req_id: f.string("reqId"),
            server_time: f.uint("serverTime"),
            seq: f.uint("seq"),
            conversation_id: f.string("conversationID"),
            read_seq: f.uint("readSeq"),
        },
        "event" => ServerFrame::Event(envelope(v)?),
        "error" => {
            let code = Code::from_num(u32::try_from(v.get("code")?.uint()?).ok()?)?;
            ServerFrame::Error {
                req_id: f.opt_string("reqId"),
                code,
                desc: f.string("desc"),
            }
        }
        "pong" => ServerFrame::Pong {
            t: f.check(v.get("t").and_then(Json::float)),
            server_time: f.uint("serverTime"),
        },
        _ => return None,
    };
    f.done(frame)
}

/// An element from its JSON text (as in frames: `{"elemType":"image","imageList":[…]}`);
/// `None` for anything malformed.
pub fn decode_elem(text: &str) -> Option<Elem> {
    elem(&parse(text)?)
}

/// The fast path of the most frequent frame, a revoke event (one per party per revoke), laid
/// out as the server's serde writes it: the expected fields read in order straight into the
/// frame, strings copied once, no JSON tree and no lookups by key. `None` on the first
/// difference (spaces, another field order, unknown fields, another frame): the general
/// decoder then reads the text from the start.
fn revoke_event(text: &str) -> Option<ServerFrame> {
    let mut x = Expect::new(text);
    let seq = x.uint(r#"{"type":"event","seq":"#);
    let msg_id = x.str(r#","event":{"kind":"messageRevoked","msgID":"#);
    let sender = x.str(r#","sender":"#);
    let receiver = x.opt_str(r#","receiver":"#);
    let group_id = x.opt_str(r#","groupID":"#);
    // Absent in frames of servers from before it.
    let msg_seq = if x.lit(r#","seq":"#) { x.uint("") } else { 0 };
    let user_id = x.str(r#","revoke":{"userID":"#);
    let role = role(&x.str(r#","role":"#));
    let r = Revoked {
        msg_id,
        sender,
        receiver,
        group_id,
        seq: msg_seq,
        revoke: RevokeInfo {
            user_id,
            role: role.unwrap_or(RevokerRole::Sender),
            reason: x.str(r#","reason":"#),
            time_ms: x.uint(r#","timeMs":"#),
            req_id: x.str(r#","reqId":"#),
        },
    };
    (x.done("}}}") && role.is_some()).then(|| {
        ServerFrame::Event(Envelope {
            seq,
            event: Arc::new(Event::MessageRevoked(r)),
        })
    })
}

/// A server frame from its JSON text; `None` for anything malformed or unknown.
pub fn decode_server(text: &str) -> Option<ServerFrame> {
    revoke_event(text).or_else(|| frame(&parse(text)?))
}

// --- writing client frames ------------------------------------------------------------------

/// An element as serde writes it (fields in declaration order).
fn write_elem(w: &mut Writer, elem: &Elem) {
    w.0.push_str("{\"elemType\":");
    match elem {
        Elem::Text { text } => {
            w.string("text");
            w.str("text", text);
        }
        Elem::Custom {
            data,
            desc,
            extension,
        } => {
            w.string("custom");
            w.str("data", data);
            w.str("desc", desc);
            w.str("extension", extension);
        }
        Elem::Image { image_list } => {
            w.string("image");
            w.key("imageList");
            w.0.push('[');
            for (n, i) in image_list.iter().enumerate() {
                if n > 0 {
                    w.0.push(',');
                }
                w.0.push_str("{\"type\":");
                w.digits(u64::from(i.kind));
                w.str("uuid", &i.uuid);
                w.str("url", &i.url);
                w.num("width", u64::from(i.width));
                w.num("height", u64::from(i.height));
                w.num("size", i.size);
                w.0.push('}');
            }
            w.0.push(']');
        }
        Elem::File {
            uuid,
            file_name,
            file_size,
            url,
        } => {
            w.string("file");
            w.str("uuid", uuid);
            w.str("fileName", file_name);
            w.num("fileSize", *file_size);
            w.str("url", url);
        }
    }
    w.0.push('}');
}

/// An element as JSON text, in the wire's shape (what [`decode_server`] reads back).
pub fn elem_json(elem: &Elem) -> String {
    let mut w = Writer(String::new());
    write_elem(&mut w, elem);
    w.0
}

/// The custom, image or file element of a message view as JSON text (the wire shape, with its
/// `elemType` tag), for the browser module to hand to JavaScript in one string; `None` for text
/// and for a message without content.
pub fn rich_elem_json(v: &crate::view::MessageView) -> Option<String> {
    let elem = if let Some(c) = &v.custom_elem {
        Elem::Custom {
            data: c.data.clone(),
            desc: c.desc.clone(),
            extension: c.extension.clone(),
        }
    } else if let Some(i) = &v.image_elem {
        Elem::Image {
            image_list: i.image_list.clone(),
        }
    } else if let Some(f) = &v.file_elem {
        Elem::File {
            uuid: f.uuid.clone(),
            file_name: f.file_name.clone(),
            file_size: f.file_size,
            url: f.url.clone(),
        }
    } else {
        return None;
    };
    let mut w = Writer(String::new());
    write_elem(&mut w, &elem);
    Some(w.0)
}

/// A client frame as JSON text, as `protocol::json::encode_client` writes it (byte for byte,
/// but for `ping.t`: an integer number of milliseconds, as the module sends, is written `N.0`
/// as serde writes it; a fraction is kept to the microsecond; a non-finite value is 0).
pub fn encode_client(f: &ClientFrame) -> String {
    match f {
        ClientFrame::Login {
            v,
            user_id,
            user_sig,
        } => {
            let mut w = Writer::new("login");
            w.num("v", u64::from(*v));
            w.str("userID", user_id);
            w.str("userSig", user_sig);
            w.finish()
        }
        ClientFrame::Send {
            req_id,
            msg_id,
            receiver,
            group_id,
            elem,
            reply_to,
            cloud_custom_data,
        } => {
            let mut w = Writer::new("send");
            w.str("reqId", req_id);
            w.str("msgID", msg_id);
            w.opt_str("receiver", receiver);
            w.opt_str("groupID", group_id);
            w.key("elem");
            write_elem(&mut w, elem);
            if let Some(r) = reply_to {
                w.str("replyTo", r);
            }
            if let Some(d) = cloud_custom_data {
                w.str("cloudCustomData", d);
            }
            w.finish()
        }
        ClientFrame::Revoke {
            req_id,
            msg_id,
            reason,
            group_id,
        } => {
            let mut w = Writer::new("revoke");
            w.str("reqId", req_id);
            w.str("msgID", msg_id);
            w.str("reason", reason);
            w.opt_str("groupID", group_id);
            w.finish()
        }
        ClientFrame::History {
            req_id,
            user_id,
            group_id,
            before_seq,
            count,
        } => {
            let mut w = Writer::new("history");
            w.str("reqId", req_id);
            w.opt_str("userID", user_id);
            w.opt_str("groupID", group_id);
            match before_seq {
                Some(n) => w.num("beforeSeq", *n),
                None => {
                    w.key("beforeSeq");
                    w.0.push_str("null");
                }
            }
            w.num("count", u64::from(*count));
            w.finish()
        }
        ClientFrame::FindMessages { req_id, msg_ids } => {
            let mut w = Writer::new("findMessages");
            w.str("reqId", req_id);
            w.list("msgIDList", msg_ids);
            w.finish()
        }
        ClientFrame::Sync { req_id, after_seq } => {
            let mut w = Writer::new("sync");
            w.str("reqId", req_id);
            w.num("afterSeq", *after_seq);
            w.finish()
        }
        ClientFrame::CreateGroup {
            req_id,
            group_id,
            name,
            admins,
            members,
        } => {
            let mut w = Writer::new("createGroup");
            w.str("reqId", req_id);
            w.str("groupID", group_id);
            w.str("name", name);
            w.list("admins", admins);
            w.list("members", members);
            w.finish()
        }
        ClientFrame::AddGroupMembers {
            req_id,
            group_id,
            members,
        } => {
            let mut w = Writer::new("addGroupMembers");
            w.str("reqId", req_id);
            w.str("groupID", group_id);
            w.list("members", members);
            w.finish()
        }
        ClientFrame::RemoveGroupMembers {
            req_id,
            group_id,
            members,
        } => {
            let mut w = Writer::new("removeGroupMembers");
            w.str("reqId", req_id);
            w.str("groupID", group_id);
            w.list("members", members);
            w.finish()
        }
        ClientFrame::SetGroupMemberRole {
            req_id,
            group_id,
            user_id,
            role,
        } => {
            let mut w = Writer::new("setGroupMemberRole");
            w.str("reqId", req_id);
            w.str("groupID", group_id);
            w.str("userID", user_id);
            w.num("role", u64::from(u16::from(*role)));
            w.finish()
        }
        ClientFrame::GetConversationList {
            req_id,
            next_seq,
            count,
        } => {
            let mut w = Writer::new("getConversationList");
            w.str("reqId", req_id);
            w.num("nextSeq", *next_seq);
            w.num("count", u64::from(*count));
            w.finish()
        }
        ClientFrame::GetConversation {
            req_id,
            conversation_id,
        } => {
            let mut w = Writer::new("getConversation");
            w.str("reqId", req_id);
            w.str("conversationID", conversation_id);
            w.finish()
        }
        ClientFrame::CleanConversationUnreadMessageCount {
            req_id,
            conversation_id,
            clean_sequence,
        } => {
            let mut w = Writer::new("cleanConversationUnreadMessageCount");
            w.str("reqId", req_id);
            w.str("conversationID", conversation_id);
            w.num("cleanSequence", *clean_sequence);
            w.finish()
        }
        ClientFrame::GetJoinedGroups { req_id } => {
            let mut w = Writer::new("getJoinedGroups");
            w.str("reqId", req_id);
            w.finish()
        }
        ClientFrame::Ping { t } => {
            let mut w = Writer::new("ping");
            w.key("t");
            let t = if t.is_finite() { *t } else { 0.0 };
            if t < 0.0 {
                w.0.push('-');
            }
            let a = t.abs().min(9_007_199_254_740_991.0);
            let mut whole = a.trunc() as u64;
            let mut micros = ((a - a.trunc()) * 1e6).round() as u64;
            if micros >= 1_000_000 {
                whole += 1;
                micros = 0;
            }
            w.digits(whole);
            if micros == 0 {
                w.0.push_str(".0");
            } else {
                w.0.push('.');
                let mut buf = [b'0'; 6];
                let mut m = micros;
                for d in buf.iter_mut().rev() {
                    *d = b'0' + (m % 10) as u8;
                    m /= 10;
                }
                let keep = buf.iter().rposition(|&d| d != b'0').map_or(1, |i| i + 1);
                for &d in &buf[..keep] {
                    w.0.push(char::from(d));
                }
            }
            w.finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_and_order_do_not_matter() {
        let text = r#"{"extra":[1,{"x":true}],"serverTime":5,"t":12.0,"type":"pong"}"#;
        assert_eq!(
            decode_server(text),
            Some(ServerFrame::Pong {
                t: 12.0,
                server_time: 5
            })
        );
    }
}
