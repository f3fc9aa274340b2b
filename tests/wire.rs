//! The WebSocket transport's frame decoder, compiled to wasm, against the core's serde types
//! serialized in the browser: for every server frame kind,
//! `decode(JSON.stringify(serialize(frame))) == frame`. (`crates/core/tests/wire.rs` checks the
//! same decoder natively against the server's own encoder, with random strings and numbers.)
#![cfg(target_arch = "wasm32")]

use std::collections::BTreeSet;
use std::sync::Arc;

use im_revoke::wire::decode;
use im_revoke_core::protocol::{ClientLimits, Envelope, Event, Revoked};
use im_revoke_core::{Code, Elem, Group, Message, RevokeInfo, RevokerRole, ServerFrame};
use js_sys::JSON;
use serde::Serialize;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn through_json(frame: &ServerFrame) -> String {
    let ser = serde_wasm_bindgen::Serializer::json_compatible();
    let v = frame.serialize(&ser).expect("serializes");
    String::from(JSON::stringify(&v).expect("stringify"))
}

fn revoke_info(role: RevokerRole) -> RevokeInfo {
    RevokeInfo {
        user_id: "carol".into(),
        role,
        reason: "typo \"quoted\" ✓".into(),
        time_ms: 1_700_000_123_456,
        req_id: "r-1".into(),
    }
}

fn messages() -> Vec<Message> {
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
        },
    ]
}

fn group() -> Group {
    Group {
        group_id: "g1".into(),
        name: "team".into(),
        owner: "alice".into(),
        admins: BTreeSet::from(["carol".to_string()]),
        members: BTreeSet::from(["alice".into(), "bob".into(), "carol".into()]),
        created_ms: 42,
        recent_req_ids: Vec::new(),
    }
}

fn revoked() -> Revoked {
    Revoked {
        msg_id: "m1".into(),
        sender: "alice".into(),
        receiver: Some("bob".into()),
        group_id: None,
        revoke: revoke_info(RevokerRole::Sender),
    }
}

fn frames() -> Vec<ServerFrame> {
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
                    admins: BTreeSet::new(),
                    members: BTreeSet::from(["bob".to_string()]),
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
    ]
}

/// Which kind of frame `f` is. Exhaustive on purpose: a frame kind added to the core fails to
/// compile here until `frames()` covers it (and so `src/wire.rs` decodes it).
fn kind(f: &ServerFrame) -> usize {
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
    }
}
const KINDS: usize = 10;

#[wasm_bindgen_test]
fn every_server_frame_round_trips() {
    let mut seen = [false; KINDS];
    for frame in frames() {
        seen[kind(&frame)] = true;
        let text = through_json(&frame);
        assert_eq!(decode(&text).as_ref(), Some(&frame), "{text}");
    }
    assert_eq!(
        seen, [true; KINDS],
        "frames() covers every kind of server frame"
    );
}

/// The `groups` answer exactly as the server writes it (serde_json text).
#[wasm_bindgen_test]
fn groups_frame_from_server_text() {
    let text = r#"{"type":"groups","reqId":"j7","serverTime":1700000000000,"groups":[{"groupID":"g1","name":"team","owner":"alice","admins":["carol"],"members":["alice","bob","carol"],"createdMs":42}]}"#;
    assert_eq!(
        decode(text),
        Some(ServerFrame::Groups {
            req_id: "j7".into(),
            server_time: 1_700_000_000_000,
            groups: vec![group()],
        })
    );
}

#[wasm_bindgen_test]
fn malformed_frames_are_refused() {
    for text in [
        r#"{"type":"nope"}"#,
        r#"{"type":"pong","t":1}"#,
        r#"{"type":"pong","t":"1","serverTime":2}"#,
        r#"{"type":"error","code":1,"desc":"unknown code"}"#,
        r#"{"type":"event","seq":-1,"event":{"kind":"groupChanged"}}"#,
        r#"{"type":"sendOk","reqId":"s","serverTime":1,"seq":1.5,"message":{}}"#,
        r#"{"type":"groups","reqId":"j","serverTime":1}"#,
        r#"{"type":"groups","reqId":"j","serverTime":1,"groups":[{"groupID":"g"}]}"#,
        r#"[1,2]"#,
        r#"null"#,
        r#""text""#,
    ] {
        assert_eq!(decode(text), None, "{text}");
    }
}
