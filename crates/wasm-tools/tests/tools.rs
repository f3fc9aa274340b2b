//! The two tools run, and are the version of the `wasm-bindgen` library the browser module is
//! built with: a module's bindings only work with the CLI of its library's exact version.

use std::process::Command;

/// The `wasm-bindgen` library's version in the workspace's Cargo.lock.
fn locked_wasm_bindgen() -> String {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"))
        .expect("the workspace's Cargo.lock");
    let mut name = "";
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = n;
        } else if let Some(v) = line.strip_prefix("version = ") {
            if name == "\"wasm-bindgen\"" {
                return v.trim_matches('"').to_string();
            }
        }
    }
    panic!("no wasm-bindgen package in Cargo.lock");
}

fn version_of(exe: &str) -> String {
    let out = Command::new(exe)
        .arg("--version")
        .output()
        .expect("the tool runs");
    assert!(out.status.success(), "{exe} --version: {out:?}");
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .trim()
        .to_string()
}

#[test]
fn wasm_bindgen_is_the_locked_version() {
    let want = locked_wasm_bindgen();
    assert_eq!(
        version_of(env!("CARGO_BIN_EXE_wasm-bindgen")),
        format!("wasm-bindgen {want}")
    );
    assert_eq!(
        env!("CARGO_PKG_VERSION"),
        want,
        "crates/wasm-tools/Cargo.toml's version"
    );
}

#[test]
fn test_runner_is_the_locked_version() {
    let want = locked_wasm_bindgen();
    let got = version_of(env!("CARGO_BIN_EXE_wasm-bindgen-test-runner"));
    assert!(
        got.ends_with(&want),
        "wasm-bindgen-test-runner --version: {got:?}, want {want}"
    );
}
