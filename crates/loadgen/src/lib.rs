//! # im-revoke-loadgen
//!
//! The load generator behind `npm run bench`: it speaks im-revoke's wire protocol with the core
//! crate's own serde types, mints UserSigs locally for the server's SDKAppID and key, and
//! measures the server's performance targets. Every scenario is bounded in count and in time,
//! and only ever connects to loopback addresses.
//!
//! - [`idle`]: N idle logged-in connections, the server's RSS before and after;
//! - [`throughput`]: sustained durable sends and revokes per second;
//! - [`latency`]: revoke on A → event at B, with a bare WebSocket echo as the baseline;
//! - [`fanout`]: one revoke to a group of M online members;
//! - [`convlist`]: the first page of a 1,000-conversation list;
//! - [`flood`]: a well-behaved user's send round trip while another floods a large group;
//! - [`attach`]: a 5 MB attachment's upload and download, and revoke → its URL gone (410);
//! - [`sqlite_baseline`]: raw SQLite commit rates, the ceiling for durable requests;
//! - [`echo`]: the bare tokio-tungstenite echo server used as a baseline;
//! - [`rest`]: admin sends and recalls over the REST API, and webhook receivers (slow or not).
#![warn(missing_docs)]

pub mod attach;
pub mod common;
pub mod convlist;
pub mod echo;
pub mod fanout;
pub mod flood;
pub mod idle;
pub mod latency;
pub mod rest;
pub mod sqlite_baseline;
pub mod throughput;
