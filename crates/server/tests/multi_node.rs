//! Several server nodes over one PostgreSQL database (started by the test on 127.0.0.1; the
//! tests skip loudly only if PostgreSQL cannot run here, see `pg/mod.rs`): a revoke made on one
//! node reaches the members on the others at once and exactly once; a client that moves to
//! another node resumes by seq; killing a node loses no acknowledged revoke; concurrent writes
//! from several nodes get contiguous sequences; lost wake-ups lose nothing.

use crate::common;
use crate::pg;
use crate::process;

use common::*;
use im_revoke_server::{Secret, Server, ServerConfig};
use process::Proc;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::timeout;

/// A PostgreSQL server, a database on it, and server nodes over that database.
struct Cluster {
    nodes: Vec<Server>,
    addrs: Vec<SocketAddr>,
    url: String,
    pg: Option<pg::Pg>,
}

fn node_config(url: &str) -> ServerConfig {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap(), url.into(), Secret::new(KEY));
    cfg.sdkappid = SDKAPPID;
    cfg.user_rate = 0;
    cfg.conn_rate = 0;
    cfg
}

impl Cluster {
    /// `n` nodes over a fresh database `db`, or `None` when PostgreSQL cannot run here.
    async fn start(n: usize, db: &'static str) -> Option<Cluster> {
        let (pg, url) = tokio::task::spawn_blocking(move || {
            let pg = pg::Pg::start()?;
            let url = pg.create_db(db);
            Some((pg, url))
        })
        .await
        .unwrap()?;
        let mut c = Cluster {
            nodes: Vec::new(),
            addrs: Vec::new(),
            url,
            pg: Some(pg),
        };
        for _ in 0..n {
            c.add_node().await;
        }
        Some(c)
    }

    async fn add_node(&mut self) -> SocketAddr {
        let server = timeout(WAIT, im_revoke_server::start(node_config(&self.url)))
            .await
            .expect("node starts in time")
            .expect("node starts");
        let addr = server.local_addr();
        self.nodes.push(server);
        self.addrs.push(addr);
        addr
    }

    async fn login(&self, node: usize, user: &str) -> Client {
        Client::login(self.addrs[node], user).await
    }

    /// Runs `sql` on the database (as the superuser).
    async fn sql(&self, sql: &'static str) {
        let url = self.url.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
            c.batch_execute(sql).expect("sql");
        })
        .await
        .unwrap();
    }

    async fn shutdown(mut self) {
        for s in self.nodes.drain(..) {
            timeout(WAIT, s.shutdown())
                .await
                .expect("shutdown in time")
                .expect("clean shutdown");
        }
        let pg = self.pg.take();
        tokio::task::spawn_blocking(move || drop(pg)).await.unwrap();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A failed test: stop PostgreSQL anyway (the nodes go with the runtime).
        if let Some(pg) = self.pg.take() {
            std::thread::spawn(move || drop(pg)).join().ok();
        }
    }
}

/// The next frame, which must be an event of `kind`; returns it.
async fn event(c: &mut Client, kind: &str) -> Value {
    let f = c.recv().await;
    assert_event(&f, kind);
    f
}

/// Nothing more arrives for `c` (after a pause long enough for a stray cross-node frame): the
/// next frame is the answer to a ping.
async fn quiet(c: &mut Client) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.ping().await;
}

fn text(to: Value, id: &str) -> Value {
    let mut v = json!({"type": "send", "reqId": id, "msgID": id,
                       "elem": {"elemType": "text", "text": id}});
    for (k, val) in to.as_object().unwrap() {
        v[k] = val.clone();
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_on_one_node_reaches_members_on_the_others_exactly_once() {
    let Some(cl) = Cluster::start(3, "fanout").await else {
        return;
    };
    let mut alice = cl.login(0, "alice").await;
    let mut bob = cl.login(1, "bob").await;
    let mut carol = cl.login(2, "carol").await;
    let mut carol2 = cl.login(0, "carol").await; // carol's second device, on alice's node
    let f = alice.create_group("g", &[], &["bob", "carol"]).await;
    assert_eq!(f["type"], "groupOk", "{f}");
    for c in [&mut bob, &mut carol, &mut carol2] {
        assert_eq!(assert_event(&c.recv().await, "groupChanged"), 1);
    }
    let f = alice.send_group("g", "m1", "hello").await;
    assert_eq!(f["type"], "sendOk", "{f}");
    for c in [&mut bob, &mut carol, &mut carol2] {
        let e = event(c, "newMessage").await;
        assert_eq!(e["seq"], 2);
        assert_eq!(e["event"]["message"]["msgID"], "m1");
    }
    let f = alice.revoke("m1").await;
    assert_eq!(f["type"], "revokeOk", "{f}");
    assert_eq!(f["seq"], 3);
    for c in [&mut bob, &mut carol, &mut carol2] {
        let e = event(c, "messageRevoked").await;
        assert_eq!(e["seq"], 3);
        assert_eq!(e["event"]["msgID"], "m1");
        assert_eq!(e["event"]["revoke"]["userID"], "alice", "{e}");
    }
    // Exactly once: nothing else arrives anywhere.
    for c in [&mut alice, &mut bob, &mut carol, &mut carol2] {
        quiet(c).await;
    }
    // And the other way round: a revoke on node B (bob's own message) reaches node A and C.
    let f = bob.send_group("g", "m2", "from bob").await;
    assert_eq!(f["type"], "sendOk", "{f}");
    for c in [&mut alice, &mut carol, &mut carol2] {
        assert_eq!(event(c, "newMessage").await["seq"], 4);
    }
    assert_eq!(bob.revoke("m2").await["type"], "revokeOk");
    for c in [&mut alice, &mut carol, &mut carol2] {
        let e = event(c, "messageRevoked").await;
        assert_eq!(
            (e["seq"].as_u64(), e["event"]["msgID"].as_str()),
            (Some(5), Some("m2"))
        );
    }
    for c in [&mut alice, &mut bob, &mut carol, &mut carol2] {
        quiet(c).await;
    }
    cl.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_moves_to_another_node_and_resumes_without_loss_or_duplicates() {
    let Some(cl) = Cluster::start(3, "moves").await else {
        return;
    };
    let mut alice = cl.login(0, "alice").await;
    let mut bob = cl.login(1, "bob").await;
    assert_eq!(alice.send_text("bob", "m1", "one").await["type"], "sendOk");
    assert_eq!(event(&mut bob, "newMessage").await["seq"], 1);
    drop(bob); // bob's connection to node B ends

    // Meanwhile, on node A:
    for id in ["m2", "m3"] {
        assert_eq!(alice.send_text("bob", id, id).await["type"], "sendOk");
    }
    assert_eq!(alice.revoke("m2").await["type"], "revokeOk");

    // bob comes back on node C and resumes from the last seq he applied.
    let mut bob = Client::connect(cl.addrs[2]).await;
    bob.user = "bob".into();
    let f = bob.login_with("bob", &usersig("bob")).await;
    assert_eq!(f["headSeq"], 4, "{f}");
    let f = bob.sync(1).await;
    assert_eq!(f["type"], "syncOk", "{f}");
    let got: Vec<(u64, String, String)> = f["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let kind = e["event"]["kind"].as_str().unwrap().to_string();
            let id = match kind.as_str() {
                "newMessage" => e["event"]["message"]["msgID"].as_str(),
                _ => e["event"]["msgID"].as_str(),
            };
            (e["seq"].as_u64().unwrap(), kind, id.unwrap().to_string())
        })
        .collect();
    assert_eq!(
        got,
        [
            (2, "newMessage".into(), "m2".into()),
            (3, "newMessage".into(), "m3".into()),
            (4, "messageRevoked".into(), "m2".into()),
        ]
    );
    assert_eq!(f["hasMore"], false);
    // Live again, now on node C: the next revoke made on node A arrives once, in order.
    assert_eq!(alice.revoke("m3").await["type"], "revokeOk");
    let e = event(&mut bob, "messageRevoked").await;
    assert_eq!(
        (e["seq"].as_u64(), e["event"]["msgID"].as_str()),
        (Some(5), Some("m3"))
    );
    quiet(&mut bob).await;
    cl.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_node_loses_no_acknowledged_revoke() {
    let Some(cl) = Cluster::start(1, "kill").await else {
        return;
    };
    const N: usize = 120;
    let url = cl.url.clone();
    let mut doomed = tokio::task::spawn_blocking(move || {
        Proc::start(&url, &["--user-rate", "0", "--conn-rate", "0"])
    })
    .await
    .unwrap();
    // bob stays on the surviving node (in-process), alice works on the doomed one.
    let mut bob = cl.login(0, "bob").await;
    let mut alice = Client::login(doomed.addr, "alice").await;
    for i in 0..N {
        let f = alice.send_text("bob", &format!("m{i}"), "x").await;
        assert_eq!(f["type"], "sendOk", "{f}");
    }
    // A third of the revokes acknowledged; the rest pipelined, and the node SIGKILLed while it
    // works on them.
    let revoke = |i: usize| {
        json!({"type": "revoke", "reqId": format!("rv{i}"), "msgID": format!("m{i}"),
               "reason": "typo"})
    };
    let mut acked = BTreeSet::new();
    for i in 0..N / 3 {
        let f = alice.request(revoke(i)).await;
        assert_eq!(f["type"], "revokeOk", "{f}");
        acked.insert(format!("m{i}"));
    }
    for i in N / 3..N {
        alice.send(revoke(i)).await;
    }
    doomed.kill9();
    // Whatever else the node acknowledged before dying, still readable on the socket.
    while let Ok(Some(Ok(m))) = timeout(
        Duration::from_millis(200),
        futures_util::StreamExt::next(&mut alice.ws),
    )
    .await
    {
        if let tokio_tungstenite::tungstenite::Message::Text(t) = m {
            let f: Value = serde_json::from_str(t.as_str()).unwrap();
            if f["type"] == "revokeOk" {
                acked.insert(f["revoked"]["msgID"].as_str().unwrap().to_string());
            }
        }
    }
    assert!(acked.len() >= N / 3);
    eprintln!("acknowledged before the kill: {}", acked.len());

    // bob, on the surviving node, got every acknowledged revoke (and any other the dead node
    // committed), each exactly once, in seq order after the N new messages.
    let mut revoked_live = Vec::new();
    let mut news = 0;
    let mut last_seq = 0;
    loop {
        let next = timeout(Duration::from_secs(2), bob.recv()).await;
        let Ok(f) = next else { break };
        let seq = f["seq"].as_u64().unwrap();
        assert_eq!(seq, last_seq + 1, "contiguous, no duplicate: {f}");
        last_seq = seq;
        match f["event"]["kind"].as_str() {
            Some("newMessage") => news += 1,
            Some("messageRevoked") => {
                revoked_live.push(f["event"]["msgID"].as_str().unwrap().to_string())
            }
            _ => panic!("unexpected {f}"),
        }
    }
    assert_eq!(news, N);
    let live: HashSet<&String> = revoked_live.iter().collect();
    eprintln!("revokes committed before the kill: {}", live.len());
    assert_eq!(live.len(), revoked_live.len(), "no revoke told twice");
    for a in &acked {
        assert!(live.contains(a), "acknowledged revoke of {a} reached bob");
    }
    // The database agrees: history shows each acknowledged message revoked.
    let h = bob
        .request(json!({"type": "history", "userID": "alice", "count": 100}))
        .await;
    let mut in_history = BTreeSet::new();
    let mut h_msgs: Vec<Value> = h["messages"].as_array().unwrap().clone();
    if h["isCompleted"] == false {
        let before = h_msgs.last().unwrap()["seq"].clone();
        let h2 = bob
            .request(
                json!({"type": "history", "userID": "alice", "count": 100, "beforeSeq": before}),
            )
            .await;
        h_msgs.extend(h2["messages"].as_array().unwrap().iter().cloned());
    }
    for m in &h_msgs {
        if !m["revoke"].is_null() {
            in_history.insert(m["msgID"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(h_msgs.len(), N);
    assert!(
        acked.is_subset(&in_history),
        "acked {acked:?} vs history {in_history:?}"
    );
    assert_eq!(
        in_history,
        live.iter().map(|s| s.to_string()).collect(),
        "bob was told of exactly the revokes that were committed"
    );

    // alice reconnects to the surviving node and resends what was not answered: idempotent.
    drop(alice);
    let mut alice = cl.login(0, "alice").await;
    for i in 0..N {
        let id = format!("m{i}");
        if acked.contains(&id) {
            continue;
        }
        let f = alice
            .request(
                json!({"type": "revoke", "reqId": format!("rv{i}"), "msgID": id,
                            "reason": "typo"}),
            )
            .await;
        assert_eq!(f["type"], "revokeOk", "{f}");
    }
    let mut more = 0;
    while live.len() + more < N {
        let e = event(&mut bob, "messageRevoked").await;
        assert!(!live.contains(&e["event"]["msgID"].as_str().unwrap().to_string()));
        more += 1;
    }
    quiet(&mut bob).await;
    drop(doomed);
    cl.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_from_two_nodes_get_contiguous_sequences() {
    let Some(cl) = Cluster::start(2, "concurrent").await else {
        return;
    };
    const USERS: usize = 6;
    const PER_USER: usize = 25;
    let users: Vec<String> = (0..USERS).map(|i| format!("u{i}")).collect();
    let mut clients = Vec::new();
    for (i, u) in users.iter().enumerate() {
        clients.push(cl.login(i % 2, u).await);
    }
    let others: Vec<&str> = users[1..].iter().map(String::as_str).collect();
    let f = clients[0].create_group("g", &[], &others).await;
    assert_eq!(f["type"], "groupOk", "{f}");
    // Everybody sends at once, pipelined: group messages, and one-to-one messages to someone
    // on the other node (different locks in different orders on the two nodes).
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            tokio::spawn(async move {
                let peer = format!("u{}", (i + 1) % USERS);
                for k in 0..PER_USER {
                    c.send(text(json!({"groupID": "g"}), &format!("g-{i}-{k}")))
                        .await;
                    c.send(text(json!({"receiver": peer}), &format!("c-{i}-{k}")))
                        .await;
                }
                // Read until every answer is in and the others' messages have all arrived.
                let expect_events = (USERS - 1) * PER_USER + PER_USER; // group + one peer
                let mut seqs = Vec::new();
                let mut group_conv_seqs = Vec::new();
                let (mut answers, mut events) = (0, 0);
                while answers < 2 * PER_USER || events < expect_events + usize::from(i != 0) {
                    let f = c.recv().await;
                    match f["type"].as_str() {
                        Some("sendOk") => {
                            answers += 1;
                            seqs.push(f["seq"].as_u64().unwrap());
                            if f["message"]["groupID"] == "g" {
                                group_conv_seqs.push(f["message"]["seq"].as_u64().unwrap());
                            }
                        }
                        Some("event") => {
                            events += 1;
                            seqs.push(f["seq"].as_u64().unwrap());
                        }
                        _ => panic!("unexpected {f}"),
                    }
                }
                (c, seqs, group_conv_seqs)
            })
        })
        .collect();
    let mut all_group_seqs = Vec::new();
    let mut clients = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        let (c, seqs, g) = timeout(Duration::from_secs(60), t).await.unwrap().unwrap();
        // Per user: every seq once, in order, no gap (u0's group creation was its seq 1).
        let first = if i == 0 { 2 } else { 1 };
        let want: Vec<u64> = (first..first + seqs.len() as u64).collect();
        assert_eq!(seqs, want, "u{i}: seqs in order, each once");
        all_group_seqs.extend(g);
        clients.push(c);
    }
    all_group_seqs.sort_unstable();
    let want: Vec<u64> = (1..=(USERS * PER_USER) as u64).collect();
    assert_eq!(
        all_group_seqs, want,
        "group conversation seqs: each once, no gap"
    );
    // The logs agree with what was delivered: each message once per member.
    for (i, c) in clients.iter_mut().enumerate() {
        let mut seen: BTreeMap<String, u32> = BTreeMap::new();
        let mut after = 0;
        loop {
            let f = c.sync(after).await;
            for e in f["events"].as_array().unwrap() {
                assert_eq!(e["seq"].as_u64().unwrap(), after + 1);
                after += 1;
                if let Some(id) = e["event"]["message"]["msgID"].as_str() {
                    *seen.entry(id.to_string()).or_default() += 1;
                }
            }
            if f["hasMore"] == false {
                break;
            }
        }
        assert!(seen.values().all(|n| *n == 1), "u{i}: a message twice");
        let group_msgs = seen.keys().filter(|k| k.starts_with("g-")).count();
        assert_eq!(group_msgs, USERS * PER_USER, "u{i} has every group message");
        quiet(c).await;
    }
    cl.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn races_between_nodes_are_decided_once() {
    let Some(cl) = Cluster::start(2, "races").await else {
        return;
    };
    let mut alice = cl.login(0, "alice").await; // the group's owner
    let mut bob = cl.login(1, "bob").await;
    let mut carol = cl.login(0, "carol").await;
    assert_eq!(
        alice.create_group("g", &[], &["bob", "carol"]).await["type"],
        "groupOk"
    );
    assert_event(&bob.recv().await, "groupChanged");
    assert_event(&carol.recv().await, "groupChanged");
    for round in 0..5 {
        let id = format!("m{round}");
        assert_eq!(bob.send_group("g", &id, "x").await["type"], "sendOk");
        assert_event(&alice.recv().await, "newMessage");
        assert_event(&carol.recv().await, "newMessage");
        // The owner (node A) and the sender (node B) revoke the same message at once.
        let ra =
            json!({"type": "revoke", "reqId": format!("a{round}"), "msgID": id, "reason": "owner"});
        let rb =
            json!({"type": "revoke", "reqId": format!("b{round}"), "msgID": id, "reason": "mine"});
        let (fa, fb) = tokio::join!(alice.request(ra), bob.request(rb));
        let oks = [&fa, &fb]
            .iter()
            .filter(|f| f["type"] == "revokeOk")
            .count();
        assert_eq!(oks, 1, "exactly one revoke wins: {fa} {fb}");
        let lost = if fa["type"] == "revokeOk" { &fb } else { &fa };
        assert_error(lost, 20023);
        // carol hears of it once.
        let e = event(&mut carol, "messageRevoked").await;
        assert_eq!(e["event"]["msgID"], id.as_str());
        // The loser hears of the winner's revoke as an event.
        let loser = if fa["type"] == "revokeOk" {
            &mut bob
        } else {
            &mut alice
        };
        assert_event(&loser.recv().await, "messageRevoked");
    }
    // One user on both nodes sends the same msgID at once: stored once, told once.
    let mut carol_b = cl.login(1, "carol").await;
    let mut dave = cl.login(1, "dave").await;
    let m = json!({"type": "send", "msgID": "dup", "receiver": "dave",
                   "elem": {"elemType": "text", "text": "once"}});
    let (f1, f2) = tokio::join!(carol.request(m.clone()), carol_b.request(m));
    assert_eq!(
        (f1["type"].as_str(), f2["type"].as_str()),
        (Some("sendOk"), Some("sendOk"))
    );
    assert_eq!(f1["message"]["seq"], f2["message"]["seq"], "one message");
    let e = event(&mut dave, "newMessage").await;
    assert_eq!(e["event"]["message"]["msgID"], "dup");
    for c in [&mut alice, &mut bob, &mut dave] {
        quiet(c).await;
    }
    cl.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_wake_ups_lose_nothing() {
    let Some(cl) = Cluster::start(2, "lost").await else {
        return;
    };
    let mut alice = cl.login(0, "alice").await;
    let mut bob = cl.login(1, "bob").await;
    assert_eq!(alice.send_text("bob", "m1", "one").await["type"], "sendOk");
    assert_eq!(event(&mut bob, "newMessage").await["seq"], 1);
    // Every node's LISTEN connection is cut; the signals of what follows are lost, and the
    // nodes catch up by seq once they listen again.
    cl.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'im-revoke-listen'",
    )
    .await;
    assert_eq!(alice.send_text("bob", "m2", "two").await["type"], "sendOk");
    assert_eq!(alice.revoke("m2").await["type"], "revokeOk");
    let e = event(&mut bob, "newMessage").await;
    assert_eq!(
        (e["seq"].as_u64(), e["event"]["message"]["msgID"].as_str()),
        (Some(2), Some("m2"))
    );
    let e = event(&mut bob, "messageRevoked").await;
    assert_eq!(
        (e["seq"].as_u64(), e["event"]["msgID"].as_str()),
        (Some(3), Some("m2"))
    );
    quiet(&mut bob).await;
    // And live delivery works again afterwards.
    assert_eq!(alice.revoke("m1").await["type"], "revokeOk");
    assert_eq!(event(&mut bob, "messageRevoked").await["seq"], 4);
    quiet(&mut bob).await;
    cl.shutdown().await;
}
