//! Conversations and unread counts over the real wire: each device is the core's client state
//! machine (what the browser module drives) on a WebSocket to the server binary, so what is
//! checked is what a user's badge would show — after a reconnect with missed events, a server
//! restart and a SIGKILL — and that it agrees with the server's own list.

use crate::common;
use crate::process;

use common::{usersig, WAIT};
use futures_util::{SinkExt, StreamExt};
use im_revoke_core::client::Client as Core;
use im_revoke_core::protocol::{ClientFrame, ServerFrame};
use im_revoke_core::wire::{decode_server, encode_client};
use process::Proc;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

/// One device: the core client and, while connected, its socket.
struct Device {
    core: Core,
    ws: Option<Ws>,
}

impl Device {
    fn new(user: &str, seed: u64) -> Device {
        Device {
            core: Core::new(user, seed).expect("a valid userID"),
            ws: None,
        }
    }

    fn user(&self) -> String {
        self.core.user_id().to_string()
    }

    async fn write(&mut self, f: &ClientFrame) {
        let ws = self.ws.as_mut().expect("connected");
        timeout(WAIT, ws.send(WsMessage::text(encode_client(f))))
            .await
            .expect("send in time")
            .expect("send works");
    }

    /// Writes what the client wants sent; whether there was anything.
    async fn flush(&mut self) -> bool {
        let frames = self.core.take_frames();
        for f in &frames {
            self.write(f).await;
        }
        !frames.is_empty()
    }

    async fn read(&mut self) -> ServerFrame {
        let ws = self.ws.as_mut().expect("connected");
        loop {
            let m = timeout(WAIT, ws.next())
                .await
                .expect("a frame in time")
                .expect("connection open")
                .expect("frame reads");
            if let WsMessage::Text(t) = m {
                return decode_server(t.as_str()).unwrap_or_else(|| panic!("bad frame {t}"));
            }
        }
    }

    /// Connects and logs in; then [`Device::settle`].
    async fn connect(&mut self, addr: SocketAddr) {
        let (ws, _) = timeout(
            WAIT,
            tokio_tungstenite::connect_async(format!("ws://{addr}/ws")),
        )
        .await
        .expect("connect in time")
        .expect("connects");
        self.ws = Some(ws);
        let login = self.core.login_frame(&usersig(&self.user()));
        self.write(&login).await;
        while !self.core.is_logged_in() {
            let f = self.read().await;
            self.core.handle(f, now());
        }
        self.settle().await;
    }

    /// Until the client has nothing more to ask: rounds of its frames, then a `ping` whose
    /// `pong` comes after every answer and event the server had for it.
    async fn settle(&mut self) {
        loop {
            let mut busy = self.flush().await;
            self.write(&ClientFrame::Ping { t: 1.0 }).await;
            loop {
                match self.read().await {
                    ServerFrame::Pong { .. } => break,
                    f => {
                        self.core.handle(f, now());
                        busy |= self.flush().await;
                    }
                }
            }
            if !busy {
                return;
            }
        }
    }

    /// The socket goes away (the process on the other side may already be gone).
    fn drop_connection(&mut self) {
        self.ws = None;
        self.core.disconnected();
    }

    fn unread(&self, conversation_id: &str) -> u64 {
        self.core
            .local_conversation(conversation_id)
            .map_or(0, |c| c.unread_count)
    }

    fn total(&self) -> u64 {
        self.core.local_total_unread()
    }

    /// Marks `conversation_id` read, and waits for the answer.
    async fn clean(&mut self, conversation_id: &str) {
        self.core
            .clean_unread(conversation_id, 0, now())
            .expect("valid");
        self.settle().await;
        let done = self.core.take_completions();
        assert!(
            done.iter().all(|(_, r)| r.is_ok()),
            "clean failed: {done:?}"
        );
    }

    /// The server's own view: `getConversationList` over a raw socket of this user.
    async fn authority(&self, addr: SocketAddr) -> (u64, Vec<(String, u64)>) {
        let mut c = common::Client::login(addr, &self.user()).await;
        let page = c
            .request(json!({"type": "getConversationList", "nextSeq": 0, "count": 100}))
            .await;
        assert_eq!(page["type"], "conversations", "{page}");
        let list = page["conversationList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c: &Value| {
                (
                    c["conversationID"].as_str().unwrap().to_string(),
                    c["unreadCount"].as_u64().unwrap(),
                )
            })
            .collect();
        (page["totalUnreadCount"].as_u64().unwrap(), list)
    }

    /// This device's counts equal the server's.
    async fn agrees_with_server(&self, addr: SocketAddr) {
        let (total, list) = self.authority(addr).await;
        assert_eq!(self.total(), total, "{}'s total", self.user());
        for (id, n) in list {
            assert_eq!(self.unread(&id), n, "{}'s {id}", self.user());
        }
    }
}

/// A raw sender: sends texts to `to`, revokes.
async fn send(c: &mut common::Client, to: &str, id: &str) {
    let f = c.send_text(to, id, "hello").await;
    assert_eq!(f["type"], "sendOk", "{f}");
}

async fn revoke(c: &mut common::Client, id: &str) {
    let f = c.revoke(id).await;
    assert_eq!(f["type"], "revokeOk", "{f}");
}

fn server(db: &std::path::Path) -> Proc {
    Proc::start(db, &[])
}

/// Bob has two devices. While `b2` is offline: new messages, a revoke of an unread one, and a
/// clean on `b1` — `b2` gets it all right on reconnect; `b1` live.
#[tokio::test]
async fn counts_after_a_reconnect_with_missed_events() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(&dir.path().join("c.db"));
    let mut alice = common::Client::login(s.addr, "alice").await;
    let mut carol = common::Client::login(s.addr, "carol").await;
    let (mut b1, mut b2) = (Device::new("bob", 1), Device::new("bob", 2));
    b1.connect(s.addr).await;
    b2.connect(s.addr).await;
    send(&mut alice, "bob", "a1").await;
    send(&mut alice, "bob", "a2").await;
    b1.settle().await;
    b2.settle().await;
    assert_eq!((b1.unread("c2c_alice"), b2.unread("c2c_alice")), (2, 2));

    b2.drop_connection();
    send(&mut alice, "bob", "a3").await;
    send(&mut carol, "bob", "c1").await;
    send(&mut carol, "bob", "c2").await;
    revoke(&mut alice, "a2").await; // unread by bob: the count drops
    b1.settle().await;
    assert_eq!((b1.unread("c2c_alice"), b1.unread("c2c_carol")), (2, 2));
    b1.clean("c2c_carol").await;
    assert_eq!((b1.unread("c2c_carol"), b1.total()), (0, 2));
    // bob's own message never counts for him; for carol it does.
    let mut b1_raw = common::Client::login(s.addr, "bob").await;
    send(&mut b1_raw, "carol", "b1").await;

    b2.connect(s.addr).await;
    assert_eq!(b2.unread("c2c_alice"), 2, "a1, a3 (a2 was revoked)");
    assert_eq!(b2.unread("c2c_carol"), 0, "read on the other device");
    assert_eq!(b2.total(), 2);
    b1.settle().await;
    assert_eq!(b1.total(), 2);
    b1.agrees_with_server(s.addr).await;
    b2.agrees_with_server(s.addr).await;
    let (carol_total, _) = Device::new("carol", 3).authority(s.addr).await;
    assert_eq!(carol_total, 1);

    // And live: a revoke and a clean while both are online.
    revoke(&mut alice, "a3").await;
    b1.settle().await;
    b2.settle().await;
    assert_eq!((b1.unread("c2c_alice"), b2.unread("c2c_alice")), (1, 1));
    b2.clean("c2c_alice").await;
    b1.settle().await;
    assert_eq!((b1.total(), b2.total()), (0, 0));
    b1.agrees_with_server(s.addr).await;
}

/// The same after a restart (SIGTERM) and after a SIGKILL: read positions and revokes that
/// were acknowledged hold, and a device offline across them catches up.
#[tokio::test]
async fn counts_survive_a_restart_and_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let mut s = server(&db);
    let mut alice = common::Client::login(s.addr, "alice").await;
    let (mut b1, mut b2) = (Device::new("bob", 1), Device::new("bob", 2));
    b1.connect(s.addr).await;
    b2.connect(s.addr).await;
    for id in ["m1", "m2", "m3", "m4"] {
        send(&mut alice, "bob", id).await;
    }
    b1.settle().await;
    b2.settle().await;
    b2.drop_connection();
    b1.clean("c2c_alice").await;
    send(&mut alice, "bob", "m5").await;
    send(&mut alice, "bob", "m6").await;
    b1.settle().await;
    assert_eq!(b1.unread("c2c_alice"), 2);

    // A clean restart.
    drop(alice);
    assert!(s.terminate().success());
    b1.drop_connection();
    s = server(&db);
    b1.connect(s.addr).await;
    assert_eq!(b1.unread("c2c_alice"), 2, "after a restart");
    b1.agrees_with_server(s.addr).await;

    // Acknowledged, then SIGKILL: a revoke of an unread message and a clean of carol's.
    let mut alice = common::Client::login(s.addr, "alice").await;
    let mut carol = common::Client::login(s.addr, "carol").await;
    send(&mut carol, "bob", "k1").await;
    send(&mut carol, "bob", "k2").await;
    revoke(&mut alice, "m6").await;
    b1.settle().await;
    assert_eq!((b1.unread("c2c_alice"), b1.unread("c2c_carol")), (1, 2));
    b1.clean("c2c_carol").await;
    s.kill9();
    drop((alice, carol));
    b1.drop_connection();

    s = server(&db);
    b1.connect(s.addr).await;
    assert_eq!(
        (b1.unread("c2c_alice"), b1.unread("c2c_carol"), b1.total()),
        (1, 0, 1),
        "after SIGKILL"
    );
    // b2 was offline through all of it: the clean, two messages, a restart, a revoke, a
    // clean of a conversation it never saw, a SIGKILL.
    b2.connect(s.addr).await;
    assert_eq!(
        (b2.unread("c2c_alice"), b2.unread("c2c_carol"), b2.total()),
        (1, 0, 1)
    );
    b1.agrees_with_server(s.addr).await;
    b2.agrees_with_server(s.addr).await;
    // A new device learns the same from the list.
    let mut b3 = Device::new("bob", 3);
    b3.connect(s.addr).await;
    assert_eq!(b3.total(), 1);
    assert_eq!(b3.unread("c2c_alice"), 1);
}

/// A user with 1,000 conversations: the first page is the 100 newest, in order, with the
/// total over all of them; a new device loads the whole list. (How long the first page takes is
/// a benchmark figure: `im-revoke-loadgen conv-list`, in `npm run bench`.)
#[tokio::test]
async fn the_first_page_of_a_thousand_conversations() {
    let dir = tempfile::tempdir().unwrap();
    let s = Proc::start(
        dir.path().join("c.db"),
        &["--user-rate", "0", "--conn-rate", "0"],
    );
    let mut bob = common::Client::login(s.addr, "bob").await;
    for i in 0..1000 {
        // bob writes to 1,000 people; the last 10 answer (so 10 unread).
        send(&mut bob, &format!("u{i:04}"), &format!("m{i}")).await;
    }
    for i in 990..1000 {
        let peer = format!("u{i:04}");
        let mut c = common::Client::login(s.addr, &peer).await;
        send(&mut c, "bob", &format!("r{i}")).await;
    }
    let page = bob
        .request(json!({"type": "getConversationList", "nextSeq": 0, "count": 100}))
        .await;
    assert_eq!(page["type"], "conversations", "{page}");
    let list = page["conversationList"].as_array().unwrap();
    assert_eq!(list.len(), 100);
    assert_eq!(page["nextSeq"], 100);
    assert_eq!(page["isFinished"], false);
    assert_eq!(page["totalUnreadCount"], 10);
    assert_eq!(list[0]["conversationID"], "c2c_u0999", "newest first");
    let keys: Vec<u64> = list
        .iter()
        .map(|c| c["orderKey"].as_u64().unwrap())
        .collect();
    assert!(keys.windows(2).all(|w| w[0] >= w[1]), "{keys:?}");
    let unread: u64 = list
        .iter()
        .map(|c| c["unreadCount"].as_u64().unwrap())
        .sum();
    assert_eq!(unread, 10, "the answered ones are the newest");
    let last = bob
        .request(json!({"type": "getConversationList", "nextSeq": 900, "count": 100}))
        .await;
    assert_eq!(last["isFinished"], true);
    assert_eq!(last["conversationList"].as_array().unwrap().len(), 100);

    let mut dev = Device::new("bob", 9);
    dev.connect(s.addr).await;
    assert_eq!(dev.core.local_conversations().len(), 1000);
    assert_eq!(dev.total(), 10);
}
