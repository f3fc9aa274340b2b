//! Browser tests of listener semantics: order, dedup, a throwing listener contained and
//! reported, re-entrant listeners, removal during dispatch, asynchronous in-order delivery.
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
export function thrower(log) {
  return { onRecvNewMessage(msg) { log.push(["thrower", "new", msg]); throw new Error("listener bug: " + msg.textElem.text); } };
}
// Calls back into the manager from inside the listener: send a reply, canRevoke, history,
// add another listener.
export function replier(mm, out, late) {
  return {
    onRecvNewMessage(msg) {
      if (msg.isSelf) return;
      const reply = mm.createTextMessage("re: " + msg.textElem.text);
      out.push(mm.sendMessage(reply, msg.sender, null));
      out.push(mm.canRevoke(msg));
      out.push(mm.getHistoryMessageList({ userID: msg.sender, count: 5 }));
      mm.addAdvancedMsgListener(late);
    },
  };
}
// Revokes every message of its own user that it hears about (from another device).
export function revoker(mm, out) {
  return { onRecvNewMessage(msg) { if (msg.isSelf) out.push(mm.revokeMessage(msg, "auto")); } };
}
// On its first event, removes `victim` and itself.
export function remover(mm, victim, log) {
  const me = {
    onRecvNewMessage(msg) {
      log.push(["remover", "new", msg]);
      mm.removeAdvancedMsgListener(victim);
      mm.removeAdvancedMsgListener(me);
    },
  };
  return me;
}
export function onlyRevoked(log) {
  return { onRecvMessageRevoked(msgID, info, reason) { log.push(["partial", "revoked", msgID, info, reason]); } };
}
"#)]
extern "C" {
    fn thrower(log: &Array) -> JsValue;
    fn replier(mm: &JsValue, out: &Array, late: &JsValue) -> JsValue;
    fn revoker(mm: &JsValue, out: &Array) -> JsValue;
    fn remover(mm: &JsValue, victim: &JsValue, log: &Array) -> JsValue;
    #[wasm_bindgen(js_name = onlyRevoked)]
    fn only_revoked(log: &Array) -> JsValue;
}

/// Several listeners are called in registration order.
#[wasm_bindgen_test]
async fn listeners_are_called_in_registration_order() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let log = Array::new();
    for tag in ["a", "b", "c"] {
        listen(&mm(&bob), tag, &log);
    }
    send_c2c(&mm(&alice), "hi", "bob").await;
    settle().await;
    assert_eq!(lines(&log), ["a new hi", "b new hi", "c new hi"]);
}

/// Adding the same object twice registers it once; removing it removes it.
#[wasm_bindgen_test]
async fn the_same_listener_is_registered_once() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let log = Array::new();
    let l = listen(&mm(&bob), "l", &log);
    m(&mm(&bob), "addAdvancedMsgListener", &[l.clone()]); // again, via another manager view
    send_c2c(&mm(&alice), "one", "bob").await;
    settle().await;
    assert_eq!(lines(&log), ["l new one"]);
    m(&mm(&bob), "removeAdvancedMsgListener", &[l]);
    send_c2c(&mm(&alice), "two", "bob").await;
    settle().await;
    assert_eq!(lines(&log), ["l new one"]);
    // A non-object is refused with 6017.
    let e = try_m(&mm(&bob), "addAdvancedMsgListener", &[s("nope")]).expect_err("throws");
    assert_eq!(code(&e), 6017);
}

/// A throwing listener does not stop the others nor break the manager; its exception is
/// reported (re-thrown on a microtask, reaching the global "error" event).
#[wasm_bindgen_test]
async fn a_throwing_listener_is_contained_and_reported() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let log = Array::new();
    let errors = capture_errors();
    m(&mm(&bob), "addAdvancedMsgListener", &[thrower(&log)]);
    listen(&mm(&bob), "after", &log);
    send_c2c(&mm(&alice), "one", "bob").await;
    send_c2c(&mm(&alice), "two", "bob").await;
    settle().await;
    let stop = get(&errors, "stop");
    js_sys::Function::from(stop)
        .call0(&errors)
        .expect("stop capturing");
    assert_eq!(
        lines(&log),
        [
            "thrower new one",
            "after new one",
            "thrower new two",
            "after new two"
        ]
    );
    assert_eq!(errors.length(), 2, "each exception reported once");
    assert!(is_error(&errors.get(0)));
    assert_eq!(gs(&errors.get(0), "message"), "listener bug: one");
    // The manager still works, both ways.
    let reply = send_c2c(&mm(&bob), "still fine", "alice").await;
    ok(m(&mm(&bob), "revokeMessage", &[reply])).await;
}

/// A listener may call back into the manager: send, canRevoke, history, add a listener,
/// revoke.
#[wasm_bindgen_test]
async fn a_listener_may_call_back_into_the_manager() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let alice2 = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let alice_log = Array::new();
    listen(&mm(&alice), "alice", &alice_log);
    let out = Array::new();
    let late_log = Array::new();
    let late = recorder("late", &late_log);
    let bmm = mm(&bob);
    m(
        &bmm,
        "addAdvancedMsgListener",
        &[replier(&bmm, &out, &late)],
    );
    let revokes = Array::new();
    let a2mm = mm(&alice2);
    m(&a2mm, "addAdvancedMsgListener", &[revoker(&a2mm, &revokes)]);

    let sent = send_c2c(&mm(&alice), "ping", "bob").await;
    settle().await;
    assert_eq!(out.length(), 3);
    let reply = ok(out.get(0)).await;
    assert_eq!(gs(&get(&reply, "textElem"), "text"), "re: ping");
    assert!(get(&out.get(1), "allowed").as_bool().is_some());
    let page = ok(out.get(2)).await;
    assert!(get(&page, "messageList").is_object());
    // alice2 heard of alice's own message from another device and revoked it from inside
    // its listener.
    assert_eq!(revokes.length(), 1);
    ok(revokes.get(0)).await;
    settle().await;
    let id = gs(&sent, "msgID");
    let mut heard = lines(&alice_log);
    heard.sort();
    assert_eq!(
        heard,
        [
            "alice new re: ping".to_string(),
            format!("alice revoked {id} alice auto")
        ]
    );
    // The listener added while "ping" was being dispatched hears the later events only:
    // the revoke of "ping", then a new message.
    let revoked = format!("late revoked {id} alice auto");
    assert_eq!(lines(&late_log), [revoked.clone()]);
    send_c2c(&mm(&alice), "later", "bob").await;
    settle().await;
    // (alice2's listener revokes that one too.)
    assert_eq!(
        lines(&late_log)[..2],
        [revoked, "late new later".to_string()]
    );
}

/// Removing listeners during a dispatch is safe and takes effect after that event's dispatch.
#[wasm_bindgen_test]
async fn removal_during_dispatch_takes_effect_after_it() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let log = Array::new();
    let bmm = mm(&bob);
    let victim = recorder("victim", &log);
    m(
        &bmm,
        "addAdvancedMsgListener",
        &[remover(&bmm, &victim, &log)],
    );
    m(&bmm, "addAdvancedMsgListener", &[victim]);
    listen(&bmm, "control", &log);
    let amm = mm(&alice);
    // Both messages arrive in one delivery batch.
    let one = m(
        &amm,
        "sendMessage",
        &[
            m(&amm, "createTextMessage", &[s("one")]),
            s("bob"),
            JsValue::NULL,
        ],
    );
    let two = m(
        &amm,
        "sendMessage",
        &[
            m(&amm, "createTextMessage", &[s("two")]),
            s("bob"),
            JsValue::NULL,
        ],
    );
    ok(one).await;
    ok(two).await;
    settle().await;
    assert_eq!(
        lines(&log),
        [
            "remover new one",
            "victim new one",
            "control new one",
            "control new two"
        ]
    );
}

/// Events are delivered asynchronously — never inside the call that caused them — and in
/// order.
#[wasm_bindgen_test]
async fn events_are_asynchronous_and_in_order() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let alice2 = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let log = Array::new();
    listen(&mm(&bob), "bob", &log);
    let own_log = Array::new();
    listen(&mm(&alice2), "alice2", &own_log);
    let amm = mm(&alice);
    let msgs: Vec<JsValue> = ["m1", "m2", "m3"]
        .iter()
        .map(|t| m(&amm, "createTextMessage", &[s(t)]))
        .collect();
    let mut pending = Vec::new();
    for msg in &msgs {
        pending.push(m(
            &amm,
            "sendMessage",
            &[msg.clone(), s("bob"), JsValue::NULL],
        ));
        assert_eq!(log.length(), 0, "not called inside sendMessage");
    }
    pending.push(m(&amm, "revokeMessage", &[msgs[1].clone(), s("r")]));
    assert_eq!(log.length(), 0, "not called inside revokeMessage");
    assert_eq!(own_log.length(), 0);
    for p in pending {
        ok(p).await;
    }
    settle().await;
    let m2 = gs(&msgs[1], "msgID");
    let expected = |tag: &str| {
        vec![
            format!("{tag} new m1"),
            format!("{tag} new m2"),
            format!("{tag} new m3"),
            format!("{tag} revoked {m2} alice r"),
        ]
    };
    assert_eq!(lines(&log), expected("bob"));
    assert_eq!(lines(&own_log), expected("alice2"));
}

/// Missing listener methods are skipped without error.
#[wasm_bindgen_test]
async fn missing_methods_are_skipped() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let log = Array::new();
    let errors = capture_errors();
    m(&mm(&bob), "addAdvancedMsgListener", &[only_revoked(&log)]);
    m(&mm(&bob), "addAdvancedMsgListener", &[js("{}")]);
    let msg = send_c2c(&mm(&alice), "x", "bob").await;
    ok(m(&mm(&alice), "revokeMessage", &[msg.clone(), s("why")])).await;
    settle().await;
    js_sys::Function::from(get(&errors, "stop"))
        .call0(&errors)
        .expect("stop capturing");
    assert_eq!(errors.length(), 0);
    assert_eq!(
        lines(&log),
        [format!("partial revoked {} alice why", gs(&msg, "msgID"))]
    );
}

/// Connection listeners follow the same registration rules; a local client logs in once.
#[wasm_bindgen_test]
async fn connection_listener_registration() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let l = js("{}");
    m(&alice, "addConnectionListener", &[l.clone()]);
    m(&alice, "addConnectionListener", &[l.clone()]);
    m(&alice, "removeConnectionListener", &[l]);
    let e = try_m(&alice, "addConnectionListener", &[JsValue::NULL]).expect_err("throws");
    assert_eq!(code(&e), 6017);
}
