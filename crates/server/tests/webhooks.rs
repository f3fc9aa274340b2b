//! Webhooks over real HTTP: Tencent's commands, query and signature, bodies, retries, at least
//! once across SIGKILL, and a dead receiver costing the chat nothing.

mod common;
#[path = "common/process.rs"]
mod process;
mod rest_support;

use common::*;
use im_revoke_server::config::Secret;
use im_revoke_server::webhook::{sign, WebhookConfig};
use process::Proc;
use rest_support::*;
use serde_json::json;
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

const TOKEN: &str = "callback-token";

fn webhook(url: String) -> WebhookConfig {
    WebhookConfig {
        url,
        token: Some(Secret::new(TOKEN)),
        sdkappid: 0,
        timeout: Duration::from_secs(2),
        retry_base: Duration::from_millis(50),
        concurrency: 4,
    }
}

#[track_caller]
fn assert_signed(h: &Hook, command: &str, platform: &str) {
    assert_eq!(h.command(), command, "{h:?}");
    assert_eq!(h.query["SdkAppid"], SDKAPPID.to_string());
    assert_eq!(h.query["contenttype"], "json");
    assert_eq!(h.query["OptPlatform"], platform, "{h:?}");
    assert!(h.query.contains_key("ClientIP"));
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

/// Every acknowledged send and revoke's webhook arrives, though the server was SIGKILLed
/// while none had been delivered yet.
#[tokio::test]
async fn at_least_once_across_sigkill() {
    let mut recv = Receiver::start().await;
    recv.status.store(500, Ordering::Relaxed);
    let url = recv.url();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("im.db");
    let args = [
        "--callback-url",
        url.as_str(),
        "--callback-token",
        TOKEN,
        "--callback-retry-ms",
        "50",
        "--callback-timeout-ms",
        "500",
    ];
    let mut p = Proc::start(&db, &args);
    let rest = Rest::new(p.addr);
    let mut alice = Client::login(p.addr, "alice").await;
    let mut want: HashSet<(String, String)> = HashSet::new();
    for i in 0..20 {
        let id = format!("m{i}");
        assert_eq!(alice.send_text("bob", &id, "x").await["type"], "sendOk");
        if i % 2 == 0 {
            assert_eq!(alice.revoke(&id).await["type"], "revokeOk");
        }
    }
    let r = rest.send("alice", "bob", "admin").await;
    assert_code(&r, 0);
    let admin_key = r["MsgKey"].as_str().unwrap().to_string();
    assert_code(&rest.withdraw("alice", "bob", &admin_key).await, 0);
    // The MsgKeys: read back from the history.
    let h = rest
        .call(
            "openim/admin_getroammsg",
            &json!({"Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": 100,
                    "MinTime": 0, "MaxTime": 4_000_000_000u64}),
        )
        .await;
    for m in h["MsgList"].as_array().unwrap() {
        let key = m["MsgKey"].as_str().unwrap().to_string();
        want.insert(("C2C.CallbackAfterSendMsg".into(), key.clone()));
        if m["IsRecalled"] == 1 {
            want.insert(("C2C.CallbackAfterMsgWithDraw".into(), key));
        }
    }
    assert_eq!(want.len(), 21 + 11, "{h}");
    // Some attempts were refused; now kill it.
    let _ = recv.next().await;
    p.kill9();
    while recv.quiet_for(Duration::from_millis(100)).await.is_some() {}

    recv.status.store(200, Ordering::Relaxed);
    let _p = Proc::start(&db, &args);
    let mut got = HashSet::new();
    while !want.is_subset(&got) {
        let h = recv.next().await;
        let t: u64 = h.query["RequestTime"].parse().unwrap();
        assert_eq!(h.query["Sign"], sign(TOKEN, t));
        got.insert((
            h.command().to_string(),
            h.body["MsgKey"].as_str().unwrap_or("").to_string(),
        ));
    }
}
