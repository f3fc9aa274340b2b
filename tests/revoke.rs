//! Browser tests of the feature: revoke over the embedded `LocalHub`, in headless Chromium.
//!
//! `wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver --mode no-install`
#![cfg(all(target_arch = "wasm32", feature = "local-hub"))]
// `&[x.clone()]` reads better than `slice::from_ref(&x)` in argument lists.
#![allow(clippy::cloned_ref_to_slice_refs)]

mod common;

use common::*;
use im_revoke::ChatClient;
use js_sys::Array;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// The feature scenario: alice sends bob a text, revokes it with a reason; bob and alice's
/// other device are told exactly once; both histories and findMessages show the revoke.
#[wasm_bindgen_test]
async fn alice_revokes_and_everyone_sees_it() {
    let hub = hub(r#"{ "revokeTimeLimit": 120 }"#);
    let alice = login(&hub, "alice").await;
    let alice2 = login(&hub, "alice").await; // another device of alice
    let bob = login(&hub, "bob").await;
    assert_eq!(gs(&alice, "userID"), "alice");
    let log = js_sys::Array::new();
    listen(&mm(&bob), "bob", &log);
    listen(&mm(&alice2), "alice2", &log);

    let amm = mm(&alice);
    let msg = m(&amm, "createTextMessage", &[s("hello bob")]);
    assert_eq!(gn(&msg, "status"), 1.0);
    let msg_id = gs(&msg, "msgID");
    let sent = ok(m(
        &amm,
        "sendMessage",
        &[msg.clone(), s("bob"), JsValue::NULL],
    ))
    .await;
    assert_eq!(gs(&sent, "msgID"), msg_id);
    assert_eq!(gn(&sent, "status"), 2.0);
    assert!(
        gn(&sent, "timestamp") > 1.6e9,
        "server timestamp in seconds"
    );
    assert_eq!(gs(&sent, "userID"), "bob");
    assert!(gb(&sent, "isSelf"));
    settle().await;
    let heard = |tag: &str| -> Vec<String> {
        lines(&log)
            .into_iter()
            .filter(|l| l.starts_with(tag))
            .collect()
    };
    assert_eq!(heard("bob "), ["bob new hello bob"]);
    assert_eq!(heard("alice2 "), ["alice2 new hello bob"]);
    let bob_entry = log
        .iter()
        .find(|e| js_sys::Array::from(e).get(0) == "bob")
        .expect("bob heard it");
    let bob_copy = js_sys::Array::from(&bob_entry).get(2);
    assert_eq!(gs(&bob_copy, "sender"), "alice");
    assert_eq!(gs(&bob_copy, "userID"), "alice");
    assert!(!gb(&bob_copy, "isSelf"));

    let done = ok(m(&amm, "revokeMessage", &[msg.clone(), s("typo")])).await;
    assert!(done.is_undefined(), "revokeMessage resolves with undefined");
    settle().await;
    let revoked = format!("revoked {msg_id} alice typo");
    assert_eq!(
        heard("bob "),
        ["bob new hello bob".to_string(), format!("bob {revoked}")],
        "bob: the message, then its revoke, once"
    );
    assert_eq!(
        heard("alice2 "),
        [
            "alice2 new hello bob".to_string(),
            format!("alice2 {revoked}")
        ],
        "alice's other device is told too"
    );
    let info = js_sys::Array::from(&log.get(3)).get(3);
    assert_eq!(gs(&info, "role"), "sender");

    // History: status 6, isRevoked, revokerInfo, revokeReason — for both parties.
    for (client, peer, keeps_text) in [(&bob, "alice", false), (&alice, "bob", true)] {
        let page = ok(m(
            &mm(client),
            "getHistoryMessageList",
            &[js(&format!(r#"{{ "userID": "{peer}", "count": 20 }}"#))],
        ))
        .await;
        assert!(gb(&page, "isCompleted"));
        let list = js_sys::Array::from(&get(&page, "messageList"));
        assert_eq!(list.length(), 1);
        let h = list.get(0);
        assert_eq!(gs(&h, "msgID"), msg_id);
        assert_eq!(gn(&h, "status"), 6.0);
        assert!(gb(&h, "isRevoked"));
        assert_eq!(gs(&get(&h, "revokerInfo"), "userID"), "alice");
        assert_eq!(gs(&h, "revokeReason"), "typo");
        assert!(gn(&h, "revokeTimeMs") >= gn(&h, "timeMs"));
        assert_eq!(
            !get(&h, "textElem").is_null(),
            keeps_text,
            "only the sender keeps the text"
        );
    }
    let found = ok(m(
        &mm(&bob),
        "findMessages",
        &[js(&format!(r#"["{msg_id}"]"#))],
    ))
    .await;
    let found = js_sys::Array::from(&found);
    assert_eq!(found.length(), 1);
    assert!(gb(&found.get(0), "isRevoked"));
    assert_eq!(gs(&get(&found.get(0), "revokerInfo"), "userID"), "alice");
    let can = m(&amm, "canRevoke", &[msg]);
    assert!(!gb(&can, "allowed"));
    assert_eq!(gn(&can, "code"), 20023.0);
}

/// One-to-one time limit (revokeTimeLimit: 1 s): within it succeeds; after it the client that
/// knows the message fails early with 6223, a device that does not ask the server: 20016.
#[wasm_bindgen_test]
async fn c2c_time_limit() {
    let hub = hub(r#"{ "revokeTimeLimit": 1 }"#);
    assert_eq!(hub.revoke_time_limit(), 1.0);
    let alice = login(&hub, "alice").await;
    let _bob = login(&hub, "bob").await;
    let amm = mm(&alice);
    let early = send_c2c(&amm, "one", "bob").await;
    let late = send_c2c(&amm, "two", "bob").await;
    // The conversation's last message: a new device learns it with the conversation list, so
    // `late` stays one that only the server can judge for such a device.
    let _last = send_c2c(&amm, "three", "bob").await;

    let can = m(&amm, "canRevoke", &[late.clone()]);
    assert!(gb(&can, "allowed"));
    let remaining = gn(&can, "remainingMs");
    assert!(
        remaining > 0.0 && remaining <= 1000.0,
        "remainingMs {remaining}"
    );
    assert!(get(&can, "code").is_null());
    ok(m(&amm, "revokeMessage", &[early, s("in time")])).await;

    sleep(1100).await;
    let can = m(&amm, "canRevoke", &[late.clone()]);
    assert!(!gb(&can, "allowed"));
    assert_eq!(gn(&can, "code"), 20016.0);
    assert_eq!(gn(&can, "remainingMs"), 0.0);
    // This client sent it and measured the round trip: it knows, before asking, that the
    // window closed ~100 ms ago (far more than its clock uncertainty).
    assert_eq!(
        err_code(m(&amm, "revokeMessage", &[late.clone(), s("late")])).await,
        6223
    );
    // A new device of alice does not have the message cached: the server decides.
    let alice3 = login(&hub, "alice").await;
    let late_id = get(&late, "msgID");
    assert_eq!(
        err_code(m(&mm(&alice3), "revokeMessage", &[late_id])).await,
        20016
    );
}

/// Group time limit: 10031 from the server, 6223 from the client that knows; the owner's
/// moderator window (adminRevokeTimeLimit, default none) is separate.
#[wasm_bindgen_test]
async fn group_time_limit() {
    let hub = hub(r#"{ "revokeTimeLimit": 1 }"#);
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    ok(m(
        &gm(&alice),
        "createGroup",
        &[js(
            r#"{ "groupID": "g-time", "name": "t", "members": ["bob"] }"#,
        )],
    ))
    .await;
    settle().await;
    let b1 = send_group(&mm(&bob), "one", "g-time").await;
    let b2 = send_group(&mm(&bob), "two", "g-time").await;
    assert_eq!(gs(&b1, "groupID"), "g-time");
    assert!(get(&b1, "userID").is_null());
    sleep(1100).await;
    assert_eq!(
        err_code(m(&mm(&bob), "revokeMessage", &[b1.clone()])).await,
        6223,
        "bob's client knows the window closed"
    );
    let bob2 = login(&hub, "bob").await;
    assert_eq!(
        err_code(m(&mm(&bob2), "revokeMessage", &[get(&b1, "msgID")])).await,
        10031,
        "the server says so to a device that did not know"
    );
    // The owner may still revoke bob's message: no moderator time limit by default.
    ok(m(&mm(&alice), "revokeMessage", &[b2, s("moderated")])).await;
}

/// Only the sender may revoke a one-to-one message: 300001.
#[wasm_bindgen_test]
async fn c2c_only_the_sender_may_revoke() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let msg = send_c2c(&mm(&alice), "mine", "bob").await;
    settle().await;
    assert_eq!(
        err_code(m(&mm(&bob), "revokeMessage", &[get(&msg, "msgID")])).await,
        300001
    );
}

/// Group permissions: the owner and an admin may revoke a member's message; a member may not
/// revoke another's (10007); an admin may not revoke the owner's (10007).
#[wasm_bindgen_test]
async fn group_permissions() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await; // owner
    let carol = login(&hub, "carol").await; // admin
    let bob = login(&hub, "bob").await; // member
    let dave = login(&hub, "dave").await; // member
    let log = js_sys::Array::new();
    listen(&mm(&bob), "bob", &log);
    let group = ok(m(
        &gm(&alice),
        "createGroup",
        &[js(
            r#"{ "groupID": "g1", "name": "team", "admins": ["carol"], "members": ["bob", "dave"] }"#,
        )],
    ))
    .await;
    assert_eq!(gs(&group, "owner"), "alice");
    assert_eq!(js_sys::Array::from(&get(&group, "members")).length(), 4);
    settle().await;
    assert_eq!(lines(&log), ["bob group g1"]);

    let b1 = send_group(&mm(&bob), "b1", "g1").await;
    let b2 = send_group(&mm(&bob), "b2", "g1").await;
    let b3 = send_group(&mm(&bob), "b3", "g1").await;
    let a1 = send_group(&mm(&alice), "a1", "g1").await;
    settle().await;

    let code = err_code(m(&mm(&dave), "revokeMessage", &[b1.clone()])).await;
    assert_eq!(
        code, 10007,
        "a member cannot revoke another member's message"
    );
    let can = m(&mm(&dave), "canRevoke", &[b1.clone()]);
    assert!(!gb(&can, "allowed"));
    assert_eq!(gn(&can, "code"), 10007.0);

    ok(m(&mm(&alice), "revokeMessage", &[b1.clone(), s("owner")])).await;
    ok(m(&mm(&carol), "revokeMessage", &[b2.clone(), s("admin")])).await;
    let code = err_code(m(&mm(&carol), "revokeMessage", &[a1.clone()])).await;
    assert_eq!(code, 10007, "an admin cannot revoke the owner's message");
    ok(m(&mm(&bob), "revokeMessage", &[b3.clone()])).await; // own message
    settle().await;

    let revokes: Vec<String> = lines(&log)
        .into_iter()
        .filter(|l| l.contains(" revoked "))
        .collect();
    assert_eq!(
        revokes,
        [
            format!("bob revoked {} alice owner", gs(&b1, "msgID")),
            format!("bob revoked {} carol admin", gs(&b2, "msgID")),
        ],
        "bob hears of the others' revokes, not of his own (this device made it)"
    );
    let info = js_sys::Array::from(&log.get(2)).get(3);
    assert_eq!(gs(&info, "role"), "owner");
    let page = ok(m(
        &mm(&dave),
        "getHistoryMessageList",
        &[js(r#"{ "groupID": "g1", "count": 10 }"#)],
    ))
    .await;
    let list = js_sys::Array::from(&get(&page, "messageList"));
    let statuses: Vec<f64> = list.iter().map(|h| gn(&h, "status")).collect();
    assert_eq!(
        statuses,
        [2.0, 6.0, 6.0, 6.0],
        "newest first: a1, b3, b2, b1"
    );
    assert_eq!(gs(&get(&list.get(2), "revokerInfo"), "role"), "admin");
}

/// A new device (a fresh `ChatClient`, created after bob was made an admin) knows its groups
/// and roles without any group call — the client fetched them at its first login — so
/// `canRevoke` offers bob the revoke of a member's message; `getJoinedGroupList` lists them.
#[wasm_bindgen_test]
async fn a_new_device_knows_its_admin_role() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await; // owner
    let carol = login(&hub, "carol").await; // member
    let agm = gm(&alice);
    ok(m(
        &agm,
        "createGroup",
        &[js(
            r#"{ "groupID": "g-new", "name": "team", "members": ["bob", "carol"] }"#,
        )],
    ))
    .await;
    ok(m(
        &agm,
        "setGroupMemberRole",
        &[js(
            r#"{ "groupID": "g-new", "userID": "bob", "role": 300 }"#,
        )],
    ))
    .await;
    let member_msg = send_group(&mm(&carol), "carol's", "g-new").await;
    let owner_msg = send_group(&mm(&alice), "alice's", "g-new").await;

    let bob = login(&hub, "bob").await; // a fresh device
    let bmm = mm(&bob);
    // Bring the messages into this device's cache (a message call, not a group call).
    let ids = format!(
        r#"["{}", "{}"]"#,
        gs(&member_msg, "msgID"),
        gs(&owner_msg, "msgID")
    );
    assert_eq!(
        Array::from(&ok(m(&bmm, "findMessages", &[js(&ids)])).await).length(),
        2
    );
    // The groups arrive by themselves; wait for them (they are asked for at login, so they
    // are normally here already).
    let mut can = m(&bmm, "canRevoke", &[member_msg.clone()]);
    for _ in 0..100 {
        if gb(&can, "allowed") {
            break;
        }
        sleep(10).await;
        can = m(&bmm, "canRevoke", &[member_msg.clone()]);
    }
    assert!(
        gb(&can, "allowed"),
        "admin bob may revoke: {}",
        describe(&can)
    );
    assert!(
        get(&can, "remainingMs").is_null(),
        "no moderator time limit"
    );
    let can = m(&bmm, "canRevoke", &[owner_msg.clone()]);
    assert!(!gb(&can, "allowed"), "not the owner's message");
    assert_eq!(gn(&can, "code"), 10007.0);

    let groups = Array::from(&ok(m(&gm(&bob), "getJoinedGroupList", &[])).await);
    assert_eq!(groups.length(), 1);
    let g = groups.get(0);
    assert_eq!(gs(&g, "groupID"), "g-new");
    assert_eq!(gs(&g, "name"), "team");
    assert_eq!(gs(&g, "owner"), "alice");
    assert_eq!(describe(&get(&g, "admins")), r#"["bob"]"#);
    assert_eq!(describe(&get(&g, "members")), r#"["alice","bob","carol"]"#);
    assert!(gn(&g, "createdMs") > 1.6e12);
    assert!(
        get(&g, "recentReqIds").is_undefined(),
        "the authority's bookkeeping stays on the server"
    );

    ok(m(&bmm, "revokeMessage", &[member_msg, s("admin")])).await;
    // Someone in no group gets an empty list.
    let dave = login(&hub, "dave").await;
    let none = ok(m(&gm(&dave), "getJoinedGroupList", &[])).await;
    assert!(js_sys::Array::is_array(&none));
    assert_eq!(Array::from(&none).length(), 0);
}

/// A message can be revoked by its msgID string, from a device that never saw it.
#[wasm_bindgen_test]
async fn revoke_by_msg_id_string() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let log = js_sys::Array::new();
    listen(&mm(&bob), "bob", &log);
    let msg = send_c2c(&mm(&alice), "x", "bob").await;
    let id = gs(&msg, "msgID");
    let other_device = login(&hub, "alice").await;
    ok(m(
        &mm(&other_device),
        "revokeMessage",
        &[s(&id), s("by id")],
    ))
    .await;
    settle().await;
    assert_eq!(
        lines(&log),
        [
            "bob new x".to_string(),
            format!("bob revoked {id} alice by id")
        ]
    );
}

/// Revoking twice: 20023 — early from the client that knows, and from the server.
#[wasm_bindgen_test]
async fn revoke_twice() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let _bob = login(&hub, "bob").await;
    let msg = send_c2c(&mm(&alice), "x", "bob").await;
    ok(m(&mm(&alice), "revokeMessage", &[msg.clone()])).await;
    assert_eq!(
        err_code(m(&mm(&alice), "revokeMessage", &[msg.clone()])).await,
        20023
    );
    let other_device = login(&hub, "alice").await;
    assert_eq!(
        err_code(m(
            &mm(&other_device),
            "revokeMessage",
            &[get(&msg, "msgID")]
        ))
        .await,
        20023
    );
}

/// An unknown msgID: 20022.
#[wasm_bindgen_test]
async fn revoke_unknown_message() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    assert_eq!(
        err_code(m(&mm(&alice), "revokeMessage", &[s("no-such-message")])).await,
        20022
    );
}

/// Revoking while the send is still in flight: both resolve, and bob sees the message, then
/// the revoke, in that order.
#[wasm_bindgen_test]
async fn revoke_while_send_in_flight() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let log = js_sys::Array::new();
    listen(&mm(&bob), "bob", &log);
    let amm = mm(&alice);
    let msg = m(&amm, "createTextMessage", &[s("oops")]);
    let sending = m(&amm, "sendMessage", &[msg.clone(), s("bob"), JsValue::NULL]);
    let revoking = m(&amm, "revokeMessage", &[msg.clone(), s("too fast")]);
    let sent = ok(sending).await;
    assert_eq!(gn(&sent, "status"), 2.0);
    ok(revoking).await;
    settle().await;
    let id = gs(&msg, "msgID");
    assert_eq!(
        lines(&log),
        [
            "bob new oops".to_string(),
            format!("bob revoked {id} alice too fast")
        ]
    );
    let found = ok(m(&amm, "findMessages", &[js(&format!(r#"["{id}"]"#))])).await;
    assert_eq!(gn(&js_sys::Array::from(&found).get(0), "status"), 6.0);
}

/// Rejections are real `Error`s with a numeric `code`, a `desc` and "desc (code N)".
#[wasm_bindgen_test]
async fn rejection_shape() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let e = err(m(&mm(&alice), "revokeMessage", &[s("nope")])).await;
    assert!(is_error(&e), "instanceof Error");
    assert_eq!(type_of(&get(&e, "code")), "number");
    assert_eq!(code(&e), 20022);
    let desc = gs(&e, "desc");
    assert_eq!(gs(&e, "message"), format!("{desc} (code 20022)"));

    // Synchronous failures throw the same shape.
    let thrown = try_m(&mm(&alice), "canRevoke", &[JsValue::from(42)]).expect_err("throws");
    assert!(is_error(&thrown));
    assert_eq!(code(&thrown), 6017);
    // Bad arguments to promise-returning methods reject (never throw).
    let e = err(m(
        &mm(&alice),
        "getHistoryMessageList",
        &[js(r#"{ "userID": 5 }"#)],
    ))
    .await;
    assert_eq!(code(&e), 6017);
    assert!(gs(&e, "desc").contains("userID"));
    let e = err(m(&mm(&alice), "findMessages", &[s("not an array")])).await;
    assert_eq!(code(&e), 6017);
    // A malformed userID.
    let e = err(ChatClient::local(&hub, "a b".into(), None).into()).await;
    assert_eq!(code(&e), 20003);
    assert!(is_error(&e));
}

/// Login status and logout: later calls reject with 6014.
#[wasm_bindgen_test]
async fn logout_ends_the_client() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    assert_eq!(m(&alice, "getLoginStatus", &[]).as_f64(), Some(1.0));
    let server_now = m(&alice, "getServerTime", &[]).as_f64().expect("number");
    assert!((server_now - js_sys::Date::now()).abs() < 1000.0);
    let amm = mm(&alice);
    ok(m(&alice, "logout", &[])).await;
    assert_eq!(m(&alice, "getLoginStatus", &[]).as_f64(), Some(3.0));
    let msg = m(&amm, "createTextMessage", &[s("after")]);
    assert_eq!(
        err_code(m(&amm, "sendMessage", &[msg, s("bob"), JsValue::NULL])).await,
        6014
    );
}

/// The WebSocket transport fails cleanly when no server listens (loopback only) and on a
/// malformed URL.
#[wasm_bindgen_test]
async fn connect_failures() {
    let e = err(ChatClient::connect(js(
        r#"{ "url": "ws://127.0.0.1:9/ws", "userID": "bob", "userSig": "x" }"#,
    ))
    .into())
    .await;
    assert!(is_error(&e));
    assert_eq!(code(&e), 9508);
    let e = err(ChatClient::connect(js(
        r#"{ "url": "ftp://127.0.0.1/ws", "userID": "bob", "userSig": "x" }"#,
    ))
    .into())
    .await;
    assert_eq!(code(&e), 6017);
    let e = err(ChatClient::connect(js(r#"{ "url": "ws://127.0.0.1:9/ws" }"#)).into()).await;
    assert_eq!(code(&e), 6017);
}

fn json(v: &JsValue) -> String {
    js_sys::JSON::stringify(v).expect("stringify").into()
}

/// The plain objects the module hands out, exactly: keys in order, `null`s, numbers, and
/// strings of every kind (non-ASCII, astral, long enough to take the other decoding path,
/// empty), which cross from wasm packed together and are cut by UTF-16 lengths.
#[wasm_bindgen_test]
async fn objects_handed_to_javascript_exactly() {
    let hub = hub(r#"{ "revokeTimeLimit": 120 }"#);
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let log = Array::new();
    listen(&mm(&bob), "bob", &log);
    let amm = mm(&alice);
    let long = "x".repeat(3000);
    for (text, reason) in [
        ("撤回 👋 é \"q\" \\", "因为 ✓ 👋"),
        (long.as_str(), ""),
        ("a", &*"r".repeat(200)),
    ] {
        log.set_length(0);
        let msg = m(&amm, "createTextMessage", &[s(text)]);
        let id = gs(&msg, "msgID");
        let text_json = json(&s(text));
        let reason_json = json(&s(reason));
        assert_eq!(
            json(&msg),
            format!(
                r#"{{"msgID":"{id}","sender":"alice","userID":null,"groupID":null,"timestamp":0,"timeMs":0,"seq":0,"status":1,"isSelf":true,"elemType":1,"textElem":{{"text":{text_json}}},"customElem":null,"imageElem":null,"fileElem":null,"isRevoked":false,"revokerInfo":null,"revokeReason":null,"revokeTimeMs":null,"replyTo":null,"cloudCustomData":null}}"#
            )
        );
        let sent = ok(m(
            &amm,
            "sendMessage",
            &[msg.clone(), s("bob"), JsValue::NULL],
        ))
        .await;
        let t = gn(&sent, "timeMs");
        let seq = gn(&sent, "seq");
        settle().await;
        let heard = Array::from(&log.get(0)).get(2);
        assert_eq!(
            json(&heard),
            format!(
                r#"{{"msgID":"{id}","sender":"alice","userID":"alice","groupID":null,"timestamp":{},"timeMs":{t},"seq":{seq},"status":2,"isSelf":false,"elemType":1,"textElem":{{"text":{text_json}}},"customElem":null,"imageElem":null,"fileElem":null,"isRevoked":false,"revokerInfo":null,"revokeReason":null,"revokeTimeMs":null,"replyTo":null,"cloudCustomData":null}}"#,
                (t / 1000.0).floor()
            )
        );
        ok(m(&amm, "revokeMessage", &[msg.clone(), s(reason)])).await;
        settle().await;
        let told = Array::from(&log.get(1));
        assert_eq!(told.get(1), "revoked");
        assert_eq!(gs(&told, "2"), id);
        assert_eq!(json(&told.get(3)), r#"{"userID":"alice","role":"sender"}"#);
        assert_eq!(json(&told.get(4)), reason_json);
        let found = ok(m(&mm(&bob), "findMessages", &[Array::of1(&s(&id)).into()])).await;
        let copy = Array::from(&found).get(0);
        let when = gn(&copy, "revokeTimeMs");
        assert_eq!(
            json(&copy),
            format!(
                r#"{{"msgID":"{id}","sender":"alice","userID":"alice","groupID":null,"timestamp":{},"timeMs":{t},"seq":{seq},"status":6,"isSelf":false,"elemType":1,"textElem":null,"customElem":null,"imageElem":null,"fileElem":null,"isRevoked":true,"revokerInfo":{{"userID":"alice","role":"sender"}},"revokeReason":{reason_json},"revokeTimeMs":{when},"replyTo":null,"cloudCustomData":null}}"#,
                (t / 1000.0).floor()
            )
        );
        let can = m(&amm, "canRevoke", &[s(&id)]);
        assert_eq!(
            json(&can),
            r#"{"allowed":false,"remainingMs":0,"code":20023}"#
        );
    }
    let page = ok(m(
        &mm(&bob),
        "getHistoryMessageList",
        &[js(r#"{ "userID": "alice", "count": 1 }"#)],
    ))
    .await;
    let keys: Vec<String> = js_sys::Object::keys(page.unchecked_ref::<js_sys::Object>())
        .iter()
        .filter_map(|k| k.as_string())
        .collect();
    assert_eq!(keys, ["messageList", "isCompleted"]);
    assert!(!gb(&page, "isCompleted"));
}
