//! A throw-away PostgreSQL server for tests: `initdb` into a temporary directory, `postgres` on
//! 127.0.0.1 at a free port, stopped (and the directory removed) when dropped.
//!
//! Uses the Debian `postgresql` package (`scripts/setup.sh` installs it): the binaries under
//! `/usr/lib/postgresql/*/bin`. PostgreSQL refuses to run as root, so under root the server runs
//! as the system user [`PG_USER`], created with `useradd` if missing.
//!
//! [`Pg::start`] returns `None` — the caller skips, and a loud message goes straight to the
//! terminal (past the test harness's capture) — only when PostgreSQL truly cannot be started
//! here: no binaries, or root without a way to create the user. With `CI` set in the
//! environment, that is a failure instead, since the set-up is supposed to provide it.
#![allow(dead_code)]

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The unprivileged user PostgreSQL runs as when the tests run as root.
pub const PG_USER: &str = "imrevoke-pg";

/// How long PostgreSQL may take to accept connections.
const READY: Duration = Duration::from_secs(30);

pub struct Pg {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
    /// A cluster of its own loads the machine: no timed test runs while it does.
    _heavy: crate::timing::Guard,
}

fn skip(why: &str) -> Option<Pg> {
    if std::env::var_os("CI").is_some() {
        panic!("PostgreSQL is required in CI (scripts/setup.sh installs it): {why}");
    }
    let line = "!".repeat(78);
    let msg = format!(
        "\n{line}\n!! SKIPPED: PostgreSQL cannot be started here: {why}\n\
         !! Install it (bash scripts/setup.sh, or apt-get install -y postgresql) to run the\n\
         !! multi-node tests.\n{line}\n"
    );
    // Straight to the terminal: the test harness captures eprintln! of passing tests.
    let _ = std::io::stderr().write_all(msg.as_bytes());
    None
}

/// The newest `/usr/lib/postgresql/<version>/bin` with `initdb` and `postgres`.
fn bin_dir() -> Option<PathBuf> {
    let mut best: Option<(u32, PathBuf)> = None;
    for e in std::fs::read_dir("/usr/lib/postgresql").ok()?.flatten() {
        let v: u32 = match e.file_name().to_str().and_then(|s| s.parse().ok()) {
            Some(v) => v,
            None => continue,
        };
        let bin = e.path().join("bin");
        if bin.join("initdb").exists()
            && bin.join("postgres").exists()
            && best.as_ref().is_none_or(|(b, _)| v > *b)
        {
            best = Some((v, bin));
        }
    }
    best.map(|(_, p)| p)
}

fn id_of(flag: &str, user: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, user]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The (uid, gid) to run PostgreSQL as: ourselves, or [`PG_USER`] under root.
fn run_as() -> Result<Option<(u32, u32)>, String> {
    let me = std::fs::metadata("/proc/self")
        .map_err(|e| format!("reading /proc/self: {e}"))?
        .uid();
    if me != 0 {
        return Ok(None);
    }
    static USERADD: Mutex<()> = Mutex::new(());
    let _g = USERADD.lock().unwrap_or_else(|p| p.into_inner());
    if id_of("-u", PG_USER).is_none() {
        let out = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                PG_USER,
            ])
            .output()
            .map_err(|e| format!("running useradd: {e}"))?;
        if !out.status.success() && id_of("-u", PG_USER).is_none() {
            return Err(format!(
                "useradd {PG_USER} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    match (id_of("-u", PG_USER), id_of("-g", PG_USER)) {
        (Some(u), Some(g)) => Ok(Some((u, g))),
        _ => Err(format!("no uid/gid for {PG_USER}")),
    }
}

fn command(bin: &Path, dir: &Path, as_user: Option<(u32, u32)>) -> Command {
    let mut c = Command::new(bin);
    c.current_dir(dir).env("LC_ALL", "C").env_remove("PGDATA");
    if let Some((uid, gid)) = as_user {
        c.uid(uid).gid(gid);
    }
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `initdb` of a cluster into `data` (in `dir`, owned by `as_user` when given).
fn initdb(bin: &Path, dir: &Path, data: &Path, as_user: Option<(u32, u32)>) {
    let out = command(&bin.join("initdb"), dir, as_user)
        .arg("-D")
        .arg(data)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .output()
        .expect("run initdb");
    assert!(
        out.status.success(),
        "initdb failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A cluster made by `initdb` once and copied for each [`Pg::start`] (an `initdb` took 1 s
/// here at rest and 5.5 s at load 8.5, a copy 0.1 s): `pg-template-<version>` under cargo's
/// temporary directory for tests, reused by later runs. `None` where cargo gives no such
/// directory (an example including this file): then each start runs `initdb` itself.
fn template(bin: &Path, as_user: Option<(u32, u32)>) -> Option<PathBuf> {
    let root = PathBuf::from(option_env!("CARGO_TARGET_TMPDIR")?);
    let version = bin.parent()?.file_name()?.to_str()?;
    let done = root.join(format!("pg-template-{version}"));
    static MAKING: Mutex<()> = Mutex::new(());
    let _g = MAKING.lock().unwrap_or_else(|p| p.into_inner());
    if !done.join("PG_VERSION").exists() {
        std::fs::create_dir_all(&root).ok()?;
        let tmp = tempfile::Builder::new()
            .prefix("pg-template-")
            .tempdir_in(&root)
            .ok()?;
        if let Some((uid, gid)) = as_user {
            std::os::unix::fs::chown(tmp.path(), Some(uid), Some(gid)).expect("chown tempdir");
        }
        let data = tmp.path().join("data");
        initdb(bin, tmp.path(), &data, as_user);
        // Complete before it has its name; another test process may have named its own first
        // (then the rename fails and this one goes with `tmp`).
        let _ = std::fs::rename(&data, &done);
    }
    Some(done)
}

impl Pg {
    /// Starts a fresh cluster, or `None` (after a loud message) when PostgreSQL cannot run
    /// here. Any other failure panics: the set-up is broken and the tests must say so.
    pub fn start() -> Option<Pg> {
        let Some(bin) = bin_dir() else {
            return skip("no /usr/lib/postgresql/*/bin/{initdb,postgres}");
        };
        let heavy = crate::timing::heavy();
        let as_user = match run_as() {
            Ok(u) => u,
            Err(e) => return skip(&e),
        };
        let dir = tempfile::Builder::new()
            .prefix("imr-pg-")
            .tempdir()
            .expect("tempdir");
        if let Some((uid, gid)) = as_user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown tempdir");
        }
        let data = dir.path().join("data");
        match template(&bin, as_user) {
            Some(t) => {
                let out = Command::new("cp")
                    .arg("-a")
                    .arg(&t)
                    .arg(&data)
                    .output()
                    .expect("run cp");
                assert!(
                    out.status.success(),
                    "copying the template cluster {} failed: {}",
                    t.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            None => initdb(&bin, dir.path(), &data, as_user),
        }
        let mut last_log = String::new();
        for _ in 0..3 {
            let port = free_port();
            let log_path = dir.path().join(format!("postgres-{port}.log"));
            let log = std::fs::File::create(&log_path).expect("log file");
            if let Some((uid, gid)) = as_user {
                std::os::unix::fs::chown(&log_path, Some(uid), Some(gid)).expect("chown log");
            }
            let mut child = command(&bin.join("postgres"), dir.path(), as_user)
                .arg("-D")
                .arg(&data)
                .arg("-k")
                .arg(dir.path())
                .args([
                    "-p",
                    &port.to_string(),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "max_connections=200",
                    "-c",
                    "shared_buffers=32MB",
                ])
                // Extra settings for experiments (`IMR_PG_SETTINGS="commit_delay=10
                // wal_buffers=16MB"`): each one a `-c`, after the defaults above.
                .args(
                    std::env::var("IMR_PG_SETTINGS")
                        .unwrap_or_default()
                        .split_whitespace()
                        .flat_map(|kv| ["-c".to_string(), kv.to_string()]),
                )
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("spawn postgres");
            let start = Instant::now();
            while start.elapsed() < READY {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // exited: the port was taken meanwhile, or worse (see the log)
                }
                if let Ok(mut c) = postgres::Client::connect(
                    &format!("host=127.0.0.1 port={port} user=postgres dbname=postgres"),
                    postgres::NoTls,
                ) {
                    if c.simple_query("SELECT 1").is_ok() {
                        return Some(Pg {
                            port,
                            child,
                            dir,
                            _heavy: heavy,
                        });
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
        }
        panic!("PostgreSQL did not start; its log:\n{last_log}");
    }

    /// The URL of database `db` (see [`Pg::create_db`]).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A superuser connection to database `db`.
    pub fn client(&self, db: &str) -> postgres::Client {
        postgres::Client::connect(&self.url(db), postgres::NoTls).expect("connect to PostgreSQL")
    }

    /// Creates database `name`; returns its URL.
    pub fn create_db(&self, name: &str) -> String {
        self.client("postgres")
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .expect("CREATE DATABASE");
        self.url(name)
    }

    /// The process id of the postmaster (its backends and background processes are its
    /// children).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        // Fast shutdown (SIGINT): disconnects clients, stops cleanly.
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
