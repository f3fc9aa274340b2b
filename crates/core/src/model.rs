//! The message model: users, conversations, groups, messages and their revoke state.
//!
//! Field names follow Tencent's V2TIM (`msgID`, `userID`, `groupID`, `elemType`, `textElem`)
//! so that JavaScript code written for Tencent's SDK reads these objects unchanged.
//!
//! Length: ~710 lines, the model's types with their serde shapes and the checks of their
//! fields; one type per concern would only add imports.

use crate::error::{Code, ImError};
use serde::{Deserialize, Serialize};

pub use crate::sorted::StringSet;

/// Longest userID, in bytes (Tencent: 32).
pub const MAX_USER_ID: usize = 32;
/// Longest groupID, in bytes (Tencent: 48).
pub const MAX_GROUP_ID: usize = 48;
/// Longest msgID or request id, in bytes.
pub const MAX_MSG_ID: usize = 64;
/// Longest revoke reason, in bytes.
pub const MAX_REASON: usize = 256;
/// Longest group name, in bytes (Tencent: 30 for names; we allow a little more).
pub const MAX_GROUP_NAME: usize = 100;
/// Longest `cloudCustomData`, in bytes (Tencent allows 12 KB for the whole message; im-revoke
/// gives the app's own data 8 KB of it).
pub const MAX_CLOUD_CUSTOM_DATA: usize = 8 * 1024;
/// How many characters (Unicode scalar values) of the original's text a reply quotes as its
/// `replyTo.abstract`.
pub const REPLY_ABSTRACT_CHARS: usize = 100;
/// Longest conversationID, in bytes (`group_` and the longest groupID).
pub const MAX_CONVERSATION_ID: usize = 6 + MAX_GROUP_ID;

fn printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// Checks a userID: 1..=32 bytes of printable ASCII without spaces.
pub fn check_user_id(id: &str) -> Result<(), ImError> {
    if id.is_empty() || id.len() > MAX_USER_ID || !printable_ascii(id) {
        return Err(ImError::with_desc(
            Code::InvalidUserId,
            "userID must be 1-32 bytes of printable ASCII without spaces",
        ));
    }
    Ok(())
}

/// Checks a groupID: 1..=48 bytes of printable ASCII without spaces.
pub fn check_group_id(id: &str) -> Result<(), ImError> {
    if id.is_empty() || id.len() > MAX_GROUP_ID || !printable_ascii(id) {
        return Err(ImError::with_desc(
            Code::GroupInvalidGroupId,
            "groupID must be 1-48 bytes of printable ASCII without spaces",
        ));
    }
    Ok(())
}

/// Checks a msgID or request id: 1..=64 bytes of `[A-Za-z0-9_.:-]`.
pub fn check_msg_id(id: &str) -> Result<(), ImError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_MSG_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(ImError::with_desc(
            Code::InvalidParameters,
            "msgID and request ids must be 1-64 characters of A-Z a-z 0-9 _ - . :",
        ))
    }
}

/// The `n`th msgID of a client keyed by 16 random bytes from its host: 128 bits of a keyed
/// hash (SipHash-2-4, twice, over the counter) in 22 characters of URL-safe base64. Without the
/// key, seeing one msgID tells nothing about the next, so no one can take a msgID before its
/// sender uses it.
pub fn keyed_msg_id(key: &[u8; 16], n: u64) -> String {
    #[allow(deprecated)] // std's SipHasher is SipHash-2-4, a keyed PRF; no crate needed
    fn half(key: &[u8; 16], n: u64, which: u8) -> u64 {
        use std::hash::Hasher;
        // Fixed-size halves: no fallible conversion (whose `expect` formats its error).
        let (k0, k1) = (key.first_chunk::<8>(), key.last_chunk::<8>());
        let mut h = std::hash::SipHasher::new_with_keys(
            u64::from_le_bytes(*k0.unwrap_or(&[0; 8])),
            u64::from_le_bytes(*k1.unwrap_or(&[0; 8])),
        );
        h.write_u64(n);
        h.write_u8(which);
        h.finish()
    }
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let v = (u128::from(half(key, n, 0)) << 64) | u128::from(half(key, n, 1));
    // 128 bits = 21 six-bit digits and 2 bits left.
    (0..22)
        .map(|i| char::from(B64[((v >> (i * 6)) & 63) as usize]))
        .collect()
}

/// A conversation: one-to-one between two users, or a group.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConvId {
    /// A one-to-one conversation; the two userIDs in ascending order.
    C2c(String, String),
    /// A group conversation.
    Group(String),
}

impl ConvId {
    /// The one-to-one conversation between `a` and `b` (order does not matter).
    pub fn c2c(a: &str, b: &str) -> ConvId {
        if a <= b {
            ConvId::C2c(a.to_string(), b.to_string())
        } else {
            ConvId::C2c(b.to_string(), a.to_string())
        }
    }

    /// A stable text key for storage. UserIDs and groupIDs are printable ASCII, so the
    /// separator `\u{1f}` cannot occur inside them.
    pub fn key(&self) -> String {
        match self {
            ConvId::C2c(a, b) => format!("c\u{1f}{a}\u{1f}{b}"),
            ConvId::Group(g) => format!("g\u{1f}{g}"),
        }
    }

    /// Whether this is a group conversation.
    pub fn is_group(&self) -> bool {
        matches!(self, ConvId::Group(_))
    }

    /// The conversation back from its [`ConvId::key`] (`None` for anything else).
    pub fn from_key(key: &str) -> Option<ConvId> {
        let mut parts = key.split('\u{1f}');
        let c = match (parts.next()?, parts.next()?, parts.next()) {
            ("g", g, None) => ConvId::Group(g.to_string()),
            ("c", a, Some(b)) => ConvId::C2c(a.to_string(), b.to_string()),
            _ => return None,
        };
        parts.next().is_none().then_some(c)
    }

    /// [`ConvId::id_for`] of `ConvId::c2c(a, b)`, without building the `ConvId`.
    pub fn c2c_id_for(a: &str, b: &str, viewer: &str) -> String {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let other = if lo == viewer { hi } else { lo };
        let mut s = String::with_capacity(4 + other.len());
        s.push_str("c2c_");
        s.push_str(other);
        s
    }

    /// [`ConvId::id_for`] of `ConvId::Group(g)`.
    pub fn group_id(g: &str) -> String {
        let mut s = String::with_capacity(6 + g.len());
        s.push_str("group_");
        s.push_str(g);
        s
    }

    /// The conversationID `viewer` knows this conversation by (Tencent's spelling):
    /// `c2c_<the other party>` or `group_<groupID>`.
    pub fn id_for(&self, viewer: &str) -> String {
        match self {
            ConvId::C2c(a, b) => ConvId::c2c_id_for(a, b, viewer),
            ConvId::Group(g) => ConvId::group_id(g),
        }
    }

    /// The conversation `viewer` means by `conversation_id` (`c2c_<userID>` or
    /// `group_<groupID>`); anything else is 6017.
    pub fn parse(viewer: &str, conversation_id: &str) -> Result<ConvId, ImError> {
        let bad = || {
            ImError::with_desc(
                Code::InvalidParameters,
                "conversationID must be c2c_<userID> or group_<groupID>",
            )
        };
        if let Some(peer) = conversation_id.strip_prefix("c2c_") {
            check_user_id(peer).map_err(|_| bad())?;
            Ok(ConvId::c2c(viewer, peer))
        } else if let Some(g) = conversation_id.strip_prefix("group_") {
            check_group_id(g).map_err(|_| bad())?;
            Ok(ConvId::Group(g.to_string()))
        } else {
            Err(bad())
        }
    }
}

/// Message status numbers, as Tencent's `V2TIMMessageStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum MessageStatus {
    /// 1: being sent.
    Sending,
    /// 2: sent (accepted by the server).
    Sent,
    /// 3: failed to send.
    Failed,
    /// 4: deleted.
    Deleted,
    /// 5: imported.
    Imported,
    /// 6: revoked.
    Revoked,
}

impl From<MessageStatus> for u8 {
    fn from(s: MessageStatus) -> u8 {
        match s {
            MessageStatus::Sending => 1,
            MessageStatus::Sent => 2,
            MessageStatus::Failed => 3,
            MessageStatus::Deleted => 4,
            MessageStatus::Imported => 5,
            MessageStatus::Revoked => 6,
        }
    }
}

impl TryFrom<u8> for MessageStatus {
    type Error = String;
    fn try_from(n: u8) -> Result<Self, String> {
        Ok(match n {
            1 => MessageStatus::Sending,
            2 => MessageStatus::Sent,
            3 => MessageStatus::Failed,
            4 => MessageStatus::Deleted,
            5 => MessageStatus::Imported,
            6 => MessageStatus::Revoked,
            _ => return Err("unknown message status".into()),
        })
    }
}

/// Element type numbers, as Tencent's `V2TIMElemType`.
pub const ELEM_TYPE_TEXT: u8 = 1;
/// `V2TIM_ELEM_TYPE_CUSTOM`.
pub const ELEM_TYPE_CUSTOM: u8 = 2;
/// `V2TIM_ELEM_TYPE_IMAGE`.
pub const ELEM_TYPE_IMAGE: u8 = 3;
/// `V2TIM_ELEM_TYPE_FILE`.
pub const ELEM_TYPE_FILE: u8 = 6;

/// One picture of an image message: the original (`type` 1) or the thumbnail (`type` 2), as
/// Tencent's `V2TIMImage`. Rules for its fields: `attachment.rs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// 1 original, 2 thumbnail (Tencent's `V2TIMImageType`: 1 origin, 2 thumb, 4 large).
    #[serde(rename = "type")]
    pub kind: u8,
    /// The attachment key of its bytes (the server's upload ID; the embedded hub's own key).
    pub uuid: String,
    /// Where to load it: a signed download URL made per viewer (server), an object URL
    /// (embedded hub). Empty in what a client sends to the server.
    pub url: String,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Bytes.
    pub size: u64,
}

/// A message's content: V2TIM's text, custom, image and file elements.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "elemType", rename_all = "camelCase")]
pub enum Elem {
    /// A text message (`elemType` 1 on the wire is spelled `"text"`).
    Text {
        /// The text.
        text: String,
    },
    /// `elemType` 2, `"custom"`: the app's own payload (`customElem` in JavaScript).
    Custom {
        /// The payload.
        data: String,
        /// A description (Tencent: shown in push notifications).
        desc: String,
        /// Anything else the app wants to carry.
        extension: String,
    },
    /// `elemType` 3, `"image"`: an uploaded picture and its thumbnail.
    Image {
        /// The original first, then the thumbnail if there is one.
        #[serde(rename = "imageList")]
        image_list: Vec<ImageInfo>,
    },
    /// `elemType` 6, `"file"`: an uploaded file.
    File {
        /// The attachment key (as [`ImageInfo::uuid`]).
        uuid: String,
        /// The file's name as the sender gave it (display only; never a path on any disk).
        #[serde(rename = "fileName")]
        file_name: String,
        /// Bytes.
        #[serde(rename = "fileSize")]
        file_size: u64,
        /// As [`ImageInfo::url`].
        url: String,
    },
}

impl Elem {
    /// Tencent's element type number.
    pub fn elem_type(&self) -> u8 {
        match self {
            Elem::Text { .. } => ELEM_TYPE_TEXT,
            Elem::Custom { .. } => ELEM_TYPE_CUSTOM,
            Elem::Image { .. } => ELEM_TYPE_IMAGE,
            Elem::File { .. } => ELEM_TYPE_FILE,
        }
    }

    /// Size of the content in bytes, for the body-size limit (of an attachment: its
    /// description in the message, not its bytes, which the attachment rules bound).
    pub fn size(&self) -> usize {
        match self {
            Elem::Text { text } => text.len(),
            Elem::Custom {
                data,
                desc,
                extension,
            } => data.len() + desc.len() + extension.len(),
            Elem::Image { image_list } => image_list
                .iter()
                .map(|i| i.uuid.len() + i.url.len() + 24)
                .sum(),
            Elem::File {
                uuid,
                file_name,
                url,
                ..
            } => uuid.len() + file_name.len() + url.len() + 8,
        }
    }

    /// The attachment keys the element refers to (none for text and custom).
    pub fn attachment_keys(&self) -> Vec<&str> {
        match self {
            Elem::Image { image_list } => image_list.iter().map(|i| i.uuid.as_str()).collect(),
            Elem::File { uuid, .. } => vec![uuid.as_str()],
            _ => Vec::new(),
        }
    }

    /// Sets the size (and an image's dimensions) of each attachment to what the store read
    /// from its bytes (`facts`, in the order of [`Elem::attachment_keys`]): the sender's figures
    /// are only what it said.
    pub fn set_upload_facts(&mut self, facts: &[crate::store::UploadFacts]) {
        match self {
            Elem::Image { image_list } => {
                for (i, f) in image_list.iter_mut().zip(facts) {
                    i.size = f.size.unwrap_or(i.size);
                    i.width = f.width.unwrap_or(i.width);
                    i.height = f.height.unwrap_or(i.height);
                }
            }
            Elem::File { file_size, .. } => {
                if let Some(n) = facts.first().and_then(|f| f.size) {
                    *file_size = n;
                }
            }
            _ => {}
        }
    }

    /// Calls `f(key, url)` for every attachment of the element, its URL mutably: a host fills
    /// in the URLs each viewer may load. (A visitor, not a list: nothing to allocate.)
    pub fn each_url_mut(&mut self, mut f: impl FnMut(&str, &mut String)) {
        match self {
            Elem::Image { image_list } => {
                for i in image_list {
                    f(&i.uuid, &mut i.url);
                }
            }
            Elem::File { uuid, url, .. } => f(uuid, url),
            _ => {}
        }
    }
}

/// In what capacity someone revoked a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RevokerRole {
    /// The message's own sender.
    Sender,
    /// The group's owner.
    Owner,
    /// A group admin.
    Admin,
}

/// Who revoked a message, when and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokeInfo {
    /// The revoker's userID.
    #[serde(rename = "userID")]
    pub user_id: String,
    /// The capacity in which they revoked.
    pub role: RevokerRole,
    /// The reason they gave (may be empty).
    pub reason: String,
    /// Server time of the revoke, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The request id that revoked it (for idempotent retries).
    pub req_id: String,
}

/// What a reply quotes of the message it answers (Tencent's `cloudCustomData.messageReply`,
/// as a field of its own). The authority fills it from the original when the reply is sent, and
/// again from the original's current state whenever it hands the reply out: once the original
/// is revoked, `abstract` is empty and `isRevoked` true, everywhere.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplyTo {
    /// The original message.
    #[serde(rename = "msgID")]
    pub msg_id: String,
    /// Its sender.
    pub sender: String,
    /// The first [`REPLY_ABSTRACT_CHARS`] characters of its text ("" once revoked).
    #[serde(rename = "abstract")]
    pub abstract_text: String,
    /// Whether the original has been revoked.
    pub is_revoked: bool,
}

impl ReplyTo {
    /// The quote of `original` as it stands now.
    pub fn of(original: &Message) -> ReplyTo {
        let abstract_text = match (&original.revoke, &original.elem) {
            (None, Some(Elem::Text { text })) => text.chars().take(REPLY_ABSTRACT_CHARS).collect(),
            _ => String::new(),
        };
        ReplyTo {
            msg_id: original.msg_id.clone(),
            sender: original.sender.clone(),
            abstract_text,
            is_revoked: original.revoke.is_some(),
        }
    }

    /// The link alone, as the authority stores it: the original's text is never copied into
    /// the reply's row (so a revoke leaves none of it behind).
    pub fn link(&self) -> ReplyTo {
        ReplyTo {
            msg_id: self.msg_id.clone(),
            sender: self.sender.clone(),
            abstract_text: String::new(),
            is_revoked: false,
        }
    }

    /// The quote once its original has been revoked.
    pub fn revoked(&mut self) {
        self.abstract_text.clear();
        self.is_revoked = true;
    }
}

/// A message as the authority stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Client-assigned, stable for the message's life.
    #[serde(rename = "msgID")]
    pub msg_id: String,
    /// The sender's userID.
    pub sender: String,
    /// One-to-one: the receiver's userID. `None` for group messages.
    pub receiver: Option<String>,
    /// Group messages: the groupID.
    #[serde(rename = "groupID")]
    pub group_id: Option<String>,
    /// Server time when the message was accepted, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Position in its conversation, from 1, without gaps.
    pub seq: u64,
    /// The content. Cleared (`None`) in copies shown to others once the message is revoked.
    pub elem: Option<Elem>,
    /// Set once the message is revoked.
    pub revoke: Option<RevokeInfo>,
    /// The message this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ReplyTo>,
    /// The app's own data (Tencent's `cloudCustomData`), stored and returned untouched, at most
    /// [`MAX_CLOUD_CUSTOM_DATA`] bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_custom_data: Option<String>,
}

impl Message {
    /// The conversation the message belongs to.
    pub fn conv(&self) -> ConvId {
        match (&self.group_id, &self.receiver) {
            (Some(g), _) => ConvId::Group(g.clone()),
            (None, Some(r)) => ConvId::c2c(&self.sender, r),
            (None, None) => ConvId::c2c(&self.sender, &self.sender),
        }
    }

    /// Whether the message has been revoked.
    pub fn is_revoked(&self) -> bool {
        self.revoke.is_some()
    }

    /// The copy of this message that `viewer` may see: once revoked, only the sender keeps the
    /// content (to re-edit it); everyone else gets the notice without the text.
    pub fn view_for(&self, viewer: &str) -> Message {
        let mut m = self.clone();
        if m.revoke.is_some() && viewer != m.sender {
            m.elem = None;
        }
        m
    }
}

/// A group member's role, with Tencent's `V2TIMGroupMemberRole` numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "u16", try_from = "u16")]
pub enum GroupRole {
    /// 200: an ordinary member.
    Member,
    /// 300: an admin.
    Admin,
    /// 400: the owner.
    Owner,
}

impl From<GroupRole> for u16 {
    fn from(r: GroupRole) -> u16 {
        match r {
            GroupRole::Member => 200,
            GroupRole::Admin => 300,
            GroupRole::Owner => 400,
        }
    }
}

impl TryFrom<u16> for GroupRole {
    type Error = String;
    fn try_from(n: u16) -> Result<Self, String> {
        match n {
            200 => Ok(GroupRole::Member),
            300 => Ok(GroupRole::Admin),
            400 => Ok(GroupRole::Owner),
            _ => Err("unknown group role".into()),
        }
    }
}

/// A group: one owner, some admins, members (the owner and admins are members too).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// The groupID.
    #[serde(rename = "groupID")]
    pub group_id: String,
    /// Display name.
    pub name: String,
    /// The owner's userID.
    pub owner: String,
    /// Admins' userIDs.
    pub admins: StringSet,
    /// Every member's userID, including the owner and the admins.
    pub members: StringSet,
    /// Server time of creation, milliseconds.
    pub created_ms: u64,
    /// Request ids of the latest changes (kept by the authority so a retried request is
    /// answered like the first instead of being applied twice; never sent to clients).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_req_ids: Vec<String>,
}

/// How many recent change request ids a group remembers for idempotent retries.
pub const GROUP_RECENT_REQS: usize = 32;

impl Group {
    /// The role of `user`, or `None` when they are not a member.
    pub fn role_of(&self, user: &str) -> Option<GroupRole> {
        if self.owner == user {
            Some(GroupRole::Owner)
        } else if self.admins.contains(user) {
            Some(GroupRole::Admin)
        } else if self.members.contains(user) {
            Some(GroupRole::Member)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(check_user_id("alice").is_ok());
        assert!(check_user_id("").is_err());
        assert!(check_user_id("a b").is_err());
        assert!(check_user_id(&"x".repeat(33)).is_err());
        assert!(check_user_id("é").is_err());
        assert_eq!(
            check_group_id("").unwrap_err().code,
            Code::GroupInvalidGroupId
        );
        assert!(check_msg_id("abc-123_x.y:z").is_ok());
        assert!(check_msg_id("a/b").is_err());
        assert!(check_msg_id(&"a".repeat(65)).is_err());
    }

    #[test]
    fn conversation_ids() {
        let c = ConvId::c2c("bob", "alice");
        assert_eq!(c.id_for("alice"), "c2c_bob");
        assert_eq!(c.id_for("bob"), "c2c_alice");
        assert_eq!(ConvId::parse("alice", "c2c_bob").unwrap(), c);
        assert_eq!(ConvId::from_key(&c.key()), Some(c));
        let g = ConvId::Group("g1".into());
        assert_eq!(g.id_for("x"), "group_g1");
        assert_eq!(ConvId::parse("x", "group_g1").unwrap(), g);
        assert_eq!(ConvId::from_key(&g.key()), Some(g));
        assert_eq!(ConvId::from_key("x"), None);
        for bad in [
            "",
            "c2c_",
            "group_",
            "bob",
            "c2c_a b",
            "C2C_bob",
            "group_\u{e9}",
        ] {
            assert_eq!(
                ConvId::parse("alice", bad).unwrap_err().code,
                Code::InvalidParameters,
                "{bad}"
            );
        }
    }

    #[test]
    fn reply_quotes_a_bounded_abstract_until_revoked() {
        let mut m = Message {
            msg_id: "m1".into(),
            sender: "alice".into(),
            receiver: Some("bob".into()),
            group_id: None,
            time_ms: 1,
            seq: 1,
            elem: Some(Elem::Text {
                text: "\u{e9}".repeat(150),
            }),
            revoke: None,
            reply_to: None,
            cloud_custom_data: None,
        };
        let q = ReplyTo::of(&m);
        assert_eq!(q.abstract_text.chars().count(), REPLY_ABSTRACT_CHARS);
        assert!(!q.is_revoked);
        assert_eq!(q.link().abstract_text, "");
        m.revoke = Some(RevokeInfo {
            user_id: "alice".into(),
            role: RevokerRole::Sender,
            reason: String::new(),
            time_ms: 2,
            req_id: "r".into(),
        });
        let q = ReplyTo::of(&m);
        assert_eq!((q.abstract_text.as_str(), q.is_revoked), ("", true));
    }

    #[test]
    fn conv_is_symmetric() {
        assert_eq!(ConvId::c2c("bob", "alice"), ConvId::c2c("alice", "bob"));
        assert_ne!(ConvId::c2c("a", "b").key(), ConvId::Group("a".into()).key());
    }

    #[test]
    fn revoked_view_hides_text_from_others() {
        let m = Message {
            msg_id: "m1".into(),
            sender: "alice".into(),
            receiver: Some("bob".into()),
            group_id: None,
            time_ms: 1,
            seq: 1,
            elem: Some(Elem::Text { text: "hi".into() }),
            revoke: Some(RevokeInfo {
                user_id: "alice".into(),
                role: RevokerRole::Sender,
                reason: String::new(),
                time_ms: 2,
                req_id: "r".into(),
            }),
            reply_to: None,
            cloud_custom_data: None,
        };
        assert!(m.view_for("bob").elem.is_none());
        assert!(m.view_for("alice").elem.is_some());
    }

    #[test]
    fn status_and_role_numbers() {
        assert_eq!(serde_json::to_string(&MessageStatus::Revoked).unwrap(), "6");
        assert_eq!(serde_json::to_string(&GroupRole::Owner).unwrap(), "400");
        assert!(serde_json::from_str::<GroupRole>("250").is_err());
    }
}
