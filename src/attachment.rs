//! Image and file messages: `createImageMessage` / `createFileMessage`, and what `sendMessage`
//! does first for them.
//!
//! As in Tencent's SDK, creating is synchronous: the message gets its msgID at once and its
//! Blob waits in the session (`Session::files`). `sendMessage` then uploads it through the
//! transport's uploader (`Transport::uploader`: `POST /upload` with XMLHttpRequest for a
//! server, Blobs under object URLs for a `LocalHub`) — an image together with a thumbnail made
//! here on a canvas (at most 200 px a side, JPEG) — reports the fraction uploaded to
//! `onProgress`, hands the uploaded element to the core client (`Client::attach`, which checks
//! it) and sends the message. A failed upload keeps the Blob: `sendMessage` may be called
//! again. The rules (types, sizes, dimensions, keys, what a refusal's code is) are the core's.

use std::rc::Rc;

use im_revoke_core::attachment::{upload_error, IMAGE_ORIGIN};
use im_revoke_core::model::ImageInfo;
use im_revoke_core::wire::decode_elem;
use im_revoke_core::{Code, Elem, ImError};
use js_sys::Promise;
use wasm_bindgen::prelude::*;

use crate::convert::{opt_number, opt_string, to_js};
use crate::error::{rejected, Error};
use crate::js::chain;
use crate::session::Session;

#[wasm_bindgen(typescript_custom_section)]
const TS_SEND: &'static str = r#"
/** `sendMessage(msg, userID, groupID, options)`. */
export interface SendMessageOptions {
  /** An image or file message's upload: the fraction done, 0..1, rising, last 1. */
  onProgress?: (fraction: number) => void;
}
"#;

#[wasm_bindgen(inline_js = r#"
function told(f, v) {
  try { f(v); } catch (e) {
    try { console.error("im-revoke: onProgress threw (re-thrown on a microtask)", e); } catch (_) {}
    queueMicrotask(() => { throw e; });
  }
}
async function thumbnail(bmp) {
  const k = Math.min(1, 200 / Math.max(bmp.width, bmp.height));
  const w = Math.max(1, Math.round(bmp.width * k)), h = Math.max(1, Math.round(bmp.height * k));
  let c;
  if (typeof OffscreenCanvas === "function") c = new OffscreenCanvas(w, h);
  else { c = document.createElement("canvas"); c.width = w; c.height = h; }
  c.getContext("2d").drawImage(bmp, 0, 0, w, h);
  const t = c.convertToBlob ? await c.convertToBlob({ type: "image/jpeg", quality: 0.8 })
    : await new Promise((r) => c.toBlob(r, "image/jpeg", 0.8));
  return { t, w, h };
}
export function isBlob(v) { return typeof Blob === "function" && v instanceof Blob; }
export async function attach(blob, image, name, put, options) {
  try {
    let onProgress;
    try { if (options !== null && typeof options === "object") onProgress = options.onProgress; } catch (_) {}
    const parts = [blob];
    let width = 0, height = 0, tw = 0, th = 0;
    if (image) {
      let bmp;
      try { bmp = await createImageBitmap(blob); }
      catch (_) { return { status: 415, desc: "not an image this browser can read" }; }
      width = bmp.width; height = bmp.height;
      const { t, w, h } = await thumbnail(bmp);
      bmp.close();
      parts.push(t); tw = w; th = h;
    }
    let total = 0, done = 0, last = 0;
    for (const p of parts) total += p.size;
    const progress = (n) => {
      const f = total > 0 ? Math.min(1, n / total) : 1;
      if (f > last) { last = f; if (typeof onProgress === "function") told(onProgress, f); }
    };
    const out = [];
    for (const p of parts) {
      const head = new Uint8Array(await p.slice(0, 512).arrayBuffer());
      const r = await put(p, head, (n) => progress(done + n));
      if (r.failed) return r.failed;
      out.push(r);
      done += p.size;
      progress(done);
    }
    const info = (r, type, w, h) => ({ type, uuid: r.uuid, url: r.url || "", width: r.width || w, height: r.height || h, size: r.size });
    return JSON.stringify(image
      ? { elemType: "image", imageList: [info(out[0], 1, width, height), info(out[1], 2, tw, th)] }
      : { elemType: "file", uuid: out[0].uuid, fileName: name, fileSize: out[0].size, url: out[0].url || "" });
  } catch (e) {
    return { status: 500, code: e && e.code, desc: String((e && e.desc) || e) };
  }
}
export function httpPut(url, auth) {
  return (blob, head, onp) => new Promise((resolve) => {
    const x = new XMLHttpRequest();
    x.open("POST", url);
    x.setRequestHeader("Authorization", auth);
    if (blob.name) x.setRequestHeader("X-File-Name", encodeURIComponent(blob.name));
    x.upload.onprogress = (e) => onp(e.loaded);
    x.onload = () => {
      let b = null;
      try { b = JSON.parse(x.responseText); } catch (_) {}
      resolve(x.status === 201 && b ? b : { failed: { status: x.status, code: b && b.code, desc: b && b.desc } });
    };
    x.onerror = x.onabort = () => resolve({ failed: { status: 0 } });
    x.send(blob);
  });
}
export function localPut(f, user) {
  return (blob, head) => {
    const url = URL.createObjectURL(blob);
    try { return { uuid: f(user, blob.size, blob.type, head, url), size: blob.size, url }; }
    catch (e) { URL.revokeObjectURL(url); throw e; }
  };
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = isBlob)]
    fn is_blob(v: &JsValue) -> bool;
    /// Uploads (telling `options.onProgress`, if any); resolves with the element's JSON, or
    /// `{ status, code?, desc? }` when refused.
    fn attach(blob: &JsValue, image: bool, name: &str, put: &JsValue, options: &JsValue)
        -> Promise;
    /// The uploader to a server's `POST /upload`: `put(blob, head, onBytes)`.
    #[wasm_bindgen(js_name = httpPut)]
    pub(crate) fn http_put(url: &str, auth: &str) -> JsValue;
    /// The uploader to a `LocalHub`: `f(user, size, type, head, objectURL)` registers the
    /// upload and returns its key (or throws an `ImError`).
    #[wasm_bindgen(js_name = localPut)]
    pub(crate) fn local_put(f: &JsValue, user: &str) -> JsValue;
}

/// `fileOrBlob`'s size and name (`""` for a Blob that is not a File); 6017 if it is no Blob.
fn blob_of(v: &JsValue) -> Result<(u64, String), ImError> {
    if !is_blob(v) {
        return Err(ImError::with_desc(
            Code::InvalidParameters,
            "fileOrBlob must be a File or a Blob",
        ));
    }
    let size = opt_number(v, "size")?.unwrap_or(0.0) as u64;
    Ok((size, opt_string(v, "name")?.unwrap_or_default()))
}

/// A new image message (elemType 3, `image`) or file message (elemType 6; a Blob that is not
/// a File is named "file") of a `File` or `Blob`, not sent yet, its Blob kept in the session for
/// `sendMessage` (`MessageManager.createImageMessage` / `createFileMessage`: one body for both).
#[inline(never)]
pub(crate) fn attached_message(s: &Session, file: JsValue, image: bool) -> Result<JsValue, Error> {
    let (size, name) = blob_of(&file)?;
    let elem = if image {
        Elem::Image {
            image_list: vec![ImageInfo {
                kind: IMAGE_ORIGIN,
                uuid: String::new(),
                url: String::new(),
                width: 0,
                height: 0,
                size,
            }],
        }
    } else {
        Elem::File {
            uuid: String::new(),
            file_name: if name.is_empty() { "file".into() } else { name },
            file_size: size,
            url: String::new(),
        }
    };
    let view = s.st.borrow_mut().client.create_message(elem);
    s.files.borrow_mut().push((view.msg_id.clone(), file));
    Ok(to_js(&view))
}

/// The Blob back in the session for another try (its upload failed).
fn put_back(s: &Session, msg_id: String, blob: JsValue) {
    s.files.borrow_mut().push((msg_id, blob));
}

/// `sendMessage`: a message whose Blob waits for its upload is uploaded, then sent; any other
/// is sent at once.
pub(crate) fn send(
    s: &Rc<Session>,
    msg_id: String,
    receiver: Option<String>,
    group_id: Option<String>,
    options: &JsValue,
) -> Promise {
    // No Blob: not an image or file message, or sent, or being uploaded (then the core's
    // `send` answers 6015 in progress, as it knows the message as uploading).
    let blob = {
        let mut files = s.files.borrow_mut();
        let i = files.iter().position(|(id, _)| *id == msg_id);
        i.map(|i| files.swap_remove(i).1)
    };
    let Some(blob) = blob else {
        return s.send_message(msg_id, receiver, group_id);
    };
    let mut begun = false;
    let started = (|| {
        let (name, user) = {
            let mut st = s.st.borrow_mut();
            if st.phase == crate::session::Phase::LoggedOut {
                return Err(ImError::new(Code::NotLoggedIn));
            }
            let name = st
                .client
                .check_attach(&msg_id, receiver.as_deref(), group_id.as_deref())?;
            begun = true;
            (name, st.client.user_id().to_string())
        };
        let put = s.uploader(&user)?;
        // `None`: an image. `options.onProgress` is read by `attach`.
        let image = name.is_none();
        Ok(attach(
            &blob,
            image,
            name.as_deref().unwrap_or(""),
            &put,
            options,
        ))
    })();
    let uploading = match started {
        Ok(p) => p,
        Err(e) => {
            if begun {
                s.st.borrow_mut().client.abort_attach(&msg_id);
            }
            put_back(s, msg_id, blob);
            return rejected(e);
        }
    };
    let s = s.clone();
    // Called exactly once: `attach` never rejects (a refusal is its value).
    let then = crate::js::once_then(move |r: JsValue| -> Promise {
        let attached = match r.as_string() {
            Some(json) => decode_elem(&json)
                .ok_or_else(|| ImError::new(Code::InvalidParameters))
                .and_then(|elem| s.st.borrow_mut().client.attach(&msg_id, elem)),
            None => Err(refusal(&r)),
        };
        if let Err(e) = attached {
            s.st.borrow_mut().client.abort_attach(&msg_id);
            // Revoked while uploading (8021): the message is gone, and so is its file.
            if e.code != Code::SendCancelled {
                put_back(&s, msg_id, blob);
            }
            return rejected(e);
        }
        s.send_message(msg_id, receiver, group_id)
    });
    chain(&uploading, &then)
}

/// A refused upload's `{ status, code?, desc? }` as the core's error.
fn refusal(r: &JsValue) -> ImError {
    let status = opt_number(r, "status").ok().flatten().unwrap_or(0.0) as u16;
    let code = opt_number(r, "code").ok().flatten().map(|n| n as u32);
    upload_error(status, code, opt_string(r, "desc").ok().flatten())
}
