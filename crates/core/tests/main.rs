//! The core's integration tests, in one test binary: one module per area (a file of its own in
//! `tests/`). Linked once instead of once per file. One area: `cargo test -p im-revoke-core
//! --test core rules::`. `shared` needs the `shared` feature and `wire` the `json` one;
//! `cargo test --workspace` builds the core with both (the server asks for them), and
//! `cargo test -p im-revoke-core --features shared,json` does too.

mod attachments;
mod conversations;
#[cfg(feature = "json")]
mod frames;
mod fuzz_frame_decode;
mod fuzz_hub_ops;
mod hardening;
mod prop;
mod rules;
#[cfg(feature = "shared")]
mod shared;
#[cfg(feature = "json")]
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
