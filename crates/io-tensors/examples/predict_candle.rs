//! Runs a TF.js Sequential model of Dense layers forward in candle, from the weights modelio loads.
//!
//! ```text
//! cargo run -p io-tensors --features candle --example predict_candle -- \
//!     file://fixtures/tfjs/node_file/a '[[0.5, -1, 2, 0.25]]'
//! ```
//!
//! Any modelio URL the io-file plugin reads (`file://…`) works; the input is a JSON array of rows
//! (default: one row of zeros). Prints the output rows as JSON. The crate's `tests/dense.rs` runs
//! this same [`forward`] on the fixtures and compares with TF.js's `model.predict`.
use candle_core::{Device, Tensor};
use io_core::ModelArtifacts;

/// The Dense layers of a Keras Sequential topology: (units, activation), in order.
pub fn dense_layers(model: &ModelArtifacts) -> Result<Vec<(usize, String)>, String> {
    let topology = match &model.model_topology {
        Some(io_core::Topology::Json(json)) => json.to_value(),
        _ => return Err("the model has no JSON (Keras) topology".into()),
    };
    let config = topology.get("model_config").unwrap_or(&topology);
    if config["class_name"] != "Sequential" {
        return Err(format!("not a Sequential model: {}", config["class_name"]));
    }
    let layers = config["config"]["layers"].as_array().ok_or("no layers in the topology")?;
    let mut out = Vec::new();
    for l in layers {
        match l["class_name"].as_str() {
            Some("Dense") => out.push((
                l["config"]["units"].as_u64().ok_or("a Dense layer without units")? as usize,
                l["config"]["activation"].as_str().unwrap_or("linear").to_string(),
            )),
            Some("InputLayer") => {}
            other => return Err(format!("this example runs Dense layers only, not {other:?}")),
        }
    }
    Ok(out)
}

/// `x` (rows × inputs) through every Dense layer: `x · kernel + bias`, then the activation.
pub fn forward(model: &ModelArtifacts, x: Tensor) -> Result<Tensor, String> {
    let layers = dense_layers(model)?;
    let weights =
        io_tensors::candle::decode_tensors(&model.weight_specs, &model.weight_data).map_err(|e| e.to_string())?;
    if weights.len() != 2 * layers.len() {
        return Err(format!("{} weights for {} Dense layers (kernel and bias each)", weights.len(), layers.len()));
    }
    let mut x = x;
    for (i, (_, activation)) in layers.iter().enumerate() {
        let (kernel, bias) = (&weights[2 * i].1, &weights[2 * i + 1].1);
        x = x.matmul(kernel).and_then(|y| y.broadcast_add(bias)).map_err(|e| e.to_string())?;
        x = match activation.as_str() {
            "linear" => x,
            "relu" => x.relu().map_err(|e| e.to_string())?,
            other => return Err(format!("activation {other} is not in this example")),
        };
    }
    Ok(x)
}

#[allow(dead_code)] // the tests include this file for `forward`
fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: predict_candle MODEL_URL ['[[x, ...], ...]']")?;
    let registry = io_core::Registry::new();
    io_file::register(&registry);
    let model = futures::executor::block_on(registry.load(&url)).map_err(|e| e.to_string())?;
    let inputs = {
        let w = model.weight_specs.first().ok_or("the model has no weights")?;
        w.shape.first().copied().unwrap_or(1)
    };
    let rows: Vec<Vec<f32>> = match args.next() {
        Some(json) => serde_json::from_str(&json).map_err(|e| format!("input: {e}"))?,
        None => vec![vec![0.0; inputs]],
    };
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    let x = Tensor::from_vec(flat, (rows.len(), inputs), &Device::Cpu).map_err(|e| e.to_string())?;
    let y = forward(&model, x)?;
    println!("{}", serde_json::to_string(&y.to_vec2::<f32>().map_err(|e| e.to_string())?).unwrap());
    Ok(())
}
