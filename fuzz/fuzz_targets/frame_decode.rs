//! Arbitrary bytes as a client text frame.
//!
//! - A WebSocket text frame is UTF-8 by the time the server decodes it; invalid bytes are
//!   replaced (lossy) so they still reach the decoder, and valid UTF-8 must survive that step
//!   unchanged.
//! - `decode_client` never panics; every failure is code 20001 with a short description.
//! - Every frame it accepts re-encodes with `encode_client` and decodes to an equal frame, and
//!   the second encoding is byte-for-byte the first (the encoding is canonical).
//! - The browser module's own encoder (`wire::encode_client`) writes that same text (`ping`:
//!   a text that decodes to a frame within a microsecond of `t`).
#![no_main]

use im_revoke_core::protocol::json::{decode_client, encode_client};
use im_revoke_core::{ClientFrame, Code};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(exact) = std::str::from_utf8(data) {
        assert_eq!(exact, &*text, "valid UTF-8 must pass unchanged");
    }
    match decode_client(&text) {
        Ok(frame) => {
            let json = encode_client(&frame);
            let again = decode_client(&json)
                .unwrap_or_else(|e| panic!("re-encoded frame does not decode: {e}\n{json}"));
            assert_eq!(frame, again, "round trip changed the frame\n{json}");
            assert_eq!(json, encode_client(&again), "encoding is not stable");
            let module = im_revoke_core::wire::encode_client(&frame);
            match &frame {
                ClientFrame::Ping { t } => match decode_client(&module) {
                    Ok(ClientFrame::Ping { t: got }) => {
                        let want = if t.is_finite() {
                            t.clamp(-9_007_199_254_740_991.0, 9_007_199_254_740_991.0)
                        } else {
                            0.0
                        };
                        assert!((got - want).abs() <= 1e-6 + want.abs() * 1e-15, "{module}");
                    }
                    other => panic!("module's ping does not decode: {module} {other:?}"),
                },
                _ => assert_eq!(module, json, "module's encoder differs"),
            }
        }
        Err(e) => {
            assert_eq!(e.code, Code::PkgParseFailed, "{e:?}");
            assert!(e.desc.len() <= 200, "error description too long");
        }
    }
});
