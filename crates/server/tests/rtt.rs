//! Measures (and prints; asserts nothing about time) how long one revoke takes on loopback:
//! from alice sending `revoke` to bob receiving `messageRevoked`, and to alice's `revokeOk`,
//! through the real server with its durable SQLite store (WAL, synchronous=FULL).
//! `cargo test -p im-revoke-server --release --test server rtt:: -- --nocapture` shows the numbers.

use crate::common;

use common::*;
use std::time::{Duration, Instant};

const ROUNDS: usize = 200;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(what: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "{what}: n={} p50={:?} p99={:?} max={:?}",
        v.len(),
        pct(&v, 0.50),
        pct(&v, 0.99),
        v[v.len() - 1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_round_trip_on_loopback() {
    let s = TestServer::start_with(|c| {
        c.user_rate = 0; // no rate limits
        c.conn_rate = 0;
    })
    .await;
    let mut alice = s.login("alice").await;
    let mut bob = s.login("bob").await;
    let (mut to_bob, mut to_ack) = (Vec::new(), Vec::new());
    for i in 0..ROUNDS {
        let id = format!("m{i}");
        alice.send_text("bob", &id, "hi").await;
        assert_event(&bob.recv().await, "newMessage");
        let t0 = Instant::now();
        alice
            .send(serde_json::json!({"type": "revoke", "reqId": format!("r{i}"), "msgID": id}))
            .await;
        let ev = bob.recv().await;
        let t_bob = t0.elapsed();
        assert_event(&ev, "messageRevoked");
        let ok = alice.recv().await;
        let t_ack = t0.elapsed();
        assert_eq!(ok["type"], "revokeOk");
        to_bob.push(t_bob);
        to_ack.push(t_ack);
    }
    println!(
        "revoke round trip on loopback, durable SQLite in {:?}",
        s.dir.path()
    );
    report("revoke -> other client's messageRevoked", to_bob);
    report("revoke -> revoker's revokeOk", to_ack);
}
