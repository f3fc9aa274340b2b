//! The HTTP side of attachments for the server tests: raw HTTP/1.1 requests (uploads with a
//! UserSig, downloads with headers), small files of each type, and bounded waits.
#![allow(dead_code)]

use super::common::{usersig, WAIT};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout};

pub struct Reply {
    pub status: u16,
    pub headers: std::collections::HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

pub fn head(
    method: &str,
    path: &str,
    addr: SocketAddr,
    headers: &[(&str, String)],
    len: usize,
) -> String {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        req.push_str(&format!("Content-Length: {len}\r\n"));
    }
    req.push_str("\r\n");
    req
}

pub async fn read_reply(mut s: TcpStream) -> Reply {
    let mut buf = Vec::new();
    timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let at = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let text = String::from_utf8_lossy(&buf[..at]).to_string();
    let mut lines = text.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: buf[at + 4..].to_vec(),
    }
}

pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Reply {
    let mut s = timeout(WAIT, TcpStream::connect(addr))
        .await
        .unwrap()
        .unwrap();
    s.write_all(head(method, path, addr, headers, body.len()).as_bytes())
        .await
        .unwrap();
    s.write_all(body).await.unwrap();
    read_reply(s).await
}

pub fn auth(user: &str) -> (&'static str, String) {
    ("Authorization", format!("UserSig {user} {}", usersig(user)))
}

pub async fn upload(addr: SocketAddr, user: &str, ty: &str, name: &str, body: &[u8]) -> Reply {
    let h = [
        auth(user),
        ("Content-Type", ty.to_string()),
        ("X-File-Name", name.to_string()),
    ];
    http(addr, "POST", "/upload", &h, body).await
}

/// A PNG header of `w` × `h` pixels (enough for the dimensions; the server decodes nothing).
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    v.extend_from_slice(&[7u8; 64]);
    v
}

pub const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

pub fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| {
        d.filter(|e| e.as_ref().is_ok_and(|e| e.path().is_file()))
            .count()
    })
}

pub fn image_elem(uuid: &str, size: usize) -> Value {
    json!({"elemType": "image", "imageList": [
        {"type": 1, "uuid": uuid, "url": "https://tracker.example/x", "width": 40, "height": 30, "size": size}]})
}

pub async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..100 {
        if f() {
            return;
        }
        sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}
