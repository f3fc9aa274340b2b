//! The browser module's decoder (`im_revoke_core::wire`) against the server's serde encoding:
//! every server frame kind, written by `protocol::json::encode_server`, decodes to an equal
//! frame; so does the same frame pretty-printed and with unknown fields added; and random
//! strings and numbers survive the trip.
#![cfg(feature = "json")]

use std::collections::BTreeSet;
use std::sync::Arc;

use im_revoke_core::protocol::json::{decode_server as serde_decode, encode_server};
use im_revoke_core::protocol::{ClientLimits, Envelope, Event, Revoked};
use im_revoke_core::wire::decode_server;
use im_revoke_core::{Code, Elem, Group, Message, RevokeInfo, RevokerRole, ServerFrame};
use proptest::prelude::*;

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
/// compile here until `frames()` covers it (and so `wire.rs` decodes it).
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

#[test]
fn every_server_frame_round_trips() {
    let mut seen = [false; KINDS];
    for frame in frames() {
        seen[kind(&frame)] = true;
        let text = encode_server(&frame);
        assert_eq!(decode_server(&text).as_ref(), Some(&frame), "{text}");
        // The same frame as any JSON writer may lay it out: spaces and newlines, fields the
        // decoder does not know (a newer server), and escapes where none are needed.
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        assert_eq!(decode_server(&pretty).as_ref(), Some(&frame), "{pretty}");
        let extended = text.replacen('{', r#"{"zNew":{"deep":[1,2.5e3,null,"x"]},"#, 1);
        assert_eq!(
            decode_server(&extended).as_ref(),
            Some(&frame),
            "{extended}"
        );
        let escaped = text.replace("alice", r"\u0061lic\u0065");
        assert_eq!(decode_server(&escaped).as_ref(), Some(&frame), "{escaped}");
    }
    assert_eq!(
        seen, [true; KINDS],
        "frames() covers every kind of server frame"
    );
}

#[test]
fn broken_frames_are_refused_not_panicked() {
    for frame in frames() {
        let text = encode_server(&frame);
        // Every prefix is malformed (the frame is one object).
        for end in (0..text.len()).filter(|&i| text.is_char_boundary(i)) {
            assert_eq!(decode_server(&text[..end]), None, "{}", &text[..end]);
        }
    }
}

fn revoke_frame(
    msg_id: String,
    user: String,
    reason: String,
    seq: u64,
    time_ms: u64,
) -> ServerFrame {
    ServerFrame::Event(Envelope {
        seq,
        event: Arc::new(Event::MessageRevoked(Revoked {
            msg_id,
            sender: user.clone(),
            receiver: Some("bob".into()),
            group_id: None,
            revoke: RevokeInfo {
                user_id: user,
                role: RevokerRole::Owner,
                reason,
                time_ms,
                req_id: "r".into(),
            },
        })),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any strings (control characters, quotes, backslashes, every plane of Unicode) and any
    /// numbers survive serde's encoding and this decoder, and agree with serde's decoder.
    #[test]
    fn any_strings_and_numbers(
        msg_id in any::<String>(),
        user in "\\PC*",
        reason in any::<String>(),
        seq in any::<u64>(),
        time_ms in any::<u64>(),
        t in any::<f64>().prop_filter("finite", |t| t.is_finite()),
        server_time in any::<u64>(),
    ) {
        let f = revoke_frame(msg_id, user, reason, seq, time_ms);
        let text = encode_server(&f);
        prop_assert_eq!(decode_server(&text), Some(f.clone()));
        prop_assert_eq!(serde_decode(&text).ok(), Some(f));

        let pong = ServerFrame::Pong { t, server_time };
        let text = encode_server(&pong);
        let Some(ServerFrame::Pong { t: got, server_time: st }) = decode_server(&text) else {
            panic!("pong decodes: {text}");
        };
        prop_assert_eq!(st, server_time);
        // Exact for integers and short decimals (what clients send); close otherwise.
        if t.fract() == 0.0 && t.abs() < 9e15 {
            prop_assert_eq!(got, t);
        } else {
            prop_assert!((got - t).abs() <= t.abs() * 1e-14, "{} vs {}", got, t);
        }
    }

    /// Client clocks as the module sends them (`Date.now()`, `performance.now()` in µs steps)
    /// come back exactly.
    #[test]
    fn client_clocks_echo_exactly(ms in 0u64..4_000_000_000_000, micros in 0u32..1000) {
        for t in [ms as f64, ms as f64 + f64::from(micros) / 1000.0] {
            let text = encode_server(&ServerFrame::Pong { t, server_time: 1 });
            prop_assert_eq!(decode_server(&text), serde_decode(&text).ok());
        }
    }
}
