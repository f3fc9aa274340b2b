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

fn config() -> Option<(&'static str, &'static str, &'static str)> {
    Some((
        option_env!("IMR_TEST_WS_URL")?,
        option_env!("IMR_TEST_USERSIG_ALICE")?,
        option_env!("IMR_TEST_USERSIG_BOB")?,
    ))
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
        web_sys::console::log_1(&s(
            "ws_live: skipped (IMR_TEST_WS_URL not set at build time)",
        ));
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
