//! The wire protocol: every frame a client sends and a server answers, as serde types.
//!
//! Frames are JSON objects with a `type` field (WebSocket text frames). Field names are
//! camelCase, IDs are spelled as Tencent spells them (`msgID`, `userID`, `groupID`). The
//! protocol is versioned by `v` in the `login` frame; `PROTOCOL.md` documents every frame.

use crate::error::{Code, ImError};
use crate::model::{Elem, Group, GroupRole, Message, RevokeInfo};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// Most conversations one `getConversationList` page may ask for.
pub const MAX_CONVERSATION_PAGE: u32 = 100;

/// A frame from a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum ClientFrame {
    /// First frame on a connection.
    #[serde(rename_all = "camelCase")]
    Login {
        /// Protocol version the client speaks.
        v: u32,
        /// Who is logging in.
        #[serde(rename = "userID")]
        user_id: String,
        /// Tencent TLS-sig-api-v2 UserSig (ignored by the embedded hub).
        #[serde(default)]
        user_sig: String,
    },
    /// Send a message. Idempotent by `msgID`.
    #[serde(rename_all = "camelCase")]
    Send {
        /// Request id, echoed in the answer.
        req_id: String,
        /// Client-assigned msgID.
        #[serde(rename = "msgID")]
        msg_id: String,
        /// One-to-one receiver.
        #[serde(default)]
        receiver: Option<String>,
        /// Group to send to.
        #[serde(default, rename = "groupID")]
        group_id: Option<String>,
        /// The content.
        elem: Elem,
        /// The msgID this message replies to (the sender must be able to read it).
        #[serde(default, rename = "replyTo", skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
        /// The app's own data, stored and returned untouched.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cloud_custom_data: Option<String>,
    },
    /// Revoke a message. Idempotent by `reqId`.
    #[serde(rename_all = "camelCase")]
    Revoke {
        /// Request id, echoed; also the idempotency key.
        req_id: String,
        /// The message to revoke.
        #[serde(rename = "msgID")]
        msg_id: String,
        /// Why (optional, shown to the others).
        #[serde(default)]
        reason: String,
        /// The message's group, if the client knows it is a group message (only used to pick
        /// the "not found" code).
        #[serde(default, rename = "groupID")]
        group_id: Option<String>,
    },
    /// A page of a conversation's history, newest first.
    #[serde(rename_all = "camelCase")]
    History {
        /// Request id.
        req_id: String,
        /// One-to-one: the peer.
        #[serde(default, rename = "userID")]
        user_id: Option<String>,
        /// Group conversation.
        #[serde(default, rename = "groupID")]
        group_id: Option<String>,
        /// Only messages with a smaller conversation seq (paging); none = from the newest.
        #[serde(default)]
        before_seq: Option<u64>,
        /// How many (capped by the server's page size).
        count: u32,
    },
    /// Look messages up by msgID (only those the requester may see are returned).
    #[serde(rename_all = "camelCase")]
    FindMessages {
        /// Request id.
        req_id: String,
        /// msgIDs to look up.
        #[serde(rename = "msgIDList")]
        msg_ids: Vec<String>,
    },
    /// Catch up on the requester's event log after `afterSeq`.
    #[serde(rename_all = "camelCase")]
    Sync {
        /// Request id.
        req_id: String,
        /// Last event seq the client has applied.
        after_seq: u64,
    },
    /// Create a group; the requester becomes its owner.
    #[serde(rename_all = "camelCase")]
    CreateGroup {
        /// Request id.
        req_id: String,
        /// The new group's ID.
        #[serde(rename = "groupID")]
        group_id: String,
        /// Display name.
        #[serde(default)]
        name: String,
        /// Initial admins (they become members too).
        #[serde(default)]
        admins: Vec<String>,
        /// Initial members.
        #[serde(default)]
        members: Vec<String>,
    },
    /// Add members (owner or admin).
    #[serde(rename_all = "camelCase")]
    AddGroupMembers {
        /// Request id.
        req_id: String,
        /// The group.
        #[serde(rename = "groupID")]
        group_id: String,
        /// Users to add.
        members: Vec<String>,
    },
    /// Remove members (owner: anyone else; admin: ordinary members; anyone: themselves).
    #[serde(rename_all = "camelCase")]
    RemoveGroupMembers {
        /// Request id.
        req_id: String,
        /// The group.
        #[serde(rename = "groupID")]
        group_id: String,
        /// Users to remove.
        members: Vec<String>,
    },
    /// Make a member an admin or an ordinary member again (owner only).
    #[serde(rename_all = "camelCase")]
    SetGroupMemberRole {
        /// Request id.
        req_id: String,
        /// The group.
        #[serde(rename = "groupID")]
        group_id: String,
        /// The member.
        #[serde(rename = "userID")]
        user_id: String,
        /// 200 (member) or 300 (admin).
        role: GroupRole,
    },
    /// The groups the requester is a member of (a new device learns its groups and roles).
    #[serde(rename_all = "camelCase")]
    GetJoinedGroups {
        /// Request id.
        req_id: String,
    },
    /// A page of the requester's conversations, newest activity first.
    #[serde(rename_all = "camelCase")]
    GetConversationList {
        /// Request id.
        req_id: String,
        /// Where the page starts: 0, then the `nextSeq` of the previous page.
        next_seq: u64,
        /// How many (1 to [`MAX_CONVERSATION_PAGE`]).
        count: u32,
    },
    /// One of the requester's conversations.
    #[serde(rename_all = "camelCase")]
    GetConversation {
        /// Request id.
        req_id: String,
        /// `c2c_<userID>` or `group_<groupID>`.
        #[serde(rename = "conversationID")]
        conversation_id: String,
    },
    /// Marks a conversation read (up to its newest message, or up to `cleanSequence`).
    #[serde(rename_all = "camelCase")]
    CleanConversationUnreadMessageCount {
        /// Request id.
        req_id: String,
        /// `c2c_<userID>` or `group_<groupID>`.
        #[serde(rename = "conversationID")]
        conversation_id: String,
        /// Read up to this conversation seq; 0 (the default) means every message.
        #[serde(default)]
        clean_sequence: u64,
    },
    /// Keep-alive and clock sample; answered by `pong`.
    #[serde(rename_all = "camelCase")]
    Ping {
        /// Client's own time, echoed back (any number).
        t: f64,
    },
}

impl ClientFrame {
    /// The request id, for frames that have one.
    pub fn req_id(&self) -> Option<&str> {
        match self {
            ClientFrame::Login { .. } | ClientFrame::Ping { .. } => None,
            ClientFrame::Send { req_id, .. }
            | ClientFrame::Revoke { req_id, .. }
            | ClientFrame::History { req_id, .. }
            | ClientFrame::FindMessages { req_id, .. }
            | ClientFrame::Sync { req_id, .. }
            | ClientFrame::CreateGroup { req_id, .. }
            | ClientFrame::AddGroupMembers { req_id, .. }
            | ClientFrame::RemoveGroupMembers { req_id, .. }
            | ClientFrame::SetGroupMemberRole { req_id, .. }
            | ClientFrame::GetJoinedGroups { req_id }
            | ClientFrame::GetConversationList { req_id, .. }
            | ClientFrame::GetConversation { req_id, .. }
            | ClientFrame::CleanConversationUnreadMessageCount { req_id, .. } => Some(req_id),
        }
    }
}

/// Limits the client should know about, sent at login.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientLimits {
    /// The sender's revoke window, ms.
    pub revoke_time_limit_ms: u64,
    /// The owner/admin revoke window, ms (`null` = none).
    pub admin_revoke_time_limit_ms: Option<u64>,
    /// Longest text, bytes.
    pub max_text_bytes: usize,
    /// Longest revoke reason, bytes.
    pub max_reason_bytes: usize,
}

impl From<&crate::policy::Config> for ClientLimits {
    fn from(c: &crate::policy::Config) -> Self {
        ClientLimits {
            revoke_time_limit_ms: c.revoke_time_limit_ms,
            admin_revoke_time_limit_ms: c.admin_revoke_time_limit_ms,
            max_text_bytes: c.max_text_bytes,
            max_reason_bytes: c.max_reason_bytes,
        }
    }
}

impl ClientLimits {
    /// The policy configuration these limits describe (for client-side checks).
    pub fn to_config(&self) -> crate::policy::Config {
        crate::policy::Config {
            revoke_time_limit_ms: self.revoke_time_limit_ms,
            admin_revoke_time_limit_ms: self.admin_revoke_time_limit_ms,
            max_text_bytes: self.max_text_bytes,
            max_reason_bytes: self.max_reason_bytes,
            ..crate::policy::Config::default()
        }
    }
}

/// A revoke, as told to the parties of the conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revoked {
    /// The revoked message.
    #[serde(rename = "msgID")]
    pub msg_id: String,
    /// Its sender.
    pub sender: String,
    /// One-to-one: its receiver.
    pub receiver: Option<String>,
    /// Group: its group.
    #[serde(rename = "groupID")]
    pub group_id: Option<String>,
    /// Its seq in its conversation (so that a client can tell whether it was unread).
    #[serde(default)]
    pub seq: u64,
    /// Who, when, why.
    pub revoke: RevokeInfo,
}

impl Revoked {
    /// The revoke event for a revoked message.
    pub fn of(m: &Message) -> Option<Revoked> {
        Some(Revoked {
            msg_id: m.msg_id.clone(),
            sender: m.sender.clone(),
            receiver: m.receiver.clone(),
            group_id: m.group_id.clone(),
            seq: m.seq,
            revoke: m.revoke.clone()?,
        })
    }
}

/// Conversation types, as Tencent's `V2TIMConversationType`.
pub const CONVERSATION_C2C: u8 = 1;
/// A group conversation.
pub const CONVERSATION_GROUP: u8 = 2;

/// A conversation as one user sees it (V2TIM's names), as the authority derives it: the read
/// position is stored, everything else is computed from the conversation's messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    /// `c2c_<userID>` or `group_<groupID>`.
    #[serde(rename = "conversationID")]
    pub conversation_id: String,
    /// 1 one-to-one, 2 group.
    #[serde(rename = "type")]
    pub kind: u8,
    /// One-to-one: the other party.
    #[serde(rename = "userID")]
    pub user_id: Option<String>,
    /// Group: the groupID.
    #[serde(rename = "groupID")]
    pub group_id: Option<String>,
    /// The peer's userID, or the group's name (its ID when it has none).
    pub show_name: String,
    /// Messages from others after the read position, not revoked.
    pub unread_count: u64,
    /// The newest message this user may see (a revoked one as its tombstone).
    pub last_message: Option<Message>,
    /// Newest activity first: the last message's server time, ms (or when the conversation
    /// began for this user).
    pub order_key: u64,
    /// The conversation seq this user has read up to.
    pub read_seq: u64,
}

/// Something that happened, recorded in each concerned user's event log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Event {
    /// A new message in one of the user's conversations (including their own, from another
    /// device).
    NewMessage {
        /// The message.
        message: Message,
    },
    /// A message was revoked.
    MessageRevoked(Revoked),
    /// A group the user is (or was) in changed: created, members or roles.
    GroupChanged {
        /// The group as it is now.
        group: Group,
    },
    /// The user read a conversation (on one of their devices).
    #[serde(rename_all = "camelCase")]
    ConversationRead {
        /// The conversation.
        #[serde(rename = "conversationID")]
        conversation_id: String,
        /// Read up to this conversation seq.
        read_seq: u64,
    },
}

/// An event with its position in the user's event log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Position in the user's log, from 1, without gaps.
    pub seq: u64,
    /// The event.
    pub event: Arc<Event>,
}

/// A frame from the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerFrame {
    /// Login accepted.
    #[serde(rename_all = "camelCase")]
    LoginOk {
        /// Protocol version.
        v: u32,
        /// Who is logged in.
        #[serde(rename = "userID")]
        user_id: String,
        /// Server clock, ms.
        server_time: u64,
        /// Latest seq of this user's event log.
        head_seq: u64,
        /// Limits in force.
        limits: ClientLimits,
    },
    /// A message was accepted (durably).
    #[serde(rename_all = "camelCase")]
    SendOk {
        /// The request id.
        req_id: String,
        /// Server clock, ms.
        server_time: u64,
        /// The sender's event seq for this message.
        seq: u64,
        /// The message as stored (server time, conversation seq).
        message: Message,
    },
    /// A revoke was accepted (durably).
    #[serde(rename_all = "camelCase")]
    RevokeOk {
        /// The request id.
        req_id: String,
        /// Server clock, ms.
        server_time: u64,
        /// The revoker's event seq for this revoke.
        seq: u64,
        /// What was revoked.
        revoked: Revoked,
    },
    /// Messages (history or find), newest first for history.
    #[serde(rename_all = "camelCase")]
    Messages {
        /// The request id.
        req_id: String,
        /// Server clock, ms.
        server_time: u64,
        /// The messages, as the requester may see them.
        messages: Vec<Message>,
        /// History: no older messages remain.
        is_completed: bool,
    },
    /// Events after a given seq.
    #[serde(rename_all = "camelCase")]
    SyncOk {
        /// The request id.
        req_id: String,
        /// Server clock, ms.
        server_time: u64,
        /// The events, in seq order.
        events: Vec<Envelope>,
        /// More events remain after the last one here.
        has_more: bool,
    },
    /// A group operation succeeded.
    #[serde(rename_all = "camelCase")]
    GroupOk {
        /// The request id.
        req_id: String,
        /// Server clock, ms.
        server_time: u64,
        /// The requester's event seq for the change.
        seq: u64,
        /// The group as it is now.
        group: Group,
    },
    /// The groups the requester is a member of.
    #[serde(rename_all = "camelCase")]
    Groups {
        /// The request id.
        req_id: String,
        /// Server clock, ms.
        server_time: u64,
        /// The groups.
        groups: Vec<Group>,
    },
    /// Conversations (`getConversationList`, `getConversation`).
    #[serde(rename_all = "camelCase")]
    Conversations {
        /// The request id.
        req_id: String,
        /// Server clock, ms.
        server_time: u64,
        /// The requester's event seq the answer reflects: every event up to it is included.
        head_seq: u64,
        /// Where the next page starts.
        next_seq: u64,
        /// No conversations remain after this page.
        is_finished: bool,
        /// The conversations, newest activity first.
        conversation_list: Vec<Conversation>,
        /// Unread messages over all the requester's conversations.
        total_unread_count: u64,
    },
    /// A conversation was marked read.
    #[serde(rename_all = "camelCase")]
    ReadOk {
        /// The request id.
        req_id: String,
        /// Server clock, ms.
        server_time: u64,
        /// The requester's event seq for the read (0 when nothing changed).
        seq: u64,
        /// The conversation.
        #[serde(rename = "conversationID")]
        conversation_id: String,
        /// Read up to this conversation seq.
        read_seq: u64,
    },
    /// A live event from the user's log.
    Event(Envelope),
    /// A request failed (or, without `reqId`, the connection has a problem).
    #[serde(rename_all = "camelCase")]
    Error {
        /// The failed request, when there is one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req_id: Option<String>,
        /// The numeric code.
        code: Code,
        /// What went wrong.
        desc: String,
    },
    /// Answer to `ping`.
    #[serde(rename_all = "camelCase")]
    Pong {
        /// The client's `t`, echoed.
        t: f64,
        /// Server clock, ms.
        server_time: u64,
    },
}

impl ServerFrame {
    /// The error frame for a failed request.
    pub fn error(req_id: Option<&str>, e: ImError) -> ServerFrame {
        ServerFrame::Error {
            req_id: req_id.map(str::to_string),
            code: e.code,
            desc: e.desc,
        }
    }
}

/// JSON encoding and decoding, for hosts that speak text frames.
#[cfg(feature = "json")]
pub mod json {
    use super::*;

    /// Decodes a client frame; anything malformed becomes a coded error (never a panic).
    pub fn decode_client(text: &str) -> Result<ClientFrame, ImError> {
        serde_json::from_str(text).map_err(|e| {
            let mut desc = format!("malformed frame: {e}");
            // serde's message may quote the client's own text (an unknown field or variant),
            // so byte 200 can fall inside a multi-byte character: cut at a char boundary.
            let mut end = desc.len().min(200);
            while !desc.is_char_boundary(end) {
                end -= 1;
            }
            desc.truncate(end);
            ImError::with_desc(Code::PkgParseFailed, desc)
        })
    }

    /// Encodes a server frame.
    pub fn encode_server(f: &ServerFrame) -> String {
        serde_json::to_string(f).expect("server frames always serialize")
    }

    /// Encodes a client frame (for Rust clients: tests, load generators).
    pub fn encode_client(f: &ClientFrame) -> String {
        serde_json::to_string(f).expect("client frames always serialize")
    }

    /// Decodes a server frame (for Rust clients: tests, load generators).
    pub fn decode_server(text: &str) -> Result<ServerFrame, ImError> {
        serde_json::from_str(text)
            .map_err(|e| ImError::with_desc(Code::PkgParseFailed, format!("malformed frame: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_read_as_documented() {
        let f: ClientFrame =
            serde_json::from_str(r#"{"type":"revoke","reqId":"r1","msgID":"m1","reason":"typo"}"#)
                .unwrap();
        assert_eq!(
            f,
            ClientFrame::Revoke {
                req_id: "r1".into(),
                msg_id: "m1".into(),
                reason: "typo".into(),
                group_id: None
            }
        );
        let f: ClientFrame = serde_json::from_str(
            r#"{"type":"send","reqId":"r2","msgID":"m2","receiver":"bob","elem":{"elemType":"text","text":"hi"}}"#,
        )
        .unwrap();
        assert_eq!(f.req_id(), Some("r2"));
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"nope"}"#).is_err());
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"ping","t":"x"}"#).is_err());
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"ping","t":1,"extra":1}"#).is_err());
    }

    #[test]
    fn server_frames_round_trip() {
        let f = ServerFrame::error(Some("r"), ImError::new(Code::C2cRevokeTimeLimit));
        let j = serde_json::to_string(&f).unwrap();
        assert_eq!(
            j,
            r#"{"type":"error","reqId":"r","code":20016,"desc":"revoke time limit exceeded"}"#
        );
        assert_eq!(serde_json::from_str::<ServerFrame>(&j).unwrap(), f);
        let ev = ServerFrame::Event(Envelope {
            seq: 7,
            event: Arc::new(Event::GroupChanged {
                group: Group {
                    group_id: "g".into(),
                    name: "n".into(),
                    owner: "o".into(),
                    admins: Default::default(),
                    members: ["o".to_string()].into_iter().collect(),
                    created_ms: 1,
                    recent_req_ids: vec![],
                },
            }),
        });
        let j = serde_json::to_string(&ev).unwrap();
        assert!(
            j.starts_with(r#"{"type":"event","seq":7,"event":{"kind":"groupChanged""#),
            "{j}"
        );
        assert_eq!(serde_json::from_str::<ServerFrame>(&j).unwrap(), ev);
    }
}
