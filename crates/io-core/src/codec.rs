//! The weight codec: named tensors to (specs, bytes) and back, exactly as TF.js's
//! `encodeWeights` / `decodeWeights`, plus the layout check that runs before any decoding.
//!
//! Invariant: nothing here allocates more than a size that was checked against the input bytes.

use std::ops::Range;

use crate::artifacts::{DType, QuantDType, Quantization, WeightSpec};
use crate::error::{Error, Result};
use crate::weights::WeightData;

/// Typed values of a [`Tensor`].
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    /// `float32` values.
    F32(Vec<f32>),
    /// `int32` values.
    I32(Vec<i32>),
    /// `bool` values as stored: one byte each (TF.js keeps them as a `Uint8Array`).
    Bool(Vec<u8>),
    /// `complex64` values, interleaved `re, im`.
    Complex64(Vec<f32>),
    /// `string` values as raw bytes (TF.js keeps them as `Uint8Array`s; usually UTF-8).
    String(Vec<Vec<u8>>),
}

/// A small dense tensor: dtype, shape and typed values in C order.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Shape; `[]` for a scalar.
    pub shape: Vec<usize>,
    /// Values.
    pub data: TensorData,
}

/// A tensor with its weight name, as `decode_weights` returns them (in manifest order).
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    /// Weight name.
    pub name: String,
    /// The tensor.
    pub tensor: Tensor,
}

impl Tensor {
    /// A tensor; errors when the number of values does not match the shape.
    pub fn new(shape: Vec<usize>, data: TensorData) -> Result<Self> {
        let t = Tensor { shape, data };
        let want = t.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if want != Some(t.len()) {
            return Err(Error::invalid_model(
                "",
                format!("tensor of shape {:?} cannot hold {} values", t.shape, t.len()),
            ));
        }
        Ok(t)
    }

    /// The dtype.
    pub fn dtype(&self) -> DType {
        match self.data {
            TensorData::F32(_) => DType::Float32,
            TensorData::I32(_) => DType::Int32,
            TensorData::Bool(_) => DType::Bool,
            TensorData::Complex64(_) => DType::Complex64,
            TensorData::String(_) => DType::String,
        }
    }

    /// Number of elements (complex numbers count once).
    pub fn len(&self) -> usize {
        match &self.data {
            TensorData::F32(v) => v.len(),
            TensorData::I32(v) => v.len(),
            TensorData::Bool(v) => v.len(),
            TensorData::Complex64(v) => v.len() / 2,
            TensorData::String(v) => v.len(),
        }
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values as `f32`: float32 as is, int32 and bool converted (int32 beyond 2^24 rounds);
    /// `None` for complex64 and string.
    pub fn to_f32_vec(&self) -> Option<Vec<f32>> {
        match &self.data {
            TensorData::F32(v) => Some(v.clone()),
            TensorData::I32(v) => Some(v.iter().map(|&x| x as f32).collect()),
            TensorData::Bool(v) => Some(v.iter().map(|&x| x as f32).collect()),
            TensorData::Complex64(_) | TensorData::String(_) => None,
        }
    }

    /// The values as `f64` (exact for float32, int32 and bool); `None` for complex64 and string.
    pub fn to_f64_vec(&self) -> Option<Vec<f64>> {
        match &self.data {
            TensorData::F32(v) => Some(v.iter().map(|&x| x as f64).collect()),
            TensorData::I32(v) => Some(v.iter().map(|&x| x as f64).collect()),
            TensorData::Bool(v) => Some(v.iter().map(|&x| x as f64).collect()),
            TensorData::Complex64(_) | TensorData::String(_) => None,
        }
    }

    /// The values as `i32` when the dtype is int32 or bool.
    pub fn to_i32_vec(&self) -> Option<Vec<i32>> {
        match &self.data {
            TensorData::I32(v) => Some(v.clone()),
            TensorData::Bool(v) => Some(v.iter().map(|&x| x as i32).collect()),
            _ => None,
        }
    }

    /// The values as booleans (non-zero = true) when the dtype is bool.
    pub fn to_bool_vec(&self) -> Option<Vec<bool>> {
        match &self.data {
            TensorData::Bool(v) => Some(v.iter().map(|&x| x != 0).collect()),
            _ => None,
        }
    }

    /// The values as UTF-8 strings when the dtype is string and every element is valid UTF-8.
    pub fn to_strings(&self) -> Option<Vec<String>> {
        match &self.data {
            TensorData::String(v) => v.iter().map(|b| String::from_utf8(b.clone()).ok()).collect(),
            _ => None,
        }
    }
}

/// Encodes named tensors into weight specs and one byte buffer, exactly as TF.js's `encodeWeights`
/// (no quantization, no alignment, little-endian, manifest order = input order). `group` is set on
/// every spec when given (`"model"` / `"optimizer"`).
pub fn encode_weights(tensors: &[NamedTensor], group: Option<&str>) -> (Vec<WeightSpec>, Vec<u8>) {
    let total: usize = tensors.iter().map(|t| encoded_len(&t.tensor)).sum();
    let mut out = Vec::with_capacity(total);
    let mut specs = Vec::with_capacity(tensors.len());
    for NamedTensor { name, tensor } in tensors {
        match &tensor.data {
            TensorData::F32(v) | TensorData::Complex64(v) => {
                v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes()))
            }
            TensorData::I32(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::Bool(v) => out.extend(v.iter().map(|&b| u8::from(b != 0))),
            TensorData::String(v) => {
                for s in v {
                    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                    out.extend_from_slice(s);
                }
            }
        }
        let mut spec = WeightSpec::new(name.clone(), tensor.shape.clone(), tensor.dtype());
        spec.group = group.map(str::to_string);
        specs.push(spec);
    }
    (specs, out)
}

fn encoded_len(t: &Tensor) -> usize {
    match &t.data {
        TensorData::F32(v) | TensorData::Complex64(v) => v.len() * 4,
        TensorData::I32(v) => v.len() * 4,
        TensorData::Bool(v) => v.len(),
        TensorData::String(v) => v.iter().map(|s| 4 + s.len()).sum(),
    }
}

/// Checks that a spec can be decoded at all (known dtype, consistent quantization).
pub fn check_spec(spec: &WeightSpec) -> Result<()> {
    if let DType::Other(d) = &spec.dtype {
        return Err(Error::UnsupportedDtype {
            what: "dtype",
            found: d.clone(),
            weight: spec.name.clone(),
            supported: DType::SUPPORTED.to_vec(),
        });
    }
    if let Some(q) = &spec.quantization {
        check_quantization(spec, q)?;
    }
    Ok(())
}

fn check_quantization(spec: &WeightSpec, q: &Quantization) -> Result<()> {
    let bad = |detail: String| Error::invalid_model(format!("weight '{}'", spec.name), detail);
    match &q.dtype {
        QuantDType::Other(d) => Err(Error::UnsupportedDtype {
            what: "quantization dtype",
            found: d.clone(),
            weight: spec.name.clone(),
            supported: QuantDType::SUPPORTED.to_vec(),
        }),
        QuantDType::Uint8 | QuantDType::Uint16 => {
            if q.scale_f64().is_none() || q.min_f64().is_none() {
                return Err(bad(format!("quantization {} needs numeric 'scale' and 'min'", q.dtype.as_str())));
            }
            if !matches!(spec.dtype, DType::Float32 | DType::Int32) {
                return Err(bad(format!(
                    "quantization {} only supports weights of type float32 or int32, not {}",
                    q.dtype.as_str(),
                    spec.dtype.as_str()
                )));
            }
            Ok(())
        }
        QuantDType::Float16 => {
            if spec.dtype != DType::Float32 {
                return Err(bad(format!(
                    "quantization float16 only supports weights of type float32, not {}",
                    spec.dtype.as_str()
                )));
            }
            Ok(())
        }
    }
}

/// A known piece of the weight data: a shard file (or URL) and its length, in data order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSpan {
    /// File name or URL, as it should appear in errors.
    pub name: String,
    /// Its length in bytes.
    pub len: usize,
}

/// How many files a layout error lists (then "... and N more").
const FILES_LISTED: usize = 20;

/// Where [`layout_of`] reads the 4-byte lengths of string elements: weight bytes in memory (a
/// [`WeightData`]) or elsewhere, e.g. uploaded files still on disk, so the rules are checked once.
pub trait LengthReader {
    /// The little-endian `u32` at byte `pos` of the data (the caller checked that 4 bytes are there).
    fn u32_at(&mut self, pos: usize) -> Result<u32>;
}

impl LengthReader for &WeightData {
    fn u32_at(&mut self, pos: usize) -> Result<u32> {
        Ok(u32::from_le_bytes(self.slice(pos..pos + 4).as_ref().try_into().expect("4 bytes")))
    }
}

/// Computes the byte range of every weight in `data` and checks that the specs and the bytes agree
/// exactly: every weight fits, no bytes are left over, shapes do not overflow, string lengths fit.
///
/// `files` (optional, may be empty) says which file each part of `data` came from, so errors can
/// name it. Errors name the first weight that does not fit.
pub fn layout(specs: &[WeightSpec], data: &WeightData, files: &[FileSpan]) -> Result<Vec<Range<usize>>> {
    layout_of(specs, data.len(), &mut &*data, files)
}

/// [`layout`] of `total` bytes held elsewhere, whose string lengths `lengths` reads (only those:
/// every other size comes from the specs).
pub fn layout_of(
    specs: &[WeightSpec],
    total: usize,
    lengths: &mut dyn LengthReader,
    files: &[FileSpan],
) -> Result<Vec<Range<usize>>> {
    let mut ranges = Vec::with_capacity(specs.len());
    let mut offset = 0usize;
    let file_at = |pos: usize| -> Option<String> {
        let mut end = 0usize;
        for f in files {
            end += f.len;
            if pos < end {
                return Some(f.name.clone());
            }
        }
        files.last().map(|f| f.name.clone())
    };
    let files_desc = || {
        if files.is_empty() {
            String::new()
        } else {
            // At most FILES_LISTED files: an upload of 60,000 parts gets a short message.
            let mut listed: Vec<String> =
                files.iter().take(FILES_LISTED).map(|f| format!("{} ({} bytes)", f.name, f.len)).collect();
            if files.len() > FILES_LISTED {
                listed.push(format!("... and {} more", files.len() - FILES_LISTED));
            }
            format!("; files: {}", listed.join(", "))
        }
    };
    for (i, spec) in specs.iter().enumerate() {
        check_spec(spec)?;
        let n = spec.num_elements()?;
        let len = match (&spec.quantization, &spec.dtype) {
            (Some(q), _) => n.checked_mul(q.dtype.byte_size().expect("checked")),
            (None, DType::String) => Some(string_len(spec, lengths, total, offset, n, &file_at)?),
            (None, d) => n.checked_mul(d.byte_size().expect("checked")),
        };
        let end = len.and_then(|l| offset.checked_add(l));
        match end {
            Some(end) if end <= total => {
                ranges.push(offset..end);
                offset = end;
            }
            _ => {
                // Sum what the specs imply, as far as they can be computed without the data.
                let need: Option<usize> =
                    specs[i..].iter().try_fold(offset, |acc, s| acc.checked_add(s.fixed_byte_len()?));
                let expected = need.map(|n| n as u64).unwrap_or(u64::MAX);
                return Err(Error::WeightsMismatch {
                    weight: spec.name.clone(),
                    file: file_at(total.saturating_sub(1)),
                    expected: expected.max(end.unwrap_or(usize::MAX) as u64),
                    actual: total as u64,
                    detail: format!(
                        "weight {} of {} ({} {:?}) needs bytes {}..{} but the data has only {} bytes{}",
                        i + 1,
                        specs.len(),
                        spec.dtype.as_str(),
                        spec.shape,
                        offset,
                        end.map(|e| e.to_string()).unwrap_or_else(|| "overflow".into()),
                        total,
                        files_desc()
                    ),
                });
            }
        }
    }
    if offset != total {
        let last = specs.last().map(|s| s.name.clone()).unwrap_or_else(|| "(no weights)".into());
        return Err(Error::WeightsMismatch {
            weight: last,
            file: file_at(offset),
            expected: offset as u64,
            actual: total as u64,
            detail: format!("{} bytes are left over after the last weight{}", total - offset, files_desc()),
        });
    }
    Ok(ranges)
}

fn string_len(
    spec: &WeightSpec,
    lengths: &mut dyn LengthReader,
    total: usize,
    start: usize,
    n: usize,
    file_at: &dyn Fn(usize) -> Option<String>,
) -> Result<usize> {
    let mut pos = start;
    for k in 0..n {
        let at = pos;
        // `needed`: the bytes the data would need to hold this element.
        let fail = |needed: u64, what: String| Error::WeightsMismatch {
            weight: spec.name.clone(),
            file: file_at(at.min(total.saturating_sub(1))),
            expected: needed,
            actual: total as u64,
            detail: format!("string element {k} of {n}: {what}"),
        };
        if total - pos < 4 {
            return Err(fail(at as u64 + 4, format!("its 4-byte length at byte {pos} runs past the end")));
        }
        let l = lengths.u32_at(pos)? as usize;
        pos += 4;
        if total - pos < l {
            return Err(fail(pos as u64 + l as u64, format!("length {l} at byte {} runs past the end", pos - 4)));
        }
        pos += l;
    }
    Ok(pos - start)
}

/// Decodes every weight, in spec order, exactly as TF.js's `decodeWeights` (with dequantization).
/// The layout is checked first: a mismatch is an error, not a panic or a short tensor.
pub fn decode_weights(specs: &[WeightSpec], data: &WeightData) -> Result<Vec<NamedTensor>> {
    let ranges = layout(specs, data, &[])?;
    specs
        .iter()
        .zip(ranges)
        .map(|(spec, r)| Ok(NamedTensor { name: spec.name.clone(), tensor: decode_weight(spec, data, r)? }))
        .collect()
}

/// Decodes the weight at `range` of `data` (a range from [`layout`]). The range is checked: it must
/// lie inside `data` and hold exactly what `spec` describes, else an error (never a panic).
/// Unquantized 4-byte dtypes are copied piece by piece straight into the tensor (no intermediate
/// join when the weight spans buffers); the rest is decoded from the (possibly joined) bytes.
pub fn decode_weight(spec: &WeightSpec, data: &WeightData, range: Range<usize>) -> Result<Tensor> {
    if range.start > range.end || range.end > data.len() {
        return Err(Error::WeightsMismatch {
            weight: spec.name.clone(),
            file: None,
            expected: range.end as u64,
            actual: data.len() as u64,
            detail: format!("the range {range:?} is not inside the {} bytes of weight data", data.len()),
        });
    }
    layout(std::slice::from_ref(spec), &data.sub(range.clone()), &[])?;
    if spec.quantization.is_none() && cfg!(target_endian = "little") {
        let n = range.len() / 4;
        let fill = |dst: &mut [u8]| {
            let mut off = 0;
            data.for_each_piece(range.clone(), |p| {
                dst[off..off + p.len()].copy_from_slice(p);
                off += p.len();
            });
        };
        let values = match spec.dtype {
            DType::Float32 | DType::Complex64 => {
                let mut v = vec![0f32; n];
                fill(bytemuck::cast_slice_mut(&mut v));
                Some(if spec.dtype == DType::Float32 { TensorData::F32(v) } else { TensorData::Complex64(v) })
            }
            DType::Int32 => {
                let mut v = vec![0i32; n];
                fill(bytemuck::cast_slice_mut(&mut v));
                Some(TensorData::I32(v))
            }
            _ => None,
        };
        if let Some(values) = values {
            return Ok(Tensor { shape: spec.shape.clone(), data: values });
        }
    }
    decode_bytes(spec, &data.slice(range))
}

/// A block of one weight's decoded (dequantized) values, as [`visit_weight`] hands them out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Values<'a> {
    /// float32 values (stored, or dequantized from uint8 / uint16 / float16).
    F32(&'a [f32]),
    /// int32 values (stored, or dequantized from uint8 / uint16 as TF.js rounds them).
    I32(&'a [i32]),
    /// bool values, one byte each.
    Bool(&'a [u8]),
    /// complex64 values, interleaved `re, im` (always whole pairs).
    Complex64(&'a [f32]),
    /// One string element's bytes.
    String(&'a [u8]),
}

/// Elements decoded per block by [`visit_weight`]: 16,384 (64 KiB of float32).
pub const VISIT_BLOCK: usize = 16 << 10;

/// Decodes the weight at `range` of `data` block by block, without materializing it: `f` gets
/// at most [`VISIT_BLOCK`] values at a time (complex64 pairs count as two values; a string weight
/// gives one block per element), in order. Memory: one block of staging bytes and one of values,
/// whatever the weight's size; an element that spans two buffers of `data` is put together in
/// the staging block. The same values as [`decode_weight`], checked the same way.
pub fn visit_weight(
    spec: &WeightSpec,
    data: &WeightData,
    range: Range<usize>,
    mut f: impl FnMut(Values<'_>) -> Result<()>,
) -> Result<()> {
    if range.start > range.end || range.end > data.len() {
        return decode_weight(spec, data, range).map(|_| ());
    }
    let sub = data.sub(range);
    layout(std::slice::from_ref(spec), &sub, &[])?;
    if spec.quantization.is_none() && spec.dtype == DType::String {
        let mut pos = 0;
        while pos < sub.len() {
            let l = u32::from_le_bytes(sub.slice(pos..pos + 4).as_ref().try_into().expect("4 bytes")) as usize;
            f(Values::String(&sub.slice(pos + 4..pos + 4 + l)))?;
            pos += 4 + l;
        }
        return Ok(());
    }
    let elem = match &spec.quantization {
        Some(q) => q.dtype.byte_size().expect("checked by layout"),
        None => spec.dtype.byte_size().expect("checked by layout"),
    };
    // Staging is u32-backed so 4-byte values can be read in place (little-endian targets).
    let block_bytes = VISIT_BLOCK * elem.min(4);
    let mut staging = vec![0u32; block_bytes / 4];
    let mut decoder = BlockDecoder::new(spec);
    let mut filled = 0usize;
    for piece in sub.chunks() {
        let mut p: &[u8] = piece;
        while !p.is_empty() {
            let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut staging);
            let take = (block_bytes - filled).min(p.len());
            bytes[filled..filled + take].copy_from_slice(&p[..take]);
            filled += take;
            p = &p[take..];
            if filled == block_bytes {
                decoder.decode(bytemuck::cast_slice(&staging), &mut f)?;
                filled = 0;
            }
        }
    }
    if filled > 0 {
        let bytes: &[u8] = bytemuck::cast_slice(&staging);
        decoder.decode(&bytes[..filled], &mut f)?;
    }
    Ok(())
}

/// Decodes whole blocks of a fixed-size weight's stored bytes into values.
struct BlockDecoder<'s> {
    spec: &'s WeightSpec,
    lut: Vec<f32>,
    f32s: Vec<f32>,
    i32s: Vec<i32>,
}

impl<'s> BlockDecoder<'s> {
    fn new(spec: &'s WeightSpec) -> Self {
        let lut = match &spec.quantization {
            Some(q) if q.dtype == QuantDType::Uint8 && spec.dtype == DType::Float32 => {
                let (scale, min) = (q.scale_f64().unwrap_or(0.0), q.min_f64().unwrap_or(0.0));
                (0..256).map(|v| (v as f64 * scale + min) as f32).collect()
            }
            _ => Vec::new(),
        };
        BlockDecoder { spec, lut, f32s: Vec::new(), i32s: Vec::new() }
    }

    /// `bytes` holds whole elements (a block is a multiple of the element size, the last one too,
    /// since the layout was checked).
    fn decode(&mut self, bytes: &[u8], f: &mut impl FnMut(Values<'_>) -> Result<()>) -> Result<()> {
        let spec = self.spec;
        match (&spec.quantization, &spec.dtype) {
            (None, DType::Float32 | DType::Complex64) => {
                let v: &[f32] = if cfg!(target_endian = "little") {
                    bytemuck::cast_slice(bytes)
                } else {
                    self.f32s = f32_from_le(bytes);
                    &self.f32s
                };
                f(if spec.dtype == DType::Float32 { Values::F32(v) } else { Values::Complex64(v) })
            }
            (None, DType::Int32) => {
                let v: &[i32] = if cfg!(target_endian = "little") {
                    bytemuck::cast_slice(bytes)
                } else {
                    self.i32s = bytes.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect();
                    &self.i32s
                };
                f(Values::I32(v))
            }
            (None, DType::Bool) => f(Values::Bool(bytes)),
            (Some(q), dtype) => {
                self.f32s.clear();
                self.i32s.clear();
                match (&q.dtype, dtype) {
                    (QuantDType::Uint8, DType::Float32) => {
                        let lut = &self.lut;
                        self.f32s.extend(bytes.iter().map(|&b| lut[b as usize]));
                    }
                    (QuantDType::Float16, _) => {
                        use half::slice::{HalfBitsSliceExt, HalfFloatSliceExt};
                        let owned: Vec<u16>;
                        let bits: &[u16] = if cfg!(target_endian = "little") {
                            bytemuck::cast_slice(bytes)
                        } else {
                            owned = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
                            &owned
                        };
                        self.f32s.resize(bits.len(), 0.0);
                        bits.reinterpret_cast::<half::f16>().convert_to_f32_slice(&mut self.f32s);
                    }
                    _ => match dequantize(q, dtype, bytes) {
                        TensorData::F32(v) => self.f32s = v,
                        TensorData::I32(v) => self.i32s = v,
                        _ => unreachable!("dequantize gives float32 or int32"),
                    },
                }
                if dtype == &DType::Float32 {
                    f(Values::F32(&self.f32s))
                } else {
                    f(Values::I32(&self.i32s))
                }
            }
            (None, DType::String | DType::Other(_)) => unreachable!("strings are walked; unknown dtypes refused"),
        }
    }
}

/// Decodes one weight from exactly its bytes (checked by the caller with [`layout`]).
fn decode_bytes(spec: &WeightSpec, bytes: &[u8]) -> Result<Tensor> {
    check_spec(spec)?;
    let shape = spec.shape.clone();
    let data = match (&spec.quantization, &spec.dtype) {
        (Some(q), dtype) => dequantize(q, dtype, bytes),
        (None, DType::Float32) => TensorData::F32(f32_from_le(bytes)),
        (None, DType::Complex64) => TensorData::Complex64(f32_from_le(bytes)),
        (None, DType::Int32) => {
            TensorData::I32(bytes.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect())
        }
        (None, DType::Bool) => TensorData::Bool(bytes.to_vec()),
        (None, DType::String) => {
            let n = spec.num_elements()?;
            let mut out = Vec::with_capacity(n.min(bytes.len() / 4));
            let mut pos = 0;
            for _ in 0..n {
                let l = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
                out.push(bytes[pos + 4..pos + 4 + l].to_vec());
                pos += 4 + l;
            }
            TensorData::String(out)
        }
        (None, DType::Other(_)) => unreachable!("check_spec refuses unknown dtypes"),
    };
    Ok(Tensor { shape, data })
}

/// Little-endian bytes to f32 at memory speed: one zeroed allocation and one copy.
pub fn f32_from_le(bytes: &[u8]) -> Vec<f32> {
    let n = bytes.len() / 4;
    let mut v = vec![0f32; n];
    if cfg!(target_endian = "little") {
        bytemuck::cast_slice_mut::<f32, u8>(&mut v).copy_from_slice(&bytes[..n * 4]);
    } else {
        for (o, c) in v.iter_mut().zip(bytes.chunks_exact(4)) {
            *o = f32::from_le_bytes(c.try_into().unwrap());
        }
    }
    v
}

/// JavaScript's `Math.round` (ties toward +infinity) followed by the `Int32Array` store (ToInt32).
fn js_round_to_i32(x: f64) -> i32 {
    if !x.is_finite() {
        return 0;
    }
    let f = x.floor();
    let r = if x - f >= 0.5 { f + 1.0 } else { f };
    // ToInt32: modulo 2^32, then into the signed range.
    let m = r.rem_euclid(4294967296.0);
    (if m >= 2147483648.0 { m - 4294967296.0 } else { m }) as i32
}

fn dequantize(q: &Quantization, dtype: &DType, bytes: &[u8]) -> TensorData {
    let scale = q.scale_f64().unwrap_or(0.0);
    let min = q.min_f64().unwrap_or(0.0);
    match (&q.dtype, dtype) {
        (QuantDType::Float16, _) => TensorData::F32(
            bytes.chunks_exact(2).map(|c| half::f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32()).collect(),
        ),
        (QuantDType::Uint8, DType::Float32) => {
            // JS computes in f64 and rounds once into the Float32Array.
            let lut: Vec<f32> = (0..256).map(|q| (q as f64 * scale + min) as f32).collect();
            TensorData::F32(bytes.iter().map(|&b| lut[b as usize]).collect())
        }
        (QuantDType::Uint16, DType::Float32) => TensorData::F32(
            bytes.chunks_exact(2).map(|c| (u16::from_le_bytes([c[0], c[1]]) as f64 * scale + min) as f32).collect(),
        ),
        (QuantDType::Uint8, _) => {
            TensorData::I32(bytes.iter().map(|&b| js_round_to_i32(b as f64 * scale + min)).collect())
        }
        (QuantDType::Uint16, _) => TensorData::I32(
            bytes
                .chunks_exact(2)
                .map(|c| js_round_to_i32(u16::from_le_bytes([c[0], c[1]]) as f64 * scale + min))
                .collect(),
        ),
        (QuantDType::Other(_), _) => unreachable!("check_spec refuses unknown quantization"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_round_matches_math_round() {
        assert_eq!(js_round_to_i32(2.5), 3);
        assert_eq!(js_round_to_i32(-2.5), -2);
        assert_eq!(js_round_to_i32(-2.6), -3);
        assert_eq!(js_round_to_i32(0.49999999999999994), 0);
        assert_eq!(js_round_to_i32(2147483648.0), -2147483648);
        assert_eq!(js_round_to_i32(f64::NAN), 0);
    }

    #[test]
    fn string_length_past_end_is_an_error_not_an_allocation() {
        let spec = WeightSpec::new("s", vec![1], DType::String);
        let mut bytes = u32::MAX.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"abc");
        let err = decode_weights(&[spec], &WeightData::single(bytes)).unwrap_err();
        assert!(err.to_string().contains("weight 's'"), "{err}");
    }

    #[test]
    fn huge_shape_overflow_is_an_error() {
        let spec = WeightSpec::new("w", vec![usize::MAX, 2], DType::Float32);
        let err = decode_weights(&[spec], &WeightData::default()).unwrap_err();
        assert!(matches!(err, Error::InvalidModel { .. }), "{err}");
    }

    #[test]
    fn short_data_names_the_weight_and_file() {
        let specs = vec![WeightSpec::new("a", vec![2], DType::Float32), WeightSpec::new("b", vec![3], DType::Float32)];
        let data = WeightData::from_chunks(vec![vec![0u8; 8].into(), vec![0u8; 8].into()]);
        let files = [FileSpan { name: "s1.bin".into(), len: 8 }, FileSpan { name: "s2.bin".into(), len: 8 }];
        let err = layout(&specs, &data, &files).unwrap_err();
        match &err {
            Error::WeightsMismatch { weight, file, expected, actual, .. } => {
                assert_eq!(weight, "b");
                assert_eq!(file.as_deref(), Some("s2.bin"));
                assert_eq!((*expected, *actual), (20, 16));
            }
            other => panic!("{other}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("'b'") && msg.contains("s2.bin") && msg.contains("20") && msg.contains("16"), "{msg}");
    }

    #[test]
    fn extra_bytes_are_an_error() {
        let specs = vec![WeightSpec::new("a", vec![1], DType::Float32)];
        let err = layout(&specs, &WeightData::single(vec![0u8; 5]), &[]).unwrap_err();
        assert!(err.to_string().contains("1 bytes are left over"), "{err}");
    }

    #[test]
    fn unknown_dtype_lists_supported() {
        let spec = WeightSpec::new("w", vec![1], DType::Other("int64".into()));
        let msg = decode_weights(&[spec], &WeightData::single(vec![0; 8])).unwrap_err().to_string();
        assert!(msg.contains("int64") && msg.contains("float32, int32, bool, complex64, string"), "{msg}");
    }
}
