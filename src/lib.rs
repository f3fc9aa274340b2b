//! im-revoke browser module (wasm-bindgen bindings); see crates/core for the rules.
