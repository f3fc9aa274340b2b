//! Browser tests of the client's store over real IndexedDB (`storage: "indexeddb"`), on the
//! embedded `LocalHub`. A page reload is simulated by closing a client (`logout()` closes its
//! store and releases the writer's lock, keeping what it stored) and logging in a new client of
//! the same user on the same hub: the new client starts from the store only.
#![cfg(all(target_arch = "wasm32", feature = "local-hub"))]
#![allow(clippy::cloned_ref_to_slice_refs)]

mod common;

use common::*;
use im_revoke::{ChatClient, LocalHub};
use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
export function warnRecorder(log) {
  return { onStorageWarning(kind, desc) { log.push(["conn", "storage " + kind, desc]); } };
}
// The names of the databases whose name ends with "|" + user.
export async function dbNames(user) {
  const all = await indexedDB.databases();
  return all.map((d) => d.name).filter((n) => n.endsWith("|" + user));
}
// Overwrites a store's records with `meta` and one message record text.
export function tamper(name, meta, rec) {
  return new Promise((resolve, reject) => {
    const q = indexedDB.open(name);
    q.onerror = () => reject(q.error);
    q.onsuccess = () => {
      const db = q.result;
      const t = db.transaction(["meta", "msgs"], "readwrite");
      if (meta !== undefined) t.objectStore("meta").put(meta, "meta");
      if (rec !== undefined) t.objectStore("msgs").put({ id: "zz", t: 1, j: rec });
      t.oncomplete = () => { db.close(); resolve(); };
      t.onerror = () => reject(t.error);
    };
  });
}
// The stored record texts of a store.
export function records(name) {
  return new Promise((resolve, reject) => {
    const q = indexedDB.open(name);
    q.onerror = () => reject(q.error);
    q.onsuccess = () => {
      const db = q.result;
      const g = db.transaction("msgs").objectStore("msgs").getAll();
      g.onsuccess = () => { db.close(); resolve(g.result.map((r) => r.j).join("\n")); };
      g.onerror = () => reject(g.error);
    };
  });
}
// Opens a store at a version above the module's (a newer build of the app wrote it).
export function bumpVersion(name) {
  return new Promise((resolve, reject) => {
    const q0 = indexedDB.open(name);
    q0.onerror = () => reject(q0.error);
    q0.onsuccess = () => {
      const v = q0.result.version;
      q0.result.close();
      const q = indexedDB.open(name, v + 10);
      q.onerror = () => reject(q.error);
      q.onsuccess = () => { q.result.close(); resolve(v + 10); };
    };
  });
}
export function dbVersion(name) {
  return new Promise((resolve, reject) => {
    const q = indexedDB.open(name);
    q.onerror = () => reject(q.error);
    q.onsuccess = () => { const v = q.result.version; q.result.close(); resolve(v); };
  });
}
// The next `n` read-write transactions abort as the browser does when the origin is over its
// quota (error QuotaExceededError); the ones after them run as usual.
export function failWritesForQuota(n) {
  const orig = IDBDatabase.prototype.transaction;
  let left = n;
  IDBDatabase.prototype.transaction = function (...a) {
    const t = orig.apply(this, a);
    if (a[1] === "readwrite" && left > 0) {
      left--;
      const e = new DOMException("quota exceeded (test)", "QuotaExceededError");
      Object.defineProperty(t, "error", { get: () => e });
      queueMicrotask(() => { try { t.abort(); } catch (_) {} });
    }
    return t;
  };
  return () => { IDBDatabase.prototype.transaction = orig; };
}
export function hideIndexedDB() {
  const d = Object.getOwnPropertyDescriptor(globalThis, "indexedDB");
  Object.defineProperty(globalThis, "indexedDB", { value: undefined, configurable: true, writable: true });
  return () => { delete globalThis.indexedDB; if (d) Object.defineProperty(globalThis, "indexedDB", d); };
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = warnRecorder)]
    fn warn_recorder(log: &Array) -> JsValue;
    #[wasm_bindgen(js_name = dbNames)]
    fn db_names(user: &str) -> Promise;
    fn tamper(name: &str, meta: &JsValue, rec: &JsValue) -> Promise;
    fn records(name: &str) -> Promise;
    #[wasm_bindgen(js_name = bumpVersion)]
    fn bump_version(name: &str) -> Promise;
    #[wasm_bindgen(js_name = dbVersion)]
    fn db_version(name: &str) -> Promise;
    #[wasm_bindgen(js_name = failWritesForQuota)]
    fn fail_writes_for_quota(n: u32) -> js_sys::Function;
    #[wasm_bindgen(js_name = hideIndexedDB)]
    fn hide_indexed_db() -> js_sys::Function;
}

/// `ChatClient.local(hub, user, { storage: "indexeddb", ... })`, with a warning recorder.
async fn open(hub: &LocalHub, user: &str, log: &Array) -> JsValue {
    let c = ok(ChatClient::local(
        hub,
        user.to_string(),
        Some(js(r#"{"storage":"indexeddb"}"#)),
    )
    .into())
    .await;
    m(&c, "addConnectionListener", &[warn_recorder(log)]);
    c
}

async fn names(user: &str) -> Vec<String> {
    let v = JsFuture::from(db_names(user)).await.expect("databases()");
    Array::from(&v)
        .iter()
        .filter_map(|n| n.as_string())
        .collect()
}

/// The one database of `user` on this hub (the test's users are unique to it).
async fn db_of(user: &str) -> String {
    let n = names(user).await;
    assert_eq!(n.len(), 1, "one store for {user}: {n:?}");
    n[0].clone()
}

fn texts(page: &JsValue) -> Vec<String> {
    Array::from(&get(page, "messageList"))
        .iter()
        .map(|msg| {
            let t = get(&msg, "textElem");
            if t.is_null() {
                format!("<revoked {}>", gb(&msg, "isRevoked"))
            } else {
                gs(&t, "text")
            }
        })
        .collect()
}

/// Bob reads three messages, closes; alice revokes one while he is away; bob's new client
/// shows the stored history at once, hears the revoke exactly once, and the stored copy is the
/// tombstone.
#[wasm_bindgen_test]
async fn reload_shows_stored_history_and_hears_a_revoke_made_while_closed_once() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let log = Array::new();
    let bob = open(&hub, "bob-r1", &log).await;
    assert_eq!(gs(&bob, "storage"), "indexeddb");
    let amm = mm(&alice);
    let mut sent = Vec::new();
    for t in ["one", "two secret", "three"] {
        sent.push(send_c2c(&amm, t, "bob-r1").await);
    }
    settle().await;
    let q = js(r#"{"userID":"alice","count":10}"#);
    let page = ok(m(&mm(&bob), "getHistoryMessageList", &[q.clone()])).await;
    assert_eq!(texts(&page), ["three", "two secret", "one"]);
    ok(m(&bob, "logout", &[])).await;
    sleep(50).await;

    ok(m(&amm, "revokeMessage", &[sent[1].clone(), s("oops")])).await;
    settle().await;

    let log2 = Array::new();
    let bob2 = open(&hub, "bob-r1", &log2).await;
    listen(&mm(&bob2), "bob", &log2);
    // At once, from the store (before the sync's answer could change anything).
    let page = ok(m(&mm(&bob2), "getHistoryMessageList", &[q.clone()])).await;
    assert_eq!(page_len(&page), 3, "from the store");
    sleep(100).await;
    let id = gs(&sent[1], "msgID");
    assert_eq!(
        lines(&log2),
        [format!("bob revoked {id} alice oops")],
        "exactly one callback, for the message shown before the reload"
    );
    let page = ok(m(&mm(&bob2), "getHistoryMessageList", &[q])).await;
    assert_eq!(texts(&page), ["three", "<revoked true>", "one"]);
    let stored = JsFuture::from(records(&db_of("bob-r1").await))
        .await
        .unwrap()
        .as_string()
        .unwrap();
    assert!(
        !stored.contains("two secret"),
        "text erased from IndexedDB: {stored}"
    );
    assert!(stored.contains("three"));

    // A third load: nothing more to tell.
    ok(m(&bob2, "logout", &[])).await;
    sleep(50).await;
    let log3 = Array::new();
    let bob3 = open(&hub, "bob-r1", &log3).await;
    listen(&mm(&bob3), "bob", &log3);
    sleep(100).await;
    assert!(lines(&log3).is_empty(), "{:?}", lines(&log3));
    ok(m(&bob3, "logout", &[js(r#"{"clear":true}"#)])).await;
    assert!(
        names("bob-r1").await.is_empty(),
        "logout({{clear:true}}) deletes the store"
    );
}

fn page_len(page: &JsValue) -> u32 {
    Array::from(&get(page, "messageList")).length()
}

/// A message and a revoke queued while offline survive the reload and go out once after it.
#[wasm_bindgen_test]
async fn outbox_survives_the_reload_and_is_sent_once() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let alog = Array::new();
    listen(&mm(&alice), "alice", &alog);
    let log = Array::new();
    let bob = open(&hub, "bob-o1", &log).await;
    let bmm = mm(&bob);
    let before = send_c2c(&bmm, "sent before", "alice").await;
    settle().await;
    ok(m(&bob, "disconnect", &[])).await;
    let msg = m(&bmm, "createTextMessage", &[s("queued while offline")]);
    let id = gs(&msg, "msgID");
    let _send = watch(&m(
        &bmm,
        "sendMessage",
        &[msg.clone(), s("alice"), JsValue::NULL],
    ));
    let _revoke = watch(&m(&bmm, "revokeMessage", &[before.clone(), s("late")]));
    settle().await;
    ok(m(&bob, "logout", &[])).await;
    sleep(50).await;
    assert_eq!(lines(&alog), ["alice new sent before"]);

    let log2 = Array::new();
    let bob2 = open(&hub, "bob-o1", &log2).await;
    sleep(100).await;
    let before_id = gs(&before, "msgID");
    assert_eq!(
        lines(&alog),
        [
            "alice new sent before".to_string(),
            "alice new queued while offline".to_string(),
            format!("alice revoked {before_id} bob-o1 late"),
        ]
    );
    let found = ok(m(
        &amm_of(&alice),
        "findMessages",
        &[Array::of1(&s(&id)).into()],
    ))
    .await;
    assert_eq!(Array::from(&found).length(), 1);
    // Once: a further reload sends nothing again.
    ok(m(&bob2, "logout", &[])).await;
    sleep(50).await;
    let bob3 = open(&hub, "bob-o1", &Array::new()).await;
    sleep(100).await;
    assert_eq!(lines(&alog).len(), 3, "{:?}", lines(&alog));
    ok(m(&bob3, "logout", &[js(r#"{"clear":true}"#)])).await;
}

fn amm_of(c: &JsValue) -> JsValue {
    mm(c)
}

/// A store of another user, or a corrupt record, is not trusted: rebuilt, with a warning.
#[wasm_bindgen_test]
async fn foreign_or_corrupt_store_is_rebuilt() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = open(&hub, "bob-c1", &Array::new()).await;
    send_c2c(&mm(&alice), "hello", "bob-c1").await;
    settle().await;
    ok(m(&bob, "logout", &[])).await;
    sleep(50).await;
    let name = db_of("bob-c1").await;
    for (meta, rec) in [
        (
            js(r#"{"schema":1,"user":"eve","cursor":3,"outbox":[]}"#),
            JsValue::UNDEFINED,
        ),
        (JsValue::UNDEFINED, s("{not json")),
        (
            js(r#"{"schema":99,"user":"bob-c1","cursor":3,"outbox":[]}"#),
            JsValue::UNDEFINED,
        ),
        (
            js(r#"{"schema":1,"user":"bob-c1","cursor":"x","outbox":{}}"#),
            JsValue::UNDEFINED,
        ),
    ] {
        JsFuture::from(tamper(&name, &meta, &rec))
            .await
            .expect("tamper");
        let log = Array::new();
        let bob = open(&hub, "bob-c1", &log).await;
        listen(&mm(&bob), "bob", &log);
        sleep(50).await;
        let l = lines(&log);
        assert!(
            l.iter().any(|x| x.starts_with("conn storage rebuilt")),
            "{l:?}"
        );
        // Still works: sends and receives.
        send_c2c(&mm(&bob), "after rebuild", "alice").await;
        ok(m(&bob, "logout", &[])).await;
        sleep(50).await;
    }
    let bob = open(&hub, "bob-c1", &Array::new()).await;
    ok(m(&bob, "logout", &[js(r#"{"clear":true}"#)])).await;
}

/// No IndexedDB (a private window, blocked storage): memory, with a warning, never a failure.
#[wasm_bindgen_test]
async fn without_indexeddb_the_client_runs_in_memory_and_says_so() {
    let hub = hub("{}");
    let restore = hide_indexed_db();
    let log = Array::new();
    let bob = open(&hub, "bob-u1", &log).await;
    let _ = restore.call0(&JsValue::UNDEFINED);
    assert_eq!(gs(&bob, "storage"), "memory");
    sleep(20).await;
    let l = lines(&log);
    assert_eq!(l.len(), 1, "{l:?}");
    assert!(l[0].starts_with("conn storage unavailable"), "{l:?}");
    send_c2c(&mm(&bob), "works", "bob-u1").await;
    let mem =
        ok(ChatClient::local(&hub, "bob-u2".into(), Some(js(r#"{"storage":"memory"}"#))).into())
            .await;
    assert_eq!(gs(&mem, "storage"), "memory");
    let bad = err_code(
        ChatClient::local(&hub, "bob-u3".into(), Some(js(r#"{"storage":"disk"}"#))).into(),
    )
    .await;
    assert_eq!(bad, 6017);
}

/// Two tabs of one user: the first writes the store, the second only reads it.
#[wasm_bindgen_test]
async fn a_second_tab_reads_the_store_without_writing_it() {
    let hub = hub("{}");
    let a = open(&hub, "bob-t1", &Array::new()).await;
    let log = Array::new();
    let b = open(&hub, "bob-t1", &log).await;
    sleep(20).await;
    assert_eq!(gs(&a, "storage"), "indexeddb");
    assert_eq!(gs(&b, "storage"), "memory");
    assert!(lines(&log)
        .iter()
        .any(|x| x.starts_with("conn storage readonly")));
    ok(m(&b, "logout", &[])).await;
    ok(m(&a, "logout", &[js(r#"{"clear":true}"#)])).await;
}

/// When the writing tab goes, the reading tab takes the store over: it says so once, writes
/// from then on (what it holds is in the store), and its logout gives the lock back (a third
/// tab writes again).
#[wasm_bindgen_test]
async fn the_reading_tab_takes_the_store_over_when_the_writer_goes() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let a = open(&hub, "bob-w1", &Array::new()).await;
    let log = Array::new();
    let b = open(&hub, "bob-w1", &log).await;
    sleep(20).await;
    assert_eq!(gs(&b, "storage"), "memory");
    send_c2c(&mm(&alice), "seen by both tabs", "bob-w1").await;
    settle().await;
    ok(m(&a, "logout", &[])).await;
    sleep(100).await;
    assert_eq!(gs(&b, "storage"), "indexeddb", "{:?}", lines(&log));
    let told: Vec<String> = lines(&log)
        .into_iter()
        .filter(|x| x.starts_with("conn storage writer"))
        .collect();
    assert_eq!(told.len(), 1, "{:?}", lines(&log));
    send_c2c(&mm(&alice), "written by the second tab", "bob-w1").await;
    settle().await;
    sleep(50).await;
    let name = db_of("bob-w1").await;
    let stored = JsFuture::from(records(&name))
        .await
        .unwrap()
        .as_string()
        .unwrap();
    assert!(stored.contains("written by the second tab"), "{stored}");
    ok(m(&b, "logout", &[])).await;
    let c = open(&hub, "bob-w1", &Array::new()).await;
    assert_eq!(gs(&c, "storage"), "indexeddb", "the lock came back");
    ok(m(&c, "logout", &[js(r#"{"clear":true}"#)])).await;
}

/// A store written by a newer version of the module (a higher database version) is left as it is:
/// this client runs in memory and says so, rather than rebuilding (and losing) the newer store.
#[wasm_bindgen_test]
async fn a_newer_store_is_left_alone_and_the_client_runs_in_memory() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = open(&hub, "bob-v1", &Array::new()).await;
    send_c2c(&mm(&alice), "kept for the newer app", "bob-v1").await;
    settle().await;
    ok(m(&bob, "logout", &[])).await;
    sleep(50).await;
    let name = db_of("bob-v1").await;
    let newer = JsFuture::from(bump_version(&name)).await.unwrap();

    let log = Array::new();
    let bob2 = open(&hub, "bob-v1", &log).await;
    sleep(20).await;
    assert_eq!(gs(&bob2, "storage"), "memory");
    let l = lines(&log);
    assert!(
        l.iter().any(|x| x.starts_with("conn storage unavailable")),
        "{l:?}"
    );
    // It still works, from the hub.
    let q = js(r#"{"userID":"alice","count":10}"#);
    let page = ok(m(&mm(&bob2), "getHistoryMessageList", &[q])).await;
    assert_eq!(texts(&page), ["kept for the newer app"]);
    ok(m(&bob2, "logout", &[])).await;
    // The newer store is untouched: same version, same record.
    assert_eq!(JsFuture::from(db_version(&name)).await.unwrap(), newer);
    let stored = JsFuture::from(records(&name))
        .await
        .unwrap()
        .as_string()
        .unwrap();
    assert!(stored.contains("kept for the newer app"), "{stored}");
}

/// Over quota: the write that failed is replaced by a smaller one — the older half of the stored
/// history goes, the cursor and outbox stay — with one `quota` warning; the next load resumes
/// from the kept cursor without telling anything twice.
#[wasm_bindgen_test]
async fn over_quota_the_older_history_goes_and_the_cursor_stays() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let log = Array::new();
    let bob = open(&hub, "bob-q1", &log).await;
    let amm = mm(&alice);
    for i in 0..8 {
        send_c2c(&amm, &format!("old {i}"), "bob-q1").await;
    }
    settle().await;
    let name = db_of("bob-q1").await;
    let before = JsFuture::from(records(&name))
        .await
        .unwrap()
        .as_string()
        .unwrap();
    assert_eq!(before.lines().count(), 8, "{before}");

    let restore = fail_writes_for_quota(1);
    send_c2c(&amm, "over the quota", "bob-q1").await;
    settle().await;
    sleep(50).await;
    let _ = restore.call0(&JsValue::UNDEFINED);
    let l = lines(&log);
    assert_eq!(
        l.iter()
            .filter(|x| x.starts_with("conn storage quota"))
            .count(),
        1,
        "{l:?}"
    );
    let after = JsFuture::from(records(&name))
        .await
        .unwrap()
        .as_string()
        .unwrap();
    assert_eq!(after.lines().count(), 4, "the older half went: {after}");
    assert!(
        after.contains("old 7") && !after.contains("old 0"),
        "{after}"
    );

    // The cursor was written again with the smaller write: a reload tells nothing twice.
    ok(m(&bob, "logout", &[])).await;
    sleep(50).await;
    let log2 = Array::new();
    let bob2 = open(&hub, "bob-q1", &log2).await;
    listen(&mm(&bob2), "bob", &log2);
    sleep(100).await;
    let heard: Vec<String> = lines(&log2)
        .into_iter()
        .filter(|x| x.starts_with("bob "))
        .collect();
    assert!(heard.is_empty(), "nothing told again: {heard:?}");
    ok(m(&bob2, "logout", &[js(r#"{"clear":true}"#)])).await;
}
