//! The WebSocket transport against a live im-revoke server. Skipped (passes without doing
//! anything) unless built with `IMR_TEST_WS_URL`, `IMR_TEST_USERSIG_ALICE` and
//! `IMR_TEST_USERSIG_BOB` set (UserSigs for "alice" and "bob", e.g. from
//! `im-revoke-server usersig --dev --user alice`), e.g.:
//!
//! ```sh
//! IMR_TEST_WS_URL=ws://127.0.0.1:18081/ws IMR_TEST_USERSIG_ALICE=… IMR_TEST_USERSIG_BOB=… \
//!   wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver --mode no-install --test ws_live
//! ```
#![cfg(target_arch = "wasm32")]
#![allow(clippy::cloned_ref_to_slice_refs)]

mod common;

use common::*;
use im_revoke::ChatClient;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// The live server's URL and UserSigs, or `None` (and a line saying the test is skipped).
fn config() -> Option<(&'static str, &'static str, &'static str)> {
    let c = (|| {
        Some((
            option_env!("IMR_TEST_WS_URL")?,
            option_env!("IMR_TEST_USERSIG_ALICE")?,
            option_env!("IMR_TEST_USERSIG_BOB")?,
        ))
    })();
    if c.is_none() {
        web_sys::console::log_1(&s(
            "ws_live: skipped (IMR_TEST_WS_URL not set at build time)",
        ));
    }
    c
}

async fn connect(url: &str, user: &str, sig: &str) -> JsValue {
    let opts = js_sys::Object::new();
    for (k, v) in [("url", url), ("userID", user), ("userSig", sig)] {
        js_sys::Reflect::set(&opts, &s(k), &s(v)).expect("set");
    }
    ok(ChatClient::connect(opts.into()).into()).await
}

#[wasm_bindgen_test]
async fn send_and_revoke_over_websocket() {
    let Some((url, alice_sig, bob_sig)) = config() else {
        return;
    };
    let alice = connect(url, "alice", alice_sig).await;
    let bob = connect(url, "bob", bob_sig).await;
    let log = js_sys::Array::new();
    listen(&mm(&bob), "bob", &log);
    let msg = send_c2c(&mm(&alice), "over the wire", "bob").await;
    assert_eq!(gn(&msg, "status"), 2.0);
    ok(m(&mm(&alice), "revokeMessage", &[msg.clone(), s("typo")])).await;
    sleep(200).await;
    let id = gs(&msg, "msgID");
    assert_eq!(
        lines(&log),
        [
            "bob new over the wire".to_string(),
            format!("bob revoked {id} alice typo")
        ]
    );
    let page = ok(m(
        &mm(&bob),
        "getHistoryMessageList",
        &[js(r#"{ "userID": "alice", "count": 1 }"#)],
    ))
    .await;
    let h = js_sys::Array::from(&get(&page, "messageList")).get(0);
    assert_eq!(gn(&h, "status"), 6.0);
    assert_eq!(
        err_code(m(&mm(&alice), "revokeMessage", &[msg])).await,
        20023
    );
    assert_eq!(
        err_code(m(&mm(&bob), "revokeMessage", &[s("no-such-id")])).await,
        20022
    );
    // A refused UserSig rejects the connect promise with Tencent's 70xxx code.
    let e = err(ChatClient::connect(js(&format!(
        r#"{{ "url": "{url}", "userID": "bob", "userSig": "{alice_sig}" }}"#
    )))
    .into())
    .await;
    assert_eq!(code(&e) / 1000, 70, "{}", describe(&e));
    ok(m(&alice, "logout", &[])).await;
    ok(m(&bob, "logout", &[])).await;
}

/// `disconnect()` closes the socket and no automatic reconnect follows; `reconnect()` logs in
/// again on a new socket, sends what was asked for meanwhile and catches up on what was missed.
#[wasm_bindgen_test]
async fn disconnect_and_reconnect_over_websocket() {
    let Some((url, alice_sig, bob_sig)) = config() else {
        return;
    };
    let alice = connect(url, "alice", alice_sig).await;
    let bob = connect(url, "bob", bob_sig).await;
    let alog = js_sys::Array::new();
    listen(&mm(&alice), "alice", &alog);
    let log = js_sys::Array::new();
    listen(&mm(&bob), "bob", &log);
    listen_conn(&bob, &log);

    ok(m(&bob, "disconnect", &[])).await;
    let offline = m(&mm(&bob), "createTextMessage", &[s("written offline")]);
    let sending = m(
        &mm(&bob),
        "sendMessage",
        &[offline, s("alice"), JsValue::NULL],
    );
    let msg = send_c2c(&mm(&alice), "while bob is away", "bob").await;
    ok(m(
        &mm(&alice),
        "revokeMessage",
        &[msg.clone(), s("never mind")],
    ))
    .await;
    // Longer than the first backoff step: no automatic reconnect after disconnect().
    sleep(1200).await;
    assert_eq!(lines(&log), ["conn failed 9508"]);
    assert!(lines(&alog).is_empty());

    ok(m(&bob, "reconnect", &[])).await;
    let sent = ok(sending).await;
    assert_eq!(gn(&sent, "status"), 2.0);
    sleep(300).await;
    let id = gs(&msg, "msgID");
    assert_eq!(
        lines(&log),
        [
            "conn failed 9508".to_string(),
            "conn connecting".to_string(),
            "conn success".to_string(),
            "bob new <no text>".to_string(),
            format!("bob revoked {id} alice never mind"),
        ]
    );
    assert_eq!(lines(&alog), ["alice new written offline"]);
    ok(m(&alice, "logout", &[])).await;
    ok(m(&bob, "logout", &[])).await;
}

/// The server's `groups` answer decodes: a fresh device of bob lists the group alice just
/// made him an admin of.
#[wasm_bindgen_test]
async fn joined_groups_over_websocket() {
    let Some((url, alice_sig, bob_sig)) = config() else {
        return;
    };
    let alice = connect(url, "alice", alice_sig).await;
    let group_id = format!("live-{}", js_sys::Date::now() as u64);
    ok(m(
        &gm(&alice),
        "createGroup",
        &[js(&format!(
            r#"{{ "groupID": "{group_id}", "admins": ["bob"] }}"#
        ))],
    ))
    .await;
    let bob = connect(url, "bob", bob_sig).await;
    let groups = js_sys::Array::from(&ok(m(&gm(&bob), "getJoinedGroupList", &[])).await);
    let g = groups
        .iter()
        .find(|g| gs(g, "groupID") == group_id)
        .expect("the new group is listed");
    assert_eq!(gs(&g, "owner"), "alice");
    assert_eq!(describe(&get(&g, "admins")), r#"["bob"]"#);
    ok(m(&alice, "logout", &[])).await;
    ok(m(&bob, "logout", &[])).await;
}
