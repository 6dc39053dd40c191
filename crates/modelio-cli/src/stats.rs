//! Value statistics of decoded (dequantized) weights.

use modelio::Tensor;
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
    /// Statistics of one tensor's values (bool counts as 0 and 1).
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

    #[test]
    fn bool_counts_as_zero_and_one() {
        let s = stats(TensorData::Bool(vec![1, 0, 1]), vec![3]);
        assert_eq!((s.min, s.max, s.sum), (Some(0.0), Some(1.0), Some(2.0)));
    }
}
