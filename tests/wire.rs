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

/// A frame's text reaches wasm whole: ASCII, non-ASCII and astral characters, lone surrogates
/// (as U+FFFD, what a WebSocket never delivers anyway), a frame larger than the buffer kept
/// between frames, then a small one again; the same as binary frames (an `ArrayBuffer` of
/// UTF-8); anything else, and bytes that are not UTF-8, refused.
#[wasm_bindgen_test]
fn frame_text_reaches_wasm_whole() {
    use im_revoke::wire::read_text;
    use wasm_bindgen::JsValue;
    let big = "撤回 👋 é x".repeat(40_000); // ~480 KB of UTF-8
    for text in [
        "",
        "plain ascii",
        "héllo 👋 撤回",
        big.as_str(),
        "small again",
    ] {
        let got = read_text(&JsValue::from_str(text), str::to_owned);
        assert_eq!(got.as_deref(), Some(text), "{} bytes", text.len());
    }
    let lone = JSON::parse(r#""a\ud800b""#).expect("a string with a lone surrogate");
    assert_eq!(
        read_text(&lone, str::to_owned).as_deref(),
        Some("a\u{fffd}b")
    );
    // Binary frames (`im-revoke.bin`): an ArrayBuffer of UTF-8 is read as is, whatever its
    // size; bytes that are not UTF-8 are refused.
    for text in ["héllo 👋 撤回", big.as_str(), ""] {
        let bytes = js_sys::Uint8Array::from(text.as_bytes());
        let got = read_text(&bytes.buffer().into(), str::to_owned);
        assert_eq!(got.as_deref(), Some(text), "binary, {} bytes", text.len());
    }
    let bad = js_sys::Uint8Array::from(&b"{\"type\":\"pong\xff\"}"[..]);
    assert_eq!(read_text(&bad.buffer().into(), str::len), None);
    for not_text in [
        JsValue::from_f64(1.0),
        JsValue::NULL,
        js_sys::Uint8Array::new_with_length(8).into(),
    ] {
        assert_eq!(read_text(&not_text, str::len), None);
    }
    let frame = r#"{"type":"pong","t":5,"serverTime":7}"#;
    assert_eq!(
        read_text(&JsValue::from_str(frame), decode),
        Some(Some(ServerFrame::Pong {
            t: 5.0,
            server_time: 7
        }))
    );
}
