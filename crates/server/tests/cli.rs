//! The command line of the real binary.

use std::process::{Command, Output};

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_im-revoke-server"));
    c.args(args)
        .env_remove("IMR_SECRET_KEY")
        .env_remove("IMR_DEV");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("the binary runs")
}

#[test]
fn usersig_subcommand_mints_a_valid_sig() {
    let out = run(
        &["usersig", "--user", "alice", "--expire", "600"],
        &[("IMR_SECRET_KEY", "k1"), ("IMR_SDKAPPID", "1400000001")],
    );
    assert!(out.status.success(), "{out:?}");
    let sig = String::from_utf8(out.stdout).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = im_revoke_usersig::verify_usersig(sig.trim(), 1400000001, "k1", "alice", now)
        .expect("verifies");
    assert_eq!(claims.expire, 600);
}

#[test]
fn usersig_needs_a_key_unless_dev() {
    let out = run(&["usersig", "--user", "alice"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("secret key"));
    let out = run(&["usersig", "--user", "alice", "--dev"], &[]);
    assert!(out.status.success());
}

#[test]
fn serve_needs_a_key_unless_dev() {
    let out = run(&["--listen", "127.0.0.1:0"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("IMR_SECRET_KEY"));
}

#[test]
fn dev_mode_refuses_a_non_loopback_address() {
    let out = run(&["--dev", "--listen", "0.0.0.0:0"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}

#[test]
fn help_documents_every_flag_with_its_environment_variable() {
    let out = run(&["--help"], &[]);
    let help = String::from_utf8(out.stdout).unwrap();
    for var in [
        "IMR_LISTEN",
        "IMR_DB",
        "IMR_SDKAPPID",
        "IMR_SECRET_KEY",
        "IMR_DEV",
        "IMR_REVOKE_TIME_LIMIT",
        "IMR_ADMIN_REVOKE_TIME_LIMIT",
        "IMR_MAX_TEXT_BYTES",
        "IMR_USER_RATE",
        "IMR_USER_BURST",
        "IMR_MAX_FRAME_BYTES",
        "IMR_MAX_CONNECTIONS",
        "IMR_IDLE_TIMEOUT",
        "IMR_LOGIN_TIMEOUT",
        "IMR_HANDSHAKE_TIMEOUT",
        "IMR_MAX_PENDING_CONNECTIONS",
        "IMR_MAX_CONNECTIONS_PER_USER",
        "IMR_RESERVED_FDS",
        "IMR_ALLOWED_ORIGINS",
        "IMR_HEALTH_MAX_HUB_LAG_MS",
        "IMR_HEALTH_MAX_HUB_QUEUE",
        "IMR_STATIC_DIR",
        "IMR_PKG_DIR",
    ] {
        assert!(help.contains(var), "--help lacks {var}");
    }
}
