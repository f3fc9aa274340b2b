//! Connections that never finish the WebSocket upgrade: silent sockets and slow headers. The real
//! binary, under a small `ulimit -n`, so that a few hundred sockets reach its file descriptor
//! limit (issue 20, item 2).

use crate::common;
use crate::process;

use common::*;
use process::Proc;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// The server's file descriptor limit in these tests.
const NOFILE: u64 = 200;
/// Silent sockets opened against it: more than it has descriptors.
const SILENT: usize = 300;

async fn healthz(addr: SocketAddr) -> Result<u16, String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let req = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf);
    text.get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status in {text:?}"))
}

/// Opens `n` TCP connections that never send a byte.
async fn silent_sockets(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let s = timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connect in time (the kernel's backlog takes it)")
            .expect("connects");
        v.push(s);
    }
    v
}

/// Whether the server has closed `s` (EOF or reset), without waiting.
async fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    match timeout(Duration::from_millis(1), s.read(&mut b)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) => false,
        Err(_) => false, // nothing to read: still open
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_leave_room_for_healthz_and_logins() {
    let _apart = crate::timing::timed();
    let dir = tempfile::tempdir().unwrap();
    let p = Proc::start_with_nofile(dir.path().join("im.db"), &[], Some(NOFILE));
    let _silent = silent_sockets(p.addr, SILENT).await;
    // Let the server accept what it will.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = timeout(Duration::from_secs(3), healthz(p.addr))
        .await
        .expect("/healthz answers under a flood of silent sockets");
    assert_eq!(status, Ok(200));
    let mut alice = timeout(Duration::from_secs(5), Client::login(p.addr, "alice"))
        .await
        .expect("a login works under the flood");
    alice.ping().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_are_cut_after_the_handshake_timeout() {
    let _apart = crate::timing::timed();
    let dir = tempfile::tempdir().unwrap();
    let p = Proc::start(dir.path().join("im.db"), &["--handshake-timeout", "1"]);
    let mut silent = silent_sockets(p.addr, 20).await;
    let t0 = Instant::now();
    let mut open = silent.len();
    while open > 0 && t0.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        open = 0;
        for s in &mut silent {
            if !closed_by_server(s).await {
                open += 1;
            }
        }
    }
    assert_eq!(
        open,
        0,
        "silent sockets still open after {:?}",
        t0.elapsed()
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(800),
        "not before the timeout"
    );
}

/// A header line every 500 ms never completes the request: cut at the (default, 10 s) handshake
/// timeout, not after 30 s or never.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_headers_are_cut_at_the_default_handshake_timeout() {
    let _apart = crate::timing::timed();
    let dir = tempfile::tempdir().unwrap();
    let p = Proc::start(dir.path().join("im.db"), &[]);
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    let t0 = Instant::now();
    s.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut i = 0;
    let cut = loop {
        if t0.elapsed() > Duration::from_secs(14) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        i += 1;
        if s.write_all(format!("X-Slow-{i}: {i}\r\n").as_bytes())
            .await
            .is_err()
            || closed_by_server(&mut s).await
        {
            break Some(t0.elapsed());
        }
    };
    let cut = cut.expect("a slowloris request is cut within 14 s");
    assert!(cut >= Duration::from_secs(9), "cut too early: {cut:?}");
}
