//! Who may connect: the pool of connections not logged in, connections per user, the Origin
//! allow-list, and a health check that says when the hub is behind (issue 20, items 1, 2, 6).

use crate::common;

use common::*;
use futures_util::SinkExt;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// A WebSocket handshake with `origin`: the HTTP status of the refusal, or 101.
async fn handshake_with_origin(addr: SocketAddr, origin: Option<&str>) -> u16 {
    let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("Origin", o.parse().unwrap());
    }
    match timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("handshake in time")
    {
        Ok((_, res)) => res.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => res.status().as_u16(),
        Err(e) => panic!("handshake failed: {e}"),
    }
}

#[tokio::test]
async fn ws_refuses_origins_not_allowed() {
    let s = TestServer::start_with(|c| {
        c.allowed_origins = vec!["http://127.0.0.1:8080".into()];
    })
    .await;
    assert_eq!(
        handshake_with_origin(s.addr, Some("http://evil.example")).await,
        403
    );
    assert_eq!(
        handshake_with_origin(s.addr, Some("http://127.0.0.1:8081")).await,
        403
    );
    assert_eq!(handshake_with_origin(s.addr, Some("null")).await, 403);
    assert_eq!(
        handshake_with_origin(s.addr, Some("http://127.0.0.1:8080")).await,
        101
    );
    // Not a browser: no Origin header at all.
    assert_eq!(handshake_with_origin(s.addr, None).await, 101);
    let (_, metrics) = get(s.addr, "/metrics").await;
    assert!(metrics.contains("imr_origin_refused_total 3"), "{metrics}");

    // Without the list (the default), any Origin is accepted.
    let open = TestServer::start().await;
    assert_eq!(
        handshake_with_origin(open.addr, Some("http://evil.example")).await,
        101
    );
}

#[tokio::test]
async fn connections_per_user_are_capped() {
    let s = TestServer::start_with(|c| c.max_connections_per_user = 2).await;
    let a1 = s.login("alice").await;
    let _a2 = s.login("alice").await;
    let mut a3 = s.connect().await;
    assert_error(&a3.login_with("alice", &usersig("alice")).await, 300005);
    assert_eq!(a3.expect_closed().await, Some(1013));
    // Others are not affected.
    s.login("bob").await.ping().await;
    // A closed connection gives its place back.
    drop(a1);
    let t0 = Instant::now();
    loop {
        let mut c = s.connect().await;
        let f = c.login_with("alice", &usersig("alice")).await;
        if f["type"] == "loginOk" {
            break;
        }
        assert_error(&f, 300005);
        assert!(t0.elapsed() < WAIT, "alice's place never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn not_logged_in_connections_make_room_for_a_login() {
    const POOL: usize = 8;
    let s = TestServer::start_with(|c| c.max_pending_connections = POOL).await;
    // Logged-in connections are not counted in the pool.
    let mut users = Vec::new();
    for i in 0..POOL + 2 {
        users.push(s.login(&format!("u{i}")).await);
    }
    // A pool's worth of upgraded connections that never log in, and silent TCP sockets.
    let mut idle = Vec::new();
    for _ in 0..POOL {
        idle.push(s.connect().await);
    }
    let mut silent = Vec::new();
    for _ in 0..3 * POOL {
        silent.push(TcpStream::connect(s.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The oldest not logged in (the WebSocket ones) were closed to make room: 1013.
    for c in &mut idle {
        assert_eq!(c.expect_closed().await, Some(1013));
    }
    // A client that logs in at once gets in, and so does /healthz.
    let mut alice = s.login("alice").await;
    alice.ping().await;
    assert_eq!(get(s.addr, "/healthz").await.0, 200);
    for u in &mut users {
        u.ping().await;
    }
    let (_, metrics) = get(s.addr, "/metrics").await;
    let evicted = metric(&metrics, "imr_connections_evicted_total");
    assert!(evicted >= 3.0 * POOL as f64, "{metrics}");
    assert!(
        metric(&metrics, "imr_pending_connections") <= POOL as f64,
        "{metrics}"
    );
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[tokio::test]
async fn metrics_describe_the_hub_and_the_connections() {
    let s = TestServer::start().await;
    let _alice = s.login("alice").await;
    let (status, text) = get(s.addr, "/metrics").await;
    assert_eq!(status, 200);
    for name in [
        "imr_hub_queue_depth",
        "imr_hub_queue_capacity",
        "imr_hub_lag_seconds",
        "imr_hub_healthy",
        "imr_websocket_connections",
        "imr_pending_connections",
        "imr_open_sockets",
        "imr_socket_budget",
        "imr_connections_evicted_total",
        "imr_connections_shed_total",
        "imr_accept_errors_total",
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} in {text}"
        );
    }
    assert_eq!(metric(&text, "imr_hub_healthy"), 1.0);
    assert_eq!(metric(&text, "imr_websocket_connections"), 1.0);
    assert_eq!(metric(&text, "imr_hub_queue_capacity"), 65_536.0);
}

/// Members of the flooded group: each send writes an event into every member's log.
const MEMBERS: usize = 1000;
/// Flooding users, and the sends each pipelines without waiting for the answers.
const FLOODERS: usize = 4;
const SENDS: usize = 50;

/// A group send reaches every member; flooding one makes the hub fall behind, and /healthz must
/// say so (503, with the queue and the lag) instead of 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_says_when_the_hub_is_behind() {
    let _apart = crate::timing::heavy();
    let s = TestServer::start_with(|c| {
        c.user_rate = 0;
        c.conn_rate = 0;
        // The flood must reach the hub: no per-call cap or fan-out budget in its way.
        c.max_members_per_call = MEMBERS;
        c.user_fanout_rate = 0;
        c.health_max_hub_lag = Duration::from_millis(50);
    })
    .await;
    assert_eq!(get(s.addr, "/healthz").await, (200, "ok".to_string()));
    let mut owner = s.login("owner").await;
    let members: Vec<String> = (0..MEMBERS).map(|i| format!("m{i}")).collect();
    let members: Vec<&str> = members.iter().map(String::as_str).collect();
    let f = owner.create_group("big", &[], &members).await;
    assert_eq!(f["type"], "groupOk", "{f}");
    let mut flooders = Vec::new();
    for i in 0..FLOODERS {
        let mut c = s.login(&format!("m{i}")).await;
        flooders.push(tokio::spawn(async move {
            for j in 0..SENDS {
                let send = json!({"type": "send", "msgID": format!("f{i}-{j}"),
                                  "reqId": format!("r{i}-{j}"), "groupID": "big",
                                  "elem": {"elemType": "text", "text": "flood"}});
                c.ws.feed(Message::text(send.to_string())).await.unwrap();
            }
            c.ws.flush().await.unwrap();
            c
        }));
    }
    let t0 = Instant::now();
    let behind = loop {
        let (status, body) = get(s.addr, "/healthz").await;
        if status == 503 {
            break Some(body);
        }
        assert_eq!(status, 200);
        if t0.elapsed() > Duration::from_secs(20) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let body = behind.expect("/healthz said 503 while the hub was flooded");
    eprintln!("503 after {:?}: {body}", t0.elapsed());
    let v: Value = serde_json::from_str(&body).expect("a JSON body");
    assert_eq!(v["status"], "behind", "{v}");
    assert!(v["hubQueue"].is_u64(), "{v}");
    assert!(v["hubLagMs"].as_u64().unwrap() >= 50, "{v}");
    // Once the flood is worked off it says 200 again.
    let t0 = Instant::now();
    while get(s.addr, "/healthz").await.0 != 200 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the hub never caught up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("200 again after {:?}", t0.elapsed());
    for f in flooders {
        drop(f.await.unwrap());
    }
}
