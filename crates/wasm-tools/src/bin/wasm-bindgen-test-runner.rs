//! `wasm-bindgen-test-runner`: the CLI's own `main`, built in the workspace (see Cargo.toml).

fn main() -> anyhow::Result<()> {
    env_logger::init();
    wasm_bindgen_cli::wasm_bindgen_test_runner::run_cli_with_args(std::env::args_os())
}
