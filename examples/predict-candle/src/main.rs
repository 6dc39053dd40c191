//! `cargo run -p modelio-example-predict-candle [-- file:///path/to/model.json]`
//!
//! Loads a TF.js layers model made of Dense layers (default: fixture model a, Dense(4→3, relu)
//! then Dense(3→2, linear)) through modelio's `file://` scheme, and runs it forward on the
//! fixture input in candle (CPU) and in ndarray. Expected output (TF.js `model.predict`):
//! `[0.0113525390625, -0.57598876953125, 0.015625, -0.5281982421875]`.

use candle_core::{Device, Tensor};
use modelio::tensors::{candle::decode_tensors, ndarray::decode_arrays};
use ndarray::{Array2, Ix1, Ix2};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).unwrap_or_else(|| {
        let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/tfjs/node_file/a/model.json");
        format!("file://{}", std::fs::canonicalize(p).expect("fixture model a").display())
    });
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let model = rt.block_on(modelio::load(&url))?;
    let input: Vec<f32> = (0..8).map(|j| ((j % 13) as f32 - 6.0) / 8.0).collect();
    // Activations from the topology: Dense layers in order, relu or linear.
    let relu: Vec<bool> = model
        .model_topology
        .as_ref()
        .and_then(|t| match t {
            modelio::Topology::Json(v) => Some(v.to_string()),
            _ => None,
        })
        .unwrap_or_default()
        .split("\"activation\":")
        .skip(1)
        .map(|s| s.trim_start().starts_with("\"relu\""))
        .collect();

    // candle: decoded Vecs are moved into candle storage (no copy after the decode).
    let w = decode_tensors(&model.weight_specs, &model.weight_data)?;
    let mut x = Tensor::from_vec(input.clone(), (2, 4), &Device::Cpu)?;
    for (l, pair) in w.chunks(2).enumerate() {
        x = x.matmul(&pair[0].1)?.broadcast_add(&pair[1].1)?;
        if relu.get(l).copied().unwrap_or(false) {
            x = x.relu()?;
        }
    }
    println!("candle:  {:?}", x.flatten_all()?.to_vec1::<f32>()?);

    // ndarray.
    let w = decode_arrays(&model.weight_specs, &model.weight_data)?;
    let mut y = Array2::from_shape_vec((2, 4), input)?;
    for (l, pair) in w.chunks(2).enumerate() {
        let k = pair[0].1.clone().into_f32().ok_or("kernel not float32")?.into_dimensionality::<Ix2>()?;
        let b = pair[1].1.clone().into_f32().ok_or("bias not float32")?.into_dimensionality::<Ix1>()?;
        y = y.dot(&k) + &b;
        if relu.get(l).copied().unwrap_or(false) {
            y.mapv_inplace(|v| v.max(0.0));
        }
    }
    println!("ndarray: {:?}", y.into_raw_vec_and_offset().0);
    Ok(())
}
