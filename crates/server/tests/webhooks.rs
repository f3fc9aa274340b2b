//! Webhooks over real HTTP: Tencent's commands, query and signature, bodies, retries, at least
//! once across SIGKILL, and a dead receiver costing the chat nothing.

use crate::common;
use crate::rest_support;
use crate::webhook_crash;

use common::*;
use im_revoke_server::config::Secret;
use im_revoke_server::webhook::{sign, WebhookConfig};
use rest_support::*;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::timeout;

const TOKEN: &str = "callback-token";

fn webhook(url: String) -> WebhookConfig {
    let mut w = WebhookConfig::new(url);
    w.token = Some(Secret::new(TOKEN));
    w.timeout = Duration::from_secs(2);
    w.retry_base = Duration::from_millis(50);
    w.concurrency = 4;
    w
}

#[track_caller]
fn assert_signed(h: &Hook, command: &str, platform: &str) {
    assert_eq!(h.command(), command, "{h:?}");
    assert_eq!(h.query["SdkAppid"], SDKAPPID.to_string());
    assert_eq!(h.query["contenttype"], "json");
    assert_eq!(h.query["OptPlatform"], platform, "{h:?}");
    // The client's address for a client's request (all on loopback here), none for REST's.
    let ip = if platform == "Web" { "127.0.0.1" } else { "" };
    assert_eq!(h.query["ClientIP"], ip, "{h:?}");
    let t: u64 = h.query["RequestTime"].parse().unwrap();
    assert_eq!(h.query["Sign"], sign(TOKEN, t), "{h:?}");
    assert_eq!(h.body["CallbackCommand"], command);
    assert!(h.body["EventTime"].as_u64().unwrap() > 1_600_000_000_000);
}

#[tokio::test]
async fn every_send_and_revoke_is_posted_signed() {
    let mut recv = Receiver::start().await;
    let url = recv.url();
    let s = TestServer::start_with(|c| c.api.webhook = Some(webhook(url))).await;
    let rest = Rest::new(s.addr);
    let mut alice = s.login("alice").await;
    let _bob = s.login("bob").await;

    let sent = alice.send_text("bob", "m1", "hello").await;
    assert_eq!(sent["type"], "sendOk");
    let h = recv.next().await;
    assert_signed(&h, "C2C.CallbackAfterSendMsg", "Web");
    assert_eq!(h.body["From_Account"], "alice");
    assert_eq!(h.body["To_Account"], "bob");
    assert_eq!(h.body["MsgSeq"], 1);
    assert_eq!(h.body["MsgBody"][0]["MsgContent"]["Text"], "hello");
    let key = h.body["MsgKey"].as_str().unwrap().to_string();
    assert_eq!(
        h.body["MsgTime"].as_u64().unwrap(),
        sent["message"]["timeMs"].as_u64().unwrap() / 1000
    );

    assert_eq!(alice.revoke("m1").await["type"], "revokeOk");
    let h = recv.next().await;
    assert_signed(&h, "C2C.CallbackAfterMsgWithDraw", "Web");
    assert_eq!(h.body["MsgKey"], key.as_str());
    assert_eq!(h.body["Operator_Account"], "alice");

    // The admin's: OptPlatform RESTAPI.
    let r = rest.send("bob", "alice", "from the backend").await;
    assert_code(&r, 0);
    let h = recv.next().await;
    assert_signed(&h, "C2C.CallbackAfterSendMsg", "RESTAPI");
    assert_eq!(h.body["MsgKey"], r["MsgKey"]);
    assert_code(
        &rest
            .withdraw("bob", "alice", r["MsgKey"].as_str().unwrap())
            .await,
        0,
    );
    let h = recv.next().await;
    assert_signed(&h, "C2C.CallbackAfterMsgWithDraw", "RESTAPI");
    assert_eq!(h.body["Operator_Account"], ADMIN);
    // Recalling twice: no second webhook either.
    assert_code(
        &rest
            .withdraw("bob", "alice", r["MsgKey"].as_str().unwrap())
            .await,
        20023,
    );

    // Groups.
    assert_eq!(
        alice.create_group("g1", &[], &["bob"]).await["type"],
        "groupOk"
    );
    let sent = alice.send_group("g1", "gm1", "to all").await;
    assert_eq!(sent["type"], "sendOk");
    let h = recv.next().await;
    assert_signed(&h, "Group.CallbackAfterSendMsg", "Web");
    assert_eq!(h.body["GroupId"], "g1");
    assert_eq!(h.body["From_Account"], "alice");
    assert_eq!(h.body["MsgSeq"], 1);
    let r = rest
        .call(
            "group_open_http_svc/group_msg_recall",
            &json!({"GroupId": "g1", "MsgSeqList": [{"MsgSeq": 1}]}),
        )
        .await;
    assert_eq!(r["RecallRetList"][0]["RetCode"], 0, "{r}");
    let h = recv.next().await;
    assert_signed(&h, "Group.CallbackAfterRecallMsg", "RESTAPI");
    assert_eq!(h.body["MsgSeqList"], json!([{"MsgSeq": 1}]));
    assert_eq!(h.body["Operator_Account"], ADMIN);
    assert!(recv.quiet_for(Duration::from_millis(300)).await.is_none());
    let (_, m) = get_text(s.addr, "/metrics").await;
    assert_eq!(metric(&m, "imr_webhooks_delivered_total"), Some(6.0), "{m}");
    assert_eq!(metric(&m, "imr_webhooks_dropped_total"), Some(0.0), "{m}");
}

#[tokio::test]
async fn failed_deliveries_are_retried() {
    let mut recv = Receiver::start().await;
    recv.status.store(503, Ordering::Relaxed);
    let url = recv.url();
    let s = TestServer::start_with(|c| c.api.webhook = Some(webhook(url))).await;
    let mut alice = s.login("alice").await;
    assert_eq!(alice.send_text("bob", "m1", "x").await["type"], "sendOk");
    // Refused twice (503), then taken.
    let a = recv.next().await;
    let b = recv.next().await;
    recv.status.store(200, Ordering::Relaxed);
    let c = recv.next().await;
    for h in [&a, &b, &c] {
        assert_eq!(h.body["MsgKey"], a.body["MsgKey"]);
    }
    // Delivered: nothing more (a late retry already in flight may still arrive once).
    let mut extra = 0;
    while recv.quiet_for(Duration::from_millis(500)).await.is_some() {
        extra += 1;
        assert!(extra < 3, "delivered webhooks stop");
    }
}

#[tokio::test]
async fn a_dead_receiver_costs_the_chat_nothing() {
    // A port nothing listens on (bound, then closed).
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/cb", dead.local_addr().unwrap());
    drop(dead);
    let s = TestServer::start_with(|c| {
        c.api.webhook = Some(webhook(url));
        c.api.callback_queue = 20;
    })
    .await;
    let mut alice = s.login("alice").await;
    let mut bob = s.login("bob").await;
    let t0 = std::time::Instant::now();
    for i in 0..100 {
        let id = format!("m{i}");
        assert_eq!(alice.send_text("bob", &id, "x").await["type"], "sendOk");
        assert_event(&bob.recv().await, "newMessage");
        if i % 10 == 0 {
            assert_eq!(alice.revoke(&id).await["type"], "revokeOk");
            assert_event(&bob.recv().await, "messageRevoked");
        }
    }
    // Bounded, not timed: well inside the per-frame wait.
    assert!(t0.elapsed() < WAIT, "chat went on");
    // The queue is bounded: past 20 waiting, webhooks were dropped and counted.
    let (status, m) = get_text(s.addr, "/metrics").await;
    assert_eq!(status, 200, "{m}");
    let dropped = metric(&m, "imr_webhooks_dropped_total").expect("metric");
    assert!(dropped >= 80.0, "{m}");
    assert!(metric(&m, "imr_webhooks_pending").unwrap() <= 20.0, "{m}");
    assert_eq!(metric(&m, "imr_webhooks_delivered_total"), Some(0.0), "{m}");
}

/// The outbox row of a send or revoke is a reference to its message (no body); the body is
/// built at delivery, and is the event's even when the message was revoked in between. A row
/// of an earlier version (its body written out) is delivered as written.
#[tokio::test]
async fn bodies_are_built_at_delivery_as_they_were_at_the_event() {
    let mut recv = Receiver::start().await;
    recv.status.store(503, Ordering::Relaxed);
    let url = recv.url();
    let s = TestServer::start_with(|c| c.api.webhook = Some(webhook(url))).await;
    let mut alice = s.login("alice").await;
    let sent = alice.send_text("bob", "m1", "hello").await;
    assert_eq!(sent["type"], "sendOk");
    let revoked = alice.revoke("m1").await;
    assert_eq!(revoked["type"], "revokeOk");
    let db = rusqlite::Connection::open(s.dir.path().join("db").join("test.db")).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    let rows: Vec<(String, String, Option<String>)> = db
        .prepare("SELECT command, body, msg_id FROM webhook_outbox ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (_, body, msg_id) in &rows {
        assert_eq!(body, "", "{rows:?}");
        assert!(msg_id.is_some(), "{rows:?}");
    }
    // A row as an earlier version wrote it.
    let legacy =
        r#"{"CallbackCommand":"C2C.CallbackAfterSendMsg","EventTime":1700000000000,"legacy":1}"#;
    db.execute(
        "INSERT INTO webhook_outbox (command, platform, body, client_ip)
         VALUES ('C2C.CallbackAfterSendMsg', 'Web', ?1, '127.0.0.1')",
        [legacy],
    )
    .unwrap();
    drop(db);
    while recv.quiet_for(Duration::from_millis(200)).await.is_some() {}
    recv.status.store(200, Ordering::Relaxed);
    let time_ms = sent["message"]["timeMs"].as_u64().unwrap();
    let (mut send, mut withdraw, mut old) = (None, None, None);
    while send.is_none() || withdraw.is_none() || old.is_none() {
        let h = recv.next().await;
        assert_signed(&h, h.command(), "Web");
        match (h.command(), h.body.get("legacy").is_some()) {
            ("C2C.CallbackAfterSendMsg", true) => old = Some(h.body),
            ("C2C.CallbackAfterSendMsg", false) => send = Some(h.body),
            ("C2C.CallbackAfterMsgWithDraw", _) => withdraw = Some(h.body),
            other => panic!("{other:?}"),
        }
    }
    let send = send.unwrap();
    let key = send["MsgKey"].as_str().unwrap().to_string();
    assert_eq!(
        send,
        json!({
            "CallbackCommand": "C2C.CallbackAfterSendMsg",
            "From_Account": "alice",
            "To_Account": "bob",
            "MsgSeq": 1,
            "MsgRandom": send["MsgRandom"],
            "MsgTime": time_ms / 1000,
            "MsgKey": key,
            "OnlineOnlyFlag": 0,
            "SendMsgResult": 0,
            "ErrorInfo": "send msg succeed",
            "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello"}}],
            "CloudCustomData": "",
            "EventTime": time_ms,
        })
    );
    assert!(key.ends_with(&format!("_{}", time_ms / 1000)), "{key}");
    assert_eq!(
        withdraw.unwrap(),
        json!({
            "CallbackCommand": "C2C.CallbackAfterMsgWithDraw",
            "From_Account": "alice",
            "To_Account": "bob",
            "MsgKey": key,
            "Operator_Account": "alice",
            "EventTime": revoked["serverTime"],
        })
    );
    assert_eq!(old.unwrap().to_string(), legacy);
}

/// Every acknowledged send and revoke's webhook arrives, though the server was SIGKILLed
/// while none had been delivered yet (the test: `webhook_crash/mod.rs`).
#[tokio::test]
async fn at_least_once_across_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("im.db");
    webhook_crash::every_acknowledged_webhook_arrives_across_sigkill(db.as_os_str()).await;
}

/// An https:// receiver whose certificate a private CA signed (`--callback-ca-file`): signed
/// webhooks arrive over kept-alive connections, with the client's IP; without the CA nothing is
/// delivered (the certificate is not trusted) and the tries are counted as failed.
#[tokio::test]
async fn https_receivers_with_a_private_ca() {
    let mut recv = Receiver::start_tls().await;
    let url = recv.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let mut w = webhook(url.clone());
    w.ca_file = Some(tls_dir().join("ca.pem"));
    let s = TestServer::start_with(|c| c.api.webhook = Some(w)).await;
    let mut alice = s.login("alice").await;
    for i in 0..8 {
        let id = format!("m{i}");
        assert_eq!(
            alice.send_text("bob", &id, "over TLS").await["type"],
            "sendOk"
        );
        let h = recv.next().await;
        assert_signed(&h, "C2C.CallbackAfterSendMsg", "Web");
        assert_eq!(h.body["MsgBody"][0]["MsgContent"]["Text"], "over TLS");
    }
    // One after the other, each on the connection of the one before: one connection, not eight.
    let conns = recv.connections.load(Ordering::Relaxed);
    assert!(
        (1..8).contains(&conns),
        "{conns} connections for 8 webhooks"
    );
    drop(s);

    // Not trusted without the CA: refused by the TLS handshake, retried, never delivered.
    let s = TestServer::start_with(|c| c.api.webhook = Some(webhook(url))).await;
    let mut alice = s.login("alice").await;
    assert_eq!(alice.send_text("bob", "x1", "x").await["type"], "sendOk");
    let failed = timeout(WAIT, async {
        loop {
            let (_, m) = get_text(s.addr, "/metrics").await;
            if metric(&m, "imr_webhooks_failed_total").unwrap_or(0.0) >= 1.0 {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a failed try is counted");
    assert_eq!(
        metric(&failed, "imr_webhooks_delivered_total"),
        Some(0.0),
        "{failed}"
    );
    assert!(recv.rx.try_recv().is_err(), "nothing got through");
}
