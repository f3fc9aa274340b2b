//! A small JSON reader and writer, written by hand for the browser module's frame codec
//! ([`crate::wire`]); serde stays out of the browser build (see `wire` for why).
//!
//! The reader parses a whole text into a [`Json`] tree that borrows its strings from the text
//! unless they hold escapes, checks JSON's grammar strictly (as serde_json does), bounds the
//! nesting, and answers `None` for anything malformed, never a panic; the field helpers below
//! read an object's fields by key. The writer appends frames field by field, escaping strings
//! as serde_json does. Both are fuzzed through `wire` (fuzz targets `server_decode` and
//! `frame_decode`).

use std::borrow::Cow;

/// Deepest nesting accepted (frames nest 4 levels; this only stops hostile input from using
/// the stack).
const MAX_DEPTH: u32 = 32;

/// A parsed JSON value, borrowing from the text.
#[derive(Debug)]
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    /// The number's text, checked against JSON's grammar.
    Num(&'a str),
    Str(Cow<'a, str>),
    Arr(Vec<Json<'a>>),
    Obj(Vec<(Cow<'a, str>, Json<'a>)>),
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        // Hot loops run on a local slice and index (the optimizer for size keeps `self.i` in
        // memory otherwise).
        let rest = self.s.as_bytes().get(self.i..).unwrap_or_default();
        self.i += rest
            .iter()
            .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
            .unwrap_or(rest.len());
    }

    /// Bytes from here up to the next quote, backslash or control character (or the end).
    fn plain_run(&mut self) -> usize {
        let rest = self.s.as_bytes().get(self.i..).unwrap_or_default();
        let n = rest
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
            .unwrap_or(rest.len());
        self.i += n;
        n
    }

    /// The next non-space byte, consumed.
    fn next_token(&mut self) -> Option<u8> {
        self.skip_ws();
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn value(&mut self, depth: u32) -> Option<Json<'a>> {
        let c = self.next_token()?;
        match c {
            b'{' => {
                let depth = depth.checked_sub(1)?;
                // Frames' objects have up to 8 fields: one allocation each.
                let mut fields = Vec::with_capacity(8);
                self.skip_ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Some(Json::Obj(fields));
                }
                loop {
                    if self.next_token()? != b'"' {
                        return None;
                    }
                    let key = self.string()?;
                    if self.next_token()? != b':' {
                        return None;
                    }
                    fields.push((key, self.value(depth)?));
                    match self.next_token()? {
                        b',' => {}
                        b'}' => return Some(Json::Obj(fields)),
                        _ => return None,
                    }
                }
            }
            b'[' => {
                let depth = depth.checked_sub(1)?;
                let mut items = Vec::new();
                self.skip_ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Some(Json::Arr(items));
                }
                loop {
                    items.push(self.value(depth)?);
                    match self.next_token()? {
                        b',' => {}
                        b']' => return Some(Json::Arr(items)),
                        _ => return None,
                    }
                }
            }
            b'"' => self.string().map(Json::Str),
            b't' => self.word("rue", Json::Bool(true)),
            b'f' => self.word("alse", Json::Bool(false)),
            b'n' => self.word("ull", Json::Null),
            b'-' | b'0'..=b'9' => self.number(self.i - 1),
            _ => None,
        }
    }

    fn word(&mut self, rest: &str, v: Json<'a>) -> Option<Json<'a>> {
        let end = self.i + rest.len();
        (self.s.as_bytes().get(self.i..end)? == rest.as_bytes()).then(|| {
            self.i = end;
            v
        })
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, from `start` (its first byte read).
    fn number(&mut self, start: usize) -> Option<Json<'a>> {
        self.i = start;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let first = self.peek()?;
        let n = self.digits();
        if n == 0 || (first == b'0' && n > 1) {
            return None;
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        self.s.get(start..self.i).map(Json::Num)
    }

    /// A string's contents, after its opening quote.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.i;
        // The common case: no escapes, borrowed. Every byte that ends a run (quote, backslash,
        // control character) is ASCII, so the slices below fall on character boundaries
        // (`get` rather than indexing all the same: no panic path, whose message formatting
        // would weigh more than this whole decoder in wasm).
        self.plain_run();
        if self.peek()? == b'"' {
            self.i += 1;
            return self.s.get(start..self.i - 1).map(Cow::Borrowed);
        }
        let mut out = String::from(self.s.get(start..self.i)?);
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(Cow::Owned(out));
                }
                b'\\' => {
                    self.i += 1;
                    let c = match self.peek()? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            self.i += 1;
                            let hi = self.hex4()?;
                            let c = if (0xd800..0xdc00).contains(&hi) {
                                // A surrogate pair: `\uD83D\uDC4B`.
                                if self.s.as_bytes().get(self.i..self.i + 2)? != b"\\u" {
                                    return None;
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return None;
                                }
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            } else {
                                hi
                            };
                            // A lone low surrogate has no `char`: refused, as serde does.
                            out.push(char::from_u32(c)?);
                            continue;
                        }
                        _ => return None,
                    };
                    self.i += 1;
                    out.push(c);
                }
                0..=0x1f => return None,
                _ => {
                    let run = self.i;
                    self.plain_run();
                    out.push_str(self.s.get(run..self.i)?);
                }
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.as_bytes().get(self.i..self.i + 4)?;
        let mut v = 0;
        for &c in h {
            v = v * 16 + (c as char).to_digit(16)?;
        }
        self.i += 4;
        Some(v)
    }
}

/// The JSON value of `text` (the whole of it, surrounding space allowed); `None` if malformed.
pub(crate) fn parse(text: &str) -> Option<Json<'_>> {
    let mut p = Parser { s: text, i: 0 };
    let v = p.value(MAX_DEPTH)?;
    p.skip_ws();
    (p.i == text.len()).then_some(v)
}

// --- text laid out as serde writes it -------------------------------------------------------

/// A reader of text expected to be laid out as the server's serde writes it: no space, fields
/// in declaration order. For a decoder's fast path, which gives way to [`parse`] on the first
/// surprise. As with [`Fields`], a failed read returns an empty value and marks the reader
/// failed (every read after it fails too): no early exits, one drop of the value at the end.
/// Values are read by the parser's own code (strings with their escapes, numbers with their
/// grammar): the fast path can only agree with the general one or give way to it.
pub(crate) struct Expect<'a> {
    p: Parser<'a>,
    ok: bool,
}

impl<'a> Expect<'a> {
    pub(crate) fn new(s: &'a str) -> Expect<'a> {
        Expect {
            p: Parser { s, i: 0 },
            ok: true,
        }
    }

    /// Whether `t` comes next, exactly (then read); `false` once a read failed.
    pub(crate) fn lit(&mut self, t: &str) -> bool {
        let p = &mut self.p;
        let end = p.i + t.len();
        let hit = self.ok && p.s.as_bytes().get(p.i..end) == Some(t.as_bytes());
        if hit {
            p.i = end;
        }
        hit
    }

    /// `x`, noting its absence as a failure.
    fn check<T: Default>(&mut self, x: Option<T>) -> T {
        x.unwrap_or_else(|| {
            self.ok = false;
            T::default()
        })
    }

    /// `key` (the text before the value), then a string.
    #[inline(never)]
    pub(crate) fn str(&mut self, key: &str) -> String {
        let s = (self.lit(key) && self.lit("\""))
            .then(|| self.p.string())
            .flatten()
            .map(Cow::into_owned);
        self.check(s)
    }

    /// `key`, then a string or `null`.
    #[inline(never)]
    pub(crate) fn opt_str(&mut self, key: &str) -> Option<String> {
        if !self.lit(key) {
            self.ok = false;
            return None;
        }
        (!self.lit("null")).then(|| self.str(""))
    }

    /// `key`, then an unsigned integer: digits without a leading zero, read in one pass. A sign,
    /// a fraction or an exponent fails here (the next field's text does not match) and the
    /// general reader decides; so does a value over `u64::MAX`.
    #[inline(never)]
    pub(crate) fn uint(&mut self, key: &str) -> u64 {
        let n = self.lit(key).then(|| {
            let rest = self.p.s.as_bytes().get(self.p.i..).unwrap_or_default();
            let mut v: u64 = 0;
            let mut n = 0;
            for &c in rest.iter().take_while(|c| c.is_ascii_digit()) {
                v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
                n += 1;
            }
            self.p.i += n;
            (n == 1 || n > 1 && rest.first() != Some(&b'0')).then_some(v)
        });
        self.check(n.flatten())
    }

    /// Whether every read succeeded and `t` ends the text.
    pub(crate) fn done(mut self, t: &str) -> bool {
        self.lit(t) && self.p.i == self.p.s.len()
    }
}

// --- reading values -------------------------------------------------------------------------

impl<'a> Json<'a> {
    /// The value of `key` in an object: `None` when absent or when `self` is not an object.
    /// The first occurrence wins (serde refuses duplicated fields of a frame).
    pub(crate) fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub(crate) fn str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A non-negative integer written without fraction or exponent (what serde accepts for
    /// an unsigned field).
    pub(crate) fn uint(&self) -> Option<u64> {
        let Json::Num(t) = self else { return None };
        let digits = t.strip_prefix('-').unwrap_or(t);
        let mut v: u64 = 0;
        for c in digits.bytes() {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
        }
        // `-0` is zero; any other negative number is refused.
        (digits.len() == t.len() || v == 0).then_some(v)
    }

    pub(crate) fn float(&self) -> Option<f64> {
        let Json::Num(t) = self else { return None };
        parse_f64(t)
    }
}

/// A JSON number (already checked against the grammar) as `f64`: exact when its significant
/// digits fit 19 digits and the value and scale fit f64's exact range (Clinger's fast path:
/// every integer and short decimal), within a few ulps otherwise. Out of range: `None`.
fn parse_f64(t: &str) -> Option<f64> {
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (mantissa_text, exp_text) = match t.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (t, None),
    };
    let mut mantissa: u64 = 0;
    let mut exp10: i64 = 0;
    let mut significant = 0;
    let mut after_point = false;
    for c in mantissa_text.bytes() {
        if c == b'.' {
            after_point = true;
            continue;
        }
        let d = u64::from(c - b'0');
        if significant < 19 {
            if mantissa != 0 || d != 0 {
                significant += 1;
            }
            mantissa = mantissa * 10 + d;
            if after_point {
                exp10 -= 1;
            }
        } else if !after_point {
            exp10 += 1; // a dropped integer digit
        }
    }
    if let Some(e) = exp_text {
        // Exponents far beyond f64's range saturate; the result is then 0 or out of range.
        let e: i64 = e
            .trim_start_matches('+')
            .parse()
            .unwrap_or(if e.starts_with('-') {
                -100_000
            } else {
                100_000
            });
        exp10 = exp10.saturating_add(e.clamp(-100_000, 100_000));
    }
    // Trailing zeros of a fraction (`1732567890123.0`) do not count: integers stay exact.
    while exp10 < 0 && mantissa != 0 && mantissa % 10 == 0 {
        mantissa /= 10;
        exp10 += 1;
    }
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let m = mantissa as f64;
    let v = if mantissa == 0 {
        0.0
    } else if mantissa < (1 << 53) && (-22..=22).contains(&exp10) {
        if exp10 < 0 {
            m / POW10[(-exp10) as usize]
        } else {
            m * POW10[exp10 as usize]
        }
    } else {
        // Outside the exact path: scale in steps (each step rounds once).
        let mut v = m;
        let mut e = exp10;
        while e > 0 && v.is_finite() {
            let k = e.min(22);
            v *= POW10[k as usize];
            e -= k;
        }
        while e < 0 && v != 0.0 {
            let k = (-e).min(22);
            v /= POW10[k as usize];
            e += k;
        }
        v
    };
    v.is_finite().then_some(if neg { -v } else { v })
}

// --- fields of an object, by key -----------------------------------------------------------

/// Reads an object's fields by key, remembering whether one was absent or of the wrong type
/// instead of returning at once: a failed field reads as an empty value, and the value built
/// from them is refused as a whole at the end ([`Fields::done`]). A decoder written this way
/// has no early exits between fields, so no code to drop the fields read before one that fails
/// (one drop of the whole value instead): much less code than `?` after every field.
pub(crate) struct Fields<'v, 'a> {
    v: &'v Json<'a>,
    ok: bool,
}

impl<'v, 'a> Fields<'v, 'a> {
    pub(crate) fn of(v: &'v Json<'a>) -> Fields<'v, 'a> {
        Fields { v, ok: true }
    }

    /// The raw value of `key`, if present.
    pub(crate) fn get(&self, key: &str) -> Option<&'v Json<'a>> {
        self.v.get(key)
    }

    /// `x`, noting its absence as a failure.
    pub(crate) fn check<T: Default>(&mut self, x: Option<T>) -> T {
        match x {
            Some(x) => x,
            None => {
                self.ok = false;
                T::default()
            }
        }
    }

    /// A string field.
    pub(crate) fn string(&mut self, key: &str) -> String {
        let s = self.v.get(key).and_then(Json::str).map(str::to_owned);
        self.check(s)
    }

    /// A string, or absent or `null` (`None`).
    pub(crate) fn opt_string(&mut self, key: &str) -> Option<String> {
        match self.v.get(key) {
            None | Some(Json::Null) => None,
            Some(x) => {
                let s = x.str().map(str::to_owned);
                self.check(s.map(Some))
            }
        }
    }

    /// An unsigned integer field.
    pub(crate) fn uint(&mut self, key: &str) -> u64 {
        let n = self.v.get(key).and_then(Json::uint);
        self.check(n)
    }

    /// An unsigned integer field that fits `T` (`u8`, `u32`, `usize`).
    pub(crate) fn small<T: TryFrom<u64> + Default>(&mut self, key: &str) -> T {
        let n = self.uint(key);
        self.check(T::try_from(n).ok())
    }

    /// A boolean field.
    pub(crate) fn boolean(&mut self, key: &str) -> bool {
        let b = match self.v.get(key) {
            Some(Json::Bool(b)) => Some(*b),
            _ => None,
        };
        self.check(b)
    }

    /// An array field, each item read by `item` (one bad item fails it).
    pub(crate) fn list<T>(&mut self, key: &str, item: impl Fn(&Json) -> Option<T>) -> Vec<T> {
        let Some(Json::Arr(items)) = self.v.get(key) else {
            self.ok = false;
            return Vec::new();
        };
        let mut out = Vec::with_capacity(items.len());
        for x in items {
            match item(x) {
                Some(t) => out.push(t),
                None => {
                    self.ok = false;
                    break;
                }
            }
        }
        out
    }

    /// Absent or `null`: `None`; otherwise read by `f` (which may fail).
    pub(crate) fn opt_object<T>(&mut self, key: &str, f: impl Fn(&Json) -> Option<T>) -> Option<T> {
        match self.v.get(key) {
            None | Some(Json::Null) => None,
            Some(x) => {
                let t = f(x);
                if t.is_none() {
                    self.ok = false;
                }
                t
            }
        }
    }

    /// An array of strings, as a set.
    pub(crate) fn string_set(&mut self, key: &str) -> crate::model::StringSet {
        let mut out = crate::model::StringSet::new();
        match self.v.get(key) {
            Some(Json::Arr(items)) => {
                for x in items {
                    match x.str() {
                        Some(s) => {
                            out.insert(s.to_owned());
                        }
                        None => self.ok = false,
                    }
                }
            }
            _ => self.ok = false,
        }
        out
    }

    /// `t`, when every field read was there and of its type.
    pub(crate) fn done<T>(self, t: T) -> Option<T> {
        self.ok.then_some(t)
    }
}

// --- writing --------------------------------------------------------------------------------

/// JSON text being written: `{"type":…` then `,"key":value` pairs.
pub(crate) struct Writer(pub(crate) String);

impl Writer {
    pub(crate) fn new(kind: &str) -> Writer {
        let mut w = Writer(String::with_capacity(96));
        w.0.push_str("{\"type\":");
        w.string(kind);
        w
    }

    /// A JSON string, escaped as serde_json escapes: `"`, `\` and control characters.
    pub(crate) fn string(&mut self, s: &str) {
        let out = &mut self.0;
        out.push('"');
        let mut run = 0;
        for (i, c) in s.bytes().enumerate() {
            let esc = match c {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0..=0x1f => "",
                _ => continue,
            };
            // Escaped bytes are ASCII: `run..i` falls on character boundaries.
            out.push_str(s.get(run..i).unwrap_or_default());
            if esc.is_empty() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(c >> 4)]));
                out.push(char::from(HEX[usize::from(c & 15)]));
            } else {
                out.push_str(esc);
            }
            run = i + 1;
        }
        out.push_str(s.get(run..).unwrap_or_default());
        out.push('"');
    }

    pub(crate) fn key(&mut self, k: &str) {
        self.0.push_str(",\"");
        self.0.push_str(k);
        self.0.push_str("\":");
    }

    pub(crate) fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        self.string(v);
    }

    pub(crate) fn opt_str(&mut self, k: &str, v: &Option<String>) {
        self.key(k);
        match v {
            Some(s) => self.string(s),
            None => self.0.push_str("null"),
        }
    }

    pub(crate) fn digits(&mut self, mut n: u64) {
        let mut buf = [0u8; 20];
        let mut at = buf.len();
        loop {
            at -= 1;
            buf[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for &d in &buf[at..] {
            self.0.push(char::from(d));
        }
    }

    pub(crate) fn num(&mut self, k: &str, n: u64) {
        self.key(k);
        self.digits(n);
    }

    pub(crate) fn list(&mut self, k: &str, v: &[String]) {
        self.key(k);
        self.0.push('[');
        for (i, s) in v.iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            self.string(s);
        }
        self.0.push(']');
    }

    pub(crate) fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_grammar() {
        for ok in [
            "0",
            "-0",
            "1.5",
            "1e5",
            "1E+5",
            "-1.25e-3",
            "\"\"",
            "\"a\\u00e9\\ud83d\\udc4b\"",
            "[]",
            "{}",
            " [ 1 , {\"a\" : null } ] ",
            "true",
            "false",
            "null",
        ] {
            assert!(parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "01",
            "1.",
            ".5",
            "1e",
            "-",
            "+1",
            "[1,]",
            "{\"a\":1,}",
            "{a:1}",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud800\\u0041\"",
            "\"a\nb\"",
            "\"open",
            "[1 2]",
            "tru",
            "nul",
            "1 2",
            "{\"a\"}",
            "\"\\u12\"",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(parse(&deep).is_none(), "nesting is bounded");
    }

    #[test]
    fn strings_unescape() {
        let Some(Json::Str(s)) = parse(r#""q\"b\\s\/\b\f\n\r\t\u00e9\ud83d\udc4b✓""#) else {
            panic!("a string");
        };
        assert_eq!(s, "q\"b\\s/\u{8}\u{c}\n\r\té👋✓");
        assert!(matches!(
            parse(r#""plain ✓""#),
            Some(Json::Str(Cow::Borrowed("plain ✓")))
        ));
    }

    #[test]
    fn numbers() {
        let n = |t: &str| Json::Num(Box::leak(t.to_string().into_boxed_str()));
        assert_eq!(n("18446744073709551615").uint(), Some(u64::MAX));
        assert_eq!(n("18446744073709551616").uint(), None);
        assert_eq!(n("-0").uint(), Some(0));
        assert_eq!(n("-1").uint(), None);
        assert_eq!(n("1.0").uint(), None);
        assert_eq!(n("1e2").uint(), None);
        for (t, f) in [
            ("1732567890123", 1732567890123.0),
            ("1732567890123.0", 1732567890123.0),
            ("-0.5", -0.5),
            ("1.25e3", 1250.0),
            ("0.1", 0.1),
            ("123456.789", 123456.789),
            ("1e-400", 0.0),
            ("0.000", 0.0),
        ] {
            assert_eq!(n(t).float(), Some(f), "{t}");
        }
        assert_eq!(n("1e400").float(), None);
        let long = n("3.14159265358979323846264338327950288").float().unwrap();
        assert!((long - std::f64::consts::PI).abs() < 1e-15);
        let big = n("123456789012345678901234567890").float().unwrap();
        assert!((big / 1.2345678901234568e29 - 1.0).abs() < 1e-15);
    }
}
