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

#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
export function modifiedRecorder(log) {
  return { onRecvMessageModified(msg) { log.push(msg.msgID + " " + msg.replyTo.abstract + "|" + msg.replyTo.isRevoked); } };
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = modifiedRecorder)]
    fn modified_recorder(log: &js_sys::Array) -> JsValue;
}

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

/// `ChatClient.connect` keeping nothing in IndexedDB: every run starts as a new device.
async fn connect_memory(url: &str, user: &str, sig: &str) -> JsValue {
    ok(ChatClient::connect(js(&format!(
        r#"{{ "url": "{url}", "userID": "{user}", "userSig": "{sig}", "storage": "memory" }}"#
    )))
    .into())
    .await
}

/// Conversations, unread counts, replies and search over the server, in a group of this run
/// (so the counts are exact whatever earlier runs left): two devices of bob count alice's
/// messages; revoking the last, unread one turns the preview into the tombstone and lowers
/// bob's counts on both devices; a read on one clears the other; a reply carries its quote
/// until the original is revoked (then `onRecvMessageModified`); search never finds revoked
/// text.
#[wasm_bindgen_test]
async fn conversations_replies_and_search_over_websocket() {
    let Some((url, alice_sig, bob_sig)) = config() else {
        return;
    };
    let alice = connect_memory(url, "alice", alice_sig).await;
    let bob1 = connect_memory(url, "bob", bob_sig).await;
    let bob2 = connect_memory(url, "bob", bob_sig).await;
    let run = js_sys::Date::now() as u64;
    let group_id = format!("conv-{run}");
    let conv_id = format!("group_{group_id}");
    ok(m(
        &gm(&alice),
        "createGroup",
        &[js(&format!(
            r#"{{ "groupID": "{group_id}", "name": "conv test", "members": ["bob"] }}"#
        ))],
    ))
    .await;
    let cm = |c: &JsValue| m(c, "getConversationManager", &[]);
    let get_conv = |c: &JsValue| m(&cm(c), "getConversation", &[s(&conv_id)]);
    let total = |c: &JsValue| m(&cm(c), "getTotalUnreadMessageCount", &[]);

    let token = format!("token{run}");
    let first = send_group(&mm(&alice), &format!("{token} first"), &group_id).await;
    let last = send_group(&mm(&alice), "second", &group_id).await;
    sleep(300).await;
    let before = ok(total(&bob1)).await.as_f64().unwrap();
    for bob in [&bob1, &bob2] {
        let c = ok(get_conv(bob)).await;
        assert_eq!(gn(&c, "unreadCount"), 2.0, "{}", describe(&c));
        assert_eq!(gn(&c, "type"), 2.0);
        assert_eq!(gs(&c, "showName"), "conv test");
        assert_eq!(ok(total(bob)).await.as_f64(), Some(before));
    }
    let page = ok(m(
        &cm(&bob1),
        "getConversationList",
        &[JsValue::from(0.0), JsValue::from(1.0)],
    ))
    .await;
    let list = js_sys::Array::from(&get(&page, "conversationList"));
    assert_eq!(list.length(), 1);
    assert_eq!(gs(&list.get(0), "conversationID"), conv_id, "newest first");

    // Bob replies to the first message from his first device.
    let reply = m(
        &mm(&bob1),
        "createTextMessage",
        &[
            s("a reply"),
            js(&format!(
                r#"{{ "replyTo": "{}", "cloudCustomData": "cc" }}"#,
                gs(&first, "msgID")
            )),
        ],
    );
    let reply = ok(m(
        &mm(&bob1),
        "sendMessage",
        &[reply, JsValue::NULL, s(&group_id)],
    ))
    .await;
    let q = get(&reply, "replyTo");
    assert_eq!(gs(&q, "sender"), "alice");
    assert_eq!(gs(&q, "abstract"), format!("{token} first"));
    assert_eq!(gs(&reply, "cloudCustomData"), "cc");
    let search = |c: &JsValue| {
        m(
            &mm(c),
            "searchLocalMessages",
            &[js(&format!(r#"{{ "keywordList": ["{token}"] }}"#))],
        )
    };
    assert_eq!(gn(&ok(search(&bob1)).await, "totalCount"), 1.0);

    // Revokes: the last (unread) message, then the original of the reply.
    let log = js_sys::Array::new();
    m(
        &mm(&bob1),
        "addAdvancedMsgListener",
        &[modified_recorder(&log)],
    );
    ok(m(&mm(&alice), "revokeMessage", &[last.clone()])).await;
    ok(m(&mm(&alice), "revokeMessage", &[first.clone()])).await;
    sleep(300).await;
    for bob in [&bob1, &bob2] {
        let c = ok(get_conv(bob)).await;
        assert_eq!(gn(&c, "unreadCount"), 0.0, "{}", describe(&c));
        assert_eq!(ok(total(bob)).await.as_f64(), Some(before - 2.0));
    }
    let c = ok(get_conv(&bob2)).await;
    let preview = get(&c, "lastMessage");
    assert_eq!(
        gs(&preview, "msgID"),
        gs(&reply, "msgID"),
        "bob's reply is the newest now"
    );
    let told: Vec<String> = log.iter().filter_map(|v| v.as_string()).collect();
    assert_eq!(told, [format!("{} |true", gs(&reply, "msgID"))], "once");
    assert_eq!(gn(&ok(search(&bob1)).await, "totalCount"), 0.0);
    assert_eq!(gn(&ok(search(&alice)).await, "totalCount"), 0.0);
    let found = js_sys::Array::from(
        &ok(m(
            &mm(&bob2),
            "findMessages",
            &[js_sys::Array::of1(&s(&gs(&reply, "msgID"))).into()],
        ))
        .await,
    );
    let q = get(&found.get(0), "replyTo");
    assert_eq!(gs(&q, "abstract"), "");
    assert!(gb(&q, "isRevoked"));

    // A read on one device clears the other.
    send_group(&mm(&alice), "third", &group_id).await;
    sleep(300).await;
    assert_eq!(gn(&ok(get_conv(&bob2)).await, "unreadCount"), 1.0);
    ok(m(
        &cm(&bob1),
        "cleanConversationUnreadMessageCount",
        &[s(&conv_id), JsValue::from(0.0), JsValue::from(0.0)],
    ))
    .await;
    sleep(300).await;
    assert_eq!(gn(&ok(get_conv(&bob2)).await, "unreadCount"), 0.0);
    assert_eq!(ok(total(&bob2)).await.as_f64(), Some(before - 2.0));
    assert_eq!(
        err_code(m(
            &cm(&bob1),
            "getConversation",
            &[s("group_no-such-group")]
        ))
        .await,
        300007
    );
    for c in [alice, bob1, bob2] {
        ok(m(&c, "logout", &[])).await;
    }
}
