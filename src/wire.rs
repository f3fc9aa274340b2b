//! Frames as text, for the WebSocket transport.
//!
//! Encoding a `ClientFrame` goes through serde-wasm-bindgen (its derived `Serialize`, then
//! `JSON.stringify`): requests are few. Decoding a `ServerFrame` is the hot path (every event
//! of every conversation) and stays inside wasm: `im_revoke_core::wire` reads the text in one
//! pass, with no call out to JavaScript. (Before, `JSON.parse` then one property lookup per
//! field cost a UTF-8 → UTF-16 conversion of every field name: 8× slower per event. And serde's
//! own `Deserialize` path for these internally tagged enums measured 47 KB of gzipped wasm.)
use im_revoke_core::{ClientFrame, ServerFrame};
use js_sys::JSON;
use serde::Serialize;

const SER: serde_wasm_bindgen::Serializer = serde_wasm_bindgen::Serializer::json_compatible();

/// A client frame as JSON text.
pub(crate) fn encode(frame: &ClientFrame) -> Option<String> {
    let v = frame.serialize(&SER).ok()?;
    JSON::stringify(&v).ok()?.as_string()
}

/// A server frame from JSON text; `None` for anything malformed.
pub fn decode(text: &str) -> Option<ServerFrame> {
    im_revoke_core::wire::decode_server(text)
}
