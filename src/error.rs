//! The one conversion from the core's [`ImError`] to a JavaScript `Error`.
//!
//! Every failure the module reports — a rejected promise or a thrown exception — is a real
//! `Error` (so `instanceof Error`, a stack and `message` work as usual) with two extra
//! properties: the numeric `code` from the core's code table (Tencent's numbering where Tencent
//! has one) and the English `desc`. The message reads `"desc (code N)"`.

use im_revoke_core::ImError;
use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_ERROR: &'static str = r#"
/**
 * What every rejected promise and thrown exception of this module is: a real `Error` with
 * the numeric `code` (Tencent's numbering where Tencent has one, e.g. 20016 "revoke time limit
 * exceeded") and the English `desc`. `message` reads `"desc (code N)"`.
 *
 * ```js
 * try { await mm.revokeMessage(msg); }
 * catch (e) { if (e.code === 20016 || e.code === 10031 || e.code === 6223) showTooLate(); }
 * ```
 */
export interface ImError extends Error {
  code: number;
  desc: string;
}
"#;

/// An [`ImError`] on its way to JavaScript. Exports return `Result<T, Error>`; `?` converts
/// any [`ImError`].
#[derive(Debug)]
pub struct Error(pub ImError);

impl From<ImError> for Error {
    fn from(e: ImError) -> Self {
        Error(e)
    }
}

impl From<Error> for JsValue {
    fn from(Error(e): Error) -> JsValue {
        let code = e.code.num();
        let mut message = String::with_capacity(e.desc.len() + 20);
        message.push_str(&e.desc);
        message.push_str(" (code ");
        push_u32(&mut message, code);
        message.push(')');
        let err = js_sys::Error::new(&message);
        // Setting a property on a fresh Error cannot fail; ignore the Result rather than unwrap.
        let _ = Reflect::set(&err, &JsValue::from_str("code"), &JsValue::from(code));
        let _ = Reflect::set(
            &err,
            &JsValue::from_str("desc"),
            &JsValue::from_str(&e.desc),
        );
        err.into()
    }
}

/// A promise already rejected with `e` (for requests that fail before reaching the server).
pub(crate) fn rejected(e: ImError) -> Promise {
    Promise::reject(&Error(e).into())
}

/// Appends the decimal digits of `n` (avoids pulling `core::fmt` into the hot path).
fn push_u32(s: &mut String, mut n: u32) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        s.push(b as char);
    }
}
