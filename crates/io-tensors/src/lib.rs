//! Decoded TensorFlow.js weights ([`io_core::codec::Tensor`]) as Rust tensor-crate values, behind
//! features: `ndarray` ([`ndarray::ArrayD`], and [`ndarray::ArrayViewD`] borrowed from the weight
//! bytes) and `candle` ([`candle_core::Tensor`], CPU).
//!
//! Values are the ones TF.js's `decodeWeights` gives: quantized weights (uint8 / uint16 /
//! float16) come out dequantized as float32 (or int32 for int32 weights), exactly as
//! [`io_core::codec::decode_weight`] computes them.
//!
//! When is there a copy?
//! - `Tensor` → array by value ([`ndarray::into_array`], [`candle::into_candle`]): never; the
//!   decoded `Vec` is moved into the array / candle storage. (Bool → `ndarray` `bool` is a
//!   conversion pass, bool → candle `u8` is a move; int32 → candle is a conversion to `i64`,
//!   candle having no int32 dtype.)
//! - `&Tensor` → array ([`ndarray::to_array`], [`candle::to_candle`]): one copy.
//! - Weight bytes → [`ndarray::view_weight`]: no copy, no decode, when the weight is unquantized
//!   float32 or int32, the target is little-endian, its byte range lies inside one buffer of the
//!   `WeightData`, and that range starts at an address aligned to 4. Otherwise `None`, and the
//!   caller decodes (`decode_weight`, one copy of the bytes, or a dequantization pass).
//! - candle always owns its storage, so building a candle tensor from weight bytes is one copy
//!   at least ([`candle::weight_to_candle`] decodes into a `Vec` and moves it in: exactly one).

#[cfg(feature = "ndarray")]
pub mod ndarray;

#[cfg(feature = "candle")]
pub mod candle;

pub use io_core;

/// Errors of the conversions.
#[derive(Debug)]
pub enum Error {
    /// A dtype the target cannot hold (complex64, string; int32/bool for some calls).
    Unsupported(String),
    /// The codec failed (layout or decode error).
    Codec(io_core::Error),
    /// The tensor crate refused (shape mismatch, ...).
    Backend(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Unsupported(s) => write!(f, "unsupported: {s}"),
            Error::Codec(e) => write!(f, "{e}"),
            Error::Backend(s) => write!(f, "tensor backend: {s}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io_core::Error> for Error {
    fn from(e: io_core::Error) -> Self {
        Error::Codec(e)
    }
}

/// Result of the conversions.
pub type Result<T> = std::result::Result<T, Error>;
