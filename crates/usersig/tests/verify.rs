//! Round trips, every error code, and hostile input.

use std::io::Write;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use im_revoke_usersig::{
    gen_usersig, gen_usersig_with_userbuf, parse_usersig, verify_usersig, UserSigError,
    MAX_DECOMPRESSED_LEN, MAX_USERSIG_LEN,
};

const APP: u64 = 1400000000;
const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
const T0: u64 = 1_700_000_000;

fn tencent_b64(bytes: &[u8]) -> String {
    STANDARD
        .encode(bytes)
        .replace('+', "*")
        .replace('/', "-")
        .replace('=', "_")
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A sig whose decompressed document is exactly `doc`.
fn pack(doc: &[u8]) -> String {
    tencent_b64(&zlib(doc))
}

/// A document signed correctly by KEY for "alice" at T0, with its number
/// fields written by the caller (to try odd JSON spellings).
fn doc_with(sdkappid: &str, time: &str, expire: &str) -> String {
    let content = format!(
        "TLS.identifier:alice\nTLS.sdkappid:{sdkappid}\nTLS.time:{time}\nTLS.expire:{expire}\n"
    );
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(content.as_bytes());
    let sig = STANDARD.encode(mac.finalize().into_bytes());
    format!(
        r#"{{"TLS.ver":"2.0","TLS.identifier":"alice","TLS.sdkappid":{sdkappid},"TLS.time":{time},"TLS.expire":{expire},"TLS.sig":"{sig}"}}"#
    )
}

fn code(r: Result<impl std::fmt::Debug, UserSigError>) -> u32 {
    r.unwrap_err().code()
}

#[test]
fn roundtrip() {
    let sig = gen_usersig(APP, KEY, "alice", 86400, T0);
    let c = verify_usersig(&sig, APP, KEY, "alice", T0 + 5).unwrap();
    assert_eq!(c.identifier, "alice");
    assert_eq!(c.sdkappid, APP);
    assert_eq!(c.time, T0);
    assert_eq!(c.expire, 86400);
    assert_eq!(c.userbuf, None);
    assert!(sig
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"*-_".contains(&b)));
}

#[test]
fn roundtrip_with_userbuf_and_odd_identifiers() {
    for id in [
        "",
        "a",
        "user_01-x",
        "名字",
        "quote\"back\\slash\nnl\u{1}",
        "a/b+c=d",
    ] {
        for ub in [&b""[..], b"\x00\xff\xfe", &[7u8; 300][..]] {
            let sig = gen_usersig_with_userbuf(APP, KEY, id, 60, T0, ub);
            let c = verify_usersig(&sig, APP, KEY, id, T0).unwrap();
            assert_eq!(c.identifier, id);
            assert_eq!(c.userbuf.as_deref(), Some(ub));
        }
        let sig = gen_usersig(APP, KEY, id, 60, T0);
        assert!(verify_usersig(&sig, APP, KEY, id, T0 + 60).is_ok());
    }
}

#[test]
fn extreme_numbers_do_not_overflow() {
    let sig = gen_usersig(u64::MAX, KEY, "alice", u64::MAX, u64::MAX);
    let c = verify_usersig(&sig, u64::MAX, KEY, "alice", u64::MAX).unwrap();
    assert_eq!(c.expires_at(), u64::MAX);
    let sig = gen_usersig(0, "", "alice", 0, 0);
    assert!(verify_usersig(&sig, 0, "", "alice", 0).is_ok());
    assert_eq!(code(verify_usersig(&sig, 0, "", "alice", 1)), 70001);
}

#[test]
fn error_codes_and_names() {
    let sig = gen_usersig(APP, KEY, "alice", 100, T0);
    let cases: [(Result<_, _>, u32, &str); 7] = [
        (
            verify_usersig(&sig, APP, KEY, "alice", T0 + 101),
            70001,
            "ERR_SVR_ACCOUNT_USERSIG_EXPIRED",
        ),
        (
            verify_usersig("", APP, KEY, "alice", T0),
            70002,
            "ERR_SVR_ACCOUNT_USERSIG_EMPTY",
        ),
        (
            verify_usersig("garbage!", APP, KEY, "alice", T0),
            70003,
            "ERR_SVR_ACCOUNT_USERSIG_CHECK_FAILED",
        ),
        (
            verify_usersig(&sig, APP, KEY, "alice", T0 - 1000),
            70003,
            "ERR_SVR_ACCOUNT_USERSIG_CHECK_FAILED",
        ),
        (
            verify_usersig(&sig, APP, "other", "alice", T0),
            70009,
            "ERR_SVR_ACCOUNT_USERSIG_MISMATCH_PUBLICKEY",
        ),
        (
            verify_usersig(&sig, APP, KEY, "bob", T0),
            70013,
            "ERR_SVR_ACCOUNT_USERSIG_MISMATCH_ID",
        ),
        (
            verify_usersig(&sig, APP + 1, KEY, "alice", T0),
            70014,
            "ERR_SVR_ACCOUNT_USERSIG_MISMATCH_SDKAPPID",
        ),
    ];
    for (r, code, name) in cases {
        let e = r.unwrap_err();
        assert_eq!(e.code(), code, "{e}");
        assert_eq!(e.name(), name);
        assert!(!e.to_string().is_empty());
    }
    assert_eq!(
        verify_usersig(" \t\r\n", APP, KEY, "a", T0),
        Err(UserSigError::Empty)
    );
    assert_eq!(parse_usersig(""), Err(UserSigError::Empty));
}

#[test]
fn order_of_checks() {
    let sig = gen_usersig(APP, KEY, "alice", 100, T0);
    // sdkappid before identifier before key before time.
    assert_eq!(code(verify_usersig(&sig, 1, "k", "bob", T0 + 999)), 70014);
    assert_eq!(code(verify_usersig(&sig, APP, "k", "bob", T0 + 999)), 70013);
    assert_eq!(
        code(verify_usersig(&sig, APP, "k", "alice", T0 + 999)),
        70009
    );
    assert_eq!(code(verify_usersig(&sig, APP, "k", "alice", 0)), 70009);
    assert_eq!(
        code(verify_usersig(&sig, APP, KEY, "alice", T0 + 999)),
        70001
    );
}

#[test]
fn number_spellings() {
    let ok = doc_with("1400000000", "1700000000", "100");
    assert!(verify_usersig(&pack(ok.as_bytes()), APP, KEY, "alice", T0).is_ok());
    // Each of these is signed over exactly its own spelling, yet rejected as
    // malformed: generators write plain non-negative integers only.
    for (a, t, e) in [
        (r#""1400000000""#, "1700000000", "100"),
        ("1400000000", r#""1700000000""#, "100"),
        ("1400000000", "1700000000", r#""100""#),
        ("1400000000", "1700000000", "-100"),
        ("1400000000", "-1700000000", "100"),
        ("-1400000000", "1700000000", "100"),
        ("1400000000.0", "1700000000", "100"),
        ("1400000000", "1.7e9", "100"),
        ("1400000000", "1700000000", "1e2"),
        ("1400000000", "1700000000", "18446744073709551616"),
        ("1400000000", "1700000000", "null"),
        ("1400000000", "1700000000", "true"),
        ("1400000000", "1700000000", "[100]"),
    ] {
        let doc = doc_with(a, t, e);
        let r = verify_usersig(&pack(doc.as_bytes()), APP, KEY, "alice", T0);
        assert_eq!(code(r), 70003, "{doc}");
    }
}

#[test]
fn malformed_documents_are_70003() {
    let good = doc_with("1400000000", "1700000000", "100");
    let bad: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"str\"".to_vec(),
        b"{}".to_vec(),
        b"{".to_vec(),
        good.replace(r#""TLS.ver":"2.0""#, r#""TLS.ver":"1.0""#)
            .into_bytes(),
        good.replace(r#""TLS.ver":"2.0""#, r#""TLS.ver":2.0"#)
            .into_bytes(),
        good.replace(r#""TLS.ver":"2.0","#, "").into_bytes(),
        good.replace(r#""TLS.identifier":"alice""#, r#""TLS.identifier":null"#)
            .into_bytes(),
        good.replace(r#""TLS.identifier":"alice""#, r#""TLS.identifier":7"#)
            .into_bytes(),
        good.replace(r#""TLS.sig":""#, r#""TLS.sig":"!"#)
            .into_bytes(),
        good.replace(r#""TLS.sig":"#, r#""TLS.sig":1,"x":"#)
            .into_bytes(),
        good.replace(r#","TLS.sig":"#, r#","TLS.userbuf":"!!","TLS.sig":"#)
            .into_bytes(),
        good.replace(r#","TLS.sig":"#, r#","TLS.userbuf":5,"TLS.sig":"#)
            .into_bytes(),
        // Duplicate key: ambiguous, rejected.
        good.replace(r#""TLS.ver":"2.0","#, r#""TLS.ver":"2.0","TLS.ver":"2.0","#)
            .into_bytes(),
        format!("{good}x").into_bytes(),
        format!("{good}{good}").into_bytes(),
        // Not UTF-8.
        good.replace("alice", "al\u{0}ce").into_bytes(),
        [
            &good.as_bytes()[..20],
            &[0xff, 0xfe][..],
            &good.as_bytes()[20..],
        ]
        .concat(),
        // Deep nesting inside an ignored key.
        format!(
            "{{\"x\":{}{}, {}",
            "[".repeat(2000),
            "]".repeat(2000),
            &good[1..]
        )
        .into_bytes(),
        format!("{{\"x\":{}", "[".repeat(4000)).into_bytes(),
    ];
    for doc in bad {
        let r = verify_usersig(&pack(&doc), APP, KEY, "alice", T0);
        assert_eq!(code(r), 70003, "{}", String::from_utf8_lossy(&doc));
    }
}

#[test]
fn zlib_bombs_are_rejected_not_inflated() {
    let good = doc_with("1400000000", "1700000000", "100");
    // Valid JSON padded with megabytes of whitespace: compresses to ~1 KiB.
    let mut bomb = good.clone().into_bytes();
    bomb.extend(std::iter::repeat_n(b' ', 1 << 20));
    let sig = pack(&bomb);
    assert!(sig.len() < MAX_USERSIG_LEN, "{}", sig.len());
    assert_eq!(code(verify_usersig(&sig, APP, KEY, "alice", T0)), 70003);
    // Right at the bound is still fine.
    let mut edge = good.into_bytes();
    edge.resize(MAX_DECOMPRESSED_LEN, b' ');
    assert!(verify_usersig(&pack(&edge), APP, KEY, "alice", T0).is_ok());
    edge.push(b' ');
    assert_eq!(
        code(verify_usersig(&pack(&edge), APP, KEY, "alice", T0)),
        70003
    );
}

#[test]
fn oversized_and_odd_strings_are_70003() {
    let long = "A".repeat(MAX_USERSIG_LEN + 1);
    assert_eq!(code(parse_usersig(&long)), 70003);
    let huge = "eJ".repeat(1 << 20);
    assert_eq!(code(parse_usersig(&huge)), 70003);
    for s in [
        "é",
        "名字",
        "\u{0}",
        "eJyr\u{0}",
        "====",
        "____",
        "*",
        "-",
        "eJw_",
        "A B",
    ] {
        assert_eq!(code(parse_usersig(s)), 70003, "{s:?}");
    }
    // Raw zlib stream with a preset dictionary flag.
    let mut fdict = zlib(b"{}");
    let mut flg = (fdict[1] & 0xc0) | 0x20;
    let rem = (u16::from(fdict[0]) * 256 + u16::from(flg)) % 31;
    if rem != 0 {
        flg += (31 - rem) as u8;
    }
    fdict[1] = flg;
    assert_eq!(code(parse_usersig(&tencent_b64(&fdict))), 70003);
    // Raw deflate without the zlib header, and gzip.
    let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    raw.write_all(b"{}").unwrap();
    assert_eq!(
        code(parse_usersig(&tencent_b64(&raw.finish().unwrap()))),
        70003
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"{}").unwrap();
    assert_eq!(
        code(parse_usersig(&tencent_b64(&gz.finish().unwrap()))),
        70003
    );
}

/// A corrupted sig must be rejected, unless the change only touched bits
/// that deflate ignores (the padding after the final block), in which case
/// it decodes to the very same document.
fn assert_rejected_or_same(corrupted: &str, original: &str) -> bool {
    let r = verify_usersig(corrupted, APP, KEY, "alice", T0);
    if let Ok(c) = &r {
        assert_eq!(
            parse_usersig(corrupted).unwrap(),
            parse_usersig(original).unwrap(),
            "{corrupted} accepted with different content"
        );
        assert_eq!(c.userbuf.as_deref(), Some(&b"buf"[..]));
    }
    r.is_ok()
}

#[test]
fn every_truncation_and_corruption_fails_cleanly() {
    let sig = gen_usersig_with_userbuf(APP, KEY, "alice", 100, T0, b"buf");
    for cut in 0..sig.len() {
        let r = verify_usersig(&sig[..cut], APP, KEY, "alice", T0);
        // Dropping only padding leaves the sig valid.
        if sig[cut..].bytes().all(|b| b == b'_') {
            assert!(r.is_ok());
        } else {
            assert!(matches!(r.unwrap_err().code(), 70002 | 70003), "cut {cut}");
        }
    }
    let bytes = sig.as_bytes();
    for i in 0..bytes.len() {
        for repl in [b'A', b'z', b'0', b'*', b'-', b'_', b'=', b'~'] {
            if bytes[i] == repl {
                continue;
            }
            let mut m = bytes.to_vec();
            m[i] = repl;
            let m = String::from_utf8(m).unwrap();
            let _ = assert_rejected_or_same(&m, &sig);
        }
    }
    // Flip every bit of the compressed bytes: only padding bits in the last
    // deflate byte (just before the 4-byte Adler-32) may go unnoticed.
    let compressed = STANDARD
        .decode(sig.replace('*', "+").replace('-', "/").replace('_', "="))
        .unwrap();
    let last_deflate_byte = compressed.len() - 5;
    for i in 0..compressed.len() * 8 {
        let mut c = compressed.clone();
        c[i / 8] ^= 1 << (i % 8);
        if assert_rejected_or_same(&tencent_b64(&c), &sig) {
            assert_eq!(i / 8, last_deflate_byte, "bit {i}");
        }
    }
}

/// xorshift64*: deterministic, dependency-free randomness.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_input_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let alphabet: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-_+/= ";
    let good = doc_with("1400000000", "1700000000", "100");
    let fragments = [
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "\\",
        "TLS.ver",
        "\"2.0\"",
        "TLS.sig",
        "TLS.time",
        "TLS.expire",
        "TLS.sdkappid",
        "TLS.identifier",
        "TLS.userbuf",
        "-1",
        "1e999",
        "0",
        "18446744073709551615",
        "null",
        "true",
        "\\u0000",
        "\\ud800",
        " ",
        "\u{ff}",
    ];
    for _ in 0..3000 {
        // Random sig-alphabet text.
        let len = rng.below(400);
        let s: String = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())] as char)
            .collect();
        let _ = verify_usersig(&s, APP, KEY, "alice", T0);
        // Random bytes, compressed and encoded properly.
        let len = rng.below(300);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = verify_usersig(&pack(&bytes), APP, KEY, "alice", T0);
        let _ = verify_usersig(&tencent_b64(&bytes), APP, KEY, "alice", T0);
        // Random JSON-ish documents.
        let doc: String = (0..rng.below(40))
            .map(|_| fragments[rng.below(fragments.len())])
            .collect();
        let _ = verify_usersig(&pack(doc.as_bytes()), APP, KEY, "alice", T0);
        // The good document with a random byte changed, inserted or removed.
        let mut d = good.clone().into_bytes();
        let i = rng.below(d.len());
        match rng.below(3) {
            0 => d[i] = rng.next() as u8,
            1 => d.insert(i, rng.next() as u8),
            _ => {
                d.remove(i);
            }
        }
        let _ = parse_usersig(&pack(&d));
        let _ = verify_usersig(&pack(&d), APP, KEY, "alice", rng.next());
    }
}
