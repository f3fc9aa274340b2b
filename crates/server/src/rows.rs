//! What the SQL stores share: the `messages` columns and the conversions between stored values
//! and the core's types. Each backend reads its driver's row into a [`MessageRow`]; everything
//! after that is here, once.

use im_revoke_core::model::{Elem, Message, RevokeInfo};
use im_revoke_core::store::StoreError;

/// The columns of a `messages` row, in the order both schemas select them.
pub const MESSAGE_COLUMNS: &str = "msg_id, sender, receiver, group_id, time_ms, seq, elem, revoke";

/// A `messages` row as the driver returns it, before JSON decoding (done outside the driver's
/// callbacks, so decoding errors stay [`StoreError`]s).
pub struct MessageRow {
    pub msg_id: String,
    pub sender: String,
    pub receiver: Option<String>,
    pub group_id: Option<String>,
    pub time_ms: i64,
    pub seq: i64,
    pub elem: Option<String>,
    pub revoke: Option<String>,
}

impl MessageRow {
    /// The message this row holds; `backend` names the store in errors.
    pub fn into_message(self, backend: &str) -> Result<Message, StoreError> {
        let elem: Option<Elem> = self
            .elem
            .map(|j| from_json(&j, backend, "messages.elem"))
            .transpose()?;
        let revoke: Option<RevokeInfo> = self
            .revoke
            .map(|j| from_json(&j, backend, "messages.revoke"))
            .transpose()?;
        Ok(Message {
            msg_id: self.msg_id,
            sender: self.sender,
            receiver: self.receiver,
            group_id: self.group_id,
            time_ms: to_u64(self.time_ms, backend)?,
            seq: to_u64(self.seq, backend)?,
            elem,
            revoke,
        })
    }
}

/// A stored value that cannot be what the server wrote.
pub fn corrupt(backend: &str, what: &str) -> StoreError {
    StoreError(format!("{backend}: corrupt row: {what}"))
}

/// A number for an SQL integer column.
pub fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError(format!("value {v} does not fit the database")))
}

/// A number read from an SQL integer column.
pub fn to_u64(v: i64, backend: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| corrupt(backend, "negative number"))
}

/// A value for a JSON text column.
pub fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError(format!("encoding a row: {e}")))
}

/// A value read from a JSON text column.
pub fn from_json<T: serde::de::DeserializeOwned>(
    s: &str,
    backend: &str,
    what: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|_| corrupt(backend, what))
}
