//! Browser tests of rich messages: custom messages are created, sent, delivered with their
//! `customElem`, refused when empty or too large; image and file messages are uploaded with
//! progress (a thumbnail made in the browser), delivered with URLs that load their bytes, and
//! refused with a code when too large or of the wrong type; once revoked, a message shows no
//! content to anyone but its sender and its attachment URLs stop loading — on the embedded
//! `LocalHub` (object URLs revoked) and over a live server (410).
//!
//! `wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver --mode no-install --test rich`
//!
//! The server cases run when built with `IMR_TEST_WS_URL`, `IMR_TEST_USERSIG_ALICE` and
//! `IMR_TEST_USERSIG_BOB` (as for `tests/ws_live.rs`; optional `IMR_TEST_MAX_UPLOAD_BYTES`, the
//! server's `--max-upload-bytes`), and pass without doing anything otherwise.
#![cfg(all(target_arch = "wasm32", feature = "local-hub"))]
#![allow(clippy::cloned_ref_to_slice_refs)]

mod common;

use common::*;
use im_revoke::ChatClient;
use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

#[wasm_bindgen(inline_js = r##"
// A w × h PNG in two colours.
export async function png(w, h) {
  const c = new OffscreenCanvas(w, h);
  const x = c.getContext("2d");
  x.fillStyle = "#c33"; x.fillRect(0, 0, w, h);
  x.fillStyle = "#33c"; x.fillRect(0, 0, w / 2, h / 2);
  return await c.convertToBlob({ type: "image/png" });
}
export function file(parts, name, type) { return new File(parts, name, { type }); }
export function zeros(n) { return new Blob([new Uint8Array(n)]); }
// What loading `url` gives: { status, bytes } (status -1: the load failed, as for a revoked
// object URL).
export async function load(url) {
  try {
    const r = await fetch(url);
    return { status: r.status, bytes: new Uint8Array(await r.arrayBuffer()) };
  } catch (_) { return { status: -1, bytes: null }; }
}
export async function sameBytes(a, blob) {
  const b = new Uint8Array(await blob.arrayBuffer());
  return a !== null && a.length === b.length && a.every((v, i) => v === b[i]);
}
// Send options whose onProgress records each fraction into `log` (and throws if `bad`).
export function progress(log, bad) {
  return { onProgress(f) { log.push(f); if (bad) throw new Error("a throwing onProgress"); } };
}
"##)]
extern "C" {
    fn png(w: u32, h: u32) -> Promise;
    fn file(parts: &Array, name: &str, kind: &str) -> JsValue;
    fn zeros(n: f64) -> JsValue;
    fn load(url: &str) -> Promise;
    #[wasm_bindgen(js_name = sameBytes)]
    fn same_bytes(bytes: &JsValue, blob: &JsValue) -> Promise;
    fn progress(log: &Array, bad: bool) -> JsValue;
}

/// `(status, bytes)` of loading `url`.
async fn fetch_url(url: &str) -> (i32, JsValue) {
    let r = JsFuture::from(load(url)).await.expect("load never rejects");
    (gn(&r, "status") as i32, get(&r, "bytes"))
}

async fn same(bytes: &JsValue, blob: &JsValue) -> bool {
    JsFuture::from(same_bytes(bytes, blob))
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// Rising fractions in 0..1, the last one 1.
fn check_progress(log: &Array) {
    let f: Vec<f64> = log.iter().map(|v| v.as_f64().expect("a number")).collect();
    assert!(!f.is_empty(), "onProgress was called");
    assert!(f.windows(2).all(|w| w[0] < w[1]), "rising: {f:?}");
    assert!(f[0] > 0.0 && *f.last().unwrap() == 1.0, "ends at 1: {f:?}");
}

/// What a listener heard first of kind "new", as the message.
fn first_new(log: &Array) -> JsValue {
    log.iter()
        .find_map(|e| {
            let e: Array = e.dyn_into().ok()?;
            (e.get(1) == "new").then(|| e.get(2))
        })
        .expect("a new message was heard")
}

fn image_list(msg: &JsValue) -> Array {
    Array::from(&get(&get(msg, "imageElem"), "imageList"))
}

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

/// An image message on LocalHub: created at once from a Blob, uploaded at send with a
/// thumbnail made in the browser and progress to 1; the receiver's URLs load the bytes; after
/// the revoke the object URLs are revoked, the receiver sees no image and the sender's copy
/// keeps no URL.
#[wasm_bindgen_test]
async fn image_message_on_local_hub() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let log = Array::new();
    listen(&mm(&bob), "bob", &log);
    let amm = mm(&alice);
    let blob = ok(png(640, 480).into()).await;
    let msg = m(&amm, "createImageMessage", &[blob.clone()]);
    assert_eq!(gn(&msg, "elemType"), 3.0);
    assert_eq!(gn(&msg, "status"), 1.0);
    let before = image_list(&msg);
    assert_eq!(before.length(), 1);
    assert_eq!(gn(&before.get(0), "size"), gn(&blob, "size"));
    assert_eq!(gs(&before.get(0), "url"), "", "nothing uploaded yet");

    let fractions = Array::new();
    let sent = ok(m(
        &amm,
        "sendMessage",
        &[
            msg.clone(),
            s("bob"),
            JsValue::NULL,
            progress(&fractions, false),
        ],
    ))
    .await;
    check_progress(&fractions);
    assert_eq!(gn(&sent, "status"), 2.0);
    assert_eq!(gs(&sent, "msgID"), gs(&msg, "msgID"));
    let list = image_list(&sent);
    assert_eq!(list.length(), 2, "{}", describe(&sent));
    let (orig, thumb) = (list.get(0), list.get(1));
    assert_eq!(
        (gn(&orig, "type"), gn(&orig, "width"), gn(&orig, "height")),
        (1.0, 640.0, 480.0)
    );
    assert_eq!(
        (
            gn(&thumb, "type"),
            gn(&thumb, "width"),
            gn(&thumb, "height")
        ),
        (2.0, 200.0, 150.0)
    );
    assert_eq!(gn(&orig, "size"), gn(&blob, "size"));
    assert_ne!(gs(&orig, "uuid"), gs(&thumb, "uuid"));

    settle().await;
    let got = first_new(&log);
    let urls: Vec<String> = image_list(&got).iter().map(|i| gs(&i, "url")).collect();
    assert!(urls.iter().all(|u| u.starts_with("blob:")), "{urls:?}");
    let (status, bytes) = fetch_url(&urls[0]).await;
    assert_eq!(status, 200);
    assert!(same(&bytes, &blob).await, "the original's bytes");
    let (status, thumb_bytes) = fetch_url(&urls[1]).await;
    assert_eq!(status, 200);
    assert_eq!(
        js_sys::Uint8Array::from(thumb_bytes).length() as f64,
        gn(&thumb, "size")
    );

    ok(m(&amm, "revokeMessage", &[sent.clone(), s("wrong photo")])).await;
    settle().await;
    for url in &urls {
        assert_eq!(fetch_url(url).await.0, -1, "object URL revoked: {url}");
    }
    let ids = Array::of1(&get(&sent, "msgID"));
    let bobs = Array::from(&ok(m(&mm(&bob), "findMessages", &[ids.clone().into()])).await);
    let b = bobs.get(0);
    assert!(gb(&b, "isRevoked"));
    assert!(get(&b, "imageElem").is_null(), "{}", describe(&b));
    let alices = Array::from(&ok(m(&amm, "findMessages", &[ids.into()])).await);
    let mine = image_list(&alices.get(0));
    assert_eq!(mine.length(), 2, "the sender keeps the element");
    assert!(mine.iter().all(|i| gs(&i, "url").is_empty()), "but no URL");
}

/// A file message on LocalHub: name and size at creation, the URL loads the bytes, revoked →
/// gone. A throwing onProgress is contained: the send still succeeds.
#[wasm_bindgen_test]
async fn file_message_on_local_hub() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let log = Array::new();
    listen(&mm(&bob), "bob", &log);
    let amm = mm(&alice);
    let f = file(&Array::of1(&s("hello, file\n")), "notes.txt", "text/plain");
    let msg = m(&amm, "createFileMessage", &[f.clone()]);
    assert_eq!(gn(&msg, "elemType"), 6.0);
    let fe = get(&msg, "fileElem");
    assert_eq!(
        (gs(&fe, "fileName"), gn(&fe, "fileSize")),
        ("notes.txt".into(), 12.0)
    );
    let errors = capture_errors();
    let fractions = Array::new();
    let sent = ok(m(
        &amm,
        "sendMessage",
        &[msg, s("bob"), JsValue::NULL, progress(&fractions, true)],
    ))
    .await;
    settle().await;
    js_sys::Function::from(get(&errors, "stop"))
        .call0(&errors)
        .expect("stop capturing");
    assert_eq!(describe(&fractions), "[1]");
    assert_eq!(errors.length(), 1, "the listener's error is re-thrown once");
    let got = first_new(&log);
    let url = gs(&get(&got, "fileElem"), "url");
    assert_eq!(gs(&get(&got, "fileElem"), "fileName"), "notes.txt");
    let (status, bytes) = fetch_url(&url).await;
    assert_eq!(status, 200);
    assert!(same(&bytes, &f).await);
    ok(m(&amm, "revokeMessage", &[sent, s("wrong file")])).await;
    settle().await;
    assert_eq!(fetch_url(&url).await.0, -1, "object URL revoked");
}

/// Bad attachments get a coded error and nothing is sent; the Blob is kept, so the same
/// message is refused again for the same reason.
#[wasm_bindgen_test]
async fn bad_attachments_are_refused() {
    let hub = hub(r#"{ "maxUploadBytes": 16 }"#);
    let alice = login(&hub, "alice").await;
    let amm = mm(&alice);
    for bad in [s("not a blob"), JsValue::NULL, js("{}")] {
        let e = try_m(&amm, "createImageMessage", &[bad.clone()]).unwrap_err();
        assert_eq!(code(&e), 6017);
        assert_eq!(
            code(&try_m(&amm, "createFileMessage", &[bad]).unwrap_err()),
            6017
        );
    }
    let big = m(&amm, "createFileMessage", &[zeros(17.0)]);
    assert_eq!(
        gs(&get(&big, "fileElem"), "fileName"),
        "file",
        "a Blob has no name"
    );
    for _ in 0..2 {
        let p = m(&amm, "sendMessage", &[big.clone(), s("bob"), JsValue::NULL]);
        let e = err(p).await;
        assert!(is_error(&e));
        assert_eq!(code(&e), 300009, "{}", describe(&e));
    }
    let exe = file(&Array::of1(&s("MZ\u{0}\u{3}")), "x.exe", "");
    let p = m(
        &amm,
        "sendMessage",
        &[
            m(&amm, "createFileMessage", &[exe]),
            s("bob"),
            JsValue::NULL,
        ],
    );
    assert_eq!(err_code(p).await, 300010);
    let text = file(&Array::of1(&s("not a picture")), "a.png", "image/png");
    let p = m(
        &amm,
        "sendMessage",
        &[
            m(&amm, "createImageMessage", &[text]),
            s("bob"),
            JsValue::NULL,
        ],
    );
    assert_eq!(
        err_code(p).await,
        300010,
        "an image the browser cannot read"
    );
    let small = m(
        &amm,
        "createFileMessage",
        &[file(&Array::of1(&s("ok")), "a.txt", "text/plain")],
    );
    let p = m(
        &amm,
        "sendMessage",
        &[small.clone(), JsValue::NULL, JsValue::NULL],
    );
    assert_eq!(
        err_code(p).await,
        6017,
        "no target: refused before the upload"
    );
    // Sending twice at once: the second is refused while the first uploads.
    let first = m(
        &amm,
        "sendMessage",
        &[small.clone(), s("bob"), JsValue::NULL],
    );
    let second = m(&amm, "sendMessage", &[small, s("bob"), JsValue::NULL]);
    assert_eq!(err_code(second).await, 6015);
    assert_eq!(gn(&ok(first).await, "status"), 2.0);
}

/// The live server, if configured at build time.
fn live() -> Option<(&'static str, &'static str, &'static str)> {
    let c = (|| {
        Some((
            option_env!("IMR_TEST_WS_URL")?,
            option_env!("IMR_TEST_USERSIG_ALICE")?,
            option_env!("IMR_TEST_USERSIG_BOB")?,
        ))
    })();
    if c.is_none() {
        web_sys::console::log_1(&s(
            "rich: server cases skipped (IMR_TEST_WS_URL not set at build time)",
        ));
    }
    c
}

async fn connect(url: &str, user: &str, sig: &str) -> JsValue {
    let opts = js(&format!(
        r#"{{ "url": "{url}", "userID": "{user}", "userSig": "{sig}", "storage": "memory" }}"#
    ));
    ok(ChatClient::connect(opts).into()).await
}

/// Over the server: the image is uploaded with progress, the URLs handed out are absolute on
/// the server's origin and load the bytes for the receiver; after the revoke they answer 410,
/// the receiver sees no image, the sender's copy has no URL. A file likewise; an upload over
/// the server's limit is refused with 300009.
#[wasm_bindgen_test]
async fn image_and_file_over_the_server() {
    let Some((url, alice_sig, bob_sig)) = live() else {
        return;
    };
    let origin = url.replacen("ws://", "http://", 1);
    let origin = &origin[..origin.rfind("/ws").expect("a /ws URL")];
    let alice = connect(url, "alice", alice_sig).await;
    let bob = connect(url, "bob", bob_sig).await;
    let log = Array::new();
    listen(&mm(&bob), "bob", &log);
    let amm = mm(&alice);
    let blob = ok(png(1200, 900).into()).await;
    let fractions = Array::new();
    let msg = m(&amm, "createImageMessage", &[blob.clone()]);
    let sent = ok(m(
        &amm,
        "sendMessage",
        &[msg, s("bob"), JsValue::NULL, progress(&fractions, false)],
    ))
    .await;
    check_progress(&fractions);
    let list = image_list(&sent);
    assert_eq!(list.length(), 2, "{}", describe(&sent));
    assert_eq!(
        (gn(&list.get(0), "width"), gn(&list.get(0), "height")),
        (1200.0, 900.0)
    );
    assert_eq!(
        (gn(&list.get(1), "width"), gn(&list.get(1), "height")),
        (200.0, 150.0)
    );
    sleep(200).await;
    let got = first_new(&log);
    let urls: Vec<String> = image_list(&got).iter().map(|i| gs(&i, "url")).collect();
    for u in &urls {
        assert!(u.starts_with(&format!("{origin}/file/")), "absolute: {u}");
    }
    let (status, bytes) = fetch_url(&urls[0]).await;
    assert_eq!(status, 200, "{}", urls[0]);
    assert!(
        same(&bytes, &blob).await,
        "the receiver loads the original's bytes"
    );
    assert_eq!(fetch_url(&urls[1]).await.0, 200);

    let f = file(
        &Array::of1(&s("a file over the wire\n")),
        "wire.txt",
        "text/plain",
    );
    let fmsg = m(&amm, "createFileMessage", &[f.clone()]);
    let fsent = ok(m(&amm, "sendMessage", &[fmsg, s("bob"), JsValue::NULL])).await;
    sleep(200).await;
    let got = log
        .iter()
        .filter_map(|e| e.dyn_into::<Array>().ok())
        .filter(|e| e.get(1) == "new")
        .map(|e| e.get(2))
        .find(|m| gs(m, "msgID") == gs(&fsent, "msgID"))
        .expect("bob got the file");
    let furl = gs(&get(&got, "fileElem"), "url");
    let (status, bytes) = fetch_url(&furl).await;
    assert_eq!(status, 200);
    assert!(same(&bytes, &f).await);

    ok(m(&amm, "revokeMessage", &[sent.clone(), s("wrong photo")])).await;
    ok(m(&amm, "revokeMessage", &[fsent, s("wrong file")])).await;
    sleep(200).await;
    for u in urls.iter().chain([&furl]) {
        assert_eq!(fetch_url(u).await.0, 410, "gone: {u}");
    }
    let ids = Array::of1(&get(&sent, "msgID"));
    let bobs = Array::from(&ok(m(&mm(&bob), "findMessages", &[ids.clone().into()])).await);
    assert!(
        get(&bobs.get(0), "imageElem").is_null(),
        "{}",
        describe(&bobs.get(0))
    );
    let alices = Array::from(&ok(m(&amm, "findMessages", &[ids.into()])).await);
    assert!(image_list(&alices.get(0))
        .iter()
        .all(|i| gs(&i, "url").is_empty()));

    let max: f64 = option_env!("IMR_TEST_MAX_UPLOAD_BYTES")
        .and_then(|n| n.parse().ok())
        .unwrap_or(20.0 * 1024.0 * 1024.0);
    let big = m(&amm, "createFileMessage", &[zeros(max + 1.0)]);
    let e = err(m(&amm, "sendMessage", &[big, s("bob"), JsValue::NULL])).await;
    assert_eq!(code(&e), 300009, "{}", describe(&e));
    ok(m(&alice, "logout", &[])).await;
    ok(m(&bob, "logout", &[])).await;
}

/// The wrong photo, revoked while it is still uploading: the revoke resolves, `sendMessage`
/// rejects with 8021 (send cancelled), and the receiver never hears of it.
#[wasm_bindgen_test]
async fn revoke_while_uploading_cancels_the_send() {
    let hub = hub("{}");
    let alice = login(&hub, "alice").await;
    let bob = login(&hub, "bob").await;
    let log = Array::new();
    listen(&mm(&bob), "bob", &log);
    let amm = mm(&alice);
    let blob = ok(png(64, 48).into()).await;
    let msg = m(&amm, "createImageMessage", &[blob]);
    let sending = m(&amm, "sendMessage", &[msg.clone(), s("bob"), JsValue::NULL]);
    ok(m(&amm, "revokeMessage", &[msg.clone(), s("wrong photo")])).await;
    assert_eq!(err_code(sending).await, 8021);
    settle().await;
    sleep(50).await;
    assert!(lines(&log).is_empty(), "bob heard: {:?}", lines(&log));
    assert_eq!(
        err_code(m(&amm, "sendMessage", &[msg, s("bob"), JsValue::NULL])).await,
        8021,
        "not sent again"
    );
}
