//! The real `im-revoke-server` binary as a child process (so that tests can SIGKILL it).
//! Only for integration tests: it needs Cargo's `CARGO_BIN_EXE_` variable.
#![allow(dead_code)]

use super::common::{KEY, SDKAPPID, WAIT};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// The binary, started on 127.0.0.1:0; reads the address it prints.
pub struct Proc {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Proc {
    /// Starts it on `db` (a SQLite path or a PostgreSQL URL) with `args` added to `serve`.
    pub fn start(db: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Proc {
        Self::start_with_nofile(db, args, None)
    }

    /// Like [`Proc::start`], under `ulimit -n nofile` (soft and hard) when given.
    pub fn start_with_nofile(
        db: impl AsRef<std::ffi::OsStr>,
        args: &[&str],
        nofile: Option<u64>,
    ) -> Proc {
        Self::start_full(db, args, nofile, &[])
    }

    /// Like [`Proc::start`], with `env` added to its environment.
    pub fn start_env(db: impl AsRef<std::ffi::OsStr>, args: &[&str], env: &[(&str, &str)]) -> Proc {
        Self::start_full(db, args, None, env)
    }

    fn start_full(
        db: impl AsRef<std::ffi::OsStr>,
        args: &[&str],
        nofile: Option<u64>,
        env: &[(&str, &str)],
    ) -> Proc {
        let bin = env!("CARGO_BIN_EXE_im-revoke-server");
        let mut cmd = match nofile {
            // The shell sets the limit and becomes the server (same pid).
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(bin);
                c
            }
            None => Command::new(bin),
        };
        let mut child = cmd
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(db)
            .args(args)
            .env("IMR_SECRET_KEY", KEY)
            .env("IMR_SDKAPPID", SDKAPPID.to_string())
            .env("IMR_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("binary starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Some(url) = line.strip_prefix("im-revoke-server listening on http://") {
                    let _ = tx.send(url.parse::<SocketAddr>().expect("address"));
                }
            }
        });
        let addr = rx
            .recv_timeout(WAIT)
            .expect("the server says where it listens");
        Proc { child, addr }
    }

    /// SIGKILL: no shutdown, no flush, no goodbye.
    pub fn kill9(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }

    /// SIGTERM, and the exit status.
    pub fn terminate(self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let st = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        assert!(st.success());
        self.exit_status()
    }

    /// Waits (at most 10 s) for the process to exit by itself.
    pub fn exit_status(mut self) -> std::process::ExitStatus {
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        self.child.kill().ok();
        panic!("the server did not stop within 10 s");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
