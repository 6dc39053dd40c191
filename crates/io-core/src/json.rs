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

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub(crate) mod schema;
pub mod text;

use text::{JsonError, JsonResult, Reader};

/// A [`JsonError`] as the `serde_json::Error` the public signatures have always returned.
fn to_serde(e: JsonError) -> serde_json::Error {
    <serde_json::Error as de::Error>::custom(e)
}

/// The compact JSON of the weight specs, as TF.js writes `weightSpecs`.
pub fn weight_specs_to_json(specs: &[crate::WeightSpec]) -> String {
    let mut out = String::new();
    schema::write_weight_specs(&mut out, specs);
    out
}

/// Weight specs read from JSON (`weightSpecs`), errors saying what is wrong and where.
pub fn weight_specs_from_json(text: &str) -> JsonResult<Vec<crate::WeightSpec>> {
    schema::read_all(text, schema::weight_specs)
}

/// A JSON value held as its compact text (see the [module docs](self)). Cloning is cheap (shared).
///
/// Equality is equality of the compact text.
#[derive(Clone)]
pub struct RawJson(Arc<String>);

impl RawJson {
    /// Parses JSON text (any whitespace) and keeps it compact.
    pub fn parse(text: &str) -> serde_json::Result<Self> {
        Self::parse_text(text).map_err(to_serde)
    }

    /// [`RawJson::parse`] with the reader's own error (what is wrong and where).
    pub fn parse_text(text: &str) -> JsonResult<Self> {
        let mut r = Reader::new(text);
        let v = r.value_text()?;
        r.end()?;
        Self::from_valid(v)
    }

    /// The compact form of one checked JSON value's text.
    pub(crate) fn from_valid(text: &str) -> JsonResult<Self> {
        Ok(RawJson::from_compact(match compact(text)? {
            Cow::Borrowed(s) => s.to_string(),
            Cow::Owned(s) => s,
        }))
    }

    /// The compact form of an already parsed raw value (one linear pass; no copy beyond the result).
    pub fn from_raw(raw: &RawValue) -> serde_json::Result<Self> {
        Self::from_valid(raw.get()).map_err(to_serde)
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
        RawJson::from_compact(text::string(s))
    }

    /// The compact JSON of weight specs (`weightSpecs`, TF.js's key order).
    pub fn weight_specs(specs: &[crate::WeightSpec]) -> Self {
        RawJson::from_compact(weight_specs_to_json(specs))
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
            Reader::new(self.as_str()).string().ok().map(Cow::into_owned)
        } else {
            None
        }
    }

    /// The entries of a JSON object, in order, each value compact. A key given twice keeps its first
    /// position and its last value (as `JSON.parse` does). Errors if the text is not an object.
    pub fn parse_object(text: &str) -> serde_json::Result<Vec<(String, RawJson)>> {
        Self::object_entries(text).map_err(to_serde)
    }

    /// [`RawJson::parse_object`] with the reader's own error (what is wrong and where).
    pub fn object_entries(text: &str) -> JsonResult<Vec<(String, RawJson)>> {
        raw_entries(Reader::new(text))?
            .into_iter()
            .map(|(k, v)| Ok((k.into_owned(), RawJson::from_valid(v)?)))
            .collect()
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

/// The entries of the JSON object `r` reads (to its end), values as their text (checked, nothing
/// parsed below the top level). Duplicate keys: first position, last value.
pub(crate) fn raw_entries(mut r: Reader<'_>) -> JsonResult<Vec<(Cow<'_, str>, &str)>> {
    let mut entries: Vec<(Cow<'_, str>, &str)> = Vec::new();
    // `String` keys: the map type io-core's metadata uses too (one hash table less in the wasm).
    let mut index: HashMap<String, usize> = HashMap::new();
    r.object(|r, k| {
        let v = r.value_text()?;
        match index.get(&*k) {
            Some(&i) => entries[i].1 = v,
            None => {
                index.insert(k.to_string(), entries.len());
                entries.push((k, v));
            }
        }
        Ok(())
    })?;
    r.end()?;
    Ok(entries)
}

/// The compact model.json `bytes` with every manifest path replaced by `name(group index, path
/// index, paths in the group, path)`; all else kept as written (key order, number text; the
/// weights manifest is read as [`crate::ModelJson::parse`] reads it, the first occurrence's
/// position and the last one's value for a duplicate key).
pub(crate) fn rename_manifest_paths(
    bytes: &[u8],
    mut name: impl FnMut(usize, usize, usize, &str) -> String,
) -> JsonResult<String> {
    let mut out = String::with_capacity(bytes.len());
    let mut o = text::ObjectWriter::new(&mut out);
    for (k, v) in raw_entries(Reader::from_bytes(bytes)?)? {
        if k != "weightsManifest" {
            o.raw(&k, &compact(v)?);
            continue;
        }
        let w = o.key(&k);
        w.push('[');
        let mut gi = 0;
        Reader::new(v).array(|r| {
            if gi > 0 {
                w.push(',');
            }
            let group = r.value_text()?;
            let mut g = text::ObjectWriter::new(w);
            for (gk, gv) in raw_entries(Reader::new(group))? {
                if gk != "paths" {
                    g.raw(&gk, &compact(gv)?);
                    continue;
                }
                let mut paths = Vec::new();
                Reader::new(gv).array(|r| r.string().map(|p| paths.push(p.into_owned())))?;
                let p = g.key("paths");
                p.push('[');
                for (pi, path) in paths.iter().enumerate() {
                    if pi > 0 {
                        p.push(',');
                    }
                    text::write_string(p, &name(gi, pi, paths.len(), path));
                }
                p.push(']');
            }
            g.finish();
            gi += 1;
            Ok(())
        })?;
        w.push(']');
    }
    o.finish();
    Ok(out)
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
/// re-encoded (`text::canonical_string`) only when its text would change.
pub(crate) fn compact(text: &str) -> JsonResult<Cow<'_, str>> {
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
                    let canonical = text::canonical_string(literal)?;
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
