//! Regressions found by the `frame_decode` fuzz target (`fuzz/`, `bash scripts/fuzz.sh`),
//! replayed as ordinary tests.
//!
//! Needs the `json` feature: `cargo test --workspace` enables it (the server depends on it),
//! or `cargo test -p im-revoke-core --features json`.
#![cfg(feature = "json")]

use im_revoke_core::protocol::json::{decode_client, encode_client};
use im_revoke_core::Code;

/// `fuzz/artifacts/frame_decode/crash-17bac386008239bf17f3b5f11ff5e2c01fd95edc`: a
/// `createGroup` frame whose field name is 102 invalid UTF-8 bytes. Each becomes U+FFFD (three
/// bytes); serde's error message quotes the unknown field, and `decode_client` cut that
/// message at byte 200 — inside a character — and panicked instead of answering 20001.
const CRASH_17BAC386: &[u8] = b"{\"type\":\"createGroup\",\"reqId\":\"g1\",\"groupID\":\"team\",\"name\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\xe6\":\"Team\",\"admins\":[\"bob\"],\"members\":[\"carol\",\"dave\"]}";

fn assert_rejected(text: &str) {
    let e = decode_client(text).expect_err("malformed frame");
    assert_eq!(e.code, Code::PkgParseFailed);
    assert!(e.desc.len() <= 200, "{} bytes", e.desc.len());
    assert!(e.desc.starts_with("malformed frame: "), "{}", e.desc);
}

#[test]
fn crash_17bac386_replays_without_panic() {
    // What the fuzz target (and a lossy host) hands to the decoder.
    assert_rejected(&String::from_utf8_lossy(CRASH_17BAC386));
}

/// Unknown field names and unknown frame types of every multi-byte width, at every offset
/// around the 200-byte cut.
#[test]
fn long_non_ascii_names_in_error_messages_are_cut_at_a_char_boundary() {
    for ch in ['é', '€', '😀', '\u{fffd}'] {
        for pad in 0..8 {
            let name = format!("{}{}", "x".repeat(pad), ch.to_string().repeat(80));
            assert_rejected(&format!(r#"{{"type":"ping","t":1,"{name}":1}}"#));
            assert_rejected(&format!(r#"{{"type":"{name}"}}"#));
            assert_rejected(&format!(
                r#"{{"type":"revoke","reqId":"r","msgID":{name}}}"#
            ));
        }
    }
}

/// The frames accepted next to the crash still decode and round-trip.
#[test]
fn well_formed_frames_still_round_trip() {
    let text = r#"{"type":"createGroup","reqId":"g1","groupID":"team","name":"Team","admins":["bob"],"members":["carol","dave"]}"#;
    let f = decode_client(text).unwrap();
    assert_eq!(decode_client(&encode_client(&f)).unwrap(), f);
}

/// `fuzz/artifacts/frame_decode/crash-0eac35e8e27844843cdf011bdc03df476d6a67e7`: a ping whose
/// `t` is written with an exponent. serde_json's default float parser is not correctly
/// rounded: `13504500e23` and its own re-encoding `1.35045e30` decoded to two different
/// numbers, so a frame did not survive a round trip. The workspace enables its
/// `float_roundtrip` feature (exact parsing).
#[test]
fn crash_0eac35e8_floats_round_trip_exactly() {
    for text in [
        r#"{"type":"ping","t":13504500e23}"#,
        r#"{"type":"ping","t":1.35045e30}"#,
        r#"{"type":"ping","t":0.1e-300}"#,
        r#"{"type":"ping","t":123456789012345678901234567890}"#,
    ] {
        let f = decode_client(text).unwrap();
        assert_eq!(decode_client(&encode_client(&f)).unwrap(), f, "{text}");
    }
}
