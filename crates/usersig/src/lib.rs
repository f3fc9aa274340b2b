//! UserSig generation and verification, compatible with Tencent Cloud IM's
//! `TLS-sig-api-v2` (the HMAC-SHA256 variant used by the public npm, PyPI,
//! Go, Java and PHP generators named `tls-sig-api-v2`).
//!
//! # Format
//!
//! A UserSig is a JSON document, zlib-compressed (deflate with the two-byte
//! zlib header and the Adler-32 trailer), then base64-encoded with the
//! standard alphabet and padding, after which Tencent substitutes
//! `'+'` → `'*'`, `'/'` → `'-'` and `'='` → `'_'`:
//!
//! ```text
//! {"TLS.ver":"2.0","TLS.identifier":"alice","TLS.sdkappid":1400000000,
//!  "TLS.time":1795629895,"TLS.expire":1576800000,
//!  ["TLS.userbuf":"<base64>",] "TLS.sig":"<base64 HMAC-SHA256>"}
//! ```
//!
//! `TLS.sig` is `base64(HMAC-SHA256(key, content))`, where the key is the
//! console's secret key string taken as UTF-8 bytes (not hex-decoded), and
//! `content` is
//!
//! ```text
//! "TLS.identifier:" + identifier + "\n"
//! "TLS.sdkappid:"   + sdkappid   + "\n"
//! "TLS.time:"       + time       + "\n"
//! "TLS.expire:"     + expire     + "\n"
//! ["TLS.userbuf:"   + userbuf_b64 + "\n"]
//! ```
//!
//! with the numbers in decimal. `TLS.time` is the issue time (Unix seconds)
//! and `TLS.expire` the lifetime in seconds, so the sig is valid while
//! `now <= time + expire`. The key order and whitespace of the JSON vary by
//! generator (Python writes `", "` separators and `expire` before `time`;
//! PHP and Java escape `/` as `\/`); only the values matter. [`gen_usersig`]
//! writes the exact bytes the npm generator writes (compact JSON, keys in the
//! order above).
//!
//! # Accepted input
//!
//! - Surrounding ASCII whitespace is trimmed; base64 padding may be present
//!   (`_` or `=`) or omitted; the standard characters `+ / =` are accepted
//!   as well as Tencent's substitutes.
//! - At most [`MAX_USERSIG_LEN`] characters of sig and at most
//!   [`MAX_DECOMPRESSED_LEN`] bytes after decompression; a zlib bomb is cut
//!   off at that size, never inflated in full. Trailing bytes after the zlib
//!   stream, a bad Adler-32, or a preset dictionary are rejected.
//! - `TLS.ver` must be the string `"2.0"`. `TLS.sdkappid`, `TLS.time` and
//!   `TLS.expire` must be non-negative JSON integers that fit in a `u64`;
//!   numbers written as strings, floats (`1.0`, `1e3`) and negative numbers
//!   are rejected (every public generator writes plain integers).
//!   `TLS.identifier` and `TLS.sig` must be strings; `TLS.userbuf` is an
//!   optional string (or `null`). Unknown keys are ignored; duplicate keys
//!   are rejected. The HMAC covers the `TLS.userbuf` text exactly as written.
//!
//! # Error codes and order of checks
//!
//! [`verify_usersig`] checks in this order and returns the first failure;
//! [`UserSigError::code`] gives Tencent's numeric code:
//!
//! | step | failure | code | Tencent name |
//! | --- | --- | --- | --- |
//! | 1 | empty (or only whitespace) | 70002 | `ERR_SVR_ACCOUNT_USERSIG_EMPTY` |
//! | 2 | too long, bad base64, bad zlib, too large, bad JSON, wrong types | 70003 | `ERR_SVR_ACCOUNT_USERSIG_CHECK_FAILED` |
//! | 3 | `TLS.sdkappid` differs from the server's | 70014 | `ERR_SVR_ACCOUNT_USERSIG_MISMATCH_SDKAPPID` |
//! | 4 | `TLS.identifier` differs from the user logging in | 70013 | `ERR_SVR_ACCOUNT_USERSIG_MISMATCH_ID` |
//! | 5 | HMAC does not verify with this key | 70009 | `ERR_SVR_ACCOUNT_USERSIG_MISMATCH_PUBLICKEY` |
//! | 6 | issued more than [`MAX_CLOCK_SKEW_SECS`] in the future | 70003 | `ERR_SVR_ACCOUNT_USERSIG_CHECK_FAILED` |
//! | 7 | `now > time + expire` | 70001 | `ERR_SVR_ACCOUNT_USERSIG_EXPIRED` |
//!
//! Why this order: the sdkappid and identifier are values the caller already
//! knows, so comparing them before the MAC leaks nothing and tells a
//! developer who pasted a sig for the wrong user or app exactly that. The
//! time checks run only on authenticated data: a forged or tampered sig is
//! always 70009, never "expired" or "not yet valid", so an unauthenticated
//! party learns nothing about the time rules from the answer and no claim is
//! trusted before its MAC is. (Tencent's Go verifier checks expiry before the
//! MAC; this crate deliberately does not.) A sig whose `TLS.time` is more
//! than five minutes ahead of the verifier's clock is rejected as 70003: it
//! was minted by a clock that is wrong, or on purpose to outlive its stated
//! lifetime. The MAC is compared in constant time (`hmac`'s
//! `verify_slice`). No input makes these functions panic.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::io::Write;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use flate2::{Compression, Decompress, FlushDecompress, Status};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Longest UserSig (in bytes, after trimming whitespace) that is examined.
/// Real sigs are 200–400 characters.
pub const MAX_USERSIG_LEN: usize = 8 * 1024;

/// Largest decompressed JSON document accepted, in bytes. Real documents
/// are under 300 bytes.
pub const MAX_DECOMPRESSED_LEN: usize = 4 * 1024;

/// How far `TLS.time` may lie in the verifier's future, in seconds.
pub const MAX_CLOCK_SKEW_SECS: u64 = 300;

/// The only `TLS.ver` this crate produces and accepts.
pub const VERSION: &str = "2.0";

/// Base64 with the standard alphabet that accepts padded or unpadded input
/// but rejects non-canonical trailing bits.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a UserSig was rejected. [`code`](Self::code) gives Tencent's number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UserSigError {
    /// 70001: `now > TLS.time + TLS.expire`.
    #[error("UserSig expired")]
    Expired,
    /// 70002: the sig is empty.
    #[error("UserSig is empty")]
    Empty,
    /// 70003: the sig cannot be decoded, decompressed or parsed, or its
    /// fields have the wrong type. The text says which step failed.
    #[error("UserSig check failed: {0}")]
    Malformed(&'static str),
    /// 70003: `TLS.time` lies more than [`MAX_CLOCK_SKEW_SECS`] ahead of now.
    #[error("UserSig check failed: issued in the future")]
    NotYetValid,
    /// 70009: the HMAC does not verify with this key.
    #[error("UserSig does not match the secret key")]
    KeyMismatch,
    /// 70013: `TLS.identifier` is not the expected user.
    #[error("UserSig identifier does not match")]
    IdentifierMismatch,
    /// 70014: `TLS.sdkappid` is not the expected application.
    #[error("UserSig SDKAppID does not match")]
    SdkAppIdMismatch,
}

impl UserSigError {
    /// Tencent's numeric error code.
    pub fn code(&self) -> u32 {
        match self {
            Self::Expired => 70001,
            Self::Empty => 70002,
            Self::Malformed(_) | Self::NotYetValid => 70003,
            Self::KeyMismatch => 70009,
            Self::IdentifierMismatch => 70013,
            Self::SdkAppIdMismatch => 70014,
        }
    }

    /// Tencent's symbolic name for [`code`](Self::code).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Expired => "ERR_SVR_ACCOUNT_USERSIG_EXPIRED",
            Self::Empty => "ERR_SVR_ACCOUNT_USERSIG_EMPTY",
            Self::Malformed(_) | Self::NotYetValid => "ERR_SVR_ACCOUNT_USERSIG_CHECK_FAILED",
            Self::KeyMismatch => "ERR_SVR_ACCOUNT_USERSIG_MISMATCH_PUBLICKEY",
            Self::IdentifierMismatch => "ERR_SVR_ACCOUNT_USERSIG_MISMATCH_ID",
            Self::SdkAppIdMismatch => "ERR_SVR_ACCOUNT_USERSIG_MISMATCH_SDKAPPID",
        }
    }
}

/// What a verified UserSig asserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// `TLS.identifier`: the user ID.
    pub identifier: String,
    /// `TLS.sdkappid`.
    pub sdkappid: u64,
    /// `TLS.time`: issue time, Unix seconds.
    pub time: u64,
    /// `TLS.expire`: lifetime in seconds from `time`.
    pub expire: u64,
    /// `TLS.userbuf`, base64-decoded, if present.
    pub userbuf: Option<Vec<u8>>,
}

impl Claims {
    /// Last second (Unix) at which the sig is still valid.
    pub fn expires_at(&self) -> u64 {
        self.time.saturating_add(self.expire)
    }
}

/// A syntactically valid but not yet authenticated UserSig, as returned by
/// [`parse_usersig`]. Nothing in it is trustworthy until the MAC is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawUserSig {
    /// `TLS.identifier`.
    pub identifier: String,
    /// `TLS.sdkappid`.
    pub sdkappid: u64,
    /// `TLS.time`.
    pub time: u64,
    /// `TLS.expire`.
    pub expire: u64,
    /// `TLS.userbuf` exactly as written in the JSON (this text is what the
    /// MAC covers).
    pub userbuf_b64: Option<String>,
    /// `TLS.userbuf`, base64-decoded (ASCII whitespace ignored).
    pub userbuf: Option<Vec<u8>>,
    /// `TLS.sig`, base64-decoded: the claimed MAC.
    pub sig: Vec<u8>,
}

impl RawUserSig {
    /// The string the HMAC is computed over.
    pub fn signed_content(&self) -> String {
        signed_content(
            &self.identifier,
            self.sdkappid,
            self.time,
            self.expire,
            self.userbuf_b64.as_deref(),
        )
    }

    /// Whether `TLS.sig` is the HMAC of the content under `key`, compared in
    /// constant time.
    pub fn mac_matches(&self, key: &str) -> bool {
        match HmacSha256::new_from_slice(key.as_bytes()) {
            Ok(mut mac) => {
                mac.update(self.signed_content().as_bytes());
                mac.verify_slice(&self.sig).is_ok()
            }
            Err(_) => false,
        }
    }

    fn into_claims(self) -> Claims {
        Claims {
            identifier: self.identifier,
            sdkappid: self.sdkappid,
            time: self.time,
            expire: self.expire,
            userbuf: self.userbuf,
        }
    }
}

/// The JSON document as written by the generators. Serde rejects wrong
/// types, negative or fractional numbers, and duplicate keys.
#[derive(Deserialize)]
struct Doc {
    #[serde(rename = "TLS.ver")]
    ver: String,
    #[serde(rename = "TLS.identifier")]
    identifier: String,
    #[serde(rename = "TLS.sdkappid")]
    sdkappid: u64,
    #[serde(rename = "TLS.time")]
    time: u64,
    #[serde(rename = "TLS.expire")]
    expire: u64,
    #[serde(rename = "TLS.userbuf", default)]
    userbuf: Option<String>,
    #[serde(rename = "TLS.sig")]
    sig: String,
}

fn signed_content(
    identifier: &str,
    sdkappid: u64,
    time: u64,
    expire: u64,
    userbuf_b64: Option<&str>,
) -> String {
    let mut s = format!(
        "TLS.identifier:{identifier}\nTLS.sdkappid:{sdkappid}\nTLS.time:{time}\nTLS.expire:{expire}\n"
    );
    if let Some(ub) = userbuf_b64 {
        s.push_str("TLS.userbuf:");
        s.push_str(ub);
        s.push('\n');
    }
    s
}

fn hmac_b64(key: &str, content: &str) -> String {
    let mut mac =
        HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(content.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Tencent's URL-safe substitution applied to standard base64.
fn tencent_b64_encode(bytes: &[u8]) -> String {
    STANDARD
        .encode(bytes)
        .chars()
        .map(|c| match c {
            '+' => '*',
            '/' => '-',
            '=' => '_',
            c => c,
        })
        .collect()
}

fn tencent_b64_decode(s: &str) -> Option<Vec<u8>> {
    let std: Vec<u8> = s
        .bytes()
        .map(|b| match b {
            b'*' => b'+',
            b'-' => b'/',
            b'_' => b'=',
            b => b,
        })
        .collect();
    LENIENT.decode(std).ok()
}

/// Inflates a zlib stream, refusing to produce more than
/// [`MAX_DECOMPRESSED_LEN`] bytes and refusing trailing input.
fn inflate_bounded(input: &[u8]) -> Result<Vec<u8>, UserSigError> {
    let mut inflater = Decompress::new(true);
    // decompress_vec writes only into spare capacity, so this bounds the work.
    let mut out = Vec::with_capacity(MAX_DECOMPRESSED_LEN + 1);
    match inflater.decompress_vec(input, &mut out, FlushDecompress::Finish) {
        Ok(Status::StreamEnd) if out.len() <= MAX_DECOMPRESSED_LEN => {
            if usize::try_from(inflater.total_in()).ok() == Some(input.len()) {
                Ok(out)
            } else {
                Err(UserSigError::Malformed("trailing data after zlib stream"))
            }
        }
        Ok(_) if out.len() > MAX_DECOMPRESSED_LEN => {
            Err(UserSigError::Malformed("decompressed document too large"))
        }
        Ok(_) => Err(UserSigError::Malformed("truncated zlib stream")),
        Err(_) => Err(UserSigError::Malformed("corrupt zlib stream")),
    }
}

/// Generates a UserSig for `identifier`, issued at `now_secs` (Unix seconds)
/// and valid for `expire_secs` seconds.
///
/// The decompressed JSON is byte-for-byte what the npm `tls-sig-api-v2`
/// generator writes for the same inputs and time.
pub fn gen_usersig(
    sdkappid: u64,
    key: &str,
    identifier: &str,
    expire_secs: u64,
    now_secs: u64,
) -> String {
    gen_inner(sdkappid, key, identifier, expire_secs, now_secs, None)
}

/// Like [`gen_usersig`], with a `TLS.userbuf` (for example a TRTC
/// PrivateMapKey buffer) that the MAC also covers.
pub fn gen_usersig_with_userbuf(
    sdkappid: u64,
    key: &str,
    identifier: &str,
    expire_secs: u64,
    now_secs: u64,
    userbuf: &[u8],
) -> String {
    gen_inner(
        sdkappid,
        key,
        identifier,
        expire_secs,
        now_secs,
        Some(userbuf),
    )
}

fn gen_inner(
    sdkappid: u64,
    key: &str,
    identifier: &str,
    expire: u64,
    time: u64,
    userbuf: Option<&[u8]>,
) -> String {
    let userbuf_b64 = userbuf.map(|b| STANDARD.encode(b));
    let content = signed_content(identifier, sdkappid, time, expire, userbuf_b64.as_deref());
    let sig = hmac_b64(key, &content);
    // serde_json's string escaping matches JSON.stringify's.
    let id_json = serde_json::Value::from(identifier).to_string();
    let userbuf_json = match &userbuf_b64 {
        Some(b) => format!(",\"TLS.userbuf\":\"{b}\""),
        None => String::new(),
    };
    let json = format!(
        "{{\"TLS.ver\":\"{VERSION}\",\"TLS.identifier\":{id_json},\"TLS.sdkappid\":{sdkappid},\
         \"TLS.time\":{time},\"TLS.expire\":{expire}{userbuf_json},\"TLS.sig\":\"{sig}\"}}"
    );
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), Compression::default());
    enc.write_all(json.as_bytes())
        .expect("writing to a Vec cannot fail");
    let compressed = enc.finish().expect("writing to a Vec cannot fail");
    tencent_b64_encode(&compressed)
}

/// Decodes a UserSig without authenticating it: base64, zlib, JSON and field
/// types. Returns 70002 for an empty sig and 70003 for anything malformed.
/// Never panics; bounded in time and memory by [`MAX_USERSIG_LEN`] and
/// [`MAX_DECOMPRESSED_LEN`].
pub fn parse_usersig(sig: &str) -> Result<RawUserSig, UserSigError> {
    let sig = sig.trim_matches(|c: char| c.is_ascii_whitespace());
    if sig.is_empty() {
        return Err(UserSigError::Empty);
    }
    if sig.len() > MAX_USERSIG_LEN {
        return Err(UserSigError::Malformed("sig too long"));
    }
    let compressed = tencent_b64_decode(sig).ok_or(UserSigError::Malformed("bad base64"))?;
    let json = inflate_bounded(&compressed)?;
    let doc: Doc =
        serde_json::from_slice(&json).map_err(|_| UserSigError::Malformed("bad JSON document"))?;
    if doc.ver != VERSION {
        return Err(UserSigError::Malformed("TLS.ver is not 2.0"));
    }
    let mac = LENIENT
        .decode(doc.sig.as_bytes())
        .map_err(|_| UserSigError::Malformed("TLS.sig is not base64"))?;
    let userbuf = match &doc.userbuf {
        Some(b64) => {
            let compact: Vec<u8> = b64.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
            Some(
                LENIENT
                    .decode(compact)
                    .map_err(|_| UserSigError::Malformed("TLS.userbuf is not base64"))?,
            )
        }
        None => None,
    };
    Ok(RawUserSig {
        identifier: doc.identifier,
        sdkappid: doc.sdkappid,
        time: doc.time,
        expire: doc.expire,
        userbuf_b64: doc.userbuf,
        userbuf,
        sig: mac,
    })
}

/// Verifies a UserSig for `identifier` in application `sdkappid` with the
/// application's secret `key`, at Unix time `now_secs`. See the crate
/// documentation for the order of checks and the error codes.
pub fn verify_usersig(
    sig: &str,
    sdkappid: u64,
    key: &str,
    identifier: &str,
    now_secs: u64,
) -> Result<Claims, UserSigError> {
    let raw = parse_usersig(sig)?;
    if raw.sdkappid != sdkappid {
        return Err(UserSigError::SdkAppIdMismatch);
    }
    if raw.identifier != identifier {
        return Err(UserSigError::IdentifierMismatch);
    }
    if !raw.mac_matches(key) {
        return Err(UserSigError::KeyMismatch);
    }
    if raw.time > now_secs.saturating_add(MAX_CLOCK_SKEW_SECS) {
        return Err(UserSigError::NotYetValid);
    }
    if now_secs > raw.time.saturating_add(raw.expire) {
        return Err(UserSigError::Expired);
    }
    Ok(raw.into_claims())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_string_layout() {
        assert_eq!(
            signed_content("alice", 1400000000, 10, 20, None),
            "TLS.identifier:alice\nTLS.sdkappid:1400000000\nTLS.time:10\nTLS.expire:20\n"
        );
        assert_eq!(
            signed_content("a", 1, 2, 3, Some("YWJj")),
            "TLS.identifier:a\nTLS.sdkappid:1\nTLS.time:2\nTLS.expire:3\nTLS.userbuf:YWJj\n"
        );
    }

    #[test]
    fn tencent_base64_substitution() {
        // 0xfb 0xff 0xfe encodes to "+//+" in standard base64.
        assert_eq!(tencent_b64_encode(&[0xfb, 0xff, 0xfe]), "*--*");
        assert_eq!(tencent_b64_encode(b"a"), "YQ__");
        assert_eq!(tencent_b64_decode("*--*").unwrap(), vec![0xfb, 0xff, 0xfe]);
        assert_eq!(tencent_b64_decode("YQ__").unwrap(), b"a");
        assert_eq!(tencent_b64_decode("YQ").unwrap(), b"a");
        assert_eq!(tencent_b64_decode("YQ==").unwrap(), b"a");
        assert!(
            tencent_b64_decode("YR").is_none(),
            "non-canonical trailing bits"
        );
        assert!(tencent_b64_decode("Y").is_none());
    }

    #[test]
    fn inflate_bound_is_exact() {
        let compress = |data: &[u8]| {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), Compression::best());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        };
        let ok = vec![b'x'; MAX_DECOMPRESSED_LEN];
        assert_eq!(inflate_bounded(&compress(&ok)).unwrap(), ok);
        let big = vec![b'x'; MAX_DECOMPRESSED_LEN + 1];
        assert_eq!(
            inflate_bounded(&compress(&big)),
            Err(UserSigError::Malformed("decompressed document too large"))
        );
        let mut trailing = compress(b"{}");
        trailing.push(0);
        assert_eq!(
            inflate_bounded(&trailing),
            Err(UserSigError::Malformed("trailing data after zlib stream"))
        );
        let full = compress(b"hello hello hello");
        for cut in 0..full.len() {
            assert!(inflate_bounded(&full[..cut]).is_err(), "cut at {cut}");
        }
    }
}
