//! The crate's integration tests, in one test binary: `cargo test -p im-revoke-usersig --test
//! usersig`; one module per file of `tests/`.

mod fixtures;
mod verify;

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
