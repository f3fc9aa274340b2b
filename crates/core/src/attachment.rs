//! The rules of rich messages and their attachments, as pure functions: what a custom, image or
//! file element may hold ([`check_elem`], called by the hub and the client before a send), what
//! an upload's bytes really are ([`sniff`], by their magic numbers, and [`check_upload`]
//! against a declared type and an allow-list), how large an image may be ([`check_dimensions`],
//! against decoding bombs), and what a download URL's signature covers and when it expires
//! ([`signed_payload`], [`check_expiry`]; the HMAC itself is the server's).

use std::sync::Arc;

use crate::error::{Code, ImError};
use crate::model::{Elem, ImageInfo, Message};
use crate::protocol::{Envelope, Event, ServerFrame};

/// Makes the download URL of attachment `key` for `user` (the server signs; see
/// [`crate::Hub::set_url_signer`]).
pub type UrlSigner = Box<dyn Fn(&str, &str) -> String + Send>;

/// Longest attachment key (`uuid`), in bytes.
pub const MAX_KEY: usize = 64;
/// Longest URL in an element, in bytes.
pub const MAX_URL: usize = 2048;
/// Longest file name, in bytes.
pub const MAX_FILE_NAME: usize = 255;
/// Widest or tallest image accepted, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 10_000;
/// Most pixels an image may have (width × height), against decoding bombs.
pub const MAX_IMAGE_PIXELS: u64 = 50_000_000;
/// `ImageInfo::kind` of the original picture.
pub const IMAGE_ORIGIN: u8 = 1;
/// `ImageInfo::kind` of the thumbnail.
pub const IMAGE_THUMB: u8 = 2;
/// Default upload size limit, in bytes (20 MiB).
pub const DEFAULT_MAX_UPLOAD: u64 = 20 * 1024 * 1024;
/// The content types an upload may have by default (each one [`sniff`] recognises).
pub const DEFAULT_ALLOWED: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "application/zip",
    "text/plain",
];

fn bad(desc: &'static str) -> ImError {
    ImError::with_desc(Code::InvalidParameters, desc)
}

/// Checks an attachment key: 1..=64 bytes of `[A-Za-z0-9_-]` (so never a path).
pub fn check_key(key: &str) -> Result<(), ImError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(bad(
            "attachment keys are 1-64 characters of A-Z a-z 0-9 _ -",
        ))
    }
}

/// Checks an image's dimensions: 1..=10 000 pixels each way and at most 50 megapixels
/// (`AttachmentImageTooLarge` beyond, 6017 for a zero side).
pub fn check_dimensions(width: u32, height: u32) -> Result<(), ImError> {
    if width == 0 || height == 0 {
        return Err(bad("an image is at least 1 × 1 pixels"));
    }
    if width > MAX_IMAGE_SIDE
        || height > MAX_IMAGE_SIDE
        || u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS
    {
        return Err(ImError::new(Code::AttachmentImageTooLarge));
    }
    Ok(())
}

fn check_image(i: &ImageInfo) -> Result<(), ImError> {
    check_key(&i.uuid)?;
    if i.url.len() > MAX_URL {
        return Err(bad("an image URL is at most 2048 bytes"));
    }
    check_dimensions(i.width, i.height)
}

/// Checks the shape of an element before it is sent: custom not all empty; an image has its
/// original first and at most a thumbnail after it, each with a key, a URL of bounded length
/// and bounded dimensions; a file has a key and a name of 1..=255 bytes without control
/// characters. Text is checked where it always was (empty: 6017; the size limits apply to
/// every type by [`Elem::size`]).
pub fn check_elem(elem: &Elem) -> Result<(), ImError> {
    match elem {
        Elem::Text { .. } => Ok(()),
        Elem::Custom {
            data,
            desc,
            extension,
        } => {
            if data.is_empty() && desc.is_empty() && extension.is_empty() {
                return Err(bad("a custom message needs data, desc or extension"));
            }
            Ok(())
        }
        Elem::Image { image_list } => {
            let kinds: Vec<u8> = image_list.iter().map(|i| i.kind).collect();
            if kinds != [IMAGE_ORIGIN] && kinds != [IMAGE_ORIGIN, IMAGE_THUMB] {
                return Err(bad(
                    "imageList holds the original (type 1), then optionally a thumbnail (type 2)",
                ));
            }
            image_list.iter().try_for_each(check_image)?;
            if image_list.len() == 2 && image_list[0].uuid == image_list[1].uuid {
                return Err(bad("the original and the thumbnail are two uploads"));
            }
            Ok(())
        }
        Elem::File {
            uuid,
            file_name,
            url,
            ..
        } => {
            check_key(uuid)?;
            if url.len() > MAX_URL {
                return Err(bad("a file URL is at most 2048 bytes"));
            }
            if file_name.is_empty()
                || file_name.len() > MAX_FILE_NAME
                || file_name.chars().any(char::is_control)
            {
                return Err(bad("a file name is 1-255 bytes without control characters"));
            }
            Ok(())
        }
    }
}

/// The content type of `bytes` by their magic numbers: PNG, JPEG, GIF, WebP, PDF, ZIP, or plain
/// text (UTF-8 without control characters but tab, newline, carriage return and form feed;
/// `bytes` may end inside a character, as a prefix of a larger upload does). `None` otherwise.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"%PDF-", "application/pdf"),
        (b"PK\x03\x04", "application/zip"),
        (b"PK\x05\x06", "application/zip"),
    ];
    if let Some((_, t)) = MAGIC.iter().find(|(m, _)| bytes.starts_with(m)) {
        return Some(t);
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    if bytes.is_empty() {
        return None;
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        // A prefix may cut the last character: at most 3 bytes of it, and no other error.
        Err(e) if e.error_len().is_none() && bytes.len() - e.valid_up_to() < 4 => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    let plain = text
        .chars()
        .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\u{c}'));
    plain.then_some("text/plain")
}

/// Whether `t` is an image type (one with dimensions to check).
pub fn is_image(t: &str) -> bool {
    t.starts_with("image/")
}

/// Checks an upload's first bytes against the type its sender declared and the allow-list,
/// and returns the type the bytes really have: `AttachmentTypeNotAllowed` when the bytes are
/// none of the allowed types, or are another type than the one declared (a declared type of
/// `""` or `application/octet-stream` takes what the bytes are).
pub fn check_upload(
    declared: &str,
    head: &[u8],
    allowed: &[impl AsRef<str>],
) -> Result<&'static str, ImError> {
    let refuse = |desc| Err(ImError::with_desc(Code::AttachmentTypeNotAllowed, desc));
    let Some(real) = sniff(head) else {
        return refuse("the content is none of the allowed types");
    };
    if !allowed.iter().any(|a| a.as_ref() == real) {
        return refuse("this content type is not allowed");
    }
    let declared = declared.split(';').next().unwrap_or("").trim();
    if !declared.is_empty()
        && declared != "application/octet-stream"
        && !declared.eq_ignore_ascii_case(real)
    {
        return refuse("the content is not of the declared type");
    }
    Ok(real)
}

/// What a download URL's signature covers: the key, the user it was issued to and its expiry
/// (seconds since the Unix epoch), so that no part can be swapped.
pub fn signed_payload(key: &str, user: &str, exp_s: u64) -> String {
    format!("im-revoke-file\n{key}\n{user}\n{exp_s}")
}

/// Whether a URL that expires at `exp_s` is still valid at `now_ms`.
pub fn check_expiry(exp_s: u64, now_ms: u64) -> bool {
    now_ms / 1000 < exp_s
}

/// Empties every attachment URL of `m` (its bytes are gone once it is revoked; the keys stay,
/// for the store to find what to delete).
pub fn clear_urls(m: &mut Message) {
    if let Some(e) = &mut m.elem {
        e.each_url_mut(|_, url| url.clear());
    }
}

/// Calls `f(key, revoked, url)` for every attachment URL of every message in `frame` (events
/// are copied only when they carry an attachment).
fn each_url(frame: &mut ServerFrame, f: &mut dyn FnMut(&str, bool, &mut String)) {
    let mut message = |m: &mut Message| {
        let revoked = m.revoke.is_some();
        if let Some(e) = &mut m.elem {
            e.each_url_mut(|key, url| f(key, revoked, url));
        }
    };
    let mut envelope = |env: &mut Envelope| {
        if let Event::NewMessage { message: m } = &*env.event {
            if has_attachment(m) {
                let mut m = m.clone();
                message(&mut m);
                env.event = Arc::new(Event::NewMessage { message: m });
            }
        }
    };
    match frame {
        ServerFrame::SendOk { message: m, .. } => message(m),
        ServerFrame::Messages { messages, .. } => messages.iter_mut().for_each(&mut message),
        ServerFrame::SyncOk { events, .. } => events.iter_mut().for_each(&mut envelope),
        ServerFrame::Event(env) => envelope(env),
        _ => {}
    }
}

fn has_attachment(m: &Message) -> bool {
    matches!(m.elem, Some(Elem::Image { .. } | Elem::File { .. }))
}

/// Fills in every attachment URL of the messages in `frame` with the URL `user` may load;
/// those of a revoked message stay empty.
pub fn sign_frame(frame: &mut ServerFrame, user: &str, sign: &UrlSigner) {
    each_url(frame, &mut |key, revoked, url| {
        *url = if revoked {
            String::new()
        } else {
            sign(key, user)
        }
    });
}

/// The server's HTTP origin from its WebSocket URL: `ws://host:port/ws` → `http://host:port`,
/// `wss://…` → `https://…`. `None` for anything else.
pub fn http_origin(ws_url: &str) -> Option<String> {
    let (scheme, rest) = if let Some(r) = ws_url.strip_prefix("ws://") {
        ("http://", r)
    } else {
        ("https://", ws_url.strip_prefix("wss://")?)
    };
    // `split`, not a slice by index: no string-slicing panic (and its formatting) in the
    // browser module; by a closure, not the `[char]` pattern clippy suggests (that one brings
    // slice search code: 46 B more of the gzipped client entry).
    #[allow(clippy::manual_pattern_char_comparison)]
    let host = rest
        .split(|c| matches!(c, '/' | '?' | '#'))
        .next()
        .unwrap_or_default();
    if host.is_empty() {
        return None;
    }
    let mut origin = String::with_capacity(scheme.len() + host.len());
    origin.push_str(scheme);
    origin.push_str(host);
    Some(origin)
}

/// Makes the server's relative download URLs (`/file/…`) in `frame` absolute on `origin`.
pub fn absolutize(frame: &mut ServerFrame, origin: &str) {
    each_url(frame, &mut |_, _, url| {
        if url.starts_with('/') {
            url.insert_str(0, origin);
        }
    });
}

/// The error of an upload the server refused: its `code` when it sent one, else one by the
/// HTTP status (0: no answer).
pub fn upload_error(status: u16, code: Option<u32>, desc: Option<String>) -> ImError {
    let by_status = match status {
        0 => Code::NetDisconnect,
        401 | 403 => Code::UserSigEmpty,
        413 => Code::AttachmentTooLarge,
        415 => Code::AttachmentTypeNotAllowed,
        422 => Code::AttachmentImageTooLarge,
        429 => Code::TooManyUploads,
        400 => Code::InvalidParameters,
        _ => Code::InternalError,
    };
    let code = code.and_then(Code::from_num).unwrap_or(by_status);
    match desc {
        Some(d) if !d.is_empty() => ImError::with_desc(code, d),
        _ => ImError::new(code),
    }
}

/// Checks an upload to a host that keeps the bytes itself (the embedded hub): not empty, at
/// most `max` bytes, of an allowed type by its first bytes `head`. Returns the real type.
pub fn check_local_upload(
    declared: &str,
    size: u64,
    head: &[u8],
    max: u64,
) -> Result<&'static str, ImError> {
    if size == 0 {
        return Err(bad("the upload is empty"));
    }
    if size > max {
        return Err(ImError::new(Code::AttachmentTooLarge));
    }
    check_upload(declared, head, DEFAULT_ALLOWED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_magic_numbers() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0"), Some("image/jpeg"));
        assert_eq!(sniff(b"GIF89a.."), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"%PDF-1.7"), Some("application/pdf"));
        assert_eq!(sniff(b"PK\x03\x04"), Some("application/zip"));
        assert_eq!(sniff("héllo\n".as_bytes()), Some("text/plain"));
        // A prefix that cuts a character is still text; a NUL or broken UTF-8 is not.
        assert_eq!(sniff(&"é".as_bytes()[..1]), Some("text/plain"));
        assert_eq!(sniff(b"a\0b"), None);
        assert_eq!(sniff(b"\xff\xfe"), None);
        assert_eq!(sniff(b"MZ\x90\0"), None);
        assert_eq!(sniff(b""), None);
    }
}
