//! The durable stores behind the core's [`im_revoke_core::Store`] trait, one per database:
//!
//! - [`sqlite`]: SQLite, one node (the default). The SQLite write of a revoke:
//!   `SqliteStore::put_message` (see the top of `store/sqlite.rs`);
//! - [`pg`]: PostgreSQL, several nodes sharing one database (`--db postgres://…`);
//! - [`notify`]: the NOTIFY channel and payload of the wake-up signal the PostgreSQL store sends
//!   at each commit (heard by [`crate::wakeup`]);
//! - [`webhooks`]: the webhook outbox table and the deliverer's side of it;
//! - [`uploads`]: the attachment tables and the upload routes' and sweeper's side of them;
//! - `rows`: what the two share: the SQL both run (with each driver's placeholders), the
//!   `messages` columns and the conversions between stored values and the core's types.
//!
//! Both stores pass the same contract test (`tests/store_contract.rs`), with the core's
//! in-memory store as the third backend.

pub mod notify;
pub mod pg;
mod rows;
pub mod sqlite;
pub mod uploads;
pub mod webhooks;

pub use pg::PgStore;
pub use sqlite::SqliteStore;
