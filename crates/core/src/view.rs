//! The plain objects JavaScript sees, built from the model: a message ([`MessageView`], with
//! its [`TextElem`] and [`RevokerInfo`]), `canRevoke`'s answer ([`CanRevoke`]), a conversation
//! ([`ConversationView`], a page of them [`ConversationPage`]) and a local search's answer
//! ([`SearchResult`]).
//!
//! They carry Tencent's field names (serde renames) and decide nothing: the client state
//! machine (`client`) makes them, the browser module converts them to JavaScript objects.

use crate::model::{Elem, ImageInfo, Message, MessageStatus, ReplyTo, RevokeInfo, RevokerRole};
use serde::Serialize;

/// A message as JavaScript sees it (plain object; Tencent's field names).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    /// Stable ID.
    #[serde(rename = "msgID")]
    pub msg_id: String,
    /// Sender's userID.
    pub sender: String,
    /// One-to-one: the other party, seen from this user (Tencent's `userID`).
    #[serde(rename = "userID")]
    pub user_id: Option<String>,
    /// Group messages: the groupID.
    #[serde(rename = "groupID")]
    pub group_id: Option<String>,
    /// Server time, seconds (0 until the server accepted it).
    pub timestamp: u64,
    /// Server time, milliseconds.
    pub time_ms: u64,
    /// Position in the conversation (0 until sent).
    pub seq: u64,
    /// 1 sending, 2 sent, 3 failed, 4 deleted, 5 imported, 6 revoked.
    pub status: MessageStatus,
    /// Sent by this user.
    pub is_self: bool,
    /// 1 text, 2 custom, 3 image, 6 file (1 for a revoked message whose content is gone).
    pub elem_type: u8,
    /// The text, or `null` once revoked (except for its sender).
    pub text_elem: Option<TextElem>,
    /// A custom message's payload, or `null` (also once revoked, but for its sender).
    pub custom_elem: Option<Box<CustomElem>>,
    /// An image message's pictures, or `null` (also once revoked, but for its sender).
    pub image_elem: Option<ImageElem>,
    /// A file message's file, or `null` (also once revoked, but for its sender).
    pub file_elem: Option<Box<FileElem>>,
    /// Revoked?
    pub is_revoked: bool,
    /// Who revoked it.
    pub revoker_info: Option<RevokerInfo>,
    /// Why.
    pub revoke_reason: Option<String>,
    /// When it was revoked, server ms.
    pub revoke_time_ms: Option<u64>,
    /// The message this one replies to: `{ msgID, sender, abstract, isRevoked }` (abstract ""
    /// once the original is revoked).
    pub reply_to: Option<ReplyTo>,
    /// The app's own data, untouched.
    pub cloud_custom_data: Option<String>,
}

/// A conversation as JavaScript sees it (V2TIM's `V2TIMConversation` names).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationView {
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
    /// The peer's userID or the group's name.
    pub show_name: String,
    /// Messages from others not read yet (revoked ones do not count).
    pub unread_count: u64,
    /// The newest message (status 6 and no text once revoked, but for its sender).
    pub last_message: Option<MessageView>,
    /// Newest activity first.
    pub order_key: u64,
}

/// A page of conversations (`getConversationList`'s answer).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationPage {
    /// Where the next page starts.
    pub next_seq: u64,
    /// Whether this was the last page.
    pub is_finished: bool,
    /// The conversations, newest activity first.
    pub conversation_list: Vec<ConversationView>,
}

/// `searchLocalMessages`' answer (V2TIM's `V2TIMMessageSearchResult`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResult {
    /// How many messages matched.
    pub total_count: u64,
    /// The matches, by conversation (newest conversation first).
    pub message_search_result_items: Vec<SearchResultItem>,
}

/// The matches in one conversation.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResultItem {
    /// The conversation.
    #[serde(rename = "conversationID")]
    pub conversation_id: String,
    /// How many of its messages matched.
    pub message_count: u64,
    /// Those messages, newest first.
    pub message_list: Vec<MessageView>,
}

/// `textElem` of a message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TextElem {
    /// The text.
    pub text: String,
}

/// `customElem` of a custom message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CustomElem {
    /// The payload.
    pub data: String,
    /// Its description.
    pub desc: String,
    /// Anything else.
    pub extension: String,
}

/// `imageElem` of an image message.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageElem {
    /// The original (`type` 1), then the thumbnail (`type` 2) if any.
    pub image_list: Vec<ImageInfo>,
}

/// `fileElem` of a file message.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileElem {
    /// The attachment key.
    pub uuid: String,
    /// The name the sender gave it.
    pub file_name: String,
    /// Bytes.
    pub file_size: u64,
    /// Where to load it.
    pub url: String,
}

/// `revokerInfo`: who revoked, in what capacity.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokerInfo {
    /// The revoker's userID.
    #[serde(rename = "userID")]
    pub user_id: String,
    /// "sender", "owner" or "admin".
    pub role: RevokerRole,
}

impl From<&RevokeInfo> for RevokerInfo {
    fn from(r: &RevokeInfo) -> Self {
        RevokerInfo {
            user_id: r.user_id.clone(),
            role: r.role,
        }
    }
}

/// `canRevoke`'s answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CanRevoke {
    /// Whether a revoke would be accepted now (by the estimate of the server clock).
    pub allowed: bool,
    /// Milliseconds left (0 when not allowed; `null` when there is no limit).
    pub remaining_ms: Option<f64>,
    /// Why not, when not allowed.
    pub code: Option<u32>,
}

impl MessageView {
    /// The view of `m`, in status `status`, as user `me` sees it.
    pub(crate) fn of(m: &Message, status: MessageStatus, me: &str) -> MessageView {
        let is_self = m.sender == me;
        let user_id = match (&m.group_id, &m.receiver) {
            (Some(_), _) => None,
            (None, Some(r)) if is_self => Some(r.clone()),
            (None, _) if !is_self => Some(m.sender.clone()),
            _ => None,
        };
        MessageView {
            msg_id: m.msg_id.clone(),
            sender: m.sender.clone(),
            user_id,
            group_id: m.group_id.clone(),
            timestamp: m.time_ms / 1000,
            time_ms: m.time_ms,
            seq: m.seq,
            status,
            is_self,
            elem_type: m
                .elem
                .as_ref()
                .map_or(crate::model::ELEM_TYPE_TEXT, Elem::elem_type),
            text_elem: match &m.elem {
                Some(Elem::Text { text }) => Some(TextElem { text: text.clone() }),
                _ => None,
            },
            custom_elem: match &m.elem {
                Some(Elem::Custom {
                    data,
                    desc,
                    extension,
                }) => Some(Box::new(CustomElem {
                    data: data.clone(),
                    desc: desc.clone(),
                    extension: extension.clone(),
                })),
                _ => None,
            },
            image_elem: match &m.elem {
                Some(Elem::Image { image_list }) => Some(ImageElem {
                    image_list: image_list.clone(),
                }),
                _ => None,
            },
            file_elem: match &m.elem {
                Some(Elem::File {
                    uuid,
                    file_name,
                    file_size,
                    url,
                }) => Some(Box::new(FileElem {
                    uuid: uuid.clone(),
                    file_name: file_name.clone(),
                    file_size: *file_size,
                    url: url.clone(),
                })),
                _ => None,
            },
            is_revoked: m.revoke.is_some(),
            revoker_info: m.revoke.as_ref().map(RevokerInfo::from),
            revoke_reason: m.revoke.as_ref().map(|r| r.reason.clone()),
            revoke_time_ms: m.revoke.as_ref().map(|r| r.time_ms),
            reply_to: m.reply_to.clone(),
            cloud_custom_data: m.cloud_custom_data.clone(),
        }
    }
}
