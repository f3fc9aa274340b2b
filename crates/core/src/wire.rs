//! Frames as JSON text without serde: the browser module's decoder and encoder.
//!
//! The server reads and writes frames with serde (`protocol::json`). The browser module reads
//! them with [`decode_server`] and writes its requests with [`encode_client`] instead, because
//! they are both small and fast there:
//! - small: no serde `Deserialize` machinery (internally tagged enums go through serde's
//!   buffering `Content` type), no float parsing tables, no error formatting;
//! - fast: one pass over the text already in wasm memory, strings borrowed from it unless they
//!   hold escapes, and no call out to JavaScript (`JSON.parse` followed by a property lookup
//!   per field cost a string conversion per field name).
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

use crate::json::{
    boolean, list, opt_object, opt_string, parse, string, string_set, uint, Json, Writer,
};
use crate::model::{Elem, Group, ImageInfo, Message, ReplyTo, RevokeInfo, RevokerRole};
use crate::protocol::{
    ClientFrame, ClientLimits, Conversation, Envelope, Event, Revoked, ServerFrame,
};
use crate::Code;

// --- reading server frames ------------------------------------------------------------------

fn revoke_info(v: &Json) -> Option<RevokeInfo> {
    Some(RevokeInfo {
        user_id: string(v, "userID")?,
        role: match v.get("role")?.str()? {
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

fn image(v: &Json) -> Option<ImageInfo> {
    Some(ImageInfo {
        kind: u8::try_from(uint(v, "type")?).ok()?,
        uuid: string(v, "uuid")?,
        url: string(v, "url")?,
        width: u32::try_from(uint(v, "width")?).ok()?,
        height: u32::try_from(uint(v, "height")?).ok()?,
        size: uint(v, "size")?,
    })
}

#[inline(never)] // from `message` and `decode_elem`: one copy
fn elem(v: &Json) -> Option<Elem> {
    Some(match v.get("elemType")?.str()? {
        "text" => Elem::Text {
            text: string(v, "text")?,
        },
        "custom" => Elem::Custom {
            data: string(v, "data")?,
            desc: string(v, "desc")?,
            extension: string(v, "extension")?,
        },
        "image" => Elem::Image {
            image_list: list(v, "imageList", image)?,
        },
        "file" => Elem::File {
            uuid: string(v, "uuid")?,
            file_name: string(v, "fileName")?,
            file_size: uint(v, "fileSize")?,
            url: string(v, "url")?,
        },
        _ => return None,
    })
}

fn message(v: &Json) -> Option<Message> {
    Some(Message {
        msg_id: string(v, "msgID")?,
        sender: string(v, "sender")?,
        receiver: opt_string(v, "receiver")?,
        group_id: opt_string(v, "groupID")?,
        time_ms: uint(v, "timeMs")?,
        seq: uint(v, "seq")?,
        elem: opt_object(v, "elem", elem)?,
        revoke: opt_object(v, "revoke", revoke_info)?,
        reply_to: opt_object(v, "replyTo", reply_to)?,
        cloud_custom_data: opt_string(v, "cloudCustomData")?,
    })
}

fn reply_to(v: &Json) -> Option<ReplyTo> {
    Some(ReplyTo {
        msg_id: string(v, "msgID")?,
        sender: string(v, "sender")?,
        abstract_text: string(v, "abstract")?,
        is_revoked: boolean(v, "isRevoked")?,
    })
}

fn conversation(v: &Json) -> Option<Conversation> {
    Some(Conversation {
        conversation_id: string(v, "conversationID")?,
        kind: u8::try_from(uint(v, "type")?).ok()?,
        user_id: opt_string(v, "userID")?,
        group_id: opt_string(v, "groupID")?,
        show_name: string(v, "showName")?,
        unread_count: uint(v, "unreadCount")?,
        last_message: opt_object(v, "lastMessage", message)?,
        order_key: uint(v, "orderKey")?,
        read_seq: uint(v, "readSeq")?,
    })
}

fn group(v: &Json) -> Option<Group> {
    Some(Group {
        group_id: string(v, "groupID")?,
        name: string(v, "name")?,
        owner: string(v, "owner")?,
        admins: string_set(v, "admins")?,
        members: string_set(v, "members")?,
        created_ms: uint(v, "createdMs")?,
        // The authority's own bookkeeping; never sent to clients.
        recent_req_ids: Vec::new(),
    })
}

fn revoked(v: &Json) -> Option<Revoked> {
    Some(Revoked {
        msg_id: string(v, "msgID")?,
        sender: string(v, "sender")?,
        receiver: opt_string(v, "receiver")?,
        group_id: opt_string(v, "groupID")?,
        // Absent in frames of servers from before it (serde's default).
        seq: match v.get("seq") {
            None => 0,
            Some(x) => x.uint()?,
        },
        revoke: revoke_info(v.get("revoke")?)?,
    })
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
        "conversationRead" => Event::ConversationRead {
            conversation_id: string(ev, "conversationID")?,
            read_seq: uint(ev, "readSeq")?,
        },
        _ => return None,
    };
    Some(Envelope {
        seq: uint(e, "seq")?,
        event: Arc::new(event),
    })
}

fn limits(l: &Json) -> Option<ClientLimits> {
    Some(ClientLimits {
        revoke_time_limit_ms: uint(l, "revokeTimeLimitMs")?,
        admin_revoke_time_limit_ms: match l.get("adminRevokeTimeLimitMs") {
            None | Some(Json::Null) => None,
            Some(x) => Some(x.uint()?),
        },
        max_text_bytes: usize::try_from(uint(l, "maxTextBytes")?).ok()?,
        max_reason_bytes: usize::try_from(uint(l, "maxReasonBytes")?).ok()?,
    })
}

fn frame(v: &Json) -> Option<ServerFrame> {
    Some(match v.get("type")?.str()? {
        "loginOk" => ServerFrame::LoginOk {
            v: u32::try_from(uint(v, "v")?).ok()?,
            user_id: string(v, "userID")?,
            server_time: uint(v, "serverTime")?,
            head_seq: uint(v, "headSeq")?,
            limits: limits(v.get("limits")?)?,
        },
        "sendOk" => ServerFrame::SendOk {
            req_id: string(v, "reqId")?,
            server_time: uint(v, "serverTime")?,
            seq: uint(v, "seq")?,
            message: message(v.get("message")?)?,
        },
        "revokeOk" => ServerFrame::RevokeOk {
            req_id: string(v, "reqId")?,
            server_time: uint(v, "serverTime")?,
            seq: uint(v, "seq")?,
            revoked: revoked(v.get("revoked")?)?,
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
            group: group(v.get("group")?)?,
        },
        "groups" => ServerFrame::Groups {
            req_id: string(v, "reqId")?,
            server_time: uint(v, "serverTime")?,
            groups: list(v, "groups", group)?,
        },
        "conversations" => ServerFrame::Conversations {
            req_id: string(v, "reqId")?,
            server_time: uint(v, "serverTime")?,
            head_seq: uint(v, "headSeq")?,
            next_seq: uint(v, "nextSeq")?,
            is_finished: boolean(v, "isFinished")?,
            conversation_list: list(v, "conversationList", conversation)?,
            total_unread_count: uint(v, "totalUnreadCount")?,
        },
        "readOk" => ServerFrame::ReadOk {
            req_id: string(v, "reqId")?,
            server_time: uint(v, "serverTime")?,
            seq: uint(v, "seq")?,
            conversation_id: string(v, "conversationID")?,
            read_seq: uint(v, "readSeq")?,
        },
        "event" => ServerFrame::Event(envelope(v)?),
        "error" => ServerFrame::Error {
            req_id: opt_string(v, "reqId")?,
            code: Code::from_num(u32::try_from(uint(v, "code")?).ok()?)?,
            desc: string(v, "desc")?,
        },
        "pong" => ServerFrame::Pong {
            t: v.get("t")?.float()?,
            server_time: uint(v, "serverTime")?,
        },
        _ => return None,
    })
}

/// An element from its JSON text (as in frames: `{"elemType":"image","imageList":[…]}`);
/// `None` for anything malformed.
pub fn decode_elem(text: &str) -> Option<Elem> {
    elem(&parse(text)?)
}

/// A server frame from its JSON text; `None` for anything malformed or unknown.
pub fn decode_server(text: &str) -> Option<ServerFrame> {
    frame(&parse(text)?)
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
