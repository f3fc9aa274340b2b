//! The WebSocket transport's frame decoder, compiled to wasm, against the core's serde types
//! serialized in the browser: for every server frame kind,
//! `decode(JSON.stringify(serialize(frame))) == frame`. (`crates/core/tests/wire.rs` checks the
//! same decoder natively against the server's own encoder, with random strings and numbers.)
#![cfg(target_arch = "wasm32")]

#[path = "../crates/core/tests/frames/mod.rs"]
mod frames;

use frames::{frames, group, kind, KINDS, MALFORMED};
use im_revoke::wire::decode;
use im_revoke_core::ServerFrame;
use js_sys::JSON;
use serde::Serialize;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn through_json(frame: &ServerFrame) -> String {
    let ser = serde_wasm_bindgen::Serializer::json_compatible();
    let v = frame.serialize(&ser).expect("serializes");
    String::from(JSON::stringify(&v).expect("stringify"))
}

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
    for text in MALFORMED {
        assert_eq!(decode(text), None, "{text}");
    }
}
