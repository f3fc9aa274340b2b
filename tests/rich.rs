//! Browser tests of rich messages over the embedded `LocalHub`: custom messages are created,
//! sent, delivered with their `customElem`, refused when empty or too large, and once revoked
//! show no content to anyone but the sender.
//!
//! `wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver --mode no-install --test rich`
#![cfg(all(target_arch = "wasm32", feature = "local-hub"))]
#![allow(clippy::cloned_ref_to_slice_refs)]

mod common;

use common::*;
use js_sys::Array;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn custom_of(msg: &JsValue) -> (String, String, String) {
    let c = get(msg, "customElem");
    (gs(&c, "data"), gs(&c, "desc"), gs(&c, "extension"))
}

#[wasm_bindgen_test]
async fn custom_message_is_delivered_and_revoked() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let log = Array::new();
    listen(&mm(&bob), "bob", &log);
    let amm = mm(&alice);
    let msg = m(
        &amm,
        "createCustomMessage",
        &[s(r#"{"card":7}"#), s("a card"), s("é✓")],
    );
    assert_eq!(gn(&msg, "elemType"), 2.0);
    assert_eq!(gn(&msg, "status"), 1.0);
    assert!(get(&msg, "textElem").is_null());
    assert!(get(&msg, "imageElem").is_null() && get(&msg, "fileElem").is_null());
    let sent = ok(m(&amm, "sendMessage", &[msg, s("bob"), JsValue::NULL])).await;
    assert_eq!(gn(&sent, "status"), 2.0);
    let want = (r#"{"card":7}"#.to_string(), "a card".into(), "é✓".into());
    assert_eq!(custom_of(&sent), want);
    settle().await;
    let got = log.iter().find_map(|e| {
        let e: Array = e.dyn_into().ok()?;
        (e.get(1) == "new").then(|| e.get(2))
    });
    let got = got.expect("bob got the message");
    assert_eq!(gn(&got, "elemType"), 2.0);
    assert_eq!(custom_of(&got), want);

    ok(m(&amm, "revokeMessage", &[sent.clone(), s("wrong card")])).await;
    settle().await;
    let id = gs(&sent, "msgID");
    let list = Array::of1(&s(&id));
    let bobs: Array = ok(m(&mm(&bob), "findMessages", &[list.clone().into()]))
        .await
        .dyn_into()
        .unwrap();
    let b = bobs.get(0);
    assert!(gb(&b, "isRevoked"));
    assert!(get(&b, "customElem").is_null(), "{}", describe(&b));
    let alices: Array = ok(m(&amm, "findMessages", &[list.into()]))
        .await
        .dyn_into()
        .unwrap();
    assert_eq!(custom_of(&alices.get(0)), want, "the sender keeps it");
    // The exact object, keys in order (the shape every message has).
    let obj = m(&amm, "createCustomMessage", &[s("d"), s(""), s("x")]);
    let id = gs(&obj, "msgID");
    assert_eq!(
        String::from(js_sys::JSON::stringify(&obj).unwrap()),
        format!(
            r#"{{"msgID":"{id}","sender":"alice","userID":null,"groupID":null,"timestamp":0,"timeMs":0,"seq":0,"status":1,"isSelf":true,"elemType":2,"textElem":null,"customElem":{{"data":"d","desc":"","extension":"x"}},"imageElem":null,"fileElem":null,"isRevoked":false,"revokerInfo":null,"revokeReason":null,"revokeTimeMs":null,"replyTo":null,"cloudCustomData":null}}"#
        )
    );
}

#[wasm_bindgen_test]
async fn bad_custom_messages_are_refused() {
    let hub = hub(r#"{ "maxTextBytes": 16 }"#);
    let alice = login(&hub, "alice").await;
    let amm = mm(&alice);
    let empty = m(&amm, "createCustomMessage", &[]);
    let p = m(&amm, "sendMessage", &[empty, s("bob"), JsValue::NULL]);
    assert_eq!(err_code(p).await, 6017);
    let big = m(
        &amm,
        "createCustomMessage",
        &[s("0123456789"), s("0123456789")],
    );
    let p = m(&amm, "sendMessage", &[big, s("bob"), JsValue::NULL]);
    assert_eq!(err_code(p).await, 8001);
}
