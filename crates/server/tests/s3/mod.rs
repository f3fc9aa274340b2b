//! A throw-away S3-compatible server for tests: `moto_server` (PyPI `moto[server]`, installed
//! by `scripts/setup.sh` into a venv of its own) on 127.0.0.1 at a free port, killed when
//! dropped. It keeps everything in memory.
//!
//! [`Moto::start`] returns `None` — the caller skips, after a loud message — only when
//! `moto_server` is not installed here; with `CI` set in the environment that is a failure
//! instead, since the set-up installs it.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long moto may take to answer.
const READY: Duration = Duration::from_secs(60);

/// The access key the tests give (moto accepts any).
pub const ACCESS_KEY: &str = "imr-test-access";
/// The secret key the tests give.
pub const SECRET_KEY: &str = "imr-test-secret";

pub struct Moto {
    pub port: u16,
    child: Child,
    /// moto (Python) loads the machine as it starts: no timed test runs while it does.
    _heavy: crate::timing::Guard,
}

/// Where `scripts/setup.sh` installs it, then `$IMR_MOTO_SERVER`, then PATH.
fn binary() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("IMR_MOTO_SERVER") {
        candidates.push(p.into());
    }
    if let Some(d) = data {
        candidates.push(d.join("im-revoke/moto-venv/bin/moto_server"));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("moto_server")));
    }
    candidates.into_iter().find(|p| {
        Command::new(p)
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One HTTP/1.1 request to moto, unsigned (moto does not check signatures); the status.
pub fn request(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.get(9..12)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

impl Moto {
    /// Starts moto on a free port and waits until it answers.
    pub fn start() -> Option<Moto> {
        let Some(bin) = binary() else {
            let why = "moto_server is not installed (PyPI moto[server])";
            if std::env::var_os("CI").is_some() {
                panic!("{why}: scripts/setup.sh installs it and CI requires it");
            }
            let line = "!".repeat(78);
            let msg = format!(
                "\n{line}\n!! SKIPPED: {why}.\n!! Run bash scripts/setup.sh to install it \
                 and run the S3 test.\n{line}\n"
            );
            let _ = std::io::stderr().write_all(msg.as_bytes());
            return None;
        };
        let heavy = crate::timing::heavy();
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let mut child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn moto_server");
            let start = Instant::now();
            while start.elapsed() < READY {
                if let Ok(Some(st)) = child.try_wait() {
                    last = format!("moto_server exited with {st}");
                    break;
                }
                if request(port, "GET", "/").is_some() {
                    return Some(Moto {
                        port,
                        child,
                        _heavy: heavy,
                    });
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("moto_server did not start: {last}");
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates `bucket`.
    pub fn create_bucket(&self, bucket: &str) {
        let r = request(self.port, "PUT", &format!("/{bucket}"));
        assert_eq!(r.map(|r| r.0), Some(200), "create bucket {bucket}");
    }

    /// Whether the object `key` is in `bucket`.
    pub fn has(&self, bucket: &str, key: &str) -> bool {
        self.keys(bucket).iter().any(|k| k == key)
    }

    /// The keys in `bucket`.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let (status, body) =
            request(self.port, "GET", &format!("/{bucket}?list-type=2")).expect("moto answers");
        assert_eq!(status, 200, "{body}");
        body.split("<Key>")
            .skip(1)
            .filter_map(|p| p.split_once("</Key>").map(|(k, _)| k.to_string()))
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
