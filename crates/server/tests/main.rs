//! The server's integration tests, in one test binary: one module per area (a file of its own
//! in `tests/`), the helpers they share beside them. Linked once instead of once per file, each
//! link against the whole server. One area: `cargo test -p im-revoke-server --test server
//! attachments::`; one test: its module path, e.g. `rest::an_admin_identifier_over_websocket`.

// Helpers.
mod attach_support;
mod common;
mod pg;
#[path = "common/process.rs"]
mod process;
mod rest_support;
mod s3;
mod timing;
mod webhook_crash;

// The tests.
mod admission;
mod attachments;
mod attachments_pg;
mod cli;
mod conversations;
mod durability;
mod flood;
mod hardening_core;
mod http;
mod multi_node;
mod resilience;
mod rest;
mod rtt;
mod static_files;
mod store_contract;
mod time_limits;
mod usersig_login;
mod webhooks;
mod webhooks_pg;
mod wire;

/// Every `tests/*.rs` file is a module of this binary (the manifest sets `autotests = false`, so
/// cargo no longer finds them itself): a file added without its `mod` line above would never run.
#[test]
fn every_test_file_is_a_module_of_this_binary() {
    let root = include_str!("main.rs");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(module) = name.strip_suffix(".rs").filter(|m| *m != "main") {
            assert!(
                root.contains(&format!("\nmod {module};\n")),
                "tests/{name} is not a module of tests/main.rs"
            );
        }
    }
}
