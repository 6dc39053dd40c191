//! Runs fixture models a and c (Dense layers) forward from modelio's decoded weights and compares
//! with TF.js's `model.predict` outputs in `fixtures/tfjs/models/<m>/expected.json`.
#![cfg(any(feature = "ndarray", feature = "candle"))]

use io_core::testkit::fixtures;
use serde_json::Value;

fn expected(m: &str) -> Value {
    let p = format!("{}/../../fixtures/tfjs/models/{m}/expected.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

/// (input shape, input values, output values) of fixture model `m`.
fn io(m: &str) -> (Vec<usize>, Vec<f32>, Vec<f32>) {
    let e = expected(m);
    let shape: Vec<usize> =
        e["input"]["shape"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect();
    let n: usize = shape.iter().product();
    let input = match &e["input"]["values"] {
        v @ Value::Array(_) => floats(v),
        // "formula input": ((j % 13) - 6) / 8
        _ => (0..n).map(|j| ((j % 13) as f32 - 6.0) / 8.0).collect(),
    };
    (shape, input, floats(&e["output"]["values"]))
}

fn close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-5 + 1e-5 * w.abs(), "output {i}: got {g}, TF.js {w}");
    }
}

#[cfg(feature = "ndarray")]
mod nd {
    use super::*;
    use io_core::WeightData;
    use io_tensors::ndarray::{decode_arrays, view_weight, NdView};
    use ndarray::{Array2, ArrayD, Ix1, Ix2};

    fn forward(m: &str, data: &WeightData) -> Vec<f32> {
        let a = fixtures::model(m);
        let w: Vec<ArrayD<f32>> =
            decode_arrays(&a.weight_specs, data).unwrap().into_iter().map(|(_, t)| t.into_f32().unwrap()).collect();
        let (shape, input, _) = io(m);
        let mut x = Array2::from_shape_vec((shape[0], shape[1]), input).unwrap();
        let layers = w.len() / 2;
        for l in 0..layers {
            let k = w[2 * l].view().into_dimensionality::<Ix2>().unwrap();
            let b = w[2 * l + 1].view().into_dimensionality::<Ix1>().unwrap();
            x = x.dot(&k) + b;
            if m == "a" && l == 0 {
                x.mapv_inplace(|v| v.max(0.0)); // dense_a1 is relu, dense_a2 and dense_c linear
            }
        }
        x.into_raw_vec_and_offset().0
    }

    #[test]
    fn model_a_matches_tfjs() {
        let a = fixtures::model("a");
        close(&forward("a", &a.weight_data), &io("a").2);
    }

    #[test]
    fn model_c_matches_tfjs_one_buffer_and_two_shards() {
        let a = fixtures::model("c");
        close(&forward("c", &a.weight_data), &io("c").2);
        // As the converter sharded it: the kernel spans both shards.
        let bytes = fixtures::weight_bytes("c");
        let shards =
            WeightData::from_chunks(vec![bytes[..4_194_304].to_vec().into(), bytes[4_194_304..].to_vec().into()]);
        close(&forward("c", &shards), &io("c").2);
    }

    #[test]
    fn views_borrow_aligned_single_buffer_weights() {
        let a = fixtures::model("a");
        let ranges = io_core::codec::layout(&a.weight_specs, &a.weight_data, &[]).unwrap();
        let base = a.weight_data.chunks()[0].as_ptr() as usize;
        for (spec, r) in a.weight_specs.iter().zip(ranges) {
            let v = view_weight(spec, &a.weight_data, r.clone()).unwrap();
            if (base + r.start) % 4 == 0 {
                let Some(NdView::F32(v)) = v else { panic!("{} should be a view", spec.name) };
                // Borrowed: points into the weight buffer itself.
                assert_eq!(v.as_ptr() as usize, base + r.start);
                let d = io_core::codec::decode_weight(spec, &a.weight_data, r).unwrap();
                assert_eq!(v.iter().copied().collect::<Vec<_>>(), d.to_f32_vec().unwrap());
            } else {
                assert!(v.is_none());
            }
        }
        // Misaligned on purpose: one byte in front of the same bytes.
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(&fixtures::weight_bytes("a"));
        let data = WeightData::single(shifted);
        let spec = &a.weight_specs[0];
        let r = 1..1 + 48;
        let aligned = (data.chunks()[0].as_ptr() as usize + 1) % 4 == 0;
        assert_eq!(view_weight(spec, &data, r).unwrap().is_some(), aligned);
        // Spanning two buffers: no view.
        let bytes = fixtures::weight_bytes("a");
        let split = WeightData::from_chunks(vec![bytes[..20].to_vec().into(), bytes[20..].to_vec().into()]);
        assert!(view_weight(spec, &split, 0..48).unwrap().is_none());
        // Quantized: no view (decode dequantizes).
        let mut q = spec.clone();
        q.quantization =
            Some(serde_json::from_value(serde_json::json!({"dtype": "uint8", "scale": 1, "min": 0})).unwrap());
        assert!(view_weight(&q, &WeightData::single(vec![0u8; 12]), 0..12).unwrap().is_none());
    }
}

#[cfg(feature = "candle")]
#[path = "../examples/predict_candle.rs"]
mod predict_candle;

#[cfg(feature = "candle")]
mod cd {
    use super::*;
    use candle_core::{Device, Tensor};

    /// The example's forward pass (examples/predict_candle.rs) on fixture `m`.
    fn forward(m: &str) -> Vec<f32> {
        let a = fixtures::model(m);
        let (shape, input, _) = io(m);
        let x = Tensor::from_vec(input, shape, &Device::Cpu).unwrap();
        super::predict_candle::forward(&a, x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    #[test]
    fn candle_model_a_matches_tfjs() {
        close(&forward("a"), &io("a").2);
    }

    #[test]
    fn candle_model_c_matches_tfjs() {
        close(&forward("c"), &io("c").2);
    }

    #[test]
    fn the_example_runs_on_a_model_tfjs_saved() {
        let dir = format!("file://{}/../../fixtures/tfjs/node_file/a", env!("CARGO_MANIFEST_DIR"));
        let registry = io_core::Registry::new();
        io_file::register(&registry);
        let model = futures::executor::block_on(registry.load(&dir)).unwrap();
        let layers = super::predict_candle::dense_layers(&model).unwrap();
        assert_eq!(layers.iter().map(|(_, a)| a.as_str()).collect::<Vec<_>>(), ["relu", "linear"]);
        let (shape, input, want) = io("a");
        let x = Tensor::from_vec(input, shape, &Device::Cpu).unwrap();
        let got = super::predict_candle::forward(&model, x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        close(&got, &want);
    }
}
