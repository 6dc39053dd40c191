//! The weight codec against TF.js's own encode/decode output, bit for bit.
use io_core::{codec, ManifestGroup, NamedTensor, Tensor, TensorData, WeightData, WeightSpec};

use crate::{json, read};

fn values_f64(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

#[test]
fn encode_matches_tfjs_encode_weights() {
    let tensors = vec![
        NamedTensor {
            name: "f32".into(),
            tensor: Tensor::new(vec![2, 2], TensorData::F32(vec![1.5, -2.25, 0.0, 3e-5])).unwrap(),
        },
        NamedTensor {
            name: "i32".into(),
            tensor: Tensor::new(vec![4], TensorData::I32(vec![1, -2, i32::MAX, i32::MIN])).unwrap(),
        },
        NamedTensor { name: "b".into(), tensor: Tensor::new(vec![3], TensorData::Bool(vec![1, 0, 1])).unwrap() },
        NamedTensor {
            name: "str".into(),
            tensor: Tensor::new(
                vec![2, 2],
                TensorData::String(vec![b"a".to_vec(), vec![], "héllo".into(), "ÿ".into()]),
            )
            .unwrap(),
        },
        NamedTensor { name: "scalar".into(), tensor: Tensor::new(vec![], TensorData::F32(vec![7.0])).unwrap() },
        NamedTensor {
            name: "c64".into(),
            tensor: Tensor::new(vec![2], TensorData::Complex64(vec![1.0, 3.0, 2.0, 4.0])).unwrap(),
        },
    ];
    let (specs, bytes) = codec::encode_weights(&tensors, None);
    assert_eq!(bytes, read("encode_weights/data.bin"));
    let want: Vec<WeightSpec> = serde_json::from_value(json("encode_weights/specs.json")["specs"].clone()).unwrap();
    assert_eq!(specs, want);
    assert_eq!(serde_json::to_value(&specs).unwrap(), json("encode_weights/specs.json")["specs"]);
    let (g, _) = codec::encode_weights(&tensors[..1], Some("optimizer"));
    assert_eq!(serde_json::to_value(&g).unwrap(), json("encode_weights/specs.json")["specsWithGroupArg"]);
    // And back.
    let back = codec::decode_weights(&specs, &WeightData::single(bytes)).unwrap();
    assert_eq!(back, tensors);
}

#[test]
fn decode_matches_tfjs_decode_weights_for_every_dtype() {
    let groups: Vec<ManifestGroup> =
        serde_json::from_value(json("converter_write_weights/dtypes/weights_manifest.json")).unwrap();
    let data = WeightData::single(read("converter_write_weights/dtypes/group1-shard1of1.bin"));
    let got = codec::decode_weights(&groups[0].weights, &data).unwrap();
    let want = json("converter_write_weights/dtypes/tfjs_decode_result.json");
    for t in &got {
        let w = &want["tensors"][&t.name];
        assert_eq!(t.tensor.dtype().as_str(), w["dtype"].as_str().unwrap(), "{}", t.name);
        assert_eq!(serde_json::to_value(&t.tensor.shape).unwrap(), w["shape"], "{}", t.name);
        match &t.tensor.data {
            TensorData::String(_) => {
                let s: Vec<String> =
                    w["values"].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect();
                assert_eq!(t.tensor.to_strings().unwrap(), s);
            }
            TensorData::Complex64(v) => {
                assert_eq!(v.iter().map(|&x| x as f64).collect::<Vec<_>>(), values_f64(&w["values"]))
            }
            _ => assert_eq!(t.tensor.to_f64_vec().unwrap(), values_f64(&w["values"]), "{}", t.name),
        }
    }
    assert_eq!(got.len(), want["tensors"].as_object().unwrap().len());
}

/// uint8, uint16, float16 and mixed quantization dequantize exactly as TF.js did.
#[test]
fn dequantization_matches_tfjs_bit_for_bit() {
    for case in ["b_quant_uint8", "b_quant_uint16", "b_quant_float16", "a_quant_mixed"] {
        let dir = format!("converter_write_weights/{case}");
        let groups: Vec<ManifestGroup> = serde_json::from_value(json(&format!("{dir}/weights_manifest.json"))).unwrap();
        let mut data = WeightData::default();
        for p in &groups[0].paths {
            data.push(read(&format!("{dir}/{p}")).into());
        }
        let got = codec::decode_weights(&groups[0].weights, &data).unwrap();
        let want = json(&format!("{dir}/tfjs_load_result.json"));
        for t in &got {
            let w = values_f64(&want["loadedWeights"][&t.name]);
            let g: Vec<f64> = t.tensor.to_f64_vec().unwrap();
            assert_eq!(g.len(), w.len(), "{case} {}", t.name);
            for (i, (a, b)) in g.iter().zip(&w).enumerate() {
                assert_eq!((*a as f32).to_bits(), (*b as f32).to_bits(), "{case} {} [{i}]: {a} vs TF.js {b}", t.name);
            }
        }
    }
}

/// Every float16 bit pattern converts as IEEE 754 says (TF.js's table-based decoder is exact).
#[test]
fn float16_all_patterns() {
    let bytes: Vec<u8> = (0..=u16::MAX).flat_map(|b| b.to_le_bytes()).collect();
    let mut spec = WeightSpec::new("h", vec![65536], io_core::DType::Float32);
    spec.quantization = Some(io_core::Quantization {
        dtype: io_core::QuantDType::Float16,
        min: None,
        scale: None,
        original_dtype: None,
    });
    let t = codec::decode_weights(&[spec], &WeightData::single(bytes)).unwrap();
    let TensorData::F32(v) = &t[0].tensor.data else { panic!() };
    for (bits, x) in v.iter().enumerate() {
        let sign = if bits & 0x8000 != 0 { -1.0f64 } else { 1.0 };
        let e = (bits >> 10) & 0x1f;
        let m = (bits & 0x3ff) as f64;
        let want = match e {
            0 => sign * m * 2f64.powi(-24),
            31 if m == 0.0 => sign * f64::INFINITY,
            31 => f64::NAN,
            _ => sign * (1.0 + m / 1024.0) * 2f64.powi(e as i32 - 15),
        };
        if want.is_nan() {
            assert!(x.is_nan(), "{bits:#x}");
        } else {
            assert_eq!(*x as f64, want, "{bits:#x}");
        }
    }
}

#[test]
fn uint_quantization_to_int32_rounds_like_math_round() {
    let mut spec = WeightSpec::new("q", vec![4], io_core::DType::Int32);
    spec.quantization = Some(io_core::Quantization {
        dtype: io_core::QuantDType::Uint8,
        min: Some(io_core::Quantization::js_number(-1.5)),
        scale: Some(io_core::Quantization::js_number(0.5)),
        original_dtype: None,
    });
    let t = codec::decode_weights(&[spec.clone()], &WeightData::single(vec![0u8, 1, 2, 255])).unwrap();
    // -1.5 -> -1 (ties toward +inf), -1.0, -0.5 -> -0 = 0, 126.0
    assert_eq!(t[0].tensor.to_i32_vec().unwrap(), vec![-1, -1, 0, 126]);
    spec.quantization.as_mut().unwrap().scale = None;
    let err = codec::decode_weights(&[spec], &WeightData::single(vec![0u8; 4])).unwrap_err();
    assert!(err.to_string().contains("needs numeric 'scale' and 'min'"), "{err}");
}

#[test]
fn groups_and_shards_check_names_the_file() {
    let dir = "converter_write_weights/c_sharded";
    let groups: Vec<ManifestGroup> = serde_json::from_value(json(&format!("{dir}/weights_manifest.json"))).unwrap();
    let s1 = read(&format!("{dir}/group1-shard1of2.bin"));
    let s2 = read(&format!("{dir}/group1-shard2of2.bin"));
    let files = |a: usize, b: usize| {
        vec![
            codec::FileSpan { name: "group1-shard1of2.bin".into(), len: a },
            codec::FileSpan { name: "group1-shard2of2.bin".into(), len: b },
        ]
    };
    let ok = WeightData::from_chunks(vec![s1.clone().into(), s2.clone().into()]);
    codec::layout(&groups[0].weights, &ok, &files(s1.len(), s2.len())).unwrap();
    let short = WeightData::from_chunks(vec![s1.clone().into(), s2[..s2.len() - 4].to_vec().into()]);
    let err = codec::layout(&groups[0].weights, &short, &files(s1.len(), s2.len() - 4)).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("dense_c/bias")
            && msg.contains("group1-shard2of2.bin")
            && msg.contains("4404000")
            && msg.contains("4403996"),
        "{msg}"
    );
}

/// The weights TF.js's save handler received decode to the formula values of `models/<m>/expected.json`,
/// bit for bit, and re-encoding them gives TF.js's weightData byte for byte (d: trained, so re-encoding only).
#[test]
fn savehandler_weights_decode_to_the_formulas_and_reencode_exactly() {
    use io_core::testkit::fixtures;
    for m in fixtures::MODELS {
        let model = fixtures::model(m);
        let tensors = codec::decode_weights(&model.weight_specs, &model.weight_data).unwrap();
        let (specs, bytes) = codec::encode_weights(&tensors, None);
        assert_eq!(bytes, model.weight_data.to_vec(), "model {m}: re-encoded bytes");
        let names: Vec<_> = specs.iter().map(|s| (&s.name, &s.shape, &s.dtype)).collect();
        let want: Vec<_> = model.weight_specs.iter().map(|s| (&s.name, &s.shape, &s.dtype)).collect();
        assert_eq!(names, want, "model {m}: re-encoded specs");
        if m == "d" {
            continue;
        }
        let expected = json(&format!("models/{m}/expected.json"));
        for (k, w) in expected["weights"].as_array().unwrap().iter().enumerate() {
            let name = w["name"].as_str().unwrap();
            let t = tensors.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("{m}: no weight {name}"));
            let TensorData::F32(v) = &t.tensor.data else { panic!("{name} is not float32") };
            for (i, x) in v.iter().enumerate() {
                let f = match w["formula"].as_str().unwrap() {
                    "generic" => ((((i * 37 + 11 * k) % 64) as f64) - 32.0) / 64.0,
                    "positive" => 0.5 + (i % 4) as f64 / 8.0,
                    "large" => ((((i * 13 + 7 * k) % 33) as f64) - 16.0) / 1024.0,
                    other => panic!("unknown formula {other}"),
                };
                assert_eq!(*x as f64, f, "model {m} weight {name}[{i}] (k = {k})");
            }
        }
    }
}

/// The converter's two-group, 256-byte-shard layout of model b decodes to the same tensors as TF.js's
/// own weightData of b.
#[test]
fn two_groups_of_small_shards_decode_to_the_same_weights() {
    let dir = "converter_write_weights/b_2groups_256B_shards";
    let groups: Vec<ManifestGroup> = serde_json::from_value(json(&format!("{dir}/weights_manifest.json"))).unwrap();
    let want = {
        let b = io_core::testkit::fixtures::model("b");
        codec::decode_weights(&b.weight_specs, &b.weight_data).unwrap()
    };
    let mut seen = 0;
    for g in &groups {
        let mut data = WeightData::default();
        let mut files = Vec::new();
        for p in &g.paths {
            let bytes = read(&format!("{dir}/{p}"));
            files.push(codec::FileSpan { name: p.clone(), len: bytes.len() });
            data.push(bytes.into());
        }
        codec::layout(&g.weights, &data, &files).unwrap();
        for t in codec::decode_weights(&g.weights, &data).unwrap() {
            let w = want.iter().find(|w| w.name == t.name).unwrap();
            assert_eq!(t, *w, "{}", t.name);
            seen += 1;
        }
    }
    assert_eq!(seen, want.len());
}
