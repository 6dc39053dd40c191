//! `candle_core` conversions (feature `candle`), CPU only.

use std::ops::Range;

use candle_core::{Device, Tensor as CTensor};
use io_core::{Tensor, TensorData, WeightData, WeightSpec};

use crate::{Error, Result};

fn be(e: candle_core::Error) -> Error {
    Error::Backend(e.to_string())
}

/// Moves a decoded tensor into a CPU candle tensor: float32 → `F32` and bool → `U8` without a
/// copy; int32 → `I64` (candle has no int32 dtype; one conversion pass). complex64 and string
/// are refused.
pub fn into_candle(t: Tensor) -> Result<CTensor> {
    let shape = t.shape;
    match t.data {
        TensorData::F32(v) => CTensor::from_vec(v, shape, &Device::Cpu).map_err(be),
        TensorData::I32(v) => {
            CTensor::from_vec(v.into_iter().map(i64::from).collect::<Vec<_>>(), shape, &Device::Cpu).map_err(be)
        }
        TensorData::Bool(v) => CTensor::from_vec(v, shape, &Device::Cpu).map_err(be),
        TensorData::Complex64(_) => Err(Error::Unsupported("complex64 weight to candle".into())),
        TensorData::String(_) => Err(Error::Unsupported("string weight to candle".into())),
    }
}

/// Copies a decoded tensor into a CPU candle tensor.
pub fn to_candle(t: &Tensor) -> Result<CTensor> {
    into_candle(t.clone())
}

/// Decodes the weight at `range` of `data` (dequantized as TF.js does) into a candle tensor:
/// exactly one copy of the bytes for unquantized weights (candle owns its storage).
pub fn weight_to_candle(spec: &WeightSpec, data: &WeightData, range: Range<usize>) -> Result<CTensor> {
    into_candle(io_core::codec::decode_weight(spec, data, range)?)
}

/// Every weight of `specs` as a candle tensor, by name, in spec order.
pub fn decode_tensors(specs: &[WeightSpec], data: &WeightData) -> Result<Vec<(String, CTensor)>> {
    io_core::decode_weights(specs, data)?.into_iter().map(|n| Ok((n.name, into_candle(n.tensor)?))).collect()
}
