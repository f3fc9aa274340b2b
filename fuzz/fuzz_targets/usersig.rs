//! UserSig parsing and verification.
//!
//! Input layout: the bytes before the first NUL are the raw sig text (so a seed file can be
//! a real UserSig as is); the bytes after it are decoded with `arbitrary` into the claims and
//! keys of the structured part (missing bytes decode as zeros and empty strings).
//!
//! Unstructured: arbitrary text (and arbitrary expected sdkappid/key/identifier/time) through
//! `parse_usersig` and `verify_usersig`: never a panic, only the documented codes, and the two
//! agree (a sig that fails to parse fails to verify with the same error).
//!
//! Structured: a sig minted by `gen_usersig` (optionally with a userbuf) from arbitrary claims
//! - parses back to exactly those claims;
//! - verifies at any instant from `time - MAX_CLOCK_SKEW_SECS` to `time + expire`, inclusive;
//! - is 70001 (expired) one second after that window and 70003 (issued in the future) one
//!   second before it;
//! - is 70009 under any other key, 70014 for another sdkappid, 70013 for another identifier;
//! - and any single-character change to it is rejected or still verifies to the same claims.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use im_revoke_usersig::{
    gen_usersig, gen_usersig_with_userbuf, parse_usersig, verify_usersig, UserSigError,
    MAX_CLOCK_SKEW_SECS,
};
use libfuzzer_sys::fuzz_target;

/// Identifiers longer than this may make a sig exceed the verifier's size limits
/// (MAX_USERSIG_LEN / MAX_DECOMPRESSED_LEN); then only "rejected as malformed" is required.
const SAFE_ID_LEN: usize = 512;

#[derive(Arbitrary, Debug, Default)]
struct Input<'a> {
    sdkappid: u64,
    key: &'a str,
    other_key: &'a str,
    identifier: &'a str,
    time: u64,
    expire: u64,
    /// Picks the instant inside the window.
    probe: u64,
    userbuf: Option<&'a [u8]>,
    /// Where to damage the generated sig, and with what.
    flip_at: u16,
    flip_to: u8,
}

/// HMAC pads keys of up to one block (64 bytes) with zeros, so "k" and "k\0" are the same
/// key (RFC 2104); that is not a forgery.
fn hmac_same_key(a: &str, b: &str) -> bool {
    a == b
        || (a.len() <= 64 && b.len() <= 64 && a.trim_end_matches('\0') == b.trim_end_matches('\0'))
}

fn allowed_code(e: &UserSigError) -> bool {
    matches!(e.code(), 70001 | 70002 | 70003 | 70009 | 70013 | 70014)
}

fuzz_target!(|data: &[u8]| {
    let (raw, rest) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let input = Input::arbitrary(&mut Unstructured::new(rest)).unwrap_or_default();

    // ----- unstructured -----
    let raw = String::from_utf8_lossy(raw);
    let parsed = parse_usersig(&raw);
    let verified = verify_usersig(
        &raw,
        input.sdkappid,
        input.key,
        input.identifier,
        input.probe,
    );
    match (&parsed, &verified) {
        (Err(p), Err(v)) => {
            assert!(matches!(p.code(), 70002 | 70003), "parse error {p:?}");
            assert_eq!(p, v, "verify must report the parse error");
        }
        (Err(p), Ok(_)) => panic!("verified a sig that does not parse: {p:?}"),
        (Ok(_), Err(v)) => assert!(allowed_code(v), "{v:?}"),
        (Ok(r), Ok(c)) => {
            assert_eq!(r.identifier, c.identifier);
            assert_eq!(r.sdkappid, c.sdkappid);
            assert!(r.mac_matches(input.key));
        }
    }

    // ----- structured -----
    let (id, time, expire, app) = (input.identifier, input.time, input.expire, input.sdkappid);
    let sig = match input.userbuf {
        Some(ub) => gen_usersig_with_userbuf(app, input.key, id, expire, time, ub),
        None => gen_usersig(app, input.key, id, expire, time),
    };
    let first = time.saturating_sub(MAX_CLOCK_SKEW_SECS);
    let last = time.saturating_add(expire);
    let span = last - first;
    let inside = first
        + if span == u64::MAX {
            input.probe
        } else {
            input.probe % (span + 1)
        };

    let raw = match parse_usersig(&sig) {
        Ok(raw) => raw,
        Err(e) if id.len() > SAFE_ID_LEN => {
            assert_eq!(e.code(), 70003, "{e:?}");
            return;
        }
        Err(e) => panic!("a generated sig does not parse: {e:?}\n{sig}"),
    };
    assert_eq!(raw.identifier, id);
    assert_eq!((raw.sdkappid, raw.time, raw.expire), (app, time, expire));
    assert_eq!(raw.userbuf.as_deref(), input.userbuf);
    assert!(raw.mac_matches(input.key));

    let claims = verify_usersig(&sig, app, input.key, id, inside)
        .unwrap_or_else(|e| panic!("valid sig rejected at {inside}: {e:?}"));
    assert_eq!(claims.identifier, id);
    assert_eq!(
        (claims.sdkappid, claims.time, claims.expire),
        (app, time, expire)
    );
    assert_eq!(claims.expires_at(), last);
    assert_eq!(claims.userbuf.as_deref(), input.userbuf);
    // The window's edges are inclusive.
    assert!(verify_usersig(&sig, app, input.key, id, first).is_ok());
    assert!(verify_usersig(&sig, app, input.key, id, last).is_ok());

    if let Some(after) = last.checked_add(1) {
        let e = verify_usersig(&sig, app, input.key, id, after).unwrap_err();
        assert_eq!(e, UserSigError::Expired, "one second after the window");
        assert_eq!(e.code(), 70001);
    }
    if let Some(before) = first.checked_sub(1) {
        let e = verify_usersig(&sig, app, input.key, id, before).unwrap_err();
        assert_eq!(e, UserSigError::NotYetValid, "one second before the window");
        assert_eq!(e.code(), 70003);
    }
    if !hmac_same_key(input.key, input.other_key) {
        // Whatever the time: an unauthenticated sig never says "expired".
        for now in [inside, last.saturating_add(1), first.saturating_sub(1)] {
            let e = verify_usersig(&sig, app, input.other_key, id, now).unwrap_err();
            assert_eq!(e, UserSigError::KeyMismatch, "other key at {now}");
            assert_eq!(e.code(), 70009);
        }
    }
    let e = verify_usersig(&sig, app.wrapping_add(1), input.key, id, inside).unwrap_err();
    assert_eq!(e.code(), 70014, "{e:?}");
    let other_id = format!("{id}x");
    let e = verify_usersig(&sig, app, input.key, &other_id, inside).unwrap_err();
    assert_eq!(e.code(), 70013, "{e:?}");

    // Damage one character: either rejected, or (base64 padding and alphabet variants the
    // verifier accepts) still exactly the same claims.
    let mut damaged = sig.clone().into_bytes();
    if !damaged.is_empty() {
        let i = input.flip_at as usize % damaged.len();
        damaged[i] = input.flip_to;
        let damaged = String::from_utf8_lossy(&damaged);
        match verify_usersig(&damaged, app, input.key, id, inside) {
            Ok(c) => assert_eq!(c, claims, "damaged sig verified to other claims"),
            Err(e) => assert!(allowed_code(&e), "{e:?}"),
        }
    }
});
