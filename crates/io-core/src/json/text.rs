//! A small JSON reader and writer for exactly what modelio reads and writes itself: model.json's
//! top level and `weightsManifest`, weight specs, `ModelArtifactsInfo`, and opaque values kept as
//! text ([`RawJson`](super::RawJson)).
//!
//! Hand-written rather than serde_json's derive-based path: every derived `Deserialize` is its own
//! monomorphized visitor and `deserialize_struct`, and serde's error messages format floats, which
//! together made serde_json and serde about 75 KB of the browser build's wasm (BENCHMARKS.md "wasm
//! size"). The same code runs on every target. The reader validates all of JSON (RFC 8259; strings
//! decoded, lone surrogates refused, nesting without a depth limit, as serde_json's raw values) and
//! says what is wrong and where (line and column); it never parses a number into a float: numbers
//! are kept as the text they were written with (TF.js fidelity).

use std::borrow::Cow;
use std::fmt;

/// A JSON syntax or schema error: what is wrong, and where (line and column of the input).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError(String);

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JsonError {}

/// Result of reading JSON.
pub type JsonResult<T> = Result<T, JsonError>;

/// A forward reader over JSON text.
pub struct Reader<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Reader { text, b: text.as_bytes(), i: 0 }
    }

    /// A reader at the start of `bytes`, which must be UTF-8.
    pub fn from_bytes(bytes: &'a [u8]) -> JsonResult<Self> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Reader::new(text)),
            Err(e) => {
                let mut r = Reader::new(std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default());
                r.i = e.valid_up_to();
                Err(r.err("invalid UTF-8"))
            }
        }
    }

    /// An error `msg` at the current position.
    pub fn err(&self, msg: &str) -> JsonError {
        self.err_at(self.i, msg)
    }

    fn err_at(&self, at: usize, msg: &str) -> JsonError {
        let before = &self.b[..at.min(self.b.len())];
        let line = before.iter().filter(|&&c| c == b'\n').count() + 1;
        let col = before.len() - before.iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1) + 1;
        JsonError(format!("{msg} at line {line} column {col}"))
    }

    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    /// The next significant byte (whitespace skipped), not consumed.
    pub fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn expect(&mut self, c: u8, what: &str) -> JsonResult<()> {
        match self.peek() {
            Some(x) if x == c => {
                self.i += 1;
                Ok(())
            }
            None => Err(self.err(&format!("EOF while parsing {what}"))),
            Some(_) => Err(self.err(&format!("expected `{}`", c as char))),
        }
    }

    /// Only whitespace is left.
    pub fn end(&mut self) -> JsonResult<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.err("trailing characters")),
        }
    }

    /// Consumes `null` if it is next.
    pub fn null(&mut self) -> JsonResult<bool> {
        if self.peek() == Some(b'n') {
            self.literal("null")?;
            return Ok(true);
        }
        Ok(false)
    }

    fn literal(&mut self, word: &str) -> JsonResult<()> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err("expected value"))
        }
    }

    /// The text of the next value (any JSON value, checked), as written.
    pub fn value_text(&mut self) -> JsonResult<&'a str> {
        self.ws();
        let start = self.i;
        self.skip_value()?;
        Ok(&self.text[start..self.i])
    }

    /// Skips one value, checking it (iteratively: no depth limit).
    fn skip_value(&mut self) -> JsonResult<()> {
        let mut stack: Vec<u8> = Vec::new();
        loop {
            match self.peek() {
                Some(b'{') => {
                    self.i += 1;
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                    } else {
                        stack.push(b'{');
                        self.key()?;
                        continue;
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    if self.peek() == Some(b']') {
                        self.i += 1;
                    } else {
                        stack.push(b'[');
                        continue;
                    }
                }
                Some(b'"') => {
                    self.string_text()?;
                }
                Some(b'-' | b'0'..=b'9') => {
                    self.number_text()?;
                }
                Some(b't') => self.literal("true")?,
                Some(b'f') => self.literal("false")?,
                Some(b'n') => self.literal("null")?,
                None => return Err(self.err("EOF while parsing a value")),
                Some(_) => return Err(self.err("expected value")),
            }
            loop {
                let Some(&open) = stack.last() else { return Ok(()) };
                let close = if open == b'{' { b'}' } else { b']' };
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        if open == b'{' {
                            self.key()?;
                        }
                        break;
                    }
                    Some(c) if c == close => {
                        self.i += 1;
                        stack.pop();
                    }
                    None => {
                        return Err(self.err(if open == b'{' {
                            "EOF while parsing an object"
                        } else {
                            "EOF while parsing a list"
                        }))
                    }
                    Some(_) => {
                        return Err(self.err(if open == b'{' { "expected `,` or `}`" } else { "expected `,` or `]`" }))
                    }
                }
            }
        }
    }

    /// An object key and its colon.
    fn key(&mut self) -> JsonResult<Cow<'a, str>> {
        match self.peek() {
            Some(b'"') => {}
            None => return Err(self.err("EOF while parsing an object")),
            Some(_) => return Err(self.err("key must be a string")),
        }
        let k = self.string()?;
        self.expect(b':', "an object")?;
        Ok(k)
    }

    /// The text of a number (JSON's grammar), as written.
    pub fn number_text(&mut self) -> JsonResult<&'a str> {
        self.ws();
        let start = self.i;
        let digits = |r: &mut Self| {
            let s = r.i;
            while r.i < r.b.len() && r.b[r.i].is_ascii_digit() {
                r.i += 1;
            }
            r.i > s
        };
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.err("invalid number")),
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if !digits(self) {
                return Err(self.err("invalid number"));
            }
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !digits(self) {
                return Err(self.err("invalid number"));
            }
        }
        Ok(&self.text[start..self.i])
    }

    /// A non-negative integer that fits `usize`.
    pub fn usize(&mut self) -> JsonResult<usize> {
        let start = {
            self.ws();
            self.i
        };
        if !matches!(self.peek(), Some(b'-' | b'0'..=b'9')) {
            return Err(self.type_err("a non-negative integer"));
        }
        let t = self.number_text()?;
        t.parse().map_err(|_| self.err_at(start, &format!("invalid value: {t}, expected a non-negative integer")))
    }

    /// The text of a string literal (quotes included, checked), and whether it holds an escape.
    fn string_text(&mut self) -> JsonResult<(&'a str, bool)> {
        let start = self.i;
        self.i += 1; // the opening quote
        let mut escaped = false;
        loop {
            match self.b.get(self.i) {
                None => return Err(self.err("EOF while parsing a string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok((&self.text[start..self.i], escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    match self.b.get(self.i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 2,
                        Some(b'u') => {
                            self.i += 2;
                            for _ in 0..4 {
                                if !self.b.get(self.i).is_some_and(u8::is_ascii_hexdigit) {
                                    return Err(self.err("invalid escape"));
                                }
                                self.i += 1;
                            }
                        }
                        _ => return Err(self.err_at(self.i + 1, "invalid escape")),
                    }
                }
                Some(&c) if c < 0x20 => {
                    return Err(self.err("control character (\\u0000-\\u001F) found while parsing a string"))
                }
                Some(_) => self.i += 1,
            }
        }
    }

    /// A string, decoded (borrowed when it holds no escape).
    pub fn string(&mut self) -> JsonResult<Cow<'a, str>> {
        if self.peek() != Some(b'"') {
            return Err(self.type_err("a string"));
        }
        let start = self.i;
        let (lit, escaped) = self.string_text()?;
        let body = &lit[1..lit.len() - 1];
        if !escaped {
            return Ok(Cow::Borrowed(body));
        }
        decode_escapes(body).map(Cow::Owned).map_err(|at| self.err_at(start + 1 + at, "lone surrogate in hex escape"))
    }

    /// An "invalid type" error for the value at the current position.
    pub fn type_err(&mut self, expected: &str) -> JsonError {
        let found = match self.peek() {
            None => return self.err(&format!("EOF while parsing a value, expected {expected}")),
            Some(b'{') => "an object",
            Some(b'[') => "an array",
            Some(b'"') => "a string",
            Some(b't' | b'f') => "a boolean",
            Some(b'n') => "null",
            Some(b'-' | b'0'..=b'9') => "a number",
            Some(_) => return self.err("expected value"),
        };
        self.err(&format!("invalid type: {found}, expected {expected}"))
    }

    /// Reads an object, calling `entry` with each key; `entry` must read the value.
    pub fn object(&mut self, mut entry: impl FnMut(&mut Self, Cow<'a, str>) -> JsonResult<()>) -> JsonResult<()> {
        self.delimited((b'{', b'}'), ("an object", "an object"), &mut |r| {
            let k = r.key()?;
            entry(r, k)
        })
    }

    /// Reads an array, calling `item` for each element; `item` must read the element.
    pub fn array(&mut self, mut item: impl FnMut(&mut Self) -> JsonResult<()>) -> JsonResult<()> {
        self.delimited((b'[', b']'), ("an array", "a list"), &mut item)
    }

    /// The loop of [`object`](Self::object) and [`array`](Self::array): `open`, then members read
    /// by `member` and separated by commas, then `close`; `expected` names the type in a type error,
    /// `name` the value in an end-of-input error. `member` is `dyn`: one copy of the loop serves
    /// every schema (in the wasm a web app downloads, each closure type would otherwise get its own).
    fn delimited(
        &mut self,
        (open, close): (u8, u8),
        (expected, name): (&str, &str),
        member: &mut dyn FnMut(&mut Self) -> JsonResult<()>,
    ) -> JsonResult<()> {
        if self.peek() != Some(open) {
            return Err(self.type_err(expected));
        }
        self.i += 1;
        if self.peek() == Some(close) {
            self.i += 1;
            return Ok(());
        }
        loop {
            member(self)?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {
                    self.i += 1;
                    return Ok(());
                }
                None => return Err(self.err(&format!("EOF while parsing {name}"))),
                Some(_) => return Err(self.err(&format!("expected `,` or `{}`", close as char))),
            }
        }
    }

    /// Byte offset of the reader.
    pub fn position(&self) -> usize {
        self.i
    }

    /// A schema error (`missing field`, `duplicate field`) at byte offset `at`.
    pub fn err_at_offset(&self, at: usize, msg: &str) -> JsonError {
        self.err_at(at, msg)
    }
}

/// Decodes the escapes of a string body (no quotes; already checked). The error is the byte
/// offset of a lone surrogate.
fn decode_escapes(body: &str) -> Result<String, usize> {
    let b = body.as_bytes();
    let mut out = String::with_capacity(body.len());
    let mut i = 0;
    let hex = |at: usize| u32::from_str_radix(body.get(at..at + 4).unwrap_or("x"), 16).ok();
    while i < b.len() {
        let run = b[i..].iter().position(|&c| c == b'\\').map_or(b.len(), |p| i + p);
        out.push_str(&body[i..run]);
        i = run;
        if i >= b.len() {
            break;
        }
        let c = match b[i + 1] {
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = hex(i + 2).ok_or(i)?;
                let c = if (0xD800..0xDC00).contains(&hi) {
                    let lo = (b.get(i + 6..i + 8) == Some(b"\\u")).then(|| hex(i + 8)).flatten();
                    let lo = lo.filter(|lo| (0xDC00..0xE000).contains(lo)).ok_or(i)?;
                    i += 6;
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else {
                    hi
                };
                i += 6;
                out.push(char::from_u32(c).ok_or(i - 6)?);
                continue;
            }
            other => other as char,
        };
        out.push(c);
        i += 2;
    }
    Ok(out)
}

/// Appends `s` as a JSON string, escaped as `JSON.stringify` (and serde_json) escape it.
pub fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let b = s.as_bytes();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &str = match c {
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
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[(c >> 4) as usize] as char);
            out.push(HEX[(c & 15) as usize] as char);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// `s` as a JSON string.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_string(&mut out, s);
    out
}

/// The canonical text of a string literal that holds an escape (decoded and written again as
/// `JSON.stringify` writes it), `None` if it is not valid.
pub(crate) fn canonical_string(literal: &str) -> JsonResult<String> {
    let mut r = Reader::new(literal);
    let s = r.string()?;
    r.end()?;
    Ok(string(&s))
}

/// Appends the decimal `n`.
pub fn write_u64(out: &mut String, n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&buf[i..]).expect("digits"));
}

/// Writes a JSON object field by field: `{"k":v,...}`.
pub struct ObjectWriter<'o> {
    out: &'o mut String,
    first: bool,
}

impl<'o> ObjectWriter<'o> {
    /// Opens an object in `out`.
    pub fn new(out: &'o mut String) -> Self {
        out.push('{');
        ObjectWriter { out, first: true }
    }

    /// Starts the field `key`; the caller writes its value into the returned string.
    pub fn key(&mut self, key: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        write_string(self.out, key);
        self.out.push(':');
        self.out
    }

    /// A field whose value is JSON text written as it is.
    pub fn raw(&mut self, key: &str, value: &str) {
        self.key(key).push_str(value);
    }

    /// A string field.
    pub fn string(&mut self, key: &str, value: &str) {
        write_string(self.key(key), value);
    }

    /// An integer field.
    pub fn u64(&mut self, key: &str, value: u64) {
        write_u64(self.key(key), value);
    }

    /// Closes the object.
    pub fn finish(self) {
        self.out.push('}');
    }
}

/// One field of a struct being read: set once (a second occurrence is a `duplicate field` error).
pub(crate) fn once<T>(r: &Reader<'_>, slot: &mut Option<T>, at: usize, name: &str, v: T) -> JsonResult<()> {
    if slot.is_some() {
        return Err(r.err_at_offset(at, &format!("duplicate field `{name}`")));
    }
    *slot = Some(v);
    Ok(())
}

/// A field that must be present.
pub(crate) fn required<T>(r: &Reader<'_>, slot: Option<T>, at: usize, name: &str) -> JsonResult<T> {
    slot.ok_or_else(|| r.err_at_offset(at, &format!("missing field `{name}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_json_and_says_where() {
        for ok in ["1", "-0.5e+3", "\"a\\u00e9\\n\"", "[]", "{}", "[[[]],{\"a\":[1,{}]}]", " true ", "null"] {
            let mut r = Reader::new(ok);
            assert_eq!(r.value_text().unwrap(), ok.trim());
            r.end().unwrap();
        }
        for (bad, msg) in [
            ("[1,]", "expected value at line 1 column 4"),
            ("{\"a\" 1}", "expected `:` at line 1 column 6"),
            ("[1 2]", "expected `,` or `]` at line 1 column 4"),
            ("{\n\"a\":01}", "expected `,` or `}` at line 2 column 6"),
            ("\"\\x\"", "invalid escape at line 1 column 3"),
            ("[\"\\ud800\"]", "lone surrogate in hex escape at line 1 column 3"),
            ("-", "invalid number at line 1 column 2"),
            ("[", "EOF while parsing a value at line 1 column 2"),
            ("{1:2}", "key must be a string at line 1 column 2"),
        ] {
            let mut r = Reader::new(bad);
            let e = r.value_text().and_then(|_| r.end()).and_then(|_| {
                let mut r = Reader::new(bad);
                r.array(|r| r.string().map(|_| ()))
            });
            assert_eq!(e.unwrap_err().to_string(), msg, "{bad}");
        }
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert!(Reader::new(&deep).value_text().is_ok());
    }

    #[test]
    fn strings_round_trip_as_json_stringify_writes_them() {
        let s = "q\"b\\s/\n\t\r\u{8}\u{c}\u{1}\u{1f}\u{7f}é😀\u{2028}";
        assert_eq!(string(s), "\"q\\\"b\\\\s/\\n\\t\\r\\b\\f\\u0001\\u001f\u{7f}é😀\u{2028}\"");
        assert_eq!(Reader::new(&string(s)).string().unwrap(), s);
        assert_eq!(Reader::new(r#""\uD83D\uDE00\u00e9\/""#).string().unwrap(), "😀é/");
        let mut n = String::new();
        write_u64(&mut n, 0);
        write_u64(&mut n, u64::MAX);
        assert_eq!(n, "018446744073709551615");
    }
}
