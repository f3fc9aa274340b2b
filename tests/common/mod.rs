//! Helpers for the browser tests. The tests drive the module the way JavaScript does — by
//! calling methods by their JS names on the exported objects — so they check the JS surface
//! (names, argument conversion, plain objects, promises), not just the Rust functions.
#![allow(dead_code)]

use gloo_timers::future::TimeoutFuture;
use im_revoke::{ChatClient, LocalHub};
use js_sys::{Array, Promise, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(inline_js = r#"
export function call(obj, name, args) { return obj[name](...args); }

// A listener that records what it hears into `log` as [tag, kind, ...args]. It uses `this`,
// so it also checks that methods are called with the listener as `this`.
export function recorder(tag, log) {
  return {
    tag,
    onRecvNewMessage(msg) { log.push([this.tag, "new", msg]); },
    onRecvMessageRevoked(msgID, revokerInfo, reason) { log.push([this.tag, "revoked", msgID, revokerInfo, reason]); },
    onGroupChanged(group) { log.push([this.tag, "group", group]); },
  };
}

// Listens for the exceptions that listeners re-throw (reported like exceptions in DOM event
// listeners); preventDefault keeps them out of the console.
export function captureErrors() {
  const errors = [];
  const handler = (e) => { errors.push(e.error); e.preventDefault(); };
  globalThis.addEventListener("error", handler);
  errors.stop = () => globalThis.removeEventListener("error", handler);
  return errors;
}

// A connection listener that records into `log` as ["conn", kind, code?].
export function connRecorder(log) {
  return {
    onConnecting() { log.push(["conn", "connecting"]); },
    onConnectSuccess() { log.push(["conn", "success"]); },
    onConnectFailed(code, desc) { log.push(["conn", "failed", code, desc]); },
    onUserSigExpired() { log.push(["conn", "expired"]); },
  };
}

// Watches a promise without awaiting it: `state` is "pending", "resolved" or "rejected".
export function watch(p) {
  const w = { state: "pending", value: undefined };
  p.then((v) => { w.state = "resolved"; w.value = v; }, (e) => { w.state = "rejected"; w.value = e; });
  return w;
}

export function isError(e) { return e instanceof Error; }
export function typeOf(v) { return typeof v; }
"#)]
extern "C" {
    #[wasm_bindgen(catch)]
    fn call(obj: &JsValue, name: &str, args: &Array) -> Result<JsValue, JsValue>;
    /// A recording listener.
    pub fn recorder(tag: &str, log: &Array) -> JsValue;
    /// A recording connection listener.
    #[wasm_bindgen(js_name = connRecorder)]
    pub fn conn_recorder(log: &Array) -> JsValue;
    /// `{ state, value }` following a promise.
    pub fn watch(p: &JsValue) -> JsValue;
    /// Starts capturing re-thrown listener exceptions; call `stop` on the result.
    #[wasm_bindgen(js_name = captureErrors)]
    pub fn capture_errors() -> Array;
    #[wasm_bindgen(js_name = isError)]
    pub fn is_error(e: &JsValue) -> bool;
    #[wasm_bindgen(js_name = typeOf)]
    pub fn type_of(v: &JsValue) -> String;
}

/// `obj.name(...args)`, which must not throw.
pub fn m(obj: &JsValue, name: &str, args: &[JsValue]) -> JsValue {
    match try_m(obj, name, args) {
        Ok(v) => v,
        Err(e) => panic!("{name} threw: {}", describe(&e)),
    }
}

/// `obj.name(...args)`.
pub fn try_m(obj: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let arr: Array = args.iter().collect();
    call(obj, name, &arr)
}

/// `obj[key]`.
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).expect("readable property")
}

/// `obj[key]` as a string.
pub fn gs(obj: &JsValue, key: &str) -> String {
    get(obj, key)
        .as_string()
        .unwrap_or_else(|| panic!("{key} is not a string in {}", describe(obj)))
}

/// `obj[key]` as a number.
pub fn gn(obj: &JsValue, key: &str) -> f64 {
    get(obj, key)
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {}", describe(obj)))
}

/// `obj[key]` as a boolean.
pub fn gb(obj: &JsValue, key: &str) -> bool {
    get(obj, key)
        .as_bool()
        .unwrap_or_else(|| panic!("{key} is not a boolean in {}", describe(obj)))
}

/// A short text for assertion messages.
pub fn describe(v: &JsValue) -> String {
    if let Some(e) = v.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    JSON::stringify(v)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| format!("{v:?}"))
}

/// A JS value from JSON text.
pub fn js(json: &str) -> JsValue {
    JSON::parse(json).expect("valid JSON in the test")
}

pub fn s(text: &str) -> JsValue {
    JsValue::from_str(text)
}

/// Awaits a promise that must resolve.
pub async fn ok(p: JsValue) -> JsValue {
    let p: Promise = p.dyn_into().expect("a Promise");
    match JsFuture::from(p).await {
        Ok(v) => v,
        Err(e) => panic!("rejected: {}", describe(&e)),
    }
}

/// Awaits a promise that must reject; returns the rejection.
pub async fn err(p: JsValue) -> JsValue {
    let p: Promise = p.dyn_into().expect("a Promise");
    match JsFuture::from(p).await {
        Ok(v) => panic!("expected a rejection, resolved with {}", describe(&v)),
        Err(e) => e,
    }
}

/// Awaits a promise that must reject with `code`.
pub async fn err_code(p: JsValue) -> u32 {
    let e = err(p).await;
    code(&e)
}

/// An error's `code`.
pub fn code(e: &JsValue) -> u32 {
    get(e, "code")
        .as_f64()
        .unwrap_or_else(|| panic!("no numeric code on {}", describe(e))) as u32
}

/// Lets every queued microtask and hub delivery run (a macrotask turn).
pub async fn settle() {
    TimeoutFuture::new(0).await;
    TimeoutFuture::new(0).await;
}

pub async fn sleep(ms: u32) {
    TimeoutFuture::new(ms).await;
}

/// A hub from JSON options.
pub fn hub(options: &str) -> LocalHub {
    LocalHub::new(js(options)).unwrap_or_else(|_| panic!("LocalHub options {options}"))
}

/// `await ChatClient.local(hub, user)`.
pub async fn login(hub: &LocalHub, user: &str) -> JsValue {
    ok(ChatClient::local(hub, user.to_string(), None).into()).await
}

/// `client.getMessageManager()`.
pub fn mm(client: &JsValue) -> JsValue {
    m(client, "getMessageManager", &[])
}

/// `client.getGroupManager()`.
pub fn gm(client: &JsValue) -> JsValue {
    m(client, "getGroupManager", &[])
}

/// Creates and sends a one-to-one text; returns the sent message.
pub async fn send_c2c(mm: &JsValue, text: &str, to: &str) -> JsValue {
    let msg = m(mm, "createTextMessage", &[s(text)]);
    ok(m(mm, "sendMessage", &[msg, s(to), JsValue::NULL])).await
}

/// Creates and sends a group text; returns the sent message.
pub async fn send_group(mm: &JsValue, text: &str, group: &str) -> JsValue {
    let msg = m(mm, "createTextMessage", &[s(text)]);
    ok(m(mm, "sendMessage", &[msg, JsValue::NULL, s(group)])).await
}

/// Registers a recording connection listener on `client` (tag "conn").
pub fn listen_conn(client: &JsValue, log: &Array) -> JsValue {
    let l = conn_recorder(log);
    m(client, "addConnectionListener", &[l.clone()]);
    l
}

/// A promise's state so far: "pending", "resolved" or "rejected".
pub fn state(watched: &JsValue) -> String {
    gs(watched, "state")
}

/// Registers a recording listener on `mm` under `tag`.
pub fn listen(mm: &JsValue, tag: &str, log: &Array) -> JsValue {
    let l = recorder(tag, log);
    m(mm, "addAdvancedMsgListener", &[l.clone()]);
    l
}

/// The log as lines: "tag new <text or msgID>", "tag revoked <msgID> <revoker> <reason>",
/// "tag group <groupID>"; connection events: "conn connecting", "conn success",
/// "conn failed <code>".
pub fn lines(log: &Array) -> Vec<String> {
    log.iter()
        .map(|e| {
            let e: Array = e.dyn_into().expect("log entry");
            let tag = e.get(0).as_string().unwrap_or_default();
            let kind = e.get(1).as_string().unwrap_or_default();
            match kind.as_str() {
                "new" => {
                    let msg = e.get(2);
                    let text = get(&msg, "textElem");
                    let text = if text.is_null() {
                        String::from("<no text>")
                    } else {
                        gs(&text, "text")
                    };
                    format!("{tag} new {text}")
                }
                "revoked" => format!(
                    "{tag} revoked {} {} {}",
                    e.get(2).as_string().unwrap_or_default(),
                    gs(&e.get(3), "userID"),
                    e.get(4).as_string().unwrap_or_default()
                ),
                "group" => format!("{tag} group {}", gs(&e.get(2), "groupID")),
                "failed" => format!("{tag} failed {}", e.get(2).as_f64().unwrap_or(-1.0)),
                other => format!("{tag} {other}"),
            }
        })
        .collect()
}
