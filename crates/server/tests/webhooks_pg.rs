//! Webhooks from several nodes over one PostgreSQL database (started by the test on 127.0.0.1;
//! skipped loudly only if PostgreSQL cannot run here, see `pg/mod.rs`): every event is
//! delivered, and by one node only (claims with `FOR UPDATE SKIP LOCKED`); at least once across
//! a SIGKILL.

use crate::common;
use crate::pg;
use crate::rest_support;
use crate::webhook_crash;

use common::*;
use im_revoke_server::webhook::WebhookConfig;
use im_revoke_server::{Secret, ServerConfig};
use rest_support::*;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::timeout;

#[tokio::test]
async fn three_nodes_deliver_each_webhook_once() {
    let Some((pg, url)) = tokio::task::spawn_blocking(|| {
        let pg = pg::Pg::start()?;
        let url = pg.create_db("webhooks");
        Some((pg, url))
    })
    .await
    .unwrap() else {
        return;
    };
    let mut recv = Receiver::start().await;
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let mut cfg = ServerConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            url.clone().into(),
            Secret::new(KEY),
        );
        cfg.sdkappid = SDKAPPID;
        cfg.user_rate = 0;
        cfg.conn_rate = 0;
        let mut w = WebhookConfig::new(recv.url());
        w.timeout = Duration::from_secs(2);
        w.retry_base = Duration::from_millis(50);
        w.concurrency = 4;
        cfg.api.webhook = Some(w);
        let s = timeout(WAIT, im_revoke_server::start(cfg))
            .await
            .expect("node starts in time")
            .expect("node starts");
        nodes.push(s);
    }
    // A client on each node, each sending 10 messages and revoking every other one.
    let mut want = 0;
    for (i, n) in nodes.iter().enumerate() {
        let mut c = Client::login(n.local_addr(), &format!("user{i}")).await;
        for j in 0..10 {
            let id = format!("n{i}m{j}");
            assert_eq!(c.send_text("peer", &id, "x").await["type"], "sendOk");
            want += 1;
            if j % 2 == 0 {
                assert_eq!(c.revoke(&id).await["type"], "revokeOk");
                want += 1;
            }
        }
    }
    let mut seen: HashMap<(String, String), u32> = HashMap::new();
    while seen.len() < want {
        let h = recv.next().await;
        let key = (
            h.command().to_string(),
            h.body["MsgKey"].as_str().unwrap().to_string()
                + h.body["From_Account"].as_str().unwrap(),
        );
        *seen.entry(key).or_default() += 1;
    }
    // Nothing more: no node delivered one another node had.
    if let Some(h) = recv.quiet_for(Duration::from_millis(500)).await {
        panic!("delivered twice: {h:?}");
    }
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    for s in nodes {
        timeout(WAIT, s.shutdown())
            .await
            .expect("shutdown")
            .expect("clean");
    }
    tokio::task::spawn_blocking(move || drop(pg)).await.unwrap();
}

/// Every acknowledged send and revoke's webhook arrives, though the node was SIGKILLed while
/// none had been delivered yet: the outbox rows committed with them in PostgreSQL, the dead
/// node's claims expire, and the restarted node delivers them.
#[tokio::test]
async fn at_least_once_across_sigkill() {
    let Some((pg, url)) = tokio::task::spawn_blocking(|| {
        let pg = pg::Pg::start()?;
        let url = pg.create_db("webhooks_kill");
        Some((pg, url))
    })
    .await
    .unwrap() else {
        return;
    };
    webhook_crash::every_acknowledged_webhook_arrives_across_sigkill(url.as_ref()).await;
    tokio::task::spawn_blocking(move || drop(pg)).await.unwrap();
}
