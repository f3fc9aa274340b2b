//! Frames as text, for the WebSocket transport.
//!
//! Both directions are `im_revoke_core::wire`, inside wasm, with no call out to JavaScript:
//! decoding a `ServerFrame` is the hot path (every event of every conversation). Before,
//! `JSON.parse` then one property lookup per field cost a UTF-8 → UTF-16 conversion of every
//! field name; serde's own `Deserialize` for these internally tagged enums measured 47 KB of
//! gzipped wasm; and encoding through serde-wasm-bindgen and `JSON.stringify` carried serde's
//! serializer into the module.
use im_revoke_core::{ClientFrame, ServerFrame};

/// A client frame as JSON text.
pub(crate) fn encode(frame: &ClientFrame) -> String {
    im_revoke_core::wire::encode_client(frame)
}

/// A server frame from JSON text; `None` for anything malformed.
pub fn decode(text: &str) -> Option<ServerFrame> {
    im_revoke_core::wire::decode_server(text)
}
