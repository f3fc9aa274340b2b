//! The webhook crash test, on SQLite (`tests/webhooks.rs`) and PostgreSQL
//! (`tests/webhooks_pg.rs`): the real binary, SIGKILLed with every webhook undelivered.

use super::common::*;
use super::process::Proc;
use super::rest_support::*;
use im_revoke_server::webhook::sign;
use serde_json::json;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::sync::atomic::Ordering;
use std::time::Duration;

const TOKEN: &str = "callback-token";

/// Every acknowledged send and revoke's webhook arrives, though the server on `db` (a SQLite
/// file or a PostgreSQL URL) was SIGKILLed while none had been delivered yet.
pub async fn every_acknowledged_webhook_arrives_across_sigkill(db: &OsStr) {
    let mut recv = Receiver::start().await;
    recv.status.store(500, Ordering::Relaxed);
    let url = recv.url();
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
    let mut p = Proc::start(db, &args);
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
    let _p = Proc::start(db, &args);
    let mut got = HashSet::new();
    while !want.is_subset(&got) {
        let h = recv.next().await;
        let t: u64 = h.query["RequestTime"].parse().unwrap();
        assert_eq!(h.query["Sign"], sign(TOKEN, t));
        // The client's address was stored with the webhook; the admin's requests have none.
        let ip = if h.query["OptPlatform"] == "Web" {
            "127.0.0.1"
        } else {
            ""
        };
        assert_eq!(h.query["ClientIP"], ip, "{h:?}");
        got.insert((
            h.command().to_string(),
            h.body["MsgKey"].as_str().unwrap_or("").to_string(),
        ));
    }
}
