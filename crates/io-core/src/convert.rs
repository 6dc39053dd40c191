//! Weight conversion as the TensorFlow.js converter does it: quantization to uint8, uint16 or
//! float16 selected by weight-name patterns (the Python converter's `quantization_dtype_map`),
//! and dequantization back to the original dtype. Artifacts in, artifacts out; no medium.
//!
//! The bytes and the manifest's `quantization` objects are what `tensorflowjs` 4.22's
//! `write_weights` writes for the same weights (checked against its output in
//! `fixtures/tfjs/converter_write_weights/` and, where it installs, against the converter itself):
//!
//! - uint8 / uint16 (affine): `min`, `max` of the float32 values in float64; `scale = (max -
//!   min) / 255` (65535); when `min <= 0 <= max` the range is nudged so 0 is exact (`zero =
//!   round(-min / scale)`, `min = -zero * scale`, `max = 255 * scale + min`); each value becomes
//!   `round((clip(v, min, max) - min) / scale)`, rounding half to even, all in float64. A constant
//!   weight is all zeros with `scale = 1.0` and `min` = the value. `min` and `scale` are written
//!   as Python's `repr` writes a float (`-0.0`, `1.0`, `1e-05`).
//! - float16: IEEE half precision, rounded to nearest even (numpy's `astype(float16)`).
//! - Only float32 weights are quantized; int32, bool, string and complex64 weights matching a
//!   pattern are left as they are (the converter skips them too). `original_dtype` is written.
//! - A weight already quantized in the source is dequantized first (as TF.js loads it), then
//!   quantized again as asked, or left as is when no pattern selects it.
//!
//! Where the converter would write something that is not a model (NaN or infinite values into
//! `min`/`scale`, or crash on an empty weight), [`Conversion::apply`] returns an error naming the weight.
//!
//! ```
//! use io_core::convert::{Conversion, QuantizeTo, Selection};
//! // uint8 for the embeddings, float16 for everything else (as the converter's
//! // `--quantize_uint8 'emb/*' --quantize_float16`).
//! let c = Conversion::new()
//!     .quantize(QuantizeTo::Uint8, Selection::patterns("emb/*"))
//!     .quantize(QuantizeTo::Float16, Selection::All);
//! # let _ = c;
//! ```

use std::fmt;

use bytes::Bytes;

use crate::artifacts::{DType, ModelArtifacts, QuantDType, Quantization, WeightSpec};
use crate::codec::{self, Values};
use crate::error::{Error, Result};
use crate::weights::WeightData;

/// A quantization dtype the converter writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuantizeTo {
    /// 1 byte per value, affine (`q * scale + min`).
    Uint8,
    /// 2 bytes per value, affine.
    Uint16,
    /// IEEE half precision.
    Float16,
}

impl QuantizeTo {
    /// The manifest's name (`uint8`, `uint16`, `float16`).
    pub fn as_str(self) -> &'static str {
        match self {
            QuantizeTo::Uint8 => "uint8",
            QuantizeTo::Uint16 => "uint16",
            QuantizeTo::Float16 => "float16",
        }
    }

    /// The [`QuantDType`] written in the manifest.
    pub fn quant_dtype(self) -> QuantDType {
        match self {
            QuantizeTo::Uint8 => QuantDType::Uint8,
            QuantizeTo::Uint16 => QuantDType::Uint16,
            QuantizeTo::Float16 => QuantDType::Float16,
        }
    }
}

impl fmt::Display for QuantizeTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which weights a quantization dtype applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Every weight no pattern of another dtype selects (the converter's bare flag, `True` in its
    /// map). At most one dtype may have it.
    All,
    /// Weights whose names match one of these wildcard patterns (Python's `fnmatch`: `*`, `?`,
    /// `[seq]`, `[!seq]`; `*` also matches `/`; case-sensitive).
    Patterns(Vec<String>),
}

impl Selection {
    /// Patterns from the converter's comma-separated flag value (`"emb/*,dense/kernel"`).
    pub fn patterns(comma_separated: &str) -> Self {
        Selection::Patterns(comma_separated.split(',').map(str::to_string).collect())
    }
}

/// What to do to a model's weights: quantize selected weights (a `quantization_dtype_map`), or
/// dequantize every quantized weight. Apply it with [`Conversion::apply`], or hand it to a save
/// with [`Options::convert`](crate::Options::convert).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conversion {
    quantize: Vec<(QuantizeTo, Selection)>,
    dequantize: bool,
}

impl Conversion {
    /// No change.
    pub fn new() -> Self {
        Self::default()
    }

    /// Quantizes the weights `selection` names to `to` (replacing an earlier selection for `to`).
    pub fn quantize(mut self, to: QuantizeTo, selection: Selection) -> Self {
        self.quantize.retain(|(t, _)| *t != to);
        self.quantize.push((to, selection));
        self
    }

    /// Turns every quantized weight back into its original dtype (float32, or int32).
    pub fn dequantize(mut self) -> Self {
        self.dequantize = true;
        self
    }

    /// Whether this changes nothing.
    pub fn is_identity(&self) -> bool {
        self.quantize.is_empty() && !self.dequantize
    }

    /// The quantization dtype of every name, as the converter's `map_layers_to_quantization_dtype`
    /// computes it: pattern matches first, then the one fallthrough ([`Selection::All`]) for the
    /// rest. Errors as the converter does: two fallthroughs, or one name matched by two dtypes.
    pub fn plan<'n>(&self, names: impl IntoIterator<Item = &'n str>) -> Result<Vec<Option<QuantizeTo>>> {
        let names: Vec<&str> = names.into_iter().collect();
        let fallthroughs: Vec<QuantizeTo> =
            self.quantize.iter().filter(|(_, s)| *s == Selection::All).map(|(t, _)| *t).collect();
        if fallthroughs.len() > 1 {
            return Err(invalid(format!(
                "more than one quantization applies to all weights ({}); exactly one may, the others need patterns",
                fallthroughs.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        let mut out: Vec<Option<QuantizeTo>> = vec![None; names.len()];
        for (to, sel) in &self.quantize {
            let Selection::Patterns(patterns) = sel else { continue };
            for pattern in patterns {
                for (i, name) in names.iter().enumerate() {
                    if !fnmatch(pattern, name) {
                        continue;
                    }
                    match out[i] {
                        Some(other) if other != *to => {
                            return Err(invalid(format!(
                                "two quantizations, {other} and {to}, match the weight '{name}' (pattern '{pattern}')"
                            )))
                        }
                        _ => out[i] = Some(*to),
                    }
                }
            }
        }
        if let Some(&all) = fallthroughs.first() {
            out.iter_mut().filter(|o| o.is_none()).for_each(|o| *o = Some(all));
        }
        Ok(out)
    }

    /// The converted model: the same artifacts with the selected weights quantized (or every
    /// quantized weight dequantized); untouched weights keep their bytes (shared, not copied,
    /// when large). Specs keep their order, names, shapes and groups.
    pub fn apply(&self, artifacts: &ModelArtifacts) -> Result<ModelArtifacts> {
        if self.is_identity() {
            return Ok(artifacts.clone());
        }
        let data = &artifacts.weight_data;
        let ranges = codec::layout(&artifacts.weight_specs, data, &[])?;
        let plan = self.plan(artifacts.weight_specs.iter().map(|s| s.name.as_str()))?;
        let mut specs = Vec::with_capacity(ranges.len());
        let mut out = Output::default();
        for ((spec, range), target) in artifacts.weight_specs.iter().zip(ranges).zip(plan) {
            // The dtype the values have once loaded (what the converter would have seen).
            let quantizable = spec.dtype == DType::Float32;
            match target.filter(|_| quantizable) {
                Some(to) => {
                    let (q, bytes) = quantize_weight(spec, data, range, to)?;
                    let mut s = spec.clone();
                    s.quantization = Some(q);
                    specs.push(s);
                    out.push_owned(bytes);
                }
                None if self.dequantize && spec.quantization.is_some() => {
                    let bytes = dequantize_weight(spec, data, range)?;
                    let mut s = spec.clone();
                    s.quantization = None;
                    specs.push(s);
                    out.push_owned(bytes);
                }
                None => {
                    specs.push(spec.clone());
                    out.push_shared(data.sub(range));
                }
            }
        }
        let mut converted = artifacts.clone();
        converted.weight_specs = specs;
        converted.weight_data = out.finish();
        Ok(converted)
    }
}

fn invalid(detail: String) -> Error {
    Error::invalid_model("quantization", detail)
}

/// New weight data built weight by weight: small pieces are packed together, large unchanged
/// weights are shared with the source (no copy), so the result has few buffers.
#[derive(Default)]
struct Output {
    data: WeightData,
    pending: Vec<u8>,
}

/// Unchanged weights up to this size are copied into the current buffer instead of shared.
const PACK_BELOW: usize = 64 << 10;

impl Output {
    fn push_owned(&mut self, bytes: Vec<u8>) {
        if bytes.len() < PACK_BELOW {
            self.pending.extend_from_slice(&bytes);
        } else {
            self.flush();
            self.data.push(Bytes::from(bytes));
        }
    }

    fn push_shared(&mut self, piece: WeightData) {
        if piece.len() < PACK_BELOW {
            piece.chunks().iter().for_each(|c| self.pending.extend_from_slice(c));
        } else {
            self.flush();
            self.data.append(piece);
        }
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            self.data.push(Bytes::from(std::mem::take(&mut self.pending)));
        }
    }

    fn finish(mut self) -> WeightData {
        self.flush();
        self.data
    }
}

/// The affine quantization parameters the converter computes for values in `[min, max]`
/// (`_get_affine_quantization_range`, float64): `(scale, nudged_min, nudged_max)`.
pub fn affine_range(min: f64, max: f64, to: QuantizeTo) -> (f64, f64, f64) {
    let quant_max = match to {
        QuantizeTo::Uint8 => 255.0,
        QuantizeTo::Uint16 => 65535.0,
        QuantizeTo::Float16 => panic!("float16 is not affine"),
    };
    let scale = (max - min) / quant_max;
    if min <= 0.0 && 0.0 <= max {
        let zero = ((0.0 - min) / scale).round_ties_even();
        let nudged_min = -zero * scale;
        (scale, nudged_min, quant_max * scale + nudged_min)
    } else {
        (scale, min, max)
    }
}

/// Quantizes one float32 weight (its values as loaded: a quantized source is dequantized first)
/// as the converter's `quantize_weights`: the manifest entry and the stored bytes.
pub fn quantize_weight(
    spec: &WeightSpec,
    data: &WeightData,
    range: std::ops::Range<usize>,
    to: QuantizeTo,
) -> Result<(Quantization, Vec<u8>)> {
    let n = spec.num_elements()?;
    let original = Some(spec.dtype.as_str().to_string());
    if to == QuantizeTo::Float16 {
        use half::slice::HalfFloatSliceExt;
        let mut out = Vec::with_capacity(n * 2);
        let mut halves: Vec<half::f16> = Vec::new();
        codec::visit_weight(spec, data, range, |values| {
            let v = f32_values(spec, values)?;
            halves.resize(v.len(), half::f16::ZERO);
            halves.convert_from_f32_slice(v);
            out.extend(halves.iter().flat_map(|h| h.to_bits().to_le_bytes()));
            Ok(())
        })?;
        let q = Quantization { dtype: QuantDType::Float16, min: None, scale: None, original_dtype: original };
        return Ok((q, out));
    }
    // Pass 1: the range (numpy's min/max of the float32 data, then float64).
    let (mut lo, mut hi, mut finite) = (f32::INFINITY, f32::NEG_INFINITY, true);
    codec::visit_weight(spec, data, range.clone(), |values| {
        for &x in f32_values(spec, values)? {
            finite &= x.is_finite();
            lo = lo.min(x);
            hi = hi.max(x);
        }
        Ok(())
    })?;
    let bad = |detail: String| Error::invalid_model(format!("weight '{}'", spec.name), detail);
    if n == 0 {
        return Err(bad(format!(
            "an empty weight cannot be quantized to {to} (it has no range; the converter fails on it too)"
        )));
    }
    if !finite {
        return Err(bad(format!(
            "{to} quantization needs finite values, but the weight holds NaN or infinity (the converter would write them into the manifest, which JSON cannot hold)"
        )));
    }
    let (min, max) = (lo as f64, hi as f64);
    let mut out = Vec::with_capacity(n * if to == QuantizeTo::Uint8 { 1 } else { 2 });
    let (scale, min) = if min == max {
        out.resize(out.capacity(), 0);
        (1.0, min)
    } else {
        let (scale, min, max) = affine_range(min, max, to);
        codec::visit_weight(spec, data, range, |values| {
            let v = f32_values(spec, values)?;
            match to {
                QuantizeTo::Uint8 => out.extend(v.iter().map(|&x| affine(x, min, max, scale) as u8)),
                _ => out.extend(v.iter().flat_map(|&x| (affine(x, min, max, scale) as u16).to_le_bytes())),
            }
            Ok(())
        })?;
        (scale, min)
    };
    let q = Quantization {
        dtype: to.quant_dtype(),
        min: Some(python_number(min)),
        scale: Some(python_number(scale)),
        original_dtype: original,
    };
    Ok((q, out))
}

fn f32_values<'v>(spec: &WeightSpec, values: Values<'v>) -> Result<&'v [f32]> {
    match values {
        Values::F32(v) => Ok(v),
        _ => Err(Error::invalid_model(format!("weight '{}'", spec.name), "only float32 weights are quantized")),
    }
}

/// `np.round((data.clip(min, max) - min) / scale)` in float64 (NEP 50: the float64 bounds make the
/// whole expression float64), before the cast to the unsigned dtype.
#[inline]
fn affine(x: f32, min: f64, max: f64, scale: f64) -> f64 {
    (((x as f64).clamp(min, max) - min) / scale).round_ties_even()
}

/// The stored bytes of a quantized weight turned back into its original dtype (float32 values as
/// TF.js computes them; int32 rounded as TF.js rounds them).
pub fn dequantize_weight(spec: &WeightSpec, data: &WeightData, range: std::ops::Range<usize>) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(spec.num_elements()?.saturating_mul(4));
    codec::visit_weight(spec, data, range, |values| {
        match values {
            Values::F32(v) => out.extend(v.iter().flat_map(|x| x.to_le_bytes())),
            Values::I32(v) => out.extend(v.iter().flat_map(|x| x.to_le_bytes())),
            _ => unreachable!("quantized weights decode to float32 or int32"),
        }
        Ok(())
    })?;
    Ok(out)
}

/// A JSON number whose text is Python's `repr(v)` (what `json.dumps` writes for a float):
/// shortest round-trip digits, `.0` on integral values, exponent form (`1e-05`, `1.5e+16`) below
/// 1e-4 and from 1e16 on. Non-finite values have no JSON number; they become 0 (callers refuse
/// them first).
pub fn python_number(v: f64) -> serde_json::Number {
    python_float_repr(v).parse().unwrap_or_else(|_| serde_json::Number::from(0))
}

/// Python's `repr` of a finite float (see [`python_number`]).
pub fn python_float_repr(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    // Shortest round-trip digits (ryu), then laid out as Python does.
    let mut buf = ryu_js::Buffer::new();
    let text = buf.format(v.abs());
    let (mantissa, exp10) = match text.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().expect("ryu exponent")),
        None => (text, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all = format!("{int_part}{frac_part}");
    let lead = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_start_matches('0').trim_end_matches('0');
    // value = 0.DIGITS * 10^point
    let point = int_part.len() as i32 - lead as i32 + exp10;
    let x = point - 1; // scientific exponent: d.ddd * 10^x
    let sign = if v < 0.0 { "-" } else { "" };
    let n = digits.len() as i32;
    let body = if (-4..16).contains(&x) {
        if x >= n - 1 {
            format!("{digits}{}.0", "0".repeat((x - n + 1) as usize))
        } else if x >= 0 {
            format!("{}.{}", &digits[..(x + 1) as usize], &digits[(x + 1) as usize..])
        } else {
            format!("0.{}{digits}", "0".repeat((-x - 1) as usize))
        }
    } else {
        let m = if n > 1 { format!("{}.{}", &digits[..1], &digits[1..]) } else { digits.to_string() };
        format!("{m}e{}{:02}", if x < 0 { '-' } else { '+' }, x.abs())
    };
    format!("{sign}{body}")
}

/// Python's `fnmatch.fnmatchcase` (what `fnmatch.filter` does on POSIX): `*` any run of
/// characters (`/` included), `?` one character, `[seq]` / `[!seq]` a set with ranges; a `[`
/// without its `]` is literal.
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = name.chars().collect();
    // Iterative matching with backtracking to the last `*`.
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, si));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => match class(&p, pi) {
                Some((end, set)) => set.matches(s[si]).then_some(end),
                None => (s[si] == '[').then_some(pi + 1),
            },
            Some(&c) => (c == s[si]).then_some(pi + 1),
            None => None,
        };
        match (step, star) {
            (Some(next), _) => {
                pi = next;
                si += 1;
            }
            (None, Some((sp, ss))) => {
                pi = sp + 1;
                si = ss + 1;
                star = Some((sp, ss + 1));
            }
            (None, None) => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

struct CharClass {
    negate: bool,
    items: Vec<(char, char)>,
}

impl CharClass {
    fn matches(&self, c: char) -> bool {
        self.items.iter().any(|&(a, b)| a <= c && c <= b) != self.negate
    }
}

/// The set starting at `p[at] == '['`: (index after its `]`, the set), or `None` when unclosed.
fn class(p: &[char], at: usize) -> Option<(usize, CharClass)> {
    let mut i = at + 1;
    let negate = p.get(i) == Some(&'!');
    if negate {
        i += 1;
    }
    let start = i;
    let mut items = Vec::new();
    while i < p.len() {
        let c = p[i];
        if c == ']' && i > start {
            return Some((i + 1, CharClass { negate, items }));
        }
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&e| e != ']') {
            items.push((c, p[i + 2]));
            i += 3;
        } else {
            items.push((c, c));
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_repr_of_floats() {
        for (v, want) in [
            (0.5, "0.5"),
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (100.0, "100.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (1.5e16, "1.5e+16"),
            (1e16, "1e+16"),
            (9999999999999998.0, "9999999999999998.0"),
            (1e100, "1e+100"),
            (-2.5e-300, "-2.5e-300"),
            (123.456, "123.456"),
            (-0.4994485294117647, "-0.4994485294117647"),
            (0.000980392156862745, "0.000980392156862745"),
            (5e-324, "5e-324"),
        ] {
            assert_eq!(python_float_repr(v), want, "{v:e}");
        }
    }

    #[test]
    fn fnmatch_like_python() {
        assert!(fnmatch("*", "a/b/c"));
        assert!(fnmatch("emb/*", "emb/x/y"));
        assert!(!fnmatch("emb/*", "xemb/y"));
        assert!(fnmatch("*/kernel", "dense_a1/kernel"));
        assert!(!fnmatch("*/kernel", "dense_a1/bias"));
        assert!(fnmatch("d?nse*", "dense"));
        assert!(fnmatch("[a-c]x", "bx") && !fnmatch("[!a-c]x", "bx") && fnmatch("[!a-c]x", "dx"));
        assert!(fnmatch("[]]", "]") && fnmatch("a[", "a[") && fnmatch("[a-]", "-"));
        assert!(!fnmatch("Dense", "dense"));
        assert!(fnmatch("a*b*c", "aXbYbZc") && !fnmatch("a*b*c", "aXbYbZ"));
        assert!(fnmatch("", "") && !fnmatch("", "a"));
    }

    #[test]
    fn plan_is_the_converters_map() {
        let names = ["emb/w", "dense/kernel", "dense/bias"];
        let c = Conversion::new()
            .quantize(QuantizeTo::Uint8, Selection::patterns("emb/*"))
            .quantize(QuantizeTo::Float16, Selection::All);
        assert_eq!(
            c.plan(names).unwrap(),
            [Some(QuantizeTo::Uint8), Some(QuantizeTo::Float16), Some(QuantizeTo::Float16)]
        );
        let two_all =
            Conversion::new().quantize(QuantizeTo::Uint8, Selection::All).quantize(QuantizeTo::Uint16, Selection::All);
        assert!(two_all.plan(names).unwrap_err().to_string().contains("more than one"));
        let clash = Conversion::new()
            .quantize(QuantizeTo::Uint8, Selection::patterns("dense/*"))
            .quantize(QuantizeTo::Uint16, Selection::patterns("*/bias"));
        let e = clash.plan(names).unwrap_err().to_string();
        assert!(e.contains("'dense/bias'") && e.contains("uint8") && e.contains("uint16"), "{e}");
    }

    #[test]
    fn nudged_range_keeps_zero_exact() {
        let (scale, min, _) = affine_range(-1.0, 3.0, QuantizeTo::Uint8);
        let zero = ((0.0 - min) / scale).round_ties_even();
        assert_eq!(zero * scale + min, 0.0);
        assert_eq!(affine_range(0.5, 1.5, QuantizeTo::Uint8).1, 0.5);
    }
}
