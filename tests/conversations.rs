//! Browser tests of conversations, unread counts, replies and local search over the embedded
//! `LocalHub`: the list pages newest first; counts follow sends, revokes and reads on every
//! device of a user (a read roams); revoking the last message turns the preview into the
//! tombstone and revoking an unread message lowers the count, each told once; a reply carries
//! its quote until the original is revoked, then `onRecvMessageModified` once per reply; search
//! never finds revoked text; bad input gets coded errors. The same over a live server is in
//! tests/ws_live.rs.
//!
//! `wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver --mode no-install -- --test conversations`
#![cfg(all(target_arch = "wasm32", feature = "local-hub"))]
#![allow(clippy::cloned_ref_to_slice_refs)]

mod common;

use common::*;
use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
function summary(c) {
  const l = c.lastMessage;
  const last = l === null ? "-" : l.status + (l.textElem === null ? "" : "/" + l.textElem.text);
  return c.conversationID + ":" + c.unreadCount + ":" + last;
}
// Records conversation events (and onRecvMessageModified) into `log` as short lines, with
// `this` checked, and the objects into `objs`.
export function convRecorder(tag, log, objs) {
  return {
    tag,
    onNewConversation(list) { objs.push(list); log.push(this.tag + " new " + list.map(summary).join(",")); },
    onConversationChanged(list) { objs.push(list); log.push(this.tag + " changed " + list.map(summary).join(",")); },
    onTotalUnreadMessageCountChanged(total) { log.push(this.tag + " total " + total); },
    onRecvMessageModified(msg) {
      objs.push(msg);
      const q = msg.replyTo;
      log.push(this.tag + " modified " + msg.textElem.text + " " + q.abstract + "|" + q.isRevoked);
    },
  };
}
export function thrower(log) {
  return { onTotalUnreadMessageCountChanged(total) { log.push("thrower " + total); throw new Error("listener bug " + total); } };
}
// Calls back into the manager from inside the listener.
export function reentrant(cm, out) {
  return {
    onTotalUnreadMessageCountChanged(total) {
      out.push(cm.getTotalUnreadMessageCount());
      out.push(cm.getConversationList(0, 10));
    },
  };
}
// A message listener that adds conversation listener `l` at the first new message.
export function adder(cm, l) {
  return { onRecvNewMessage() { cm.addConversationListener(l); } };
}
export function keys(o) { return Object.keys(o).join(","); }
export function repeat(s, n) { return s.repeat(n); }
"#)]
extern "C" {
    #[wasm_bindgen(js_name = convRecorder)]
    fn conv_recorder(tag: &str, log: &Array, objs: &Array) -> JsValue;
    fn thrower(log: &Array) -> JsValue;
    fn reentrant(cm: &JsValue, out: &Array) -> JsValue;
    fn adder(cm: &JsValue, l: &JsValue) -> JsValue;
    fn keys(o: &JsValue) -> String;
    fn repeat(s: &str, n: u32) -> String;
}

/// `client.getConversationManager()`.
fn cm(client: &JsValue) -> JsValue {
    m(client, "getConversationManager", &[])
}

/// Registers a recording conversation listener on `client` (both on the conversation manager
/// and, for `onRecvMessageModified`, on the message manager).
fn listen_convs(client: &JsValue, tag: &str, log: &Array, objs: &Array) -> JsValue {
    let l = conv_recorder(tag, log, objs);
    m(&cm(client), "addConversationListener", &[l.clone()]);
    m(&mm(client), "addAdvancedMsgListener", &[l.clone()]);
    l
}

fn strs(log: &Array) -> Vec<String> {
    log.iter()
        .map(|v| v.as_string().unwrap_or_default())
        .collect()
}

/// Takes what `log` holds so far.
fn drain(log: &Array) -> Vec<String> {
    let v = strs(log);
    log.set_length(0);
    v
}

fn n(v: f64) -> JsValue {
    JsValue::from(v)
}

async fn conversation(client: &JsValue, id: &str) -> JsValue {
    ok(m(&cm(client), "getConversation", &[s(id)])).await
}

async fn total(client: &JsValue) -> f64 {
    ok(m(&cm(client), "getTotalUnreadMessageCount", &[]))
        .await
        .as_f64()
        .expect("a number")
}

async fn unread(client: &JsValue, id: &str) -> f64 {
    gn(&conversation(client, id).await, "unreadCount")
}

/// `createTextMessage(text, options)` + `sendMessage(…, to, null)`.
async fn send_with(client: &JsValue, text: &str, to: &str, options: &JsValue) -> JsValue {
    let msg = m(
        &mm(client),
        "createTextMessage",
        &[s(text), options.clone()],
    );
    ok(m(&mm(client), "sendMessage", &[msg, s(to), JsValue::NULL])).await
}

fn ids(list: &JsValue) -> Vec<String> {
    Array::from(list)
        .iter()
        .map(|c| gs(&c, "conversationID"))
        .collect()
}

#[wasm_bindgen_test]
async fn the_list_pages_newest_first() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    for (i, to) in ["bob", "carol", "dave"].iter().enumerate() {
        send_c2c(&mm(&alice), &format!("to {to}"), to).await;
        // Distinct server milliseconds, so that the order is by time alone.
        sleep(3 + i as u32).await;
    }
    ok(m(
        &gm(&alice),
        "createGroup",
        &[js(
            r#"{ "groupID": "g1", "name": "team", "members": ["bob"] }"#,
        )],
    ))
    .await;
    send_group(&mm(&alice), "hi team", "g1").await;
    settle().await;

    let page = ok(m(&cm(&alice), "getConversationList", &[n(0.0), n(3.0)])).await;
    assert_eq!(keys(&page), "nextSeq,isFinished,conversationList");
    assert_eq!(
        ids(&get(&page, "conversationList")),
        ["group_g1", "c2c_dave", "c2c_carol"]
    );
    assert!(!gb(&page, "isFinished"));
    assert_eq!(gn(&page, "nextSeq"), 3.0);
    let rest = ok(m(&cm(&alice), "getConversationList", &[n(3.0), n(3.0)])).await;
    assert_eq!(ids(&get(&rest, "conversationList")), ["c2c_bob"]);
    assert!(gb(&rest, "isFinished"));

    let list = Array::from(&get(&page, "conversationList"));
    let group = list.get(0);
    assert_eq!(
        keys(&group),
        "conversationID,type,userID,groupID,showName,unreadCount,lastMessage,orderKey"
    );
    assert_eq!(gn(&group, "type"), 2.0);
    assert_eq!(gs(&group, "groupID"), "g1");
    assert!(get(&group, "userID").is_null());
    assert_eq!(gs(&group, "showName"), "team");
    let dave = list.get(1);
    assert_eq!(gn(&dave, "type"), 1.0);
    assert_eq!(gs(&dave, "userID"), "dave");
    assert!(get(&dave, "groupID").is_null());
    assert_eq!(gs(&dave, "showName"), "dave");
    assert_eq!(
        gn(&dave, "unreadCount"),
        0.0,
        "one's own messages never count"
    );
    let last = get(&dave, "lastMessage");
    assert_eq!(gs(&get(&last, "textElem"), "text"), "to dave");
    assert_eq!(gn(&dave, "orderKey"), gn(&last, "timeMs"));
    assert!(gn(&group, "orderKey") > gn(&dave, "orderKey"));
    assert!(gn(&dave, "orderKey") > gn(&list.get(2), "orderKey"));

    // The same conversation through getConversation, and bob's side of it.
    let one = conversation(&alice, "c2c_dave").await;
    assert_eq!(describe(&one), describe(&dave));
    let bob = login(&hub, "bob").await;
    let mine = conversation(&bob, "c2c_alice").await;
    assert_eq!(gn(&mine, "unreadCount"), 1.0);
    assert_eq!(gs(&mine, "userID"), "alice");
    assert_eq!(total(&bob).await, 2.0);
}

#[wasm_bindgen_test]
async fn unread_counts_and_a_read_roam_between_devices() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob1 = login(&hub, "bob").await;
    let bob2 = login(&hub, "bob").await;
    let (log1, log2, alog, objs) = (Array::new(), Array::new(), Array::new(), Array::new());
    listen_convs(&bob1, "bob1", &log1, &objs);
    listen_convs(&bob2, "bob2", &log2, &objs);
    listen_convs(&alice, "alice", &alog, &objs);

    send_c2c(&mm(&alice), "one", "bob").await;
    send_c2c(&mm(&alice), "two", "bob").await;
    settle().await;
    for (log, tag) in [(&log1, "bob1"), (&log2, "bob2")] {
        assert_eq!(
            drain(log),
            [
                format!("{tag} new c2c_alice:1:2/one"),
                format!("{tag} total 1"),
                format!("{tag} changed c2c_alice:2:2/two"),
                format!("{tag} total 2"),
            ]
        );
    }
    assert_eq!(
        drain(&alog),
        ["alice new c2c_bob:0:2/one", "alice changed c2c_bob:0:2/two"],
        "the sender's own messages never count"
    );
    for bob in [&bob1, &bob2] {
        assert_eq!(unread(bob, "c2c_alice").await, 2.0);
        assert_eq!(total(bob).await, 2.0);
    }
    assert_eq!(total(&alice).await, 0.0);

    // Bob reads on his first device: the badge clears on the second too.
    let done = ok(m(
        &cm(&bob1),
        "cleanConversationUnreadMessageCount",
        &[s("c2c_alice"), n(0.0), n(0.0)],
    ))
    .await;
    assert!(done.is_undefined());
    settle().await;
    for (log, tag) in [(&log1, "bob1"), (&log2, "bob2")] {
        assert_eq!(
            drain(log),
            [
                format!("{tag} changed c2c_alice:0:2/two"),
                format!("{tag} total 0"),
            ]
        );
    }
    for bob in [&bob1, &bob2] {
        assert_eq!(unread(bob, "c2c_alice").await, 0.0);
        assert_eq!(total(bob).await, 0.0);
    }
    // A device that logs in later loads the counts as they are.
    let bob3 = login(&hub, "bob").await;
    assert_eq!(total(&bob3).await, 0.0);

    // A read up to one message (cleanSequence = its seq) leaves the newer one unread.
    let three = send_c2c(&mm(&alice), "three", "bob").await;
    send_c2c(&mm(&alice), "four", "bob").await;
    settle().await;
    drain(&log1);
    assert_eq!(total(&bob1).await, 2.0);
    ok(m(
        &cm(&bob2),
        "cleanConversationUnreadMessageCount",
        &[s("c2c_alice"), n(0.0), n(gn(&three, "seq"))],
    ))
    .await;
    settle().await;
    assert_eq!(
        drain(&log1),
        ["bob1 changed c2c_alice:1:2/four", "bob1 total 1"]
    );
    assert_eq!(unread(&bob1, "c2c_alice").await, 1.0);
    assert_eq!(total(&bob3).await, 1.0);
}

#[wasm_bindgen_test]
async fn revokes_reach_the_preview_and_the_counts() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob1 = login(&hub, "bob").await;
    let bob2 = login(&hub, "bob").await;
    let (log1, log2, alog, objs) = (Array::new(), Array::new(), Array::new(), Array::new());
    listen_convs(&bob1, "bob1", &log1, &objs);
    listen_convs(&bob2, "bob2", &log2, &objs);
    send_c2c(&mm(&alice), "one", "bob").await;
    let two = send_c2c(&mm(&alice), "two", "bob").await;
    settle().await;
    drain(&log1);
    drain(&log2);
    listen_convs(&alice, "alice", &alog, &objs);

    // The last message, unread: the preview becomes the tombstone and the count drops, on
    // each of bob's devices, told once.
    objs.set_length(0);
    ok(m(&mm(&alice), "revokeMessage", &[two.clone(), s("oops")])).await;
    settle().await;
    for (log, tag) in [(&log1, "bob1"), (&log2, "bob2")] {
        assert_eq!(
            drain(log),
            [
                format!("{tag} changed c2c_alice:1:6"),
                format!("{tag} total 1")
            ]
        );
    }
    let changed = Array::from(&objs.get(0)).get(0);
    let last = get(&changed, "lastMessage");
    assert_eq!(gs(&last, "msgID"), gs(&two, "msgID"));
    assert!(gb(&last, "isRevoked"));
    assert!(get(&last, "textElem").is_null(), "{}", describe(&last));
    assert_eq!(gs(&get(&last, "revokerInfo"), "userID"), "alice");
    assert_eq!(
        drain(&alog),
        ["alice changed c2c_bob:0:6/two"],
        "the sender keeps the text to re-edit"
    );
    let fetched = conversation(&bob2, "c2c_alice").await;
    assert_eq!(gn(&get(&fetched, "lastMessage"), "status"), 6.0);
    assert_eq!(gn(&fetched, "unreadCount"), 1.0);

    // A read message revoked: no count changes, no total event.
    ok(m(
        &cm(&bob1),
        "cleanConversationUnreadMessageCount",
        &[s("c2c_alice"), n(0.0), n(0.0)],
    ))
    .await;
    let three = send_c2c(&mm(&alice), "three", "bob").await;
    send_c2c(&mm(&alice), "four", "bob").await;
    settle().await;
    ok(m(
        &cm(&bob2),
        "cleanConversationUnreadMessageCount",
        &[s("c2c_alice")],
    ))
    .await;
    settle().await;
    drain(&log1);
    ok(m(&mm(&alice), "revokeMessage", &[three])).await;
    settle().await;
    assert!(drain(&log1).is_empty(), "neither the last nor unread");
    assert_eq!(total(&bob1).await, 0.0);

    // In a group, every member's count drops.
    let carol = login(&hub, "carol").await;
    let clog = Array::new();
    listen_convs(&carol, "carol", &clog, &objs);
    ok(m(
        &gm(&alice),
        "createGroup",
        &[js(r#"{ "groupID": "g2", "members": ["bob", "carol"] }"#)],
    ))
    .await;
    let hello = send_group(&mm(&alice), "hello", "g2").await;
    send_group(&mm(&bob1), "hi", "g2").await;
    settle().await;
    assert_eq!(unread(&carol, "group_g2").await, 2.0);
    assert_eq!(unread(&bob2, "group_g2").await, 1.0);
    drain(&clog);
    drain(&log2);
    ok(m(&mm(&alice), "revokeMessage", &[hello])).await;
    settle().await;
    assert_eq!(
        drain(&clog),
        ["carol changed group_g2:1:2/hi", "carol total 1"]
    );
    assert_eq!(
        drain(&log2),
        ["bob2 changed group_g2:0:2/hi", "bob2 total 0"]
    );
    assert_eq!(total(&carol).await, 1.0);
}

#[wasm_bindgen_test]
async fn replies_quote_the_original_until_it_is_revoked() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let (alog, blog, objs) = (Array::new(), Array::new(), Array::new());
    let original = send_c2c(&mm(&alice), "lunch at noon?", "bob").await;
    settle().await;

    // A reply by object (bob holds the original: the quote is known at once) and by msgID.
    let draft = m(
        &mm(&bob),
        "createTextMessage",
        &[s("yes"), js(r#"{ "cloudCustomData": "{\"mood\":1}" }"#)],
    );
    assert!(get(&draft, "replyTo").is_null());
    let opts = Object::new();
    js_sys::Reflect::set(&opts, &s("replyTo"), &original).unwrap();
    js_sys::Reflect::set(&opts, &s("cloudCustomData"), &s("{\"mood\":1}")).unwrap();
    let reply = m(&mm(&bob), "createTextMessage", &[s("yes"), opts.into()]);
    let q = get(&reply, "replyTo");
    assert_eq!(
        keys(&q),
        "msgID,sender,abstract,isRevoked",
        "{}",
        describe(&reply)
    );
    assert_eq!(gs(&q, "abstract"), "lunch at noon?");
    let r1 = ok(m(
        &mm(&bob),
        "sendMessage",
        &[reply, s("alice"), JsValue::NULL],
    ))
    .await;
    let by_id = js(&format!(r#"{{ "replyTo": "{}" }}"#, gs(&original, "msgID")));
    let r2 = send_with(&alice, "or one?", "bob", &by_id).await;
    for r in [&r1, &r2] {
        let q = get(r, "replyTo");
        assert_eq!(gs(&q, "msgID"), gs(&original, "msgID"));
        assert_eq!(gs(&q, "sender"), "alice");
        assert_eq!(gs(&q, "abstract"), "lunch at noon?");
        assert!(!gb(&q, "isRevoked"));
    }
    assert_eq!(gs(&r1, "cloudCustomData"), "{\"mood\":1}");
    assert!(get(&r2, "cloudCustomData").is_null());
    settle().await;
    let page = ok(m(
        &mm(&alice),
        "getHistoryMessageList",
        &[js(r#"{ "userID": "bob", "count": 3 }"#)],
    ))
    .await;
    let got = Array::from(&get(&page, "messageList")).get(1);
    assert_eq!(gs(&got, "msgID"), gs(&r1, "msgID"));
    assert_eq!(gs(&got, "cloudCustomData"), "{\"mood\":1}", "untouched");
    assert_eq!(gs(&get(&got, "replyTo"), "abstract"), "lunch at noon?");

    // The original is revoked: each client hears onRecvMessageModified once per reply it
    // holds, and every later copy shows no quote.
    listen_convs(&alice, "alice", &alog, &objs);
    listen_convs(&bob, "bob", &blog, &objs);
    ok(m(&mm(&alice), "revokeMessage", &[original.clone()])).await;
    settle().await;
    let modified = |log: &Array| -> Vec<String> {
        let mut v: Vec<String> = strs(log)
            .into_iter()
            .filter(|l| l.contains(" modified "))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        modified(&alog),
        ["alice modified or one? |true", "alice modified yes |true"]
    );
    assert_eq!(
        modified(&blog),
        ["bob modified or one? |true", "bob modified yes |true"]
    );
    let page = ok(m(
        &mm(&bob),
        "getHistoryMessageList",
        &[js(r#"{ "userID": "alice", "count": 3 }"#)],
    ))
    .await;
    let list = Array::from(&get(&page, "messageList"));
    for i in 0..2 {
        let q = get(&list.get(i), "replyTo");
        assert_eq!(gs(&q, "abstract"), "", "{}", describe(&list.get(i)));
        assert!(gb(&q, "isRevoked"));
    }
    let later = login(&hub, "bob").await;
    let found = Array::from(
        &ok(m(
            &mm(&later),
            "findMessages",
            &[Array::of1(&s(&gs(&r1, "msgID"))).into()],
        ))
        .await,
    );
    let q = get(&found.get(0), "replyTo");
    assert_eq!(gs(&q, "abstract"), "");
    assert!(gb(&q, "isRevoked"));
    // A reply made after the revoke quotes it as revoked.
    let r3 = send_with(&bob, "too late", "alice", &by_id).await;
    assert!(gb(&get(&r3, "replyTo"), "isRevoked"));
    settle().await;
    assert_eq!(modified(&blog).len(), 2, "told once per reply, no more");
    assert_eq!(modified(&alog).len(), 2);
}

#[wasm_bindgen_test]
async fn search_never_finds_revoked_text() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let noon = send_c2c(&mm(&alice), "Lunch at noon", "bob").await;
    sleep(2).await;
    send_c2c(&mm(&alice), "lunch moved to one", "bob").await;
    send_c2c(&mm(&alice), "dinner", "bob").await;
    send_c2c(&mm(&alice), "lunch with you?", "carol").await;
    settle().await;

    let search =
        |client: &JsValue, param: &str| m(&mm(client), "searchLocalMessages", &[js(param)]);
    let r = ok(search(&bob, r#"{ "keywordList": ["LUNCH"] }"#)).await;
    assert_eq!(keys(&r), "totalCount,messageSearchResultItems");
    assert_eq!(gn(&r, "totalCount"), 2.0);
    let items = Array::from(&get(&r, "messageSearchResultItems"));
    assert_eq!(items.length(), 1);
    let item = items.get(0);
    assert_eq!(keys(&item), "conversationID,messageCount,messageList");
    assert_eq!(gs(&item, "conversationID"), "c2c_alice");
    assert_eq!(gn(&item, "messageCount"), 2.0);
    let texts: Vec<String> = Array::from(&get(&item, "messageList"))
        .iter()
        .map(|m| gs(&get(&m, "textElem"), "text"))
        .collect();
    assert_eq!(
        texts,
        ["lunch moved to one", "Lunch at noon"],
        "newest first"
    );

    let all = ok(search(&alice, r#"{ "keywordList": ["lunch"] }"#)).await;
    assert_eq!(gn(&all, "totalCount"), 3.0);
    assert_eq!(
        ids(&get(&all, "messageSearchResultItems")),
        ["c2c_carol", "c2c_bob"]
    );
    let only = ok(search(
        &alice,
        r#"{ "keywordList": ["lunch"], "conversationID": "c2c_carol" }"#,
    ))
    .await;
    assert_eq!(gn(&only, "totalCount"), 1.0);
    let both = ok(search(
        &bob,
        r#"{ "keywordList": ["lunch", "noon"], "keywordListMatchType": 1 }"#,
    ))
    .await;
    assert_eq!(gn(&both, "totalCount"), 1.0);
    let either = ok(search(
        &bob,
        r#"{ "keywordList": ["noon", "dinner"], "keywordListMatchType": "or" }"#,
    ))
    .await;
    assert_eq!(gn(&either, "totalCount"), 2.0);

    ok(m(&mm(&alice), "revokeMessage", &[noon])).await;
    settle().await;
    for client in [&bob, &alice] {
        let r = ok(search(client, r#"{ "keywordList": ["noon"] }"#)).await;
        assert_eq!(gn(&r, "totalCount"), 0.0, "{}", describe(&r));
        assert_eq!(
            Array::from(&get(&r, "messageSearchResultItems")).length(),
            0
        );
    }
    let r = ok(search(&bob, r#"{ "keywordList": ["lunch"] }"#)).await;
    assert_eq!(gn(&r, "totalCount"), 1.0);
}

#[wasm_bindgen_test]
async fn bad_input_gets_coded_errors() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let carol = login(&hub, "carol").await;
    let secret = send_c2c(&mm(&carol), "between carol and dave", "dave").await;
    let c = cm(&alice);

    // Malformed conversationIDs and paging: 6017.
    for id in [s("bogus"), s("c2c_"), s("group_"), n(42.0), JsValue::NULL] {
        assert_eq!(
            err_code(m(&c, "getConversation", &[id.clone()])).await,
            6017
        );
        let p = m(
            &c,
            "cleanConversationUnreadMessageCount",
            &[id, n(0.0), n(0.0)],
        );
        assert_eq!(err_code(p).await, 6017);
    }
    for (seq, count) in [
        (-1.0, 10.0),
        (0.0, 0.0),
        (0.0, 101.0),
        (0.0, 1e12),
        (0.0, 1.5),
        (f64::NAN, 5.0),
        (1e6, 10.0),
    ] {
        let p = m(&c, "getConversationList", &[n(seq), n(count)]);
        assert_eq!(
            err_code(p).await,
            6017,
            "getConversationList({seq}, {count})"
        );
    }
    let p = m(&c, "getConversationList", &[]);
    assert_eq!(err_code(p).await, 6017);
    let p = m(
        &c,
        "cleanConversationUnreadMessageCount",
        &[s("c2c_bob"), n(5.0), n(0.0)],
    );
    assert_eq!(err_code(p).await, 6017, "only cleanTimestamp 0");
    let p = m(
        &c,
        "cleanConversationUnreadMessageCount",
        &[s("c2c_bob"), n(0.0), n(-2.0)],
    );
    assert_eq!(err_code(p).await, 6017);

    // A conversation one is not in: 300007.
    assert_eq!(
        err_code(m(&c, "getConversation", &[s("c2c_nobody")])).await,
        300007
    );
    assert_eq!(
        err_code(m(&c, "getConversation", &[s("group_nosuch")])).await,
        300007
    );
    let p = m(
        &c,
        "cleanConversationUnreadMessageCount",
        &[s("c2c_carol"), n(0.0), n(0.0)],
    );
    assert_eq!(err_code(p).await, 300007);

    // Replying to what one may not read, or what does not exist: 300008 (the same answer).
    let bmm = mm(&bob);
    for target in [gs(&secret, "msgID"), String::from("no-such-message")] {
        let opts = js(&format!(r#"{{ "replyTo": "{target}" }}"#));
        let msg = m(&bmm, "createTextMessage", &[s("re"), opts]);
        let p = m(&bmm, "sendMessage", &[msg, s("carol"), JsValue::NULL]);
        assert_eq!(err_code(p).await, 300008);
    }

    // Bad options to createTextMessage throw at once.
    let big = Object::new();
    js_sys::Reflect::set(&big, &s("cloudCustomData"), &s(&repeat("x", 8193))).unwrap();
    let fits = Object::new();
    js_sys::Reflect::set(&fits, &s("cloudCustomData"), &s(&repeat("x", 8192))).unwrap();
    let thrown = |args: &[JsValue]| match try_m(&bmm, "createTextMessage", args) {
        Ok(v) => panic!("expected a throw, got {}", describe(&v)),
        Err(e) => {
            assert!(is_error(&e), "a real Error: {}", describe(&e));
            code(&e)
        }
    };
    assert_eq!(thrown(&[s("x"), big.into()]), 8001);
    assert_eq!(thrown(&[s("x"), n(5.0)]), 6017);
    assert_eq!(thrown(&[s("x"), s("options")]), 6017);
    assert_eq!(thrown(&[s("x"), js(r#"{ "replyTo": 5 }"#)]), 6017);
    assert_eq!(thrown(&[s("x"), js(r#"{ "replyTo": {} }"#)]), 6017);
    assert_eq!(thrown(&[s("x"), js(r#"{ "cloudCustomData": 5 }"#)]), 6017);
    let msg = m(&bmm, "createTextMessage", &[s("x"), fits.into()]);
    assert_eq!(gs(&msg, "cloudCustomData").len(), 8192);
    let msg = m(&bmm, "createTextMessage", &[s("x"), JsValue::NULL]);
    assert!(get(&msg, "replyTo").is_null());

    // Bad search params reject.
    for param in [
        "null",
        "{}",
        r#"{ "keywordList": [] }"#,
        r#"{ "keywordList": ["  "] }"#,
        r#"{ "keywordList": "lunch" }"#,
        r#"{ "keywordList": ["a", "b", "c", "d", "e", "f"] }"#,
        r#"{ "keywordList": ["a"], "keywordListMatchType": 2 }"#,
        r#"{ "keywordList": ["a"], "conversationID": "nope" }"#,
    ] {
        let p = m(&bmm, "searchLocalMessages", &[js(param)]);
        assert_eq!(err_code(p).await, 6017, "{param}");
    }
    // A listener that is not an object.
    match try_m(&c, "addConversationListener", &[n(5.0)]) {
        Ok(_) => panic!("expected a throw"),
        Err(e) => assert_eq!(code(&e), 6017),
    }
}

#[wasm_bindgen_test]
async fn conversation_listeners_are_called_safely() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let (log, objs, out) = (Array::new(), Array::new(), Array::new());
    let errors = capture_errors();
    let c = cm(&bob);
    m(&c, "addConversationListener", &[thrower(&log)]);
    m(&c, "addConversationListener", &[reentrant(&c, &out)]);
    let rec = listen_convs(&bob, "bob", &log, &objs);
    m(&c, "addConversationListener", &[rec.clone()]); // the same object: registered once
    m(&c, "addConversationListener", &[js("{}")]); // every method is optional

    send_c2c(&mm(&alice), "one", "bob").await;
    settle().await;
    assert_eq!(
        drain(&log),
        ["bob new c2c_alice:1:2/one", "thrower 1", "bob total 1"],
        "a throwing listener does not stop the next"
    );
    let _ = js_sys::Reflect::get(&errors, &s("stop"))
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .map(|f| f.call0(&errors));
    assert_eq!(errors.length(), 1);
    assert_eq!(describe(&errors.get(0)), "listener bug 1");
    // The calls made from inside the listener work.
    assert_eq!(out.length(), 2);
    assert_eq!(ok(out.get(0)).await.as_f64(), Some(1.0));
    let page = ok(out.get(1)).await;
    assert_eq!(ids(&get(&page, "conversationList")), ["c2c_alice"]);

    // Removed: heard no more.
    m(&c, "removeConversationListener", &[rec]);
    send_c2c(&mm(&alice), "two", "bob").await;
    settle().await;
    assert_eq!(drain(&log), ["thrower 2"]);
}

/// `getConversationList(0, 100)`'s conversations, as JSON.
async fn list_json(client: &JsValue) -> String {
    let page = ok(m(&cm(client), "getConversationList", &[n(0.0), n(100.0)])).await;
    String::from(js_sys::JSON::stringify(&get(&page, "conversationList")).expect("JSON"))
}

/// The conversations' views are made only for conversation listeners, and the state does not
/// depend on them: the list is the same on a device with no conversation listener; a listener
/// registered later hears the later changes; one added by a message listener during a frame's
/// dispatch hears that frame's conversation change (the next event).
#[wasm_bindgen_test]
async fn conversation_listeners_added_later_hear_later_changes() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let heard = login(&hub, "bob").await;
    let quiet = login(&hub, "bob").await;
    let (log, objs) = (Array::new(), Array::new());
    listen_convs(&heard, "heard", &log, &objs);
    let quiet_log = Array::new();
    listen(&mm(&quiet), "quiet", &quiet_log);
    let one = send_c2c(&mm(&alice), "one", "bob").await;
    send_c2c(&mm(&alice), "two", "bob").await;
    ok(m(&mm(&alice), "revokeMessage", &[one])).await;
    settle().await;
    assert_eq!(lines(&quiet_log).len(), 3, "the message listener heard all");
    assert_eq!(list_json(&quiet).await, list_json(&heard).await);
    assert_eq!(unread(&quiet, "c2c_alice").await, 1.0);
    assert_eq!(total(&quiet).await, 1.0);

    // Registered later: hears the later changes, as a listener there from the start.
    let (late_log, late_objs) = (Array::new(), Array::new());
    m(
        &cm(&quiet),
        "addConversationListener",
        &[conv_recorder("late", &late_log, &late_objs)],
    );
    drain(&log);
    send_c2c(&mm(&alice), "three", "bob").await;
    settle().await;
    assert_eq!(
        drain(&log),
        ["heard changed c2c_alice:2:2/three", "heard total 2"]
    );
    assert_eq!(
        drain(&late_log),
        ["late changed c2c_alice:2:2/three", "late total 2"]
    );
    assert_eq!(list_json(&quiet).await, list_json(&heard).await);

    // Added while the frame's new message is dispatched: hears the frame's conversation
    // change.
    let third = login(&hub, "bob").await;
    settle().await;
    let (same_log, same_objs) = (Array::new(), Array::new());
    let same = conv_recorder("same", &same_log, &same_objs);
    m(
        &mm(&third),
        "addAdvancedMsgListener",
        &[adder(&cm(&third), &same)],
    );
    send_c2c(&mm(&alice), "four", "bob").await;
    settle().await;
    assert_eq!(
        drain(&same_log),
        ["same changed c2c_alice:3:2/four", "same total 3"]
    );
    assert_eq!(list_json(&third).await, list_json(&heard).await);
}
