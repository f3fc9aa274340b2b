//! UserSigs minted by Tencent's public generators, checked against this crate.
//!
//! Generated once, on 2026-11-25, with
//! - PyPI `tls-sig-api-v2` 1.1 (`TLSSigAPIv2.gen_sig`, `gen_sig_with_userbuf`), and
//! - npm `tls-sig-api-v2` 1.0.2 (`Api.genUserSig`, `Api.genPrivateMapKey`),
//!
//! all with sdkappid 1400000000, the key below, identifier "alice" and
//! expire 86400 * 365 * 50 (so they stay valid until 2076). Every test uses
//! a fixed `now` derived from the fixtures' `TLS.time`, never the wall clock.

use std::io::{Read, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use im_revoke_usersig::{gen_usersig, gen_usersig_with_userbuf, parse_usersig, verify_usersig};

const SDKAPPID: u64 = 1400000000;
const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
const ID: &str = "alice";
const EXPIRE: u64 = 86400 * 365 * 50;
/// `TLS.time` of every fixture below.
const TIME: u64 = 1795629895;
const NOW: u64 = TIME + 10;

/// PyPI tls-sig-api-v2 1.1, `gen_sig("alice", 86400*365*50)`. Decompressed:
/// `{"TLS.ver": "2.0", "TLS.identifier": "alice", "TLS.sdkappid": 1400000000,
///   "TLS.expire": 1576800000, "TLS.time": 1795629895,
///   "TLS.sig": "L1T1cxoorcstGCEeztrYvGH9/ct5DVkkdBiRCHY/7Kc="}`
const PY_PLAIN: &str = "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkEnMyk1NhUsUp2YkFBZkpQAlDEwMogMqlVhRkFqWCZEzNzSyQZUoyc8Hi5pamZkaWFpamMNMy00E2*BiGGCZX5OcXJReXuDu7plaVFEWWuXtY6ieXmLqEZWenOGUGOXtE6pt7J9sq1QIA7B4zaA__";
const PY_PLAIN_JSON: &str = r#"{"TLS.ver": "2.0", "TLS.identifier": "alice", "TLS.sdkappid": 1400000000, "TLS.expire": 1576800000, "TLS.time": 1795629895, "TLS.sig": "L1T1cxoorcstGCEeztrYvGH9/ct5DVkkdBiRCHY/7Kc="}"#;

/// PyPI tls-sig-api-v2 1.1, `gen_sig_with_userbuf("alice", 86400*365*50, b"room:42\x00\xff")`.
/// Decompressed: as above plus `"TLS.userbuf": "cm9vbTo0MgD/"`, sig
/// `6Sd7d/+5MQ1GwZXq0wniATNusk5UNnp0ucs0cqC7RpE=`.
const PY_USERBUF: &str = "eJxNzU8LgjAcxvG3ErsWOqU5F3SIii4plAbRTbcpP0ybzj9B9N5Ls*g5fj*H54HCfWC0skKLCbINjGaToYCQRQ0JfCC6Apdf0iKLlALxBmuOx40m7woq2QuhjvsvNeRDp4w4NnMZGXujZRU3Sf-Cc9bG4Q176cb8nUHakxMIKswp8Q7WrrucS9wVsAr9Rmfk5BcKN1xjXq7pUW2X6PkCeZg8OQ__";
const PY_USERBUF_BYTES: &[u8] = b"room:42\x00\xff";

/// npm tls-sig-api-v2 1.0.2, `genUserSig("alice", 86400*365*50)`. Decompressed:
const NODE_PLAIN: &str = "eJxNikELgjAYhv-Ldw510pwbdMlCIU8lgUfZZnyscmxDpOi-R*qh9-Y8z-uGpr5Eo3YgII0S2MyMSj8D9jjr7o5Sr8Er01mLCgTZJuuWEvChQRDGaZbynNPF6smi*3nKsvzv7fEGAmrSEDkNg5M*lMVRv4Jrx7LisQz0cDVG7fFcVG3MTnIHny98FjII";
const NODE_PLAIN_JSON: &str = r#"{"TLS.ver":"2.0","TLS.identifier":"alice","TLS.sdkappid":1400000000,"TLS.time":1795629895,"TLS.expire":1576800000,"TLS.sig":"L1T1cxoorcstGCEeztrYvGH9/ct5DVkkdBiRCHY/7Kc="}"#;

/// npm tls-sig-api-v2 1.0.2, `genPrivateMapKey("alice", 86400*365*50, 10000, 255)`
/// (a TRTC PrivateMapKey: a UserSig with a binary `TLS.userbuf`). Decompressed:
const NODE_USERBUF: &str = "eJxNjskOgkAQRP*lrxoXZJtJOLSC8YAnxwVvCK2ZDJIOiyEx-rsRNLFu9V4d6gkq3k0eVIEEazKDcd91TmWjr7rHaaEz*oo6NymzzkHO7dk3g2n0nUDOPeG4lvCFM1DqWFcf7niu-7dua6ou7RUkIOI6OXacWAeVGRsRsYy2JtyaDBHDKfYJgt8BfQMJm0W6OjYFC3Fr6RyNjJcs3VMZW5Ss9qy4U9QxqzSkKIDXGzVQQvk_";
const NODE_USERBUF_JSON: &str = r#"{"TLS.ver":"2.0","TLS.identifier":"alice","TLS.sdkappid":1400000000,"TLS.time":1795629895,"TLS.expire":1576800000,"TLS.userbuf":"AAAFYWxpY2VTck4AAAAnEMkDMkcAAAD/AAAAAA==","TLS.sig":"H3aCWtlp99gueZE+k7YB6XnL2eYCUpTpxTexppTaDeE="}"#;
const NODE_USERBUF_B64: &str = "AAAFYWxpY2VTck4AAAAnEMkDMkcAAAD/AAAAAA==";

const ALL: [&str; 4] = [PY_PLAIN, PY_USERBUF, NODE_PLAIN, NODE_USERBUF];

/// Undo Tencent's base64 and zlib, independently of the crate under test.
fn decompress(sig: &str) -> String {
    let std: String = sig
        .chars()
        .map(|c| match c {
            '*' => '+',
            '-' => '/',
            '_' => '=',
            c => c,
        })
        .collect();
    let bytes = STANDARD.decode(std).unwrap();
    let mut out = String::new();
    flate2::read::ZlibDecoder::new(&bytes[..])
        .read_to_string(&mut out)
        .unwrap();
    out
}

fn compress(json: &str) -> String {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(json.as_bytes()).unwrap();
    STANDARD
        .encode(e.finish().unwrap())
        .replace('+', "*")
        .replace('/', "-")
        .replace('=', "_")
}

#[test]
fn fixtures_decompress_to_recorded_json() {
    assert_eq!(decompress(PY_PLAIN), PY_PLAIN_JSON);
    assert_eq!(decompress(NODE_PLAIN), NODE_PLAIN_JSON);
    assert_eq!(decompress(NODE_USERBUF), NODE_USERBUF_JSON);
}

#[test]
fn all_fixtures_verify() {
    for sig in ALL {
        let c = verify_usersig(sig, SDKAPPID, KEY, ID, NOW).unwrap();
        assert_eq!(c.identifier, ID);
        assert_eq!(c.sdkappid, SDKAPPID);
        assert_eq!(c.time, TIME);
        assert_eq!(c.expire, EXPIRE);
        assert_eq!(c.expires_at(), TIME + EXPIRE);
    }
}

#[test]
fn fixture_userbufs_decode() {
    let c = verify_usersig(PY_USERBUF, SDKAPPID, KEY, ID, NOW).unwrap();
    assert_eq!(c.userbuf.as_deref(), Some(PY_USERBUF_BYTES));
    let c = verify_usersig(NODE_USERBUF, SDKAPPID, KEY, ID, NOW).unwrap();
    let expected = STANDARD.decode(NODE_USERBUF_B64).unwrap();
    assert_eq!(c.userbuf.as_deref(), Some(&expected[..]));
    // TRTC userbuf layout: ver 0, u16 account length, account, sdkappid, room 10000, ...
    assert_eq!(&expected[..8], b"\x00\x00\x05alice");
    assert_eq!(&expected[8..12], &1400000000u32.to_be_bytes());
    assert_eq!(&expected[12..16], &10000u32.to_be_bytes());
    assert_eq!(
        verify_usersig(PY_PLAIN, SDKAPPID, KEY, ID, NOW)
            .unwrap()
            .userbuf,
        None
    );
}

#[test]
fn python_and_node_agree_and_parse_the_same() {
    let py = parse_usersig(PY_PLAIN).unwrap();
    let node = parse_usersig(NODE_PLAIN).unwrap();
    assert_eq!(py, node);
}

#[test]
fn our_json_is_byte_identical_to_node() {
    let ours = gen_usersig(SDKAPPID, KEY, ID, EXPIRE, TIME);
    assert_eq!(decompress(&ours), NODE_PLAIN_JSON);
    let userbuf = STANDARD.decode(NODE_USERBUF_B64).unwrap();
    let ours = gen_usersig_with_userbuf(SDKAPPID, KEY, ID, EXPIRE, TIME, &userbuf);
    assert_eq!(decompress(&ours), NODE_USERBUF_JSON);
}

#[test]
fn our_sig_equals_python_sig_as_json_values() {
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
    let ours = gen_usersig(SDKAPPID, KEY, ID, EXPIRE, TIME);
    assert_eq!(parse(&decompress(&ours)), parse(PY_PLAIN_JSON));
    let ours = gen_usersig_with_userbuf(SDKAPPID, KEY, ID, EXPIRE, TIME, PY_USERBUF_BYTES);
    assert_eq!(parse(&decompress(&ours)), parse(&decompress(PY_USERBUF)));
}

#[test]
fn fixture_with_other_key_is_70009() {
    let other = "0bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
    for sig in ALL {
        let e = verify_usersig(sig, SDKAPPID, other, ID, NOW).unwrap_err();
        assert_eq!(e.code(), 70009, "{sig}");
    }
    // The hex key is used as text, not decoded to bytes.
    let hex_bytes: String = KEY
        .as_bytes()
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap() as char)
        .collect();
    assert_eq!(
        verify_usersig(PY_PLAIN, SDKAPPID, &hex_bytes, ID, NOW)
            .unwrap_err()
            .code(),
        70009
    );
}

#[test]
fn fixture_with_other_identifier_is_70013() {
    for sig in ALL {
        for id in ["bob", "Alice", "alice ", ""] {
            let e = verify_usersig(sig, SDKAPPID, KEY, id, NOW).unwrap_err();
            assert_eq!(e.code(), 70013);
        }
    }
}

#[test]
fn fixture_with_other_sdkappid_is_70014() {
    for sig in ALL {
        let e = verify_usersig(sig, 1400000001, KEY, ID, NOW).unwrap_err();
        assert_eq!(e.code(), 70014);
        // sdkappid is checked before identifier and key.
        let e = verify_usersig(sig, 1, "wrong", "bob", NOW).unwrap_err();
        assert_eq!(e.code(), 70014);
    }
}

#[test]
fn fixture_expiry_boundary_is_70001() {
    let last = TIME + EXPIRE;
    for sig in ALL {
        assert!(verify_usersig(sig, SDKAPPID, KEY, ID, last).is_ok());
        let e = verify_usersig(sig, SDKAPPID, KEY, ID, last + 1).unwrap_err();
        assert_eq!(e.code(), 70001);
        assert_eq!(e.name(), "ERR_SVR_ACCOUNT_USERSIG_EXPIRED");
    }
}

#[test]
fn fixture_used_before_issue_time() {
    for sig in ALL {
        // Within the five-minute skew allowance.
        assert!(verify_usersig(sig, SDKAPPID, KEY, ID, TIME - 300).is_ok());
        let e = verify_usersig(sig, SDKAPPID, KEY, ID, TIME - 301).unwrap_err();
        assert_eq!(e.code(), 70003);
    }
}

#[test]
fn fixture_with_tampered_fields_is_70009() {
    // Re-pack the Node document with a longer lifetime but the original MAC.
    let longer = NODE_PLAIN_JSON.replace("1576800000", "1576800001");
    let e = verify_usersig(&compress(&longer), SDKAPPID, KEY, ID, NOW).unwrap_err();
    assert_eq!(e.code(), 70009);
    // A tampered sig is 70009 even when, taken at face value, it would have
    // expired or not be valid yet: time rules apply to authenticated data only.
    let tiny = NODE_PLAIN_JSON.replace("1576800000", "1");
    let e = verify_usersig(&compress(&tiny), SDKAPPID, KEY, ID, NOW).unwrap_err();
    assert_eq!(e.code(), 70009);
    let future = NODE_PLAIN_JSON.replace("1795629895", "1895629895");
    let e = verify_usersig(&compress(&future), SDKAPPID, KEY, ID, NOW).unwrap_err();
    assert_eq!(e.code(), 70009);
    // Userbuf is covered by the MAC too.
    let ub = NODE_USERBUF_JSON.replace("AAAD/AAAAAA==", "AAAD/AAAAAQ==");
    let e = verify_usersig(&compress(&ub), SDKAPPID, KEY, ID, NOW).unwrap_err();
    assert_eq!(e.code(), 70009);
    // Dropping the userbuf changes the signed content.
    let no_ub = NODE_USERBUF_JSON.replace(
        r#""TLS.userbuf":"AAAFYWxpY2VTck4AAAAnEMkDMkcAAAD/AAAAAA==","#,
        "",
    );
    let e = verify_usersig(&compress(&no_ub), SDKAPPID, KEY, ID, NOW).unwrap_err();
    assert_eq!(e.code(), 70009);
}

#[test]
fn fixture_json_variants_other_generators_write() {
    // PHP and Java escape '/' as '\/'; Go writes a trailing newline; key order varies.
    let escaped = NODE_PLAIN_JSON.replace('/', "\\/");
    assert!(verify_usersig(&compress(&escaped), SDKAPPID, KEY, ID, NOW).is_ok());
    let newline = format!("{NODE_PLAIN_JSON}\n");
    assert!(verify_usersig(&compress(&newline), SDKAPPID, KEY, ID, NOW).is_ok());
    // Unknown keys are ignored.
    let extra = NODE_PLAIN_JSON.replacen('{', r#"{"TLS.extra":[1,{"a":null}],"#, 1);
    assert!(verify_usersig(&compress(&extra), SDKAPPID, KEY, ID, NOW).is_ok());
    // Go stores the userbuf with the standard encoder, as Node does.
    assert!(verify_usersig(&compress(NODE_USERBUF_JSON), SDKAPPID, KEY, ID, NOW).is_ok());
}

#[test]
fn fixture_padding_and_whitespace_variants() {
    for sig in [
        PY_PLAIN.trim_end_matches('_').to_string(),
        PY_PLAIN.replace('_', "="),
        PY_PLAIN.replace('*', "+").replace('-', "/"),
        format!("  {PY_PLAIN}\r\n"),
    ] {
        assert!(
            verify_usersig(&sig, SDKAPPID, KEY, ID, NOW).is_ok(),
            "{sig}"
        );
    }
}
