//! `ndarray` conversions (feature `ndarray`).

use std::borrow::Cow;
use std::ops::Range;

use ::ndarray::{ArrayD, ArrayViewD, IxDyn};
use io_core::{DType, Tensor, TensorData, WeightData, WeightSpec};

use crate::{Error, Result};

/// A decoded weight as an owned `ndarray` array of its dtype.
#[derive(Clone, Debug, PartialEq)]
pub enum NdTensor {
    /// float32 (also every dequantized float weight).
    F32(ArrayD<f32>),
    /// int32.
    I32(ArrayD<i32>),
    /// bool.
    Bool(ArrayD<bool>),
}

impl NdTensor {
    /// The float32 array, if that is the dtype.
    pub fn into_f32(self) -> Option<ArrayD<f32>> {
        match self {
            NdTensor::F32(a) => Some(a),
            _ => None,
        }
    }
}

fn shaped<T>(shape: &[usize], v: Vec<T>) -> Result<ArrayD<T>> {
    ArrayD::from_shape_vec(IxDyn(shape), v).map_err(|e| Error::Backend(e.to_string()))
}

/// Moves a decoded tensor into an array: no copy of float32 / int32 values; bool bytes become
/// `bool`s (one pass). complex64 and string are refused.
pub fn into_array(t: Tensor) -> Result<NdTensor> {
    match t.data {
        TensorData::F32(v) => Ok(NdTensor::F32(shaped(&t.shape, v)?)),
        TensorData::I32(v) => Ok(NdTensor::I32(shaped(&t.shape, v)?)),
        TensorData::Bool(v) => Ok(NdTensor::Bool(shaped(&t.shape, v.into_iter().map(|b| b != 0).collect())?)),
        TensorData::Complex64(_) => Err(Error::Unsupported("complex64 weight to ndarray".into())),
        TensorData::String(_) => Err(Error::Unsupported("string weight to ndarray".into())),
    }
}

/// Copies a decoded tensor into an array.
pub fn to_array(t: &Tensor) -> Result<NdTensor> {
    into_array(t.clone())
}

/// A float32 array of any numeric tensor (int32 and bool converted), moving float32 values.
pub fn into_array_f32(t: Tensor) -> Result<ArrayD<f32>> {
    let v = match t.data {
        TensorData::F32(v) => v,
        ref d => t_to_f32(d)?,
    };
    shaped(&t.shape, v)
}

fn t_to_f32(d: &TensorData) -> Result<Vec<f32>> {
    Tensor { shape: vec![], data: d.clone() }
        .to_f32_vec()
        .ok_or_else(|| Error::Unsupported("non-numeric weight".into()))
}

/// A borrowed view of a weight's values, straight on the weight bytes: no copy, no decode.
/// See [`view_weight`].
#[derive(Clone, Debug, PartialEq)]
pub enum NdView<'a> {
    /// float32.
    F32(ArrayViewD<'a, f32>),
    /// int32.
    I32(ArrayViewD<'a, i32>),
}

/// The weight at `range` of `data` (a range from [`io_core::codec::layout`]) as a view borrowed
/// from the weight bytes, or `Ok(None)` when that is impossible without a copy: the weight is
/// quantized, its dtype is not float32 / int32, the target is big-endian, the range spans two
/// buffers, or its start is not 4-byte aligned in memory. The spec and range are checked as
/// [`io_core::codec::decode_weight`] checks them.
pub fn view_weight<'a>(spec: &WeightSpec, data: &'a WeightData, range: Range<usize>) -> Result<Option<NdView<'a>>> {
    if range.start > range.end || range.end > data.len() {
        // decode_weight gives the proper error for a bad range.
        io_core::codec::decode_weight(spec, data, range)?;
        return Ok(None);
    }
    io_core::codec::layout(std::slice::from_ref(spec), &data.sub(range.clone()), &[])?;
    if spec.quantization.is_some() || cfg!(target_endian = "big") {
        return Ok(None);
    }
    let bytes = match data.slice(range) {
        Cow::Borrowed(b) => b,
        Cow::Owned(_) => return Ok(None),
    };
    let shape = IxDyn(&spec.shape);
    let view = match spec.dtype {
        DType::Float32 => match bytemuck::try_cast_slice::<u8, f32>(bytes) {
            Ok(v) => NdView::F32(ArrayViewD::from_shape(shape, v).map_err(|e| Error::Backend(e.to_string()))?),
            Err(_) => return Ok(None),
        },
        DType::Int32 => match bytemuck::try_cast_slice::<u8, i32>(bytes) {
            Ok(v) => NdView::I32(ArrayViewD::from_shape(shape, v).map_err(|e| Error::Backend(e.to_string()))?),
            Err(_) => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(Some(view))
}

/// Every weight of `specs` as a float32 array (dequantized as TF.js does), by name, in spec
/// order: borrowed views are not possible here, so this decodes (one copy, or the dequantization).
pub fn decode_arrays(specs: &[WeightSpec], data: &WeightData) -> Result<Vec<(String, NdTensor)>> {
    io_core::decode_weights(specs, data)?.into_iter().map(|n| Ok((n.name, into_array(n.tensor)?))).collect()
}
