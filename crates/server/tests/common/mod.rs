//! Helpers for the wire tests: an in-process server on 127.0.0.1:0 and a JSON WebSocket client.
//! Every wait is bounded by [`WAIT`].
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use im_revoke_server::{Secret, Server, ServerConfig};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Longest wait for any one frame.
pub const WAIT: Duration = Duration::from_secs(10);
pub const KEY: &str = "test-secret-key";
pub const SDKAPPID: u64 = 1_400_000_000;

pub struct TestServer {
    pub server: Option<Server>,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = ServerConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            dir.path().join("db").join("test.db"),
            Secret::new(KEY),
        );
        cfg.sdkappid = SDKAPPID;
        tune(&mut cfg);
        let server = timeout(WAIT, im_revoke_server::start(cfg))
            .await
            .expect("start in time")
            .expect("server starts");
        let addr = server.local_addr();
        TestServer {
            server: Some(server),
            addr,
            dir,
        }
    }

    pub async fn connect(&self) -> Client {
        Client::connect(self.addr).await
    }

    pub async fn login(&self, user: &str) -> Client {
        Client::login(self.addr, user).await
    }

    pub async fn shutdown(&mut self) {
        if let Some(s) = self.server.take() {
            timeout(WAIT, s.shutdown())
                .await
                .expect("shutdown in time")
                .expect("clean shutdown");
        }
    }
}

pub fn usersig(user: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    im_revoke_usersig::gen_usersig(SDKAPPID, KEY, user, 3600, now)
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub user: String,
    next_req: u64,
    /// Frames read while waiting for an answer (events), handed out by `recv` first.
    pending: std::collections::VecDeque<Value>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let url = format!("ws://{addr}/ws");
        let (ws, _) = timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect in time")
            .expect("connects");
        Client {
            ws,
            user: String::new(),
            next_req: 0,
            pending: Default::default(),
        }
    }

    pub async fn login(addr: SocketAddr, user: &str) -> Client {
        let mut c = Client::connect(addr).await;
        let f = c.login_with(user, &usersig(user)).await;
        assert_eq!(f["type"], "loginOk", "{f}");
        assert_eq!(f["userID"], user);
        c.user = user.to_string();
        c
    }

    /// Sends a login frame and returns the answer.
    pub async fn login_with(&mut self, user: &str, sig: &str) -> Value {
        self.send(json!({"type": "login", "v": 1, "userID": user, "userSig": sig}))
            .await;
        self.recv().await
    }

    pub fn req(&mut self) -> String {
        self.next_req += 1;
        format!("{}-r{}", self.user, self.next_req)
    }

    pub async fn send(&mut self, v: Value) {
        self.send_raw(Message::text(v.to_string())).await;
    }

    pub async fn send_raw(&mut self, m: Message) {
        timeout(WAIT, self.ws.send(m))
            .await
            .expect("send in time")
            .expect("send works");
    }

    /// The next text frame, as JSON (WebSocket pings and pongs skipped).
    pub async fn recv(&mut self) -> Value {
        if let Some(v) = self.pending.pop_front() {
            return v;
        }
        self.recv_wire().await
    }

    async fn recv_wire(&mut self) -> Value {
        loop {
            let m = timeout(WAIT, self.ws.next())
                .await
                .expect("a frame in time")
                .expect("connection open")
                .expect("frame reads");
            match m {
                Message::Text(t) => return serde_json::from_str(t.as_str()).expect("JSON frame"),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// Waits until the server closes the connection; returns the close code if one was sent.
    pub async fn expect_closed(&mut self) -> Option<u16> {
        loop {
            match timeout(WAIT, self.ws.next()).await.expect("closed in time") {
                None => return None,
                Some(Err(e)) => {
                    eprintln!("connection ended with {e}");
                    return None;
                }
                Some(Ok(Message::Close(c))) => return c.map(|c| u16::from(c.code)),
                Some(Ok(Message::Text(t))) => panic!("unexpected frame before close: {t}"),
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Sends `v` (with a fresh reqId unless it has one) and returns the answer; live events
    /// that arrive first are kept for `recv`.
    pub async fn request(&mut self, mut v: Value) -> Value {
        if v.get("reqId").is_none() {
            v["reqId"] = Value::String(self.req());
        }
        let req_id = v["reqId"].clone();
        self.send(v).await;
        loop {
            let f = self.recv_wire().await;
            if f["type"] == "event" {
                self.pending.push_back(f);
                continue;
            }
            assert_eq!(f["reqId"], req_id, "answer to another request: {f}");
            return f;
        }
    }

    pub async fn send_text(&mut self, to: &str, msg_id: &str, text: &str) -> Value {
        self.request(json!({"type": "send", "msgID": msg_id, "receiver": to,
                            "elem": {"elemType": "text", "text": text}}))
            .await
    }

    pub async fn send_group(&mut self, group: &str, msg_id: &str, text: &str) -> Value {
        self.request(json!({"type": "send", "msgID": msg_id, "groupID": group,
                            "elem": {"elemType": "text", "text": text}}))
            .await
    }

    pub async fn revoke(&mut self, msg_id: &str) -> Value {
        self.request(json!({"type": "revoke", "msgID": msg_id, "reason": "typo"}))
            .await
    }

    pub async fn create_group(&mut self, group: &str, admins: &[&str], members: &[&str]) -> Value {
        self.request(
            json!({"type": "createGroup", "groupID": group, "name": group,
                            "admins": admins, "members": members}),
        )
        .await
    }

    pub async fn sync(&mut self, after: u64) -> Value {
        self.request(json!({"type": "sync", "afterSeq": after}))
            .await
    }

    pub async fn history_with(&mut self, peer: &str) -> Value {
        self.request(json!({"type": "history", "userID": peer, "count": 20}))
            .await
    }

    /// A `ping` through the hub; returns the `pong`. Proves the connection is still usable and
    /// that nothing else was queued before it.
    pub async fn ping(&mut self) -> Value {
        self.send(json!({"type": "ping", "t": 42})).await;
        let f = self.recv().await;
        assert_eq!(f["type"], "pong", "expected pong, got {f}");
        f
    }
}

/// Asserts that `f` is an error frame with `code`.
#[track_caller]
pub fn assert_error(f: &Value, code: u32) {
    assert_eq!(f["type"], "error", "expected error {code}, got {f}");
    assert_eq!(f["code"], code, "expected error {code}, got {f}");
}

/// Asserts that `f` is a live event of `kind` and returns its seq.
#[track_caller]
pub fn assert_event(f: &Value, kind: &str) -> u64 {
    assert_eq!(f["type"], "event", "expected event {kind}, got {f}");
    assert_eq!(f["event"]["kind"], kind, "expected event {kind}, got {f}");
    f["seq"].as_u64().expect("seq")
}

/// An HTTP answer: status, headers (names lowercased) and body.
pub struct HttpReply {
    pub status: u16,
    pub headers: std::collections::HashMap<String, String>,
    pub body: String,
}

/// A minimal HTTP/1.1 GET over a fresh connection (`Connection: close`).
pub async fn get_reply(addr: SocketAddr, path: &str) -> HttpReply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = timeout(WAIT, TcpStream::connect(addr))
        .await
        .unwrap()
        .unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    HttpReply {
        status,
        headers,
        body: body.to_string(),
    }
}

/// [`get_reply`], as (status, body).
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let r = get_reply(addr, path).await;
    (r.status, r.body)
}
