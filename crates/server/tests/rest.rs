//! The REST API of the app's backend over real HTTP: Tencent's request and answer shapes, the
//! admin's recall as clients see it, and every bad input as a coded failure that changes nothing.

use crate::common;
use crate::rest_support;

use common::*;
use rest_support::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn admin_sends_lists_and_recalls_with_no_time_limit() {
    let s = TestServer::start_with(|c| c.revoke_time_limit = Duration::from_millis(1)).await;
    let rest = Rest::new(s.addr);
    let mut alice = s.login("alice").await;
    let mut bob = s.login("bob").await;

    // sendmsg: both parties' sessions get the message.
    let sent = rest.send("alice", "bob", "from the backend").await;
    assert_code(&sent, 0);
    let key = sent["MsgKey"].as_str().unwrap().to_string();
    assert!(sent["MsgTime"].as_u64().unwrap() > 1_600_000_000, "{sent}");
    let f = bob.recv().await;
    assert_event(&f, "newMessage");
    assert_eq!(f["event"]["message"]["sender"], "alice");
    assert_eq!(f["event"]["message"]["elem"]["text"], "from the backend");
    assert_event(&alice.recv().await, "newMessage");

    // A client's own message, then the history with both MsgKeys.
    assert_eq!(
        alice.send_text("bob", "c1", "typed by alice").await["type"],
        "sendOk"
    );
    assert_event(&bob.recv().await, "newMessage");
    let h = rest
        .call(
            "openim/admin_getroammsg",
            &json!({"Operator_Account": "bob", "Peer_Account": "alice", "MaxCnt": 10,
                    "MinTime": 0, "MaxTime": 4_000_000_000u64}),
        )
        .await;
    assert_code(&h, 0);
    assert_eq!(h["Complete"], 1, "{h}");
    assert_eq!(h["MsgCnt"], 2, "{h}");
    let list = h["MsgList"].as_array().unwrap();
    // Oldest first (the REST-sent one, then alice's), as Tencent lists a page.
    assert_eq!(list[0]["MsgKey"], key.as_str(), "oldest first: {h}");
    assert_eq!(list[1]["MsgBody"][0]["MsgType"], "TIMTextElem");
    assert_eq!(
        list[1]["MsgBody"][0]["MsgContent"]["Text"],
        "typed by alice"
    );
    assert_eq!(list[1]["From_Account"], "alice");
    assert_eq!(
        h["LastMsgKey"], list[0]["MsgKey"],
        "LastMsgKey: the oldest: {h}"
    );

    let client_key = list[1]["MsgKey"].as_str().unwrap().to_string();

    // Paging: one at a time, continuing from LastMsgKey.
    let p1 = rest
        .call(
            "openim/admin_getroammsg",
            &json!({"Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": 1,
                    "MinTime": 0, "MaxTime": 4_000_000_000u64}),
        )
        .await;
    assert_eq!(p1["Complete"], 0, "{p1}");
    assert_eq!(p1["LastMsgKey"], client_key.as_str());
    let p2 = rest
        .call(
            "openim/admin_getroammsg",
            &json!({"Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": 1,
                    "MinTime": 0, "MaxTime": 4_000_000_000u64, "LastMsgKey": client_key}),
        )
        .await;
    assert_eq!(p2["MsgList"][0]["MsgKey"], key.as_str(), "{p2}");
    assert_eq!(p2["Complete"], 1, "{p2}");

    // The sender's own window (1 ms) is long over: the admin recalls anyway.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let w = rest.withdraw("alice", "bob", &client_key).await;
    assert_code(&w, 0);
    for c in [&mut alice, &mut bob] {
        let f = c.recv().await;
        assert_event(&f, "messageRevoked");
        assert_eq!(f["event"]["msgID"], "c1");
        assert_eq!(f["event"]["revoke"]["userID"], ADMIN, "{f}");
        assert_eq!(f["event"]["revoke"]["role"], "admin", "{f}");
    }
    // Twice: 20023, and no second event.
    assert_code(&rest.withdraw("alice", "bob", &client_key).await, 20023);
    // The recalled message in the history: no content.
    let h = rest
        .call(
            "openim/admin_getroammsg",
            &json!({"Operator_Account": "bob", "Peer_Account": "alice", "MaxCnt": 10,
                    "MinTime": 0, "MaxTime": 4_000_000_000u64}),
        )
        .await;
    // Tencent marks it by `MsgFlagBits` 8 (0: a normal message); `IsRecalled` says it too.
    assert_eq!(h["MsgList"][1]["MsgFlagBits"], 8, "{h}");
    assert_eq!(h["MsgList"][1]["IsRecalled"], 1, "{h}");
    assert_eq!(h["MsgList"][1]["MsgBody"], json!([]), "{h}");
    assert_eq!(h["MsgList"][0]["MsgFlagBits"], 0, "{h}");
    assert_eq!(h["MsgList"][0]["IsRecalled"], 0, "{h}");
    // The REST-sent one too, by its MsgKey from sendmsg.
    assert_code(&rest.withdraw("bob", "alice", &key).await, 0);
    assert_event(&alice.recv().await, "messageRevoked");
    assert_event(&bob.recv().await, "messageRevoked");
    alice.ping().await;
    bob.ping().await;
}

#[tokio::test]
async fn custom_elements_go_through_sendmsg() {
    let s = TestServer::start().await;
    let rest = Rest::new(s.addr);
    let mut alice = s.login("alice").await;
    let mut bob = s.login("bob").await;

    // A custom element (TIMCustomElem: Data, Desc, Ext) reaches the client as customElem.
    let custom = rest
        .call(
            "openim/sendmsg",
            &json!({"From_Account": "alice", "To_Account": "bob", "MsgRandom": 7,
                    "MsgBody": [{"MsgType": "TIMCustomElem",
                                 "MsgContent": {"Data": "{\"card\":7}", "Desc": "a card", "Ext": "x"}}]}),
        )
        .await;
    assert_code(&custom, 0);
    let f = bob.recv().await;
    assert_event(&f, "newMessage");
    assert_eq!(f["event"]["message"]["elem"]["elemType"], "custom", "{f}");
    assert_eq!(f["event"]["message"]["elem"]["data"], "{\"card\":7}", "{f}");
    assert_eq!(f["event"]["message"]["elem"]["desc"], "a card", "{f}");
    assert_eq!(f["event"]["message"]["elem"]["extension"], "x", "{f}");
    assert_event(&alice.recv().await, "newMessage");
    let bad = rest
        .call(
            "openim/sendmsg",
            &json!({"From_Account": "alice", "To_Account": "bob", "MsgRandom": 8,
                    "MsgBody": [{"MsgType": "TIMCustomElem", "MsgContent": {"Data": 7}}]}),
        )
        .await;
    assert_code(&bad, 90010);
}

#[tokio::test]
async fn offline_clients_get_the_admin_recall_on_reconnect() {
    let s = TestServer::start().await;
    let rest = Rest::new(s.addr);
    let sent = rest.send("dave", "carol", "hello carol").await;
    assert_code(&sent, 0);
    let key = sent["MsgKey"].as_str().unwrap().to_string();
    assert_code(&rest.withdraw("dave", "carol", &key).await, 0);
    let mut carol = s.login("carol").await;
    let f = carol.sync(0).await;
    let events = f["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{f}");
    assert_eq!(events[0]["event"]["kind"], "newMessage");
    assert_eq!(events[1]["event"]["kind"], "messageRevoked");
    assert_eq!(events[1]["event"]["revoke"]["userID"], ADMIN);
}

#[tokio::test]
async fn group_recall_per_item_results() {
    let s = TestServer::start().await;
    let rest = Rest::new(s.addr);
    let mut alice = s.login("alice").await;
    let mut bob = s.login("bob").await;
    assert_eq!(
        alice.create_group("g1", &[], &["bob"]).await["type"],
        "groupOk",
        "group created"
    );
    assert_event(&bob.recv().await, "groupChanged");
    let sent = alice.send_group("g1", "gm1", "to the group").await;
    assert_eq!(sent["type"], "sendOk");
    assert_event(&bob.recv().await, "newMessage");
    let seq = sent["message"]["seq"].as_u64().unwrap();

    let r = rest
        .call(
            "group_open_http_svc/group_msg_recall",
            &json!({"GroupId": "g1", "MsgSeqList": [{"MsgSeq": seq}, {"MsgSeq": 99}]}),
        )
        .await;
    assert_code(&r, 0);
    assert_eq!(
        r["RecallRetList"],
        json!([{"MsgSeq": seq, "RetCode": 0}, {"MsgSeq": 99, "RetCode": 10030}])
    );
    for c in [&mut alice, &mut bob] {
        let f = c.recv().await;
        assert_event(&f, "messageRevoked");
        assert_eq!(f["event"]["groupID"], "g1");
        assert_eq!(f["event"]["revoke"]["userID"], ADMIN);
    }
    let again = rest
        .call(
            "group_open_http_svc/group_msg_recall",
            &json!({"GroupId": "g1", "MsgSeqList": [{"MsgSeq": seq}]}),
        )
        .await;
    assert_eq!(again["RecallRetList"][0]["RetCode"], 20023, "{again}");
    // Bad inputs.
    let call = |b: serde_json::Value| {
        let rest = &rest;
        async move { rest.call("group_open_http_svc/group_msg_recall", &b).await }
    };
    assert_code(
        &call(json!({"GroupId": "nope", "MsgSeqList": [{"MsgSeq": 1}]})).await,
        10010,
    );
    assert_code(
        &call(json!({"GroupId": 5, "MsgSeqList": [{"MsgSeq": 1}]})).await,
        10015,
    );
    assert_code(
        &call(json!({"GroupId": "g1", "MsgSeqList": "1"})).await,
        10004,
    );
    assert_code(
        &call(json!({"GroupId": "g1", "MsgSeqList": [{"MsgSeq": "1"}]})).await,
        10004,
    );
    let eleven: Vec<_> = (1..=11).map(|s| json!({"MsgSeq": s})).collect();
    assert_code(
        &call(json!({"GroupId": "g1", "MsgSeqList": eleven})).await,
        10004,
    );
    alice.ping().await;
    bob.ping().await;
}

#[tokio::test]
async fn group_recall_passes_its_reason_on_to_the_revoke() {
    let s = TestServer::start().await;
    let rest = Rest::new(s.addr);
    let mut alice = s.login("alice").await;
    let mut bob = s.login("bob").await;
    assert_eq!(
        alice.create_group("g2", &[], &["bob"]).await["type"],
        "groupOk"
    );
    assert_event(&bob.recv().await, "groupChanged");
    let sent = alice.send_group("g2", "gm2", "spam").await;
    assert_eq!(sent["type"], "sendOk");
    assert_event(&bob.recv().await, "newMessage");
    let seq = sent["message"]["seq"].as_u64().unwrap();
    let call = |b: serde_json::Value| {
        let rest = &rest;
        async move { rest.call("group_open_http_svc/group_msg_recall", &b).await }
    };
    // A Reason of the wrong type or too long: 10004, nothing recalled.
    assert_code(
        &call(json!({"GroupId": "g2", "MsgSeqList": [{"MsgSeq": seq}], "Reason": 7})).await,
        10004,
    );
    let long = "x".repeat(im_revoke_core::model::MAX_REASON + 1);
    assert_code(
        &call(json!({"GroupId": "g2", "MsgSeqList": [{"MsgSeq": seq}], "Reason": long})).await,
        10004,
    );
    let r =
        call(json!({"GroupId": "g2", "MsgSeqList": [{"MsgSeq": seq}], "Reason": "reported"})).await;
    assert_eq!(
        r["RecallRetList"],
        json!([{"MsgSeq": seq, "RetCode": 0}]),
        "{r}"
    );
    for c in [&mut alice, &mut bob] {
        let f = c.recv().await;
        assert_event(&f, "messageRevoked");
        assert_eq!(f["event"]["revoke"]["reason"], "reported", "{f}");
        assert_eq!(f["event"]["revoke"]["userID"], ADMIN);
    }
    alice.ping().await;
    bob.ping().await;
}

/// An admin identifier may log in over WebSocket (as Tencent allows): there it is an ordinary
/// user, with no admin power (SECURITY.md, "Admin accounts and webhooks").
#[tokio::test]
async fn an_admin_identifier_over_websocket_is_an_ordinary_user() {
    let s = TestServer::start().await;
    let mut admin = s.login(ADMIN).await;
    let mut alice = s.login("alice").await;
    let mut bob = s.login("bob").await;
    let sent = admin
        .send_text("alice", "adm-1", "hello from the admin account")
        .await;
    assert_eq!(sent["type"], "sendOk", "{sent}");
    assert_event(&alice.recv().await, "newMessage");
    assert_eq!(
        alice.create_group("g3", &[], &["bob", ADMIN]).await["type"],
        "groupOk"
    );
    assert_event(&bob.recv().await, "groupChanged");
    assert_event(&admin.recv().await, "groupChanged");
    assert_eq!(bob.send_group("g3", "gm3", "bob's").await["type"], "sendOk");
    assert_event(&alice.recv().await, "newMessage");
    assert_event(&admin.recv().await, "newMessage");
    // A plain member cannot revoke another member's message, whatever its userID.
    let r = admin.revoke("gm3").await;
    assert_eq!(r["type"], "error", "{r}");
    // Nor one-to-one messages it did not send.
    assert_eq!(
        alice.send_text(ADMIN, "to-adm", "hi").await["type"],
        "sendOk"
    );
    assert_event(&admin.recv().await, "newMessage");
    let r = admin.revoke("to-adm").await;
    assert_eq!(r["type"], "error", "{r}");
    // Its own message, like anyone's.
    assert_eq!(admin.revoke("adm-1").await["type"], "revokeOk");
    assert_event(&alice.recv().await, "messageRevoked");
    alice.ping().await;
    bob.ping().await;
}

#[tokio::test]
async fn bad_input_is_a_coded_failure_that_changes_nothing() {
    let s = TestServer::start_with(|c| c.api.max_body = 2048).await;
    let rest = Rest::new(s.addr);
    let mut alice = s.login("alice").await;
    let mut bob = s.login("bob").await;
    let sent = rest.send("alice", "bob", "keep me").await;
    assert_code(&sent, 0);
    let key = sent["MsgKey"].as_str().unwrap().to_string();
    assert_event(&alice.recv().await, "newMessage");
    assert_event(&bob.recv().await, "newMessage");
    let good = json!({"From_Account": "alice", "To_Account": "bob", "MsgRandom": 1,
                      "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "x"}}]});

    // Auth: a non-admin identifier (with a valid UserSig of its own), a forged and an expired
    // admin UserSig, a wrong sdkappid, no usersig.
    let bob_rest = Rest {
        identifier: "bob".into(),
        sig: cli_usersig("bob"),
        ..Rest::new(s.addr)
    };
    assert_code(&bob_rest.call("openim/sendmsg", &good).await, 90009);
    let forged = Rest {
        sig: cli_usersig("someone"),
        ..Rest::new(s.addr)
    };
    assert_code(&forged.call("openim/sendmsg", &good).await, 70013);
    let garbage = Rest {
        sig: "garbage".into(),
        ..Rest::new(s.addr)
    };
    assert_code(&garbage.call("openim/sendmsg", &good).await, 70003);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expired = Rest {
        sig: im_revoke_usersig::gen_usersig(SDKAPPID, KEY, ADMIN, 10, now - 100),
        ..Rest::new(s.addr)
    };
    assert_code(&expired.call("openim/sendmsg", &good).await, 70001);
    let other_app = Rest {
        sdkappid: SDKAPPID + 1,
        ..Rest::new(s.addr)
    };
    assert_code(&other_app.call("openim/sendmsg", &good).await, 300101);
    let (status, v) = post_raw(
        s.addr,
        &format!("/v4/openim/sendmsg?sdkappid={SDKAPPID}&identifier={ADMIN}"),
        good.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    assert_code(&v, 300103);

    // The command, the body.
    assert_code(&rest.call("openim/nosuch", &good).await, 300100);
    assert_code(&rest.call("nosvc/sendmsg", &good).await, 300100);
    assert_code(
        &rest.call_raw("openim/sendmsg", b"{not json".to_vec()).await,
        90001,
    );
    assert_code(&rest.call("openim/sendmsg", &json!([1, 2])).await, 90001);
    assert_code(
        &rest.call_raw("openim/sendmsg", vec![b' '; 4096]).await,
        300102,
    );
    // Fields missing or wrongly typed.
    let with = |k: &str, v: serde_json::Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let without = |k: &str| {
        let mut b = good.clone();
        b.as_object_mut().unwrap().remove(k);
        b
    };
    assert_code(
        &rest.call("openim/sendmsg", &without("To_Account")).await,
        90003,
    );
    assert_code(
        &rest
            .call("openim/sendmsg", &with("To_Account", json!(7)))
            .await,
        90003,
    );
    assert_code(
        &rest
            .call("openim/sendmsg", &with("From_Account", json!("a b")))
            .await,
        90008,
    );
    assert_code(
        &rest.call("openim/sendmsg", &without("MsgRandom")).await,
        90005,
    );
    assert_code(
        &rest
            .call("openim/sendmsg", &with("MsgRandom", json!("1")))
            .await,
        90005,
    );
    assert_code(
        &rest
            .call("openim/sendmsg", &with("MsgRandom", json!(1u64 << 33)))
            .await,
        90005,
    );
    assert_code(
        &rest
            .call("openim/sendmsg", &with("MsgBody", json!({})))
            .await,
        90007,
    );
    assert_code(
        &rest
            .call(
                "openim/sendmsg",
                &with(
                    "MsgBody",
                    json!([{"MsgType": "TIMFaceElem", "MsgContent": {"Index": 1}}]),
                ),
            )
            .await,
        90010,
    );
    assert_code(
        &rest
            .call(
                "openim/sendmsg",
                &with(
                    "MsgBody",
                    json!([{"MsgType": "TIMTextElem", "MsgContent": {"Text": ""}}]),
                ),
            )
            .await,
        90010,
    );
    // Withdraw: malformed MsgKey, a key of another conversation, a key of no message.
    assert_code(&rest.withdraw("alice", "bob", "nonsense").await, 90054);
    assert_code(
        &rest
            .call(
                "openim/admin_msgwithdraw",
                &json!({"From_Account": "alice", "To_Account": "bob"}),
            )
            .await,
        90054,
    );
    assert_code(&rest.withdraw("alice", "carol", &key).await, 20022);
    let parts: Vec<&str> = key.split('_').collect();
    let wrong_random = format!(
        "{}_{}_{}",
        parts[0],
        parts[1].parse::<u64>().unwrap() ^ 1,
        parts[2]
    );
    assert_code(&rest.withdraw("alice", "bob", &wrong_random).await, 20022);
    assert_code(
        &rest
            .withdraw("alice", "bob", &format!("99_1_{}", parts[2]))
            .await,
        20022,
    );
    assert_code(
        &rest
            .call(
                "openim/admin_msgwithdraw",
                &json!({"To_Account": "bob", "MsgKey": key}),
            )
            .await,
        90008,
    );
    // History: wrong types.
    assert_code(
        &rest
            .call(
                "openim/admin_getroammsg",
                &json!({"Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": "10",
                        "MinTime": 0, "MaxTime": 1}),
            )
            .await,
        90001,
    );

    // Nothing changed: one message, not recalled; no event reached anyone.
    let h = bob.history_with("alice").await;
    let msgs = h["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1, "{h}");
    assert!(msgs[0]["revoke"].is_null(), "{h}");
    alice.ping().await;
    bob.ping().await;
}

#[tokio::test]
async fn rate_limit_per_admin_identifier() {
    let s = TestServer::start_with(|c| {
        c.api.rate = 5;
        c.api.admins = vec![ADMIN.into(), "ops".into()];
    })
    .await;
    let rest = Rest::new(s.addr);
    let mut limited = 0;
    for _ in 0..20 {
        let v = rest
            .call(
                "openim/admin_getroammsg",
                &json!({"Operator_Account": "a", "Peer_Account": "b", "MaxCnt": 1,
                        "MinTime": 0, "MaxTime": 1}),
            )
            .await;
        match v["ErrorCode"].as_u64() {
            Some(0) => {}
            Some(60007) => limited += 1,
            _ => panic!("{v}"),
        }
    }
    assert!(limited >= 10, "a flood is limited: {limited} of 20");
    // Another admin has a quota of its own.
    let ops = Rest {
        identifier: "ops".into(),
        sig: cli_usersig("ops"),
        ..Rest::new(s.addr)
    };
    assert_code(&ops.send("a", "b", "still fine").await, 0);
}
