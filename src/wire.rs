//! Frames as text, for the WebSocket transport.
//!
//! Both directions are `im_revoke_core::wire`, inside wasm, with no call out to JavaScript:
//! decoding a `ServerFrame` is the hot path (every event of every conversation). Before,
//! `JSON.parse` then one property lookup per field cost a UTF-8 → UTF-16 conversion of every
//! field name; serde's own `Deserialize` for these internally tagged enums measured 47 KB of
//! gzipped wasm; and encoding through serde-wasm-bindgen and `JSON.stringify` carried serde's
//! serializer into the module. [`read_text`] brings a frame's text from the socket into wasm
//! memory.
use std::cell::RefCell;

use im_revoke_core::{ClientFrame, ServerFrame};
use wasm_bindgen::JsValue;

use crate::js::{read_into, with_memory};

/// A client frame as JSON text.
pub(crate) fn encode(frame: &ClientFrame) -> String {
    im_revoke_core::wire::encode_client(frame)
}

/// A server frame from JSON text; `None` for anything malformed.
pub fn decode(text: &str) -> Option<ServerFrame> {
    im_revoke_core::wire::decode_server(text)
}

// A text frame's string goes into wasm memory through a buffer kept between frames, by a
// plain loop over its characters while they are ASCII (`TextEncoder.encodeInto` for the rest;
// see `js::read_into`): in Chromium the loop takes ~400 ns for a 250-character event where
// `encodeInto` takes ~650 ns, and wasm-bindgen's own string argument path adds an allocation.
// (A `const` initializer: no lazy set-up code; the memory comes from `js::with_memory`.)
thread_local! {
    static TEXT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Buffers larger than this (after a large history page) are not kept between frames.
const KEEP_BUFFER: usize = 256 * 1024;

/// Runs `f` on the text of `data`, a string or an `ArrayBuffer` of UTF-8 (`None` when `data` is
/// neither, or its bytes are not UTF-8). No JavaScript runs while the buffer is borrowed but
/// `readInto` itself.
pub fn read_text<R>(data: &JsValue, f: impl FnOnce(&str) -> R) -> Option<R> {
    TEXT.with(|t| {
        let buf = &mut *t.borrow_mut();
        let mut n = with_memory(|m| read_into(data, m, buf.as_mut_ptr(), buf.len()));
        if n <= -2.0 {
            buf.resize((-2.0 - n) as usize, 0);
            n = with_memory(|m| read_into(data, m, buf.as_mut_ptr(), buf.len()));
        }
        if n < 0.0 {
            return None;
        }
        // A string's bytes are always UTF-8 (TextEncoder makes a lone surrogate U+FFFD); a
        // binary frame's are checked here.
        let r = std::str::from_utf8(&buf[..n as usize]).ok().map(f);
        if buf.len() > KEEP_BUFFER {
            *buf = Vec::new();
        }
        r
    })
}
