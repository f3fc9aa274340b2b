//! Server frames for the decoder tests, shared by the native tests (`tests/wire.rs` here) and
//! the browser tests of the module (`tests/wire.rs` at the repository root, which includes this
//! file by path): every kind of frame, with escapes, non-ASCII text, `null`s and big numbers.
#![allow(dead_code)] // each includer uses its part

use std::sync::Arc;

use im_revoke_core::model::ReplyTo;
use im_revoke_core::protocol::{ClientLimits, Conversation, Envelope, Event, Revoked};
use im_revoke_core::{
    Code, Elem, Group, ImageInfo, Message, RevokeInfo, RevokerRole, ServerFrame, StringSet,
};

pub fn revoke_info(role: RevokerRole) -> RevokeInfo {
    RevokeInfo {
        user_id: "carol".into(),
        role,
        reason: "typo \"quoted\" ✓".into(),
        time_ms: 1_700_000_123_456,
        req_id: "r-1".into(),
    }
}

pub fn messages() -> Vec<Message> {
    vec![
        Message {
            msg_id: "m1".into(),
            sender: "alice".into(),
            receiver: Some("bob".into()),
            group_id: None,
            time_ms: 1_700_000_000_000,
            seq: 7,
            elem: Some(Elem::Text {
                text: "héllo 👋".into(),
            }),
            revoke: None,
            reply_to: Some(ReplyTo {
                msg_id: "m0".into(),
                sender: "bob".into(),
                abstract_text: "quoted \"text\" ✓".into(),
                is_revoked: false,
            }),
            cloud_custom_data: Some("{\"app\":\"data ✓\"}".into()),
        },
        Message {
            msg_id: "m2".into(),
            sender: "bob".into(),
            receiver: None,
            group_id: Some("g1".into()),
            time_ms: 1,
            seq: 1,
            elem: None,
            revoke: Some(revoke_info(RevokerRole::Admin)),
            reply_to: Some(ReplyTo {
                msg_id: "m0".into(),
                sender: "bob".into(),
                abstract_text: String::new(),
                is_revoked: true,
            }),
            cloud_custom_data: None,
        },
    ]
}

/// Custom, image (original and thumbnail) and file elements, with escapes and big numbers.
pub fn rich_elems() -> Vec<Elem> {
    let pic = |kind, uuid: &str, w, h, size| ImageInfo {
        kind,
        uuid: uuid.into(),
        url: format!("/file/{uuid}?exp=1700000000&sig=ab\"c"),
        width: w,
        height: h,
        size,
    };
    vec![
        Elem::Custom {
            data: "{\"k\":1} ✓".into(),
            desc: String::new(),
            extension: "ext\n".into(),
        },
        Elem::Image {
            image_list: vec![
                pic(1, "up-1", 4000, 3000, 5_242_880),
                pic(2, "up-2", 200, 150, 9_000),
            ],
        },
        Elem::Image {
            image_list: vec![pic(1, "up-3", u32::MAX, 1, 9_007_199_254_740_991)],
        },
        Elem::File {
            uuid: "up-4".into(),
            file_name: "report é.pdf".into(),
            file_size: 123_456,
            url: "blob:http://127.0.0.1/x".into(),
        },
    ]
}

/// One message of each rich element.
pub fn rich_messages() -> Vec<Message> {
    rich_elems()
        .into_iter()
        .enumerate()
        .map(|(n, e)| Message {
            msg_id: format!("r{n}"),
            sender: "alice".into(),
            receiver: None,
            group_id: Some("g1".into()),
            time_ms: 10 + n as u64,
            seq: 1 + n as u64,
            elem: Some(e),
            revoke: None,
            reply_to: None,
            cloud_custom_data: None,
        })
        .collect()
}

pub fn group() -> Group {
    Group {
        group_id: "g1".into(),
        name: "team".into(),
        owner: "alice".into(),
        admins: StringSet::from(["carol".to_string()]),
        members: StringSet::from(["alice".into(), "bob".into(), "carol".into()]),
        created_ms: 42,
        recent_req_ids: Vec::new(),
    }
}

pub fn revoked() -> Revoked {
    Revoked {
        msg_id: "m1".into(),
        sender: "alice".into(),
        receiver: Some("bob".into()),
        group_id: None,
        seq: 7,
        revoke: revoke_info(RevokerRole::Sender),
    }
}

pub fn conversations() -> Vec<Conversation> {
    let [m1, m2]: [Message; 2] = messages().try_into().expect("two");
    vec![
        Conversation {
            conversation_id: "c2c_bob".into(),
            kind: 1,
            user_id: Some("bob".into()),
            group_id: None,
            show_name: "bob".into(),
            unread_count: 3,
            last_message: Some(m1),
            order_key: 1_700_000_000_000,
            read_seq: 4,
        },
        Conversation {
            conversation_id: "group_g1".into(),
            kind: 2,
            user_id: None,
            group_id: Some("g1".into()),
            show_name: "team ✓".into(),
            unread_count: 0,
            last_message: Some(m2),
            order_key: 1,
            read_seq: 1,
        },
        Conversation {
            conversation_id: "group_g2".into(),
            kind: 2,
            user_id: None,
            group_id: Some("g2".into()),
            show_name: "g2".into(),
            unread_count: 0,
            last_message: None,
            order_key: 0,
            read_seq: 0,
        },
    ]
}

pub fn frames() -> Vec<ServerFrame> {
    let [m1, m2]: [Message; 2] = messages().try_into().expect("two");
    vec![
        ServerFrame::LoginOk {
            v: 1,
            user_id: "alice".into(),
            server_time: 1_700_000_000_000,
            head_seq: 12,
            limits: ClientLimits {
                revoke_time_limit_ms: 120_000,
                admin_revoke_time_limit_ms: None,
                max_text_bytes: 12_288,
                max_reason_bytes: 256,
            },
        },
        ServerFrame::LoginOk {
            v: 1,
            user_id: "bob".into(),
            server_time: 5,
            head_seq: 0,
            limits: ClientLimits {
                revoke_time_limit_ms: 1_000,
                admin_revoke_time_limit_ms: Some(86_400_000),
                max_text_bytes: 10,
                max_reason_bytes: 0,
            },
        },
        ServerFrame::SendOk {
            req_id: "s1".into(),
            server_time: 3,
            seq: 4,
            message: m1.clone(),
        },
        ServerFrame::RevokeOk {
            req_id: "r1".into(),
            server_time: 3,
            seq: 0,
            revoked: revoked(),
        },
        ServerFrame::Messages {
            req_id: "h1".into(),
            server_time: 3,
            messages: vec![m1.clone(), m2.clone()],
            is_completed: true,
        },
        ServerFrame::Messages {
            req_id: "h2".into(),
            server_time: 4,
            messages: rich_messages(),
            is_completed: false,
        },
        ServerFrame::Messages {
            req_id: "f1".into(),
            server_time: 3,
            messages: vec![],
            is_completed: false,
        },
        ServerFrame::SyncOk {
            req_id: "y1".into(),
            server_time: 9,
            events: vec![
                Envelope {
                    seq: 1,
                    event: Arc::new(Event::NewMessage { message: m2 }),
                },
                Envelope {
                    seq: 2,
                    event: Arc::new(Event::MessageRevoked(revoked())),
                },
                Envelope {
                    seq: 3,
                    event: Arc::new(Event::GroupChanged { group: group() }),
                },
            ],
            has_more: true,
        },
        ServerFrame::GroupOk {
            req_id: "g1".into(),
            server_time: 3,
            seq: 8,
            group: group(),
        },
        ServerFrame::Groups {
            req_id: "j1".into(),
            server_time: 3,
            groups: vec![
                group(),
                Group {
                    group_id: "g2".into(),
                    name: String::new(),
                    owner: "bob".into(),
                    admins: StringSet::new(),
                    members: StringSet::from(["bob".to_string()]),
                    created_ms: 0,
                    recent_req_ids: Vec::new(),
                },
            ],
        },
        ServerFrame::Groups {
            req_id: "j2".into(),
            server_time: 1_700_000_000_002,
            groups: vec![],
        },
        ServerFrame::Event(Envelope {
            seq: 13,
            event: Arc::new(Event::NewMessage { message: m1 }),
        }),
        ServerFrame::Error {
            req_id: Some("r9".into()),
            code: Code::C2cRevokeTimeLimit,
            desc: "revoke time limit exceeded".into(),
        },
        ServerFrame::Error {
            req_id: None,
            code: Code::UserSigExpired,
            desc: "UserSig expired".into(),
        },
        ServerFrame::Pong {
            t: 1234.5,
            server_time: 1_700_000_000_001,
        },
        ServerFrame::Conversations {
            req_id: "c1".into(),
            server_time: 3,
            head_seq: 12,
            next_seq: 3,
            is_finished: false,
            conversation_list: conversations(),
            total_unread_count: 3,
        },
        ServerFrame::Conversations {
            req_id: "c2".into(),
            server_time: 3,
            head_seq: 0,
            next_seq: 0,
            is_finished: true,
            conversation_list: vec![],
            total_unread_count: 0,
        },
        ServerFrame::ReadOk {
            req_id: "k1".into(),
            server_time: 3,
            seq: 14,
            conversation_id: "group_g1".into(),
            read_seq: 9,
        },
        ServerFrame::Event(Envelope {
            seq: 15,
            event: Arc::new(Event::ConversationRead {
                conversation_id: "c2c_bob".into(),
                read_seq: 7,
            }),
        }),
    ]
}

/// Which kind of frame `f` is. Exhaustive on purpose: a frame kind added to the core fails to
/// compile here until `frames()` covers it (and so `im_revoke_core::wire` decodes it).
pub fn kind(f: &ServerFrame) -> usize {
    match f {
        ServerFrame::LoginOk { .. } => 0,
        ServerFrame::SendOk { .. } => 1,
        ServerFrame::RevokeOk { .. } => 2,
        ServerFrame::Messages { .. } => 3,
        ServerFrame::SyncOk { .. } => 4,
        ServerFrame::GroupOk { .. } => 5,
        ServerFrame::Groups { .. } => 6,
        ServerFrame::Event(_) => 7,
        ServerFrame::Error { .. } => 8,
        ServerFrame::Pong { .. } => 9,
        ServerFrame::Conversations { .. } => 10,
        ServerFrame::ReadOk { .. } => 11,
    }
}

pub const KINDS: usize = 12;

/// Frames every decoder must refuse: unknown kinds, wrong types, missing fields, negative or
/// fractional integers, unknown error codes, non-objects.
pub const MALFORMED: &[&str] = &[
    r#"{"type":"nope"}"#,
    r#"{"type":"pong","t":1}"#,
    r#"{"type":"pong","t":"1","serverTime":2}"#,
    r#"{"type":"error","code":1,"desc":"unknown code"}"#,
    r#"{"type":"event","seq":-1,"event":{"kind":"groupChanged"}}"#,
    r#"{"type":"sendOk","reqId":"s","serverTime":1,"seq":1.5,"message":{}}"#,
    r#"{"type":"groups","reqId":"j","serverTime":1}"#,
    r#"{"type":"groups","reqId":"j","serverTime":1,"groups":[{"groupID":"g"}]}"#,
    r#"{"type":"pong","t":1,"serverTime":2"#,
    r#"{"type":"readOk","reqId":"k","serverTime":1,"seq":1,"conversationID":"c2c_b","readSeq":-1}"#,
    r#"{"type":"conversations","reqId":"c","serverTime":1,"headSeq":0,"nextSeq":0,"isFinished":true,"conversationList":[{"conversationID":"c2c_b"}],"totalUnreadCount":0}"#,
    r#"{"type":"event","seq":1,"event":{"kind":"messageRevoked","msgID":"m","sender":"a","receiver":null,"groupID":null,"seq":"1","revoke":{"userID":"a","role":"sender","reason":"","timeMs":1,"reqId":"r"}}}"#,
    r#"{"type":"pong","t":1,"serverTime":2} x"#,
    r#"[1,2]"#,
    r#"null"#,
    r#""text""#,
    "",
];
