//! The browser module's decoder (`im_revoke_core::wire`) against the server's serde encoding:
//! every server frame kind, written by `protocol::json::encode_server`, decodes to an equal
//! frame; so does the same frame pretty-printed and with unknown fields added; and random
//! strings and numbers survive the trip.
#![cfg(feature = "json")]

use crate::frames;

use std::sync::Arc;

use frames::{frames, kind, KINDS, MALFORMED};
use im_revoke_core::protocol::json::{decode_server as serde_decode, encode_server};
use im_revoke_core::protocol::{Envelope, Event, Revoked};
use im_revoke_core::wire::decode_server;
use im_revoke_core::{Elem, ImageInfo, RevokeInfo, RevokerRole, ServerFrame};
use proptest::prelude::*;

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
fn malformed_frames_are_refused() {
    for text in MALFORMED {
        assert_eq!(decode_server(text), None, "{text}");
    }
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
            seq: time_ms % 1000,
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

/// The revoke event's fast path (the server's exact layout, read in order) and its way back to
/// the general decoder on every difference: each variant decodes as serde decodes it, or is
/// refused by both.
#[test]
fn revoke_events_off_the_fast_path_agree_with_serde() {
    let canonical = r#"{"type":"event","seq":7,"event":{"kind":"messageRevoked","msgID":"m1","sender":"alice","receiver":"bob","groupID":null,"seq":3,"revoke":{"userID":"alice","role":"sender","reason":"typo","timeMs":1700000000000,"reqId":"r1"}}}"#;
    let variants = [
        canonical.to_string(),
        // A server from before the message's seq: 0.
        canonical.replace(r#""seq":3,"#, ""),
        canonical.replace(r#""groupID":null"#, r#""groupID":"g1""#),
        canonical.replace(r#""receiver":"bob""#, r#""receiver":null"#),
        canonical.replace("typo", r#"t\"y\u00e9p\no"#),
        canonical.replace(r#""role":"sender""#, r#""role":"admin""#),
        canonical.replace(r#""role":"sender""#, r#""role":"owner""#),
        canonical.replace(r#""role":"sender""#, r#""role":"nobody""#),
        canonical.replace(r#""role":"sender""#, r#""role":null"#),
        canonical.replace(r#""seq":7"#, r#""seq":18446744073709551615"#),
        canonical.replace(r#""seq":7"#, r#""seq":18446744073709551616"#),
        canonical.replace(r#""seq":7"#, r#""seq":07"#),
        canonical.replace(r#""seq":7"#, r#""seq":-7"#),
        canonical.replace(r#""seq":3"#, r#""seq":3.0"#),
        canonical.replace(r#""seq":3"#, r#""seq":3e0"#),
        canonical.replace(r#""seq":3"#, r#""seq":3E+0"#),
        canonical.replace(r#""seq":3"#, r#""seq":0"#),
        canonical.replace(r#""seq":3"#, r#""seq":00"#),
        canonical.replace(r#""seq":3"#, r#""seq":"#),
        canonical.replace(r#""timeMs":1700000000000"#, r#""timeMs":01700000000000"#),
        canonical.replace(r#""timeMs":1700000000000"#, r#""timeMs":0"#),
        canonical.replace(r#""timeMs":1700000000000"#, r#""timeMs":1700000000000.5"#),
        canonical.replace(r#""timeMs":1700000000000"#, r#""timeMs":"1""#),
        canonical.replace(r#""msgID":"m1""#, r#""msgID":1"#),
        canonical.replace(r#""sender":"alice""#, r#""sender":null"#),
        canonical.replace(r#""reqId":"r1""#, r#""reqId":"r1","extra":[1,{}]"#),
        canonical.replace(r#""revoke":{"#, r#""extra":true,"revoke":{"#),
        canonical.replace("}}}", "},\"extra\":1}}"),
        canonical.replace("}}}", "}},\"extra\":1}"),
        canonical.replace(r#""msgID":"m1","#, ""),
        canonical.replace(r#""reason":"typo","#, ""),
        canonical.replace(r#""kind":"messageRevoked""#, r#""kind":"messageRevoked ""#),
        canonical.replace("\"m1\"", "\"m\u{1}\""),
        canonical.replace("\"m1\"", "\"m1 \u{e9}\u{1f44b}\""),
        format!("{canonical} "),
        format!(" {canonical}"),
        format!("{canonical}}}"),
        format!("{canonical}x"),
        canonical.replace(':', ": "),
    ];
    for text in &variants {
        assert_eq!(decode_server(text), serde_decode(text).ok(), "{text}");
    }
    assert!(decode_server(canonical).is_some());
    // Wider than serde, as the general decoder was already: `-0` is zero.
    let minus_zero = canonical.replace(r#""seq":7"#, r#""seq":-0"#);
    let Some(ServerFrame::Event(e)) = decode_server(&minus_zero) else {
        panic!("{minus_zero}");
    };
    assert_eq!(e.seq, 0);
    // And a field given twice: the first one (serde refuses).
    let twice = canonical.replace(r#""seq":3,"#, r#""seq":3,"seq":4,"#);
    let Some(ServerFrame::Event(e)) = decode_server(&twice) else {
        panic!("{twice}");
    };
    assert!(matches!(&*e.event, Event::MessageRevoked(r) if r.seq == 3));
}

// --- client frames: the module's encoder against the server's decoder -----------------------

use im_revoke_core::model::GroupRole;
use im_revoke_core::protocol::json::{decode_client, encode_client as serde_encode_client};
use im_revoke_core::wire::encode_client;
use im_revoke_core::ClientFrame;

fn client_frames(s: &str) -> Vec<ClientFrame> {
    let s = s.to_string();
    vec![
        ClientFrame::Login {
            v: 1,
            user_id: s.clone(),
            user_sig: "eJw\"sig\\".into(),
        },
        ClientFrame::Send {
            req_id: "s1".into(),
            msg_id: s.clone(),
            receiver: Some("bob".into()),
            group_id: None,
            elem: Elem::Text { text: s.clone() },
            reply_to: None,
            cloud_custom_data: None,
        },
        ClientFrame::Send {
            req_id: "s3".into(),
            msg_id: "m".into(),
            receiver: Some("bob".into()),
            group_id: None,
            elem: Elem::Text { text: s.clone() },
            reply_to: Some("m0".into()),
            cloud_custom_data: Some(s.clone()),
        },
        ClientFrame::Send {
            req_id: "s2".into(),
            msg_id: "m".into(),
            receiver: None,
            group_id: Some(s.clone()),
            elem: Elem::Text {
                text: String::new(),
            },
            reply_to: None,
            cloud_custom_data: None,
        },
        ClientFrame::Send {
            req_id: "s3".into(),
            msg_id: "m".into(),
            receiver: Some("bob".into()),
            group_id: None,
            reply_to: None,
            cloud_custom_data: None,
            elem: Elem::Custom {
                data: s.clone(),
                desc: s.clone(),
                extension: String::new(),
            },
        },
        ClientFrame::Send {
            req_id: "s4".into(),
            msg_id: "m".into(),
            receiver: Some("bob".into()),
            group_id: None,
            reply_to: None,
            cloud_custom_data: None,
            elem: Elem::File {
                uuid: s.clone(),
                file_name: s.clone(),
                file_size: u64::MAX,
                url: s.clone(),
            },
        },
        ClientFrame::Send {
            req_id: "s5".into(),
            msg_id: "m".into(),
            receiver: Some("bob".into()),
            group_id: None,
            reply_to: None,
            cloud_custom_data: None,
            elem: Elem::Image {
                image_list: (1..=2)
                    .map(|kind| ImageInfo {
                        kind,
                        uuid: s.clone(),
                        url: s.clone(),
                        width: u32::MAX,
                        height: 0,
                        size: 7,
                    })
                    .collect(),
            },
        },
        ClientFrame::Send {
            req_id: "s6".into(),
            msg_id: "m".into(),
            receiver: Some("bob".into()),
            group_id: None,
            reply_to: None,
            cloud_custom_data: None,
            elem: Elem::Image { image_list: vec![] },
        },
        ClientFrame::Revoke {
            req_id: "r1".into(),
            msg_id: "m".into(),
            reason: s.clone(),
            group_id: None,
        },
        ClientFrame::History {
            req_id: "h1".into(),
            user_id: Some("bob".into()),
            group_id: None,
            before_seq: Some(u64::MAX),
            count: 20,
        },
        ClientFrame::History {
            req_id: "h2".into(),
            user_id: None,
            group_id: Some("g".into()),
            before_seq: None,
            count: 0,
        },
        ClientFrame::FindMessages {
            req_id: "f".into(),
            msg_ids: vec![s.clone(), "x".into()],
        },
        ClientFrame::FindMessages {
            req_id: "f".into(),
            msg_ids: vec![],
        },
        ClientFrame::Sync {
            req_id: "y".into(),
            after_seq: 1_234_567_890_123,
        },
        ClientFrame::CreateGroup {
            req_id: "c".into(),
            group_id: "g".into(),
            name: s.clone(),
            admins: vec!["a".into()],
            members: vec![s.clone(), "b".into()],
        },
        ClientFrame::AddGroupMembers {
            req_id: "a".into(),
            group_id: "g".into(),
            members: vec![s.clone()],
        },
        ClientFrame::RemoveGroupMembers {
            req_id: "d".into(),
            group_id: "g".into(),
            members: vec![],
        },
        ClientFrame::SetGroupMemberRole {
            req_id: "o".into(),
            group_id: "g".into(),
            user_id: s.clone(),
            role: GroupRole::Admin,
        },
        ClientFrame::GetJoinedGroups { req_id: s.clone() },
        ClientFrame::Ping {
            t: 1_732_567_890_123.0,
        },
        ClientFrame::GetConversationList {
            req_id: "c1".into(),
            next_seq: 20,
            count: 100,
        },
        ClientFrame::GetConversation {
            req_id: "c2".into(),
            conversation_id: format!("c2c_{s}"),
        },
        ClientFrame::CleanConversationUnreadMessageCount {
            req_id: "k1".into(),
            conversation_id: s.clone(),
            clean_sequence: 0,
        },
    ]
}

/// Which kind of client frame `f` is; exhaustive, so a new kind must be covered above.
fn client_kind(f: &ClientFrame) -> usize {
    match f {
        ClientFrame::Login { .. } => 0,
        ClientFrame::Send { .. } => 1,
        ClientFrame::Revoke { .. } => 2,
        ClientFrame::History { .. } => 3,
        ClientFrame::FindMessages { .. } => 4,
        ClientFrame::Sync { .. } => 5,
        ClientFrame::CreateGroup { .. } => 6,
        ClientFrame::AddGroupMembers { .. } => 7,
        ClientFrame::RemoveGroupMembers { .. } => 8,
        ClientFrame::SetGroupMemberRole { .. } => 9,
        ClientFrame::GetJoinedGroups { .. } => 10,
        ClientFrame::Ping { .. } => 11,
        ClientFrame::GetConversationList { .. } => 12,
        ClientFrame::GetConversation { .. } => 13,
        ClientFrame::CleanConversationUnreadMessageCount { .. } => 14,
    }
}

#[test]
fn every_client_frame_is_written_as_serde_writes_it() {
    let mut seen = [false; 15];
    for s in [
        "alice",
        "",
        "q\"b\\s/\u{0}\u{8}\u{c}\n\r\t\u{1f}\u{7f} é👋 ✓",
    ] {
        for f in client_frames(s) {
            seen[client_kind(&f)] = true;
            let ours = encode_client(&f);
            assert_eq!(ours, serde_encode_client(&f), "byte for byte");
            assert_eq!(decode_client(&ours).as_ref(), Ok(&f), "{ours}");
        }
    }
    assert_eq!(seen, [true; 15], "client_frames() covers every kind");
}

#[test]
fn ping_clocks() {
    for (t, text) in [
        (0.0, r#"{"type":"ping","t":0.0}"#),
        (
            1_732_567_890_123.0,
            r#"{"type":"ping","t":1732567890123.0}"#,
        ),
        (1234.5, r#"{"type":"ping","t":1234.5}"#),
        (1_234.000_25, r#"{"type":"ping","t":1234.00025}"#),
        (-2.5, r#"{"type":"ping","t":-2.5}"#),
        (0.999_999_9, r#"{"type":"ping","t":1.0}"#),
        (f64::NAN, r#"{"type":"ping","t":0.0}"#),
    ] {
        let ours = encode_client(&ClientFrame::Ping { t });
        assert_eq!(ours, text);
        assert!(decode_client(&ours).is_ok(), "{ours}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Any string in any field is written as serde writes it and read back unchanged.
    #[test]
    fn client_frames_with_any_strings(s in any::<String>(), ms in 0u64..9_000_000_000_000_000) {
        for f in client_frames(&s) {
            let ours = encode_client(&f);
            prop_assert_eq!(&ours, &serde_encode_client(&f));
            prop_assert_eq!(decode_client(&ours), Ok(f));
        }
        let ping = ClientFrame::Ping { t: ms as f64 };
        prop_assert_eq!(encode_client(&ping), serde_encode_client(&ping));
    }
}
