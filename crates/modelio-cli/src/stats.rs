//! Value statistics of decoded (dequantized) weights.

use std::ops::Range;

use modelio::codec::{visit_weight, Values};
#[cfg(test)]
use modelio::Tensor;
use modelio::{Result, WeightData, WeightSpec};
use serde::Serialize;

/// Statistics of one weight's decoded values, computed in `f64`.
///
/// `min`, `max`, `mean` and `sum` are `None` for dtypes without numeric values (`string`,
/// `complex64`), and `min` / `max` / `mean` also for empty tensors. A non-finite result (NaN or
/// infinite values in the weight) serializes as JSON `null`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WeightStats {
    /// Number of elements (a complex number counts once).
    pub count: usize,
    /// Smallest value (NaNs ignored).
    pub min: Option<f64>,
    /// Largest value (NaNs ignored).
    pub max: Option<f64>,
    /// `sum / count`.
    pub mean: Option<f64>,
    /// Sum of all values.
    pub sum: Option<f64>,
}

impl WeightStats {
    /// Statistics of the weight at `range` of `data`, streamed block by block
    /// ([`visit_weight`]): memory is one small block whatever the weight's size, and a weight
    /// that spans two buffers is read across them. Same values as [`WeightStats::of`].
    pub fn of_weight(spec: &WeightSpec, data: &WeightData, range: Range<usize>) -> Result<Self> {
        let (mut sum, mut min, mut max, mut numeric) = (0f64, None::<f64>, None::<f64>, true);
        let mut add = |v: f64| {
            sum += v;
            if !v.is_nan() {
                min = Some(min.map_or(v, |l| l.min(v)));
                max = Some(max.map_or(v, |h| h.max(v)));
            }
        };
        visit_weight(spec, data, range, |values| {
            match values {
                Values::F32(v) => v.iter().for_each(|&x| add(x as f64)),
                Values::I32(v) => v.iter().for_each(|&x| add(x as f64)),
                Values::Bool(v) => v.iter().for_each(|&x| add(x as f64)),
                Values::Complex64(_) | Values::String(_) => numeric = false,
            }
            Ok(())
        })?;
        let count = spec.num_elements()?;
        if !numeric || matches!(spec.dtype, modelio::DType::Complex64 | modelio::DType::String) {
            return Ok(WeightStats { count, min: None, max: None, mean: None, sum: None });
        }
        let mean = (count > 0).then(|| sum / count as f64);
        Ok(WeightStats { count, min, max, mean, sum: Some(sum) })
    }

    /// Statistics of one tensor's values (bool counts as 0 and 1).
    #[cfg(test)]
    pub fn of(tensor: &Tensor) -> Self {
        let count = tensor.len();
        let Some(values) = tensor.to_f64_vec() else {
            return WeightStats { count, min: None, max: None, mean: None, sum: None };
        };
        let sum: f64 = values.iter().sum();
        let (min, max) = values.iter().fold((None::<f64>, None::<f64>), |(lo, hi), &v| {
            if v.is_nan() {
                (lo, hi)
            } else {
                (Some(lo.map_or(v, |l| l.min(v))), Some(hi.map_or(v, |h| h.max(v))))
            }
        });
        let mean = (count > 0).then(|| sum / count as f64);
        WeightStats { count, min, max, mean, sum: Some(sum) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use modelio::TensorData;

    fn stats(data: TensorData, shape: Vec<usize>) -> WeightStats {
        WeightStats::of(&Tensor::new(shape, data).unwrap())
    }

    #[test]
    fn float_values() {
        let s = stats(TensorData::F32(vec![1.0, -2.5, 4.0, 0.5]), vec![2, 2]);
        assert_eq!(s, WeightStats { count: 4, min: Some(-2.5), max: Some(4.0), mean: Some(0.75), sum: Some(3.0) });
    }

    #[test]
    fn nan_is_ignored_by_min_max_but_poisons_the_sum() {
        let s = stats(TensorData::F32(vec![f32::NAN, 1.0, 3.0]), vec![3]);
        assert_eq!((s.min, s.max), (Some(1.0), Some(3.0)));
        assert!(s.sum.unwrap().is_nan());
        let json = serde_json::to_value(&s).unwrap();
        assert!(json["sum"].is_null() && json["mean"].is_null(), "{json}");
    }

    #[test]
    fn empty_and_non_numeric() {
        let s = stats(TensorData::I32(vec![]), vec![0]);
        assert_eq!(s, WeightStats { count: 0, min: None, max: None, mean: None, sum: Some(0.0) });
        let s = stats(TensorData::String(vec![b"a".to_vec(), b"bc".to_vec()]), vec![2]);
        assert_eq!(s, WeightStats { count: 2, min: None, max: None, mean: None, sum: None });
        let s = stats(TensorData::Complex64(vec![1.0, 2.0]), vec![]);
        assert_eq!((s.count, s.sum), (1, None));
    }

    /// Streamed statistics equal those of the decoded tensor, for every dtype, quantized or not,
    /// with the weights cut across buffers at odd places.
    #[test]
    fn streamed_equals_decoded() {
        use modelio::{codec, encode_weights, NamedTensor, QuantDType, Quantization};
        let big: Vec<f32> = (0..100_003).map(|i| ((i * 7919) % 1000) as f32 * 0.37 - 100.0).collect();
        let tensors = vec![
            NamedTensor { name: "big".into(), tensor: Tensor::new(vec![100_003], TensorData::F32(big)).unwrap() },
            NamedTensor { name: "i".into(), tensor: Tensor::new(vec![3], TensorData::I32(vec![1, -9, 4])).unwrap() },
            NamedTensor { name: "b".into(), tensor: Tensor::new(vec![2], TensorData::Bool(vec![1, 1])).unwrap() },
            NamedTensor {
                name: "s".into(),
                tensor: Tensor::new(vec![1], TensorData::String(vec![b"xy".to_vec()])).unwrap(),
            },
            NamedTensor {
                name: "c".into(),
                tensor: Tensor::new(vec![1], TensorData::Complex64(vec![1.0, 2.0])).unwrap(),
            },
        ];
        let (mut specs, mut bytes) = encode_weights(&tensors, None);
        // A float16 and a uint8 weight after them.
        let mut h = WeightSpec::new("h", vec![3], modelio::DType::Float32);
        h.quantization =
            Some(Quantization { dtype: QuantDType::Float16, min: None, scale: None, original_dtype: None });
        bytes.extend([0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00]);
        let mut q = WeightSpec::new("q", vec![4], modelio::DType::Float32);
        q.quantization = Some(Quantization {
            dtype: QuantDType::Uint8,
            min: Some(Quantization::js_number(-1.0)),
            scale: Some(Quantization::js_number(0.1)),
            original_dtype: None,
        });
        bytes.extend([0, 10, 255, 7]);
        specs.extend([h, q]);
        let cuts = [0, 3, 70_001, 200_000, 400_013, 400_040, bytes.len() - 5, bytes.len()];
        let chunks = cuts.windows(2).map(|w| bytes[w[0]..w[1]].to_vec().into()).collect();
        let data = WeightData::from_chunks(chunks);
        let ranges = codec::layout(&specs, &data, &[]).unwrap();
        for (spec, r) in specs.iter().zip(ranges) {
            let decoded = WeightStats::of(&codec::decode_weight(spec, &data, r.clone()).unwrap());
            assert_eq!(WeightStats::of_weight(spec, &data, r).unwrap(), decoded, "{}", spec.name);
        }
    }

    #[test]
    fn bool_counts_as_zero_and_one() {
        let s = stats(TensorData::Bool(vec![1, 0, 1]), vec![3]);
        assert_eq!((s.min, s.max, s.sum), (Some(0.0), Some(1.0), Some(2.0)));
    }
}
