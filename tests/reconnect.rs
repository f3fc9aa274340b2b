//! Browser tests of `disconnect()` / `reconnect()` over the embedded `LocalHub`: the client is
//! kept, what it missed arrives through the listeners exactly once, what it asked for while
//! offline goes out after the reconnect.
#![cfg(all(target_arch = "wasm32", feature = "local-hub"))]
// `&[x.clone()]` reads better than `slice::from_ref(&x)` in argument lists.
#![allow(clippy::cloned_ref_to_slice_refs)]

mod common;

use common::*;
use js_sys::Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
// On its first new message, takes its client offline and brings it back at once, from inside
// the dispatch.
export function bouncer(client, log) {
  let bounced = false;
  return {
    onRecvNewMessage(msg) {
      log.push(["bob", "new", msg]);
      if (bounced) return;
      bounced = true;
      client.disconnect();
      log.reconnected = client.reconnect();
    },
    onRecvMessageRevoked(msgID, info, reason) { log.push(["bob", "revoked", msgID, info, reason]); },
  };
}
"#)]
extern "C" {
    fn bouncer(client: &JsValue, log: &Array) -> JsValue;
}

/// Bob goes offline; alice sends him a message and revokes it; bob comes back: his listener
/// hears the message, then its revoke — once each — and live delivery goes on.
#[wasm_bindgen_test]
async fn missed_send_and_revoke_are_heard_once_after_reconnect() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let log = Array::new();
    listen(&mm(&bob), "bob", &log);
    listen_conn(&bob, &log);
    let amm = mm(&alice);
    send_c2c(&amm, "before", "bob").await;
    settle().await;
    assert_eq!(lines(&log), ["bob new before"]);

    let done = m(&bob, "disconnect", &[]);
    assert_eq!(
        lines(&log),
        ["bob new before"],
        "listeners are told after the call returns"
    );
    assert!(ok(done).await.is_undefined());
    settle().await;
    assert_eq!(lines(&log), ["bob new before", "conn failed 9508"]);
    assert_eq!(
        m(&bob, "getLoginStatus", &[]).as_f64(),
        Some(1.0),
        "still logged in: only the connection is down"
    );

    let away = send_c2c(&amm, "while away", "bob").await;
    let id = gs(&away, "msgID");
    ok(m(&amm, "revokeMessage", &[away.clone(), s("wrong chat")])).await;
    settle().await;
    assert_eq!(lines(&log).len(), 2, "bob, offline, hears nothing");

    assert!(ok(m(&bob, "reconnect", &[])).await.is_undefined());
    settle().await;
    assert_eq!(
        lines(&log),
        [
            "bob new before".to_string(),
            "conn failed 9508".to_string(),
            "conn connecting".to_string(),
            "conn success".to_string(),
            "bob new <no text>".to_string(),
            format!("bob revoked {id} alice wrong chat"),
        ],
        "the missed message (already revoked: no text), then its revoke, once each"
    );
    let missed = Array::from(&log.get(4)).get(2);
    assert_eq!(gs(&missed, "msgID"), id);
    assert_eq!(gn(&missed, "status"), 6.0);

    // Live again; nothing is told twice.
    send_c2c(&amm, "welcome back", "bob").await;
    sleep(50).await;
    let heard = lines(&log);
    assert_eq!(heard.len(), 7, "{heard:?}");
    assert_eq!(heard[6], "bob new welcome back");
    let found = ok(m(&mm(&bob), "findMessages", &[js(&format!(r#"["{id}"]"#))])).await;
    assert!(gb(&Array::from(&found).get(0), "isRevoked"));
}

/// A revoke bob asks for while offline waits, then goes out and resolves after the reconnect;
/// alice hears it once.
#[wasm_bindgen_test]
async fn revoke_while_disconnected_resolves_after_reconnect() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let log = Array::new();
    listen(&mm(&alice), "alice", &log);
    let bmm = mm(&bob);
    let mine = send_c2c(&bmm, "mine", "alice").await;
    let id = gs(&mine, "msgID");
    settle().await;

    ok(m(&bob, "disconnect", &[])).await;
    let revoking = m(&bmm, "revokeMessage", &[mine.clone(), s("oops")]);
    let w = watch(&revoking);
    sleep(50).await;
    assert_eq!(state(&w), "pending", "queued while offline");
    assert_eq!(lines(&log), ["alice new mine"], "not revoked yet");

    ok(m(&bob, "reconnect", &[])).await;
    assert!(ok(revoking).await.is_undefined());
    settle().await;
    assert_eq!(
        lines(&log),
        [
            "alice new mine".to_string(),
            format!("alice revoked {id} bob oops")
        ]
    );
    let found = ok(m(&bmm, "findMessages", &[js(&format!(r#"["{id}"]"#))])).await;
    assert_eq!(gn(&Array::from(&found).get(0), "status"), 6.0);
}

/// A message bob sends while offline waits, then is sent after the reconnect (resolving with
/// the server's stamp), after the requests made before it.
#[wasm_bindgen_test]
async fn send_while_disconnected_resolves_after_reconnect() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let log = Array::new();
    listen(&mm(&alice), "alice", &log);
    let bmm = mm(&bob);

    ok(m(&bob, "disconnect", &[])).await;
    let first = m(&bmm, "createTextMessage", &[s("first, offline")]);
    let second = m(&bmm, "createTextMessage", &[s("second, offline")]);
    let sending = m(
        &bmm,
        "sendMessage",
        &[first.clone(), s("alice"), JsValue::NULL],
    );
    let sending2 = m(&bmm, "sendMessage", &[second, s("alice"), JsValue::NULL]);
    let w = watch(&sending);
    sleep(50).await;
    assert_eq!(state(&w), "pending");
    assert!(lines(&log).is_empty());
    let can = m(&bmm, "canRevoke", &[first.clone()]);
    assert!(
        gb(&can, "allowed"),
        "a message still being sent can be revoked"
    );

    ok(m(&bob, "reconnect", &[])).await;
    let sent = ok(sending).await;
    assert_eq!(gs(&sent, "msgID"), gs(&first, "msgID"));
    assert_eq!(gn(&sent, "status"), 2.0);
    assert!(gn(&sent, "timestamp") > 1.6e9);
    ok(sending2).await;
    settle().await;
    assert_eq!(
        lines(&log),
        ["alice new first, offline", "alice new second, offline"],
        "in the order they were made, once each"
    );
}

/// The corners: reconnect while connected, disconnect twice, disconnect before a reconnect
/// finished (9508), logout while offline (6014), reconnect after logout (6014).
#[wasm_bindgen_test]
async fn disconnect_and_reconnect_corners() {
    let hub = hub("{}");
    let bob = login(&hub, "bob").await;
    let log = Array::new();
    listen_conn(&bob, &log);
    assert!(ok(m(&bob, "reconnect", &[])).await.is_undefined());
    settle().await;
    assert!(lines(&log).is_empty(), "connected already: nothing happens");

    ok(m(&bob, "disconnect", &[])).await;
    ok(m(&bob, "disconnect", &[])).await;
    settle().await;
    assert_eq!(lines(&log), ["conn failed 9508"], "told once");

    let reconnecting = m(&bob, "reconnect", &[]);
    m(&bob, "disconnect", &[]);
    assert_eq!(err_code(reconnecting).await, 9508);
    settle().await;
    assert_eq!(
        lines(&log),
        ["conn failed 9508", "conn failed 9508"],
        "never connected in between"
    );

    ok(m(&bob, "reconnect", &[])).await;
    assert_eq!(m(&bob, "getLoginStatus", &[]).as_f64(), Some(1.0));
    let page = ok(m(
        &mm(&bob),
        "getHistoryMessageList",
        &[js(r#"{ "userID": "alice" }"#)],
    ))
    .await;
    assert!(gb(&page, "isCompleted"), "works after all that");

    ok(m(&bob, "disconnect", &[])).await;
    let pending = m(&mm(&bob), "findMessages", &[js(r#"["x"]"#)]);
    ok(m(&bob, "logout", &[])).await;
    assert_eq!(err_code(pending).await, 6014);
    assert_eq!(err_code(m(&bob, "reconnect", &[])).await, 6014);
    assert_eq!(m(&bob, "getLoginStatus", &[]).as_f64(), Some(3.0));
}

/// A listener may take its client offline and back from inside a dispatch: the events still
/// in that delivery were meant for the old connection, and arrive (once) through the catch-up.
#[wasm_bindgen_test]
async fn a_listener_may_disconnect_and_reconnect() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let log = Array::new();
    m(&mm(&bob), "addAdvancedMsgListener", &[bouncer(&bob, &log)]);
    let amm = mm(&alice);
    // Both in one hub turn, so both reach bob in one delivery.
    let one = m(&amm, "createTextMessage", &[s("one")]);
    let two = m(&amm, "createTextMessage", &[s("two")]);
    let p1 = m(&amm, "sendMessage", &[one, s("bob"), JsValue::NULL]);
    let p2 = m(&amm, "sendMessage", &[two.clone(), s("bob"), JsValue::NULL]);
    ok(p1).await;
    ok(p2).await;
    settle().await;
    ok(get(&log, "reconnected")).await;
    ok(m(&amm, "revokeMessage", &[two.clone()])).await;
    settle().await;
    assert_eq!(
        lines(&log),
        [
            "bob new one".to_string(),
            "bob new two".to_string(),
            format!("bob revoked {} alice ", gs(&two, "msgID")),
        ]
    );
}

/// A revoke already on its way when bob disconnects (the hub applies it, its answer is lost)
/// is resent after the reconnect and resolves once; nobody hears it twice, and bob's own
/// listener is not told of his own revoke.
#[wasm_bindgen_test]
async fn a_request_in_flight_at_disconnect_is_resent() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let log = Array::new();
    listen(&mm(&alice), "alice", &log);
    listen(&mm(&bob), "bob", &log);
    let bmm = mm(&bob);
    let mine = send_c2c(&bmm, "mine", "alice").await;
    let id = gs(&mine, "msgID");
    settle().await;

    let revoking = m(&bmm, "revokeMessage", &[mine.clone(), s("in flight")]);
    m(&bob, "disconnect", &[]);
    let w = watch(&revoking);
    sleep(50).await;
    assert_eq!(
        state(&w),
        "pending",
        "its answer went to the closed connection"
    );
    assert_eq!(
        lines(&log),
        [
            "alice new mine".to_string(),
            format!("alice revoked {id} bob in flight")
        ],
        "the hub had it before the disconnect"
    );

    ok(m(&bob, "reconnect", &[])).await;
    assert!(ok(revoking).await.is_undefined());
    sleep(20).await;
    assert_eq!(
        lines(&log),
        [
            "alice new mine".to_string(),
            format!("alice revoked {id} bob in flight")
        ],
        "nothing twice, and bob is not told of his own revoke"
    );
    assert_eq!(
        err_code(m(&bmm, "revokeMessage", &[mine])).await,
        20023,
        "bob's client knows it is revoked"
    );
}

/// A client freed right after `disconnect()` (its events still queued) goes quietly.
#[wasm_bindgen_test]
async fn a_client_freed_after_disconnect_goes_quietly() {
    let hub = hub("{}");
    let bob = login(&hub, "bob").await;
    let log = Array::new();
    listen_conn(&bob, &log);
    let errors = capture_errors();
    m(&bob, "disconnect", &[]);
    m(&bob, "free", &[]);
    settle().await;
    m(&errors, "stop", &[]);
    assert_eq!(errors.length(), 0, "{}", describe(&errors));
    assert_eq!(
        lines(&log),
        ["conn failed 9508"],
        "its listeners were still told"
    );
}
