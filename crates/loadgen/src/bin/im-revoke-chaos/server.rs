//! The server child: started on a fresh database (a SQLite file in the working directory, or a
//! PostgreSQL database given by URL), SIGKILLed and restarted on the same one, stopped cleanly
//! at the end.

use im_revoke_loadgen::common::{err, Result};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct Server {
    pub bin: PathBuf,
    pub dir: PathBuf,
    /// Its log file (appended to across restarts).
    pub log: PathBuf,
    /// A PostgreSQL URL to run on instead of `dir/db`.
    pub db_url: Option<String>,
    pub port: u16,
    pub key: String,
    pub sdkappid: u64,
    pub child: Option<std::process::Child>,
    pub starts: u32,
}

/// Where the server keeps its data, as the checks read it.
pub enum Db {
    Sqlite(PathBuf),
    Postgres(String),
}

impl std::fmt::Display for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Db::Sqlite(p) => write!(f, "{}", p.display()),
            Db::Postgres(u) => f.write_str(u),
        }
    }
}

impl Server {
    pub fn db(&self) -> Db {
        match &self.db_url {
            Some(u) => Db::Postgres(u.clone()),
            None => Db::Sqlite(self.dir.join("db")),
        }
    }

    pub fn spawn(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = std::process::Command::new(&self.bin)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--db")
            .arg(self.db().to_string())
            .arg("--secret-key")
            .arg(&self.key)
            .arg("--sdkappid")
            .arg(self.sdkappid.to_string())
            .arg("--user-rate")
            .arg("0")
            .arg("--conn-rate")
            .arg("0")
            .env("IMR_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| err(format!("starting {}: {e}", self.bin.display())))?;
        self.child = Some(child);
        self.starts += 1;
        Ok(())
    }

    /// Waits until the server accepts TCP connections (15 s at most).
    pub async fn wait_ready(&mut self) -> Result<Duration> {
        let t0 = Instant::now();
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(t0.elapsed());
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    return Err(err(format!(
                        "the server exited at start ({st}); see {}",
                        self.log.display()
                    )));
                }
            }
            if t0.elapsed() > Duration::from_secs(15) {
                return Err(err("the server did not listen within 15 s"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn sigkill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL on Unix
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits (10 s) for a clean exit; returns whether it was clean.
    pub async fn stop(&mut self) -> bool {
        let Some(mut c) = self.child.take() else {
            return false;
        };
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let t0 = Instant::now();
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                return st.success();
            }
            if t0.elapsed() > Duration::from_secs(10) {
                let _ = c.kill();
                let _ = c.wait();
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.sigkill();
    }
}
