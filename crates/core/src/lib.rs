//! # im-revoke-core
//!
//! The authority of im-revoke, in pure Rust with no JavaScript, no async runtime and no I/O:
//!
//! - [`model`]: users, conversations, groups, messages and their revoke state;
//! - [`protocol`]: every frame on the wire, as serde types (documented in `PROTOCOL.md`);
//! - [`policy`]: who may revoke what until when, as one pure function, and the configuration;
//! - [`hub`]: the sans-I/O state machine both hosts drive (the server and the embedded hub);
//! - [`store`]: the storage trait the hub persists through, with an in-memory store;
//! - [`client`]: the client-side state machine the browser module drives;
//! - [`persist`]: what a browser client keeps between page loads (cursor, messages, outbox),
//!   how a stored record is checked, and the bounds of its memory (LRU, told revokes);
//! - [`view`]: the plain objects JavaScript sees (a message, `canRevoke`'s answer);
//! - [`limit`]: the token bucket behind every rate limit;
//! - `sim` (feature `test-support`): a simulated world of hub, devices and network, for tests
//!   and the fuzz harness;
//! - `callback` (feature `callbacks`): webhooks in Tencent's shapes and `MsgKey`s;
//! - [`wire`]: server frames from JSON text without serde (the browser module's decoder), over
//!   `json`, a small hand-written JSON reader and writer;
//! - [`attachment`]: the rules of custom, image and file elements and of their uploads;
//! - [`error`]: the one table of error codes (Tencent's numbering where Tencent has one).
#![warn(missing_docs)]

pub mod attachment;
#[cfg(feature = "callbacks")]
pub mod callback;
pub mod client;
pub mod error;
mod hash;
pub mod hub;
mod json;
pub mod limit;
pub mod model;
pub mod persist;
pub mod policy;
pub mod protocol;
#[cfg(any(test, feature = "test-support"))]
pub mod sim;
mod sorted;
pub mod store;
pub mod view;
pub mod wire;

pub use error::{Code, ImError};
/// The client's hasher (FxHash's multiply-rotate), for a host's maps beside the core client's
/// message cache: see `hash.rs` for why not std's SipHash.
pub use hash::Fast;
pub use hub::{Hub, Outgoing, SessionId};
pub use model::{
    ConvId, Elem, Group, GroupRole, ImageInfo, Message, MessageStatus, RevokeInfo, RevokerRole,
    StringSet,
};
pub use policy::Config;
pub use protocol::{ClientFrame, Envelope, Event, ServerFrame};
pub use sorted::SortedMap;
pub use store::{CallbackRecord, MemStore, Store, StoreError};
