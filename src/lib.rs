//! # im-revoke — the browser module
//!
//! The JavaScript face of im-revoke, over wasm-bindgen. It converts and delegates; every rule
//! (time limits, permissions, ordering, resend, exactly-once, error codes) lives in
//! `im-revoke-core` and is decided there.
//!
//! ```js
//! import init, { LocalHub, ChatClient } from "im-revoke";
//! await init();
//! const hub = new LocalHub({ revokeTimeLimit: 120 });
//! const alice = await ChatClient.local(hub, "alice");
//! const mm = alice.getMessageManager();
//! const msg = mm.createTextMessage("hi");
//! await mm.sendMessage(msg, "bob", null);
//! await mm.revokeMessage(msg, "typo");
//! ```
//!
//! One file per class or concern:
//! - [`chat_client`] — `ChatClient` (login over `LocalHub` or WebSocket, connection state);
//! - [`manager`] — `MessageManager` (create, send, revoke, `canRevoke`, history, search,
//!   listeners);
//! - [`group`] — `GroupManager`;
//! - [`conversation`] — `ConversationManager` (conversation list, unread counts, listener);
//! - `attachment` — image and file messages: creating them (for `MessageManager`), uploading their Blobs in
//!   `sendMessage` (with progress and a thumbnail);
//! - `session` — the driver of one core client, and the `Transport` trait it holds one of
//!   (boxed); it knows no transport by name;
//! - `ws` — the WebSocket transport (and `ChatClient.connect`'s link), `wire` — its frames as
//!   JS values;
//! - `local_hub` — `LocalHub`, the embedded authority, its transport and `ChatClient.local`
//!   (default feature `local-hub`: the only thing it gates is this module);
//! - `listener` — listener objects and how they are called; `convert` — plain objects; `js` —
//!   the module's own JavaScript (dispatch, object builders) and the helpers several classes
//!   share (`chain`, `random_bytes`), so that no file imports one that imports it back;
//! - `storage` — the client's IndexedDB store (what `im_revoke_core::persist` keeps), per
//!   (server, SDKAppID, userID);
//! - [`error`] — `ImError` → a JavaScript `Error` with `code` and `desc`.
#![warn(missing_docs)]

mod attachment;
pub mod chat_client;
pub mod conversation;
mod convert;
pub mod error;
pub mod group;
mod js;
mod listener;
#[cfg(feature = "local-hub")]
pub mod local_hub;
pub mod manager;
mod session;
mod storage;
#[doc(hidden)]
pub mod wire;
mod ws;

pub use chat_client::ChatClient;
pub use conversation::ConversationManager;
pub use error::Error;
pub use group::GroupManager;
pub use listener::{AdvancedMsgListener, ConnectionListener, ConversationListener};
#[cfg(feature = "local-hub")]
pub use local_hub::LocalHub;
pub use manager::MessageManager;

use wasm_bindgen::prelude::*;

/// Runs once when the module is instantiated (by `await init()`): with the default feature
/// `console_error_panic_hook`, a Rust panic is logged with its message and location.
// wasm-bindgen also exports a start function to JS; the name and `skip_typescript` keep it out
// of the public surface.
#[wasm_bindgen(start, skip_typescript, js_name = __imRevokeStart)]
fn start() {
    #[cfg(feature = "console_error_panic_hook")]
    std::panic::set_hook(Box::new(log_panic));
}

/// The panic hook: `console.error` of an `Error` whose message is the panic's message and
/// location (its stack is the JavaScript one, down to the export that panicked). What the
/// `console_error_panic_hook` crate logs, without formatting the hook's info through
/// `core::fmt` (the message and the location go to JavaScript as they are).
#[cfg(feature = "console_error_panic_hook")]
fn log_panic(info: &std::panic::PanicHookInfo<'_>) {
    let payload = info.payload();
    let msg = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>");
    let (file, line, column) = info
        .location()
        .map_or(("", 0, 0), |l| (l.file(), l.line(), l.column()));
    js::panicked(msg, file, line, column);
}

/// The allocator: talc over wasm linear memory. Single-threaded wasm needs no lock
/// (`TalckWasm` assumes none can be contended).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
// SAFETY: `new_global` may only back one global allocator, which this is; wasm32 here is
// single-threaded.
static ALLOC: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };
