//! The one table of error codes.
//!
//! Codes keep Tencent Cloud Chat's numbering wherever Tencent has a code for the case, so that
//! code written against `@tencentcloud/chat` keeps working (`err.code === 20016`). Cases Tencent
//! has no code for use the `3000xx` range, which Tencent does not use. `PROTOCOL.md` renders this
//! table; `cargo test` checks that the two agree.

use serde::{Deserialize, Serialize};

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $num:literal, $name:literal, $desc:literal; )*) => {
        /// Every error the SDK or the server can report, with its stable numeric code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(into = "u32", try_from = "u32")]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The numeric code (Tencent's where Tencent has one).
            pub const fn num(self) -> u32 {
                match self { $(Code::$variant => $num,)* }
            }

            /// Tencent's constant name, or ours for `3000xx` codes.
            pub const fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// A one-line English description.
            pub const fn desc(self) -> &'static str {
                match self { $(Code::$variant => $desc,)* }
            }

            /// The code with this number, if there is one. A scan of the table ([`Code::num`]
            /// is a lookup): a few instructions, where a `match` on the numbers was a search
            /// tree of half a kilobyte in the browser module; only error frames take it.
            pub fn from_num(n: u32) -> Option<Code> {
                Code::ALL.iter().copied().find(|c| c.num() == n)
            }
        }
    };
}

codes! {
    // --- client side (SDK) ---
    /// A request was made before login finished, or after logout.
    NotLoggedIn = 6014, "ERR_SDK_NOT_LOGGED_IN", "not logged in";
    /// The same operation is already running (e.g. sending a message that is being sent).
    InProgress = 6015, "ERR_IN_PROGESS", "the same operation is already in progress";
    /// An argument is missing or malformed.
    InvalidParameters = 6017, "ERR_INVALID_PARAMETERS", "invalid parameters";
    /// The client's estimate of the server clock says the revoke window is over.
    RevokeTimeLimitExceed = 6223, "ERR_REVOKE_TIME_LIMIT_EXCEED", "revoke time limit exceeded (checked on the client)";
    /// The text is longer than the configured maximum (checked on the client).
    MsgBodySizeLimit = 8001, "ERR_SDK_MSG_BODY_SIZE_LIMIT", "message body too large";
    /// The send was cancelled because the message was revoked before it left the client.
    SendCancelled = 8021, "ERR_SDK_SEND_MESSAGE_FAILED_WITH_CANCEL", "send cancelled: the message was revoked before it was sent";
    /// The connection is down and the request cannot be resent safely.
    NetDisconnect = 9508, "ERR_SDK_NET_DISCONNECT", "network disconnected";
    /// No answer from the server in time.
    NetWaitAckTimeout = 9520, "ERR_SDK_NET_WAIT_ACK_TIMEOUT", "request timed out waiting for the server";
    /// A frame is larger than the server accepts.
    NetPkgSizeLimit = 9522, "ERR_SDK_NET_PKG_SIZE_LIMIT", "frame too large";

    // --- server: messages ---
    /// The frame could not be parsed (bad JSON, unknown type, wrong field types, bad UTF-8).
    PkgParseFailed = 20001, "ERR_SVR_MSG_PKG_PARSE_FAILED", "malformed frame";
    /// A userID is empty, too long or has characters outside printable ASCII.
    InvalidUserId = 20003, "ERR_SVR_MSG_INVALID_ID", "invalid userID";
    /// Internal server error (storage failure); the request was not applied.
    InternalError = 20005, "ERR_SVR_MSG_INTERNAL_ERROR1", "internal server error";
    /// One-to-one revoke after the sender's window.
    C2cRevokeTimeLimit = 20016, "ERR_SVR_MSG_REVOKE_TIME_LIMIT", "revoke time limit exceeded";
    /// The message to revoke does not exist (one-to-one or unknown conversation).
    MsgNotFound = 20022, "ERR_SVR_MSG_NOT_FOUND", "message not found";
    /// The message was already revoked by an earlier request.
    AlreadyRevoked = 20023, "ERR_SVR_MSG_ALREADY_REVOKED", "message already revoked";
    /// Too many requests; slow down.
    FreqLimit = 60018, "ERR_SVR_COMM_REQ_FREQ_LIMIT", "too many requests";
    /// The message text is longer than the configured maximum.
    BodySizeLimit = 80002, "ERR_SVR_COMM_BODY_SIZE_LIMIT", "message body too large";

    // --- server: groups ---
    /// A group parameter is invalid (name, member list, roles).
    GroupInvalidParameters = 10004, "ERR_SVR_GROUP_INVALID_PARAMETERS", "invalid group parameters";
    /// Not allowed: not a member, a member revoking another's message, an admin revoking the
    /// owner's or another admin's message, a non-owner changing roles.
    GroupPermissionDeny = 10007, "ERR_SVR_GROUP_PERMISSION_DENY", "permission denied";
    /// The group does not exist.
    GroupNotFound = 10010, "ERR_SVR_GROUP_NOT_FOUND", "group not found";
    /// The user is already a member.
    GroupAlreadyMember = 10013, "ERR_SVR_GROUP_ALLREADY_MEMBER", "already a group member";
    /// The group would exceed its maximum member count.
    GroupFullMemberCount = 10014, "ERR_SVR_GROUP_FULL_MEMBER_COUNT", "group is full";
    /// The groupID is malformed.
    GroupInvalidGroupId = 10015, "ERR_SVR_GROUP_INVALID_GROUPID", "invalid groupID";
    /// The groupID is already taken.
    GroupIdInUse = 10021, "ERR_SVR_GROUP_GROUPID_IN_USED", "groupID already in use";
    /// The group message to revoke does not exist.
    GroupRevokeMsgNotFound = 10030, "ERR_SVR_GROUP_REVOKE_MSG_NOT_FOUND", "group message not found";
    /// Group revoke after the window that applies to the revoker.
    GroupRevokeTimeLimit = 10031, "ERR_SVR_GROUP_REVOKE_MSG_TIME_LIMIT", "revoke time limit exceeded";

    // --- server: UserSig ---
    /// The UserSig has expired.
    UserSigExpired = 70001, "ERR_SVR_ACCOUNT_USERSIG_EXPIRED", "UserSig expired";
    /// The UserSig is empty.
    UserSigEmpty = 70002, "ERR_SVR_ACCOUNT_USERSIG_EMPTY", "UserSig is empty";
    /// The UserSig cannot be decoded (truncated or garbage).
    UserSigCheckFailed = 70003, "ERR_SVR_ACCOUNT_USERSIG_CHECK_FAILED", "UserSig check failed";
    /// The UserSig's signature does not verify with this deployment's key.
    UserSigMismatchKey = 70009, "ERR_SVR_ACCOUNT_USERSIG_MISMATCH_PUBLICKEY", "UserSig signature does not verify";
    /// The UserSig was issued to another userID.
    UserSigMismatchId = 70013, "ERR_SVR_ACCOUNT_USERSIG_MISMATCH_ID", "UserSig was issued to another userID";
    /// The UserSig was issued for another SDKAppID.
    UserSigMismatchSdkAppId = 70014, "ERR_SVR_ACCOUNT_USERSIG_MISMATCH_SDKAPPID", "UserSig was issued for another SDKAppID";

    // --- im-revoke's own ---
    /// Only the sender may revoke a one-to-one message.
    RevokeNotSender = 300001, "IMR_ERR_REVOKE_NOT_SENDER", "only the sender may revoke this message";
    /// The sender already used this msgID for a message in another conversation (another
    /// sender's msgID is no conflict: msgIDs are unique per sender).
    MsgIdConflict = 300002, "IMR_ERR_MSG_ID_CONFLICT", "msgID already used by the sender in another conversation";
    /// The client speaks a protocol version the server does not.
    UnsupportedVersion = 300003, "IMR_ERR_UNSUPPORTED_VERSION", "unsupported protocol version";
    /// A second login on a connection that is already logged in.
    AlreadyLoggedIn = 300004, "IMR_ERR_ALREADY_LOGGED_IN", "this connection is already logged in";
    /// The server has reached its connection limit.
    TooManyConnections = 300005, "IMR_ERR_TOO_MANY_CONNECTIONS", "too many connections";
    /// The request id was already used by this user for a different request (a group change
    /// of another kind or with other parameters).
    RequestIdConflict = 300006, "IMR_ERR_REQUEST_ID_CONFLICT", "request id reused for a different request";
    /// The conversation does not exist for this user (never in it, or no such conversation).
    ConversationNotFound = 300007, "IMR_ERR_CONVERSATION_NOT_FOUND", "conversation not found";
    /// The message replied to does not exist or the sender may not read it (one answer for
    /// both, so that a reply cannot probe for messages).
    ReplyTargetNotFound = 300008, "IMR_ERR_REPLY_TARGET_NOT_FOUND", "the message replied to does not exist or cannot be read";
    /// An upload is larger than the configured maximum.
    AttachmentTooLarge = 300009, "IMR_ERR_ATTACHMENT_TOO_LARGE", "attachment too large";
    /// An upload's bytes are not of an allowed type, or not of the type declared.
    AttachmentTypeNotAllowed = 300010, "IMR_ERR_ATTACHMENT_TYPE", "attachment type not allowed or not what the bytes are";
    /// An image is wider, taller or has more pixels than accepted (a decoding bomb).
    AttachmentImageTooLarge = 300011, "IMR_ERR_IMAGE_TOO_LARGE", "image dimensions too large";
    /// A message refers to an attachment that is not the sender's own unsent upload.
    AttachmentNotOwned = 300012, "IMR_ERR_ATTACHMENT_NOT_OWNED", "attachment unknown, already used or uploaded by someone else";
    /// Too many uploads of one user at the same time.
    TooManyUploads = 300013, "IMR_ERR_TOO_MANY_UPLOADS", "too many uploads in parallel";
}

impl From<Code> for u32 {
    fn from(c: Code) -> u32 {
        c.num()
    }
}

impl TryFrom<u32> for Code {
    type Error = String;
    fn try_from(n: u32) -> Result<Self, String> {
        Code::from_num(n).ok_or_else(|| "unknown error code".to_string())
    }
}

impl Code {
    /// Whether this code means "the revoke window is over", whoever found out (client or
    /// server, one-to-one or group) — what UIs show as "too late to revoke".
    pub fn is_revoke_time_limit(self) -> bool {
        matches!(
            self,
            Code::RevokeTimeLimitExceed | Code::C2cRevokeTimeLimit | Code::GroupRevokeTimeLimit
        )
    }
}

/// An error with a code and a human-readable description.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{desc} (code {})", code.num())]
pub struct ImError {
    /// The stable numeric code.
    pub code: Code,
    /// What went wrong, in English.
    pub desc: String,
}

impl ImError {
    /// An error with the code's own description.
    pub fn new(code: Code) -> Self {
        ImError {
            code,
            desc: code.desc().to_string(),
        }
    }

    /// An error with a more specific description.
    pub fn with_desc(code: Code, desc: impl Into<String>) -> Self {
        ImError {
            code,
            desc: desc.into(),
        }
    }
}

impl From<Code> for ImError {
    fn from(code: Code) -> Self {
        ImError::new(code)
    }
}

/// Renders the code table as Markdown (used by `PROTOCOL.md`; a test keeps them in sync).
pub fn code_table_markdown() -> String {
    let mut s = String::from("| code | name | meaning |\n| ---: | --- | --- |\n");
    for c in Code::ALL {
        s.push_str(&format!(
            "| {} | `{}` | {} |\n",
            c.num(),
            c.name(),
            c.desc()
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_distinct_and_round_trip() {
        let mut seen = HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.num()), "duplicate code {}", c.num());
            assert_eq!(Code::from_num(c.num()), Some(*c));
        }
        assert_eq!(Code::from_num(1), None);
    }

    #[test]
    fn fixed_codes_from_design() {
        assert_eq!(Code::C2cRevokeTimeLimit.num(), 20016);
        assert_eq!(Code::GroupRevokeTimeLimit.num(), 10031);
        assert_eq!(Code::GroupRevokeMsgNotFound.num(), 10030);
        assert_eq!(Code::GroupPermissionDeny.num(), 10007);
        assert_eq!(Code::RevokeTimeLimitExceed.num(), 6223);
    }

    #[test]
    fn serializes_as_number() {
        let e = ImError::new(Code::AlreadyRevoked);
        let j = serde_json::to_string(&e).unwrap();
        assert_eq!(j, r#"{"code":20023,"desc":"message already revoked"}"#);
        let back: ImError = serde_json::from_str(&j).unwrap();
        assert_eq!(back, e);
        assert!(serde_json::from_str::<ImError>(r#"{"code":1,"desc":"x"}"#).is_err());
    }

    #[test]
    fn protocol_md_lists_every_code() {
        let doc = include_str!("../../../PROTOCOL.md");
        for c in Code::ALL {
            let row = format!("| {} | `{}` |", c.num(), c.name());
            assert!(
                doc.contains(&row),
                "PROTOCOL.md lacks the row for {}",
                c.num()
            );
        }
    }
}
