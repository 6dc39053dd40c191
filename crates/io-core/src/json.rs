//! [`RawJson`]: a JSON value modelio does not look inside (a layers topology, `trainingConfig`,
//! `userDefinedMetadata`, unknown fields), kept as its compact text instead of a `serde_json::Value`
//! tree. A tree costs tens of bytes per number (a 21 MB topology holding a long numeric array took
//! over 1 GB); the text costs its length.
//!
//! The text is the compact form TF.js's `JSON.stringify` writes and that re-serializing a
//! `serde_json::Value` (with `preserve_order` and `arbitrary_precision`) wrote before: insignificant
//! whitespace removed; key order and number text kept (an exponent is written `e+N` / `e-N`, as
//! both wrote it); strings as written unless they hold an escape that is not canonical (`\u00e9`,
//! `\/`), which is rewritten as `JSON.stringify` (and serde_json) writes it. The one difference from
//! a tree: an object nested in the value with a duplicate key keeps both entries (a tree kept the
//! first position with the last value; `JSON.parse` of either text gives the same object).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A JSON value held as its compact text (see the [module docs](self)). Cloning is cheap (shared).
///
/// Equality is equality of the compact text.
#[derive(Clone)]
pub struct RawJson(Arc<String>);

impl RawJson {
    /// Parses JSON text (any whitespace) and keeps it compact.
    pub fn parse(text: &str) -> serde_json::Result<Self> {
        let raw: &RawValue = serde_json::from_str(text)?;
        Self::from_raw(raw)
    }

    /// The compact form of an already parsed raw value (one linear pass; no copy beyond the result).
    pub fn from_raw(raw: &RawValue) -> serde_json::Result<Self> {
        Ok(RawJson::from_compact(match compact(raw.get())? {
            Cow::Borrowed(s) => s.to_string(),
            Cow::Owned(s) => s,
        }))
    }

    /// Wraps text that is already valid compact JSON (an `Arc` of the `String` itself: no copy).
    fn from_compact(mut text: String) -> Self {
        text.shrink_to_fit();
        RawJson(Arc::new(text))
    }

    /// The compact JSON of `value` (small values; a tree is what this type avoids holding).
    pub fn from_value(value: &serde_json::Value) -> Self {
        RawJson::from_serialize(value).expect("a JSON value serializes")
    }

    /// The compact JSON serde_json writes for `value` (written straight to text, no tree).
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Self> {
        Ok(RawJson::from_compact(serde_json::to_string(value)?))
    }

    /// The JSON string `s`.
    pub fn string(s: &str) -> Self {
        RawJson::from_compact(serde_json::to_string(s).expect("a string serializes"))
    }

    /// JSON `null`.
    pub fn null() -> Self {
        RawJson::from_compact("null".to_string())
    }

    /// The compact JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// As a `serde_json::Value` tree (costly for big values; for small ones and tests).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(self.as_str()).expect("RawJson holds valid JSON")
    }

    /// Deserializes the text into `T`.
    pub fn deserialize_into<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_str(self.as_str())
    }

    /// `"null"`, `"a boolean"`, `"a number"`, `"a string"`, `"an array"` or `"an object"`.
    pub fn kind(&self) -> &'static str {
        kind_of_text(self.as_str())
    }

    /// Whether this is JSON `null`.
    pub fn is_null(&self) -> bool {
        self.as_str() == "null"
    }

    /// The string, if this is a JSON string.
    pub fn as_string(&self) -> Option<String> {
        if self.as_str().starts_with('"') {
            serde_json::from_str(self.as_str()).ok()
        } else {
            None
        }
    }

    /// The entries of a JSON object, in order, each value compact. A key given twice keeps its first
    /// position and its last value (as `JSON.parse` does). Errors if the text is not an object.
    pub fn parse_object(text: &str) -> serde_json::Result<Vec<(String, RawJson)>> {
        raw_entries(text.as_bytes())?.into_iter().map(|(k, v)| Ok((k.into_owned(), RawJson::from_raw(v)?))).collect()
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for RawJson {}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<serde_json::Value> for RawJson {
    fn from(v: serde_json::Value) -> Self {
        RawJson::from_value(&v)
    }
}

impl From<&serde_json::Value> for RawJson {
    fn from(v: &serde_json::Value) -> Self {
        RawJson::from_value(v)
    }
}

/// Written as its text, verbatim (with serde_json; the text is checked once more on the way, as
/// serde_json offers no unchecked `&RawValue`).
impl Serialize for RawJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue = serde_json::from_str(self.as_str()).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

/// Read as raw text, then made compact.
impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        let text = match compact(raw.get()).map_err(de::Error::custom)? {
            Cow::Borrowed(_) => None,
            Cow::Owned(s) => Some(s),
        };
        Ok(RawJson::from_compact(text.unwrap_or_else(|| Box::<str>::from(raw).into_string())))
    }
}

/// What a JSON text is, from its first character (the text must be valid JSON).
pub(crate) fn kind_of_text(text: &str) -> &'static str {
    match text.trim_start().as_bytes().first() {
        Some(b'n') => "null",
        Some(b't' | b'f') => "a boolean",
        Some(b'"') => "a string",
        Some(b'[') => "an array",
        Some(b'{') => "an object",
        _ => "a number",
    }
}

/// The entries of the JSON object `text` (UTF-8 checked), values borrowed from it (nothing parsed below the top
/// level). Duplicate keys: first position, last value.
pub(crate) fn raw_entries(text: &[u8]) -> serde_json::Result<Vec<(Cow<'_, str>, &RawValue)>> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let entries = de.deserialize_map(EntriesVisitor)?;
    de.end()?;
    Ok(entries)
}

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Vec<(Cow<'de, str>, &'de RawValue)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::new();
        let mut index: HashMap<Cow<'de, str>, usize> = HashMap::new();
        while let Some(Key(k)) = map.next_key()? {
            let v: &'de RawValue = map.next_value()?;
            match index.get(&k) {
                Some(&i) => entries[i].1 = v,
                None => {
                    index.insert(k.clone(), entries.len());
                    entries.push((k, v));
                }
            }
        }
        Ok(entries)
    }
}

/// An object key, borrowed from the input when it holds no escape.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

/// The compact form of valid JSON `text`, borrowed when it already is compact.
///
/// Hand-written rather than a serde transcode (Deserializer → Serializer): with serde_json's
/// `arbitrary_precision` a transcode sees each number as a private one-entry map and would write
/// that map, and it would decode and re-encode every string. This is one forward pass that copies
/// runs of bytes: whitespace outside strings is dropped; an exponent becomes `e` with a sign (as
/// serde_json wrote numbers before); other number text, literals and strings without an escape are
/// copied as they are (valid JSON cannot hold raw control characters in a string, so such
/// a string is already written as `JSON.stringify` writes it); a string with an escape is decoded and
/// re-encoded by serde_json only when its text would change.
pub(crate) fn compact(text: &str) -> serde_json::Result<Cow<'_, str>> {
    let b = text.as_bytes();
    let mut out: Option<String> = None;
    let mut start = 0; // first byte not yet copied to `out`
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\n' | b'\r' => {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                o.push_str(&text[start..i]);
                while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
                    i += 1;
                }
                start = i;
            }
            b'"' => {
                let mut j = i + 1;
                let mut escaped = false;
                while j < b.len() && b[j] != b'"' {
                    if b[j] == b'\\' {
                        escaped = true;
                        j += 1;
                    }
                    j += 1;
                }
                let end = (j + 1).min(b.len());
                if escaped {
                    let literal = &text[i..end];
                    let decoded: String = serde_json::from_str(literal)?;
                    let canonical = serde_json::to_string(&decoded)?;
                    if canonical != literal {
                        let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                        o.push_str(&text[start..i]);
                        o.push_str(&canonical);
                        start = end;
                    }
                }
                i = end;
            }
            b'-' | b'0'..=b'9' => {
                let mut j = i;
                while j < b.len() && matches!(b[j], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    j += 1;
                }
                // The exponent as `e` with a sign, as serde_json (and `JSON.stringify`) write it.
                if let Some(e) = b[i..j].iter().position(|c| matches!(c, b'e' | b'E')).map(|e| i + e) {
                    let signed = matches!(b.get(e + 1), Some(b'+' | b'-'));
                    if b[e] == b'E' || !signed {
                        let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                        o.push_str(&text[start..e]);
                        o.push_str(if signed { "e" } else { "e+" });
                        start = e + 1;
                    }
                }
                i = j;
            }
            _ => i += 1,
        }
    }
    Ok(match out {
        None => Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[start..]);
            Cow::Owned(o)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What re-serializing a parsed tree writes: the behaviour `compact` must keep.
    fn via_tree(text: &str) -> String {
        serde_json::to_string(&serde_json::from_str::<serde_json::Value>(text).unwrap()).unwrap()
    }

    #[test]
    fn compact_equals_tree_reserialization() {
        let cases = [
            r#"{"a":1}"#,
            " { \"a\" : [ 1 , 2.50 , -0 , 1E+5 , 1e-7 , 123456789012345678901234567890 , 0.1e10 ] } ",
            "{\n  \"k y\": \"v a l\",\t\"n\": null, \"t\": true, \"f\": false\r\n}",
            r#"["\u00e9", "\/", "\"q\"", "a\\b", "\n\t\r\b\f", "\u0001", "\u001F", "\uD83D\uDE00", "é", "😀", "\u2028"]"#,
            r#"{"\u0061": "key with escape", "b\"c": 1}"#,
            r#"  "just a string"  "#,
            "  42 ",
            "[1e5, 1E5, 1e-5, 1E-5, 1e+5, 1E+5, -1.5E3, 0e0, true, false, null]",
            "[ [ ] , { } , [ { \"x\" : [ ] } ] ]",
            r#"{"s":"a string with spaces , and : and { and [ inside"}"#,
        ];
        for c in cases {
            assert_eq!(compact(c).unwrap(), via_tree(c), "input {c:?}");
            assert_eq!(RawJson::parse(c).unwrap().as_str(), via_tree(c), "input {c:?}");
        }
    }

    #[test]
    fn compact_text_is_borrowed() {
        let c = r#"{"a":[1,2.0,"x\"y",{"b":null}]}"#;
        assert!(matches!(compact(c).unwrap(), Cow::Borrowed(_)));
    }

    #[test]
    fn lone_surrogates_are_refused_as_before() {
        assert!(serde_json::from_str::<serde_json::Value>(r#"["\ud800"]"#).is_err());
        assert!(RawJson::parse(r#"["\ud800"]"#).is_err());
    }

    #[test]
    fn kinds_and_helpers() {
        for (t, k) in [("null", "null"), ("true", "a boolean"), ("-1", "a number"), ("\"s\"", "a string")] {
            assert_eq!(RawJson::parse(t).unwrap().kind(), k);
        }
        assert_eq!(RawJson::parse("[ ]").unwrap().kind(), "an array");
        assert_eq!(RawJson::parse("{ }").unwrap().kind(), "an object");
        assert!(RawJson::null().is_null());
        assert_eq!(RawJson::string("a\"b").as_str(), r#""a\"b""#);
        assert_eq!(RawJson::string("a\"b").as_string().as_deref(), Some("a\"b"));
        assert_eq!(RawJson::from(serde_json::json!({"b": 1, "a": [1.5]})).as_str(), r#"{"b":1,"a":[1.5]}"#);
    }

    #[test]
    fn object_entries_keep_order_and_take_the_last_duplicate() {
        let e = RawJson::parse_object(r#"{ "z" : 1, "a" : { "x" : [ 1 ] }, "z" : 3 }"#).unwrap();
        let got: Vec<(&str, &str)> = e.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, [("z", "3"), ("a", r#"{"x":[1]}"#)]);
        assert!(RawJson::parse_object("[1]").is_err());
        assert!(RawJson::parse_object("{} x").is_err());
    }

    #[test]
    fn serde_round_trip_is_verbatim() {
        let r: RawJson = serde_json::from_str(" { \"n\" : 1.50 } ").unwrap();
        assert_eq!(r.as_str(), r#"{"n":1.50}"#);
        assert_eq!(serde_json::to_string(&vec![r.clone(), r]).unwrap(), r#"[{"n":1.50},{"n":1.50}]"#);
    }
}
