//! `modelio info`: what a model is made of, as a [`ModelReport`] (text or JSON).

use std::collections::BTreeMap;

use modelio::codec::layout;
use modelio::{ModelArtifacts, Quantization, Result, Topology, WeightSpec};
use serde::Serialize;

use crate::cli::InfoArgs;
use crate::failure::CmdResult;
use crate::output::Output;
use crate::source;
use crate::stats::WeightStats;
use crate::table;

/// `modelio info URL [--json] [--stats]`.
pub async fn run(args: &InfoArgs, out: &Output) -> CmdResult {
    let task = out.progress.task(format!("loading {}", args.url));
    let artifacts = source::load(&args.url, &task).await?;
    task.finish("loaded", Some(artifacts.weight_bytes()));
    let report = ModelReport::new(&args.url, &artifacts, args.stats)?;
    match args.json {
        true => out.json(&report),
        false => out.text(&report.to_text()),
    }
}

/// Everything `modelio info` says about a model. Its JSON form is the `--json` output; field
/// names are camelCase as in TF.js's `model.json`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelReport {
    /// The URL the model was loaded from.
    pub url: String,
    /// `format` (e.g. `layers-model`, `graph-model`), `null` when absent.
    pub format: Option<String>,
    /// `generatedBy`, `null` when absent.
    pub generated_by: Option<String>,
    /// `convertedBy`, `null` when absent or `null`.
    pub converted_by: Option<String>,
    /// The topology.
    pub topology: TopologyReport,
    /// Number of weights.
    pub weight_count: usize,
    /// Total weight bytes as stored.
    pub weight_bytes: u64,
    /// Stored bytes per stored element type: the quantization dtype for quantized weights
    /// (`uint8`, `uint16`, `float16`), the weight's dtype otherwise.
    pub bytes_per_dtype: BTreeMap<String, u64>,
    /// Every weight, in manifest order.
    pub weights: Vec<WeightReport>,
}

/// The model topology.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopologyReport {
    /// `"JSON"`, `"GraphDef"`, or `null` when the model has no topology.
    #[serde(rename = "type")]
    pub kind: Option<&'static str>,
    /// The Keras `class_name` (`Sequential`, `Model`, ...); `null` for graph models.
    pub class_name: Option<String>,
    /// Size of the topology: compact JSON bytes, or the GraphDef's bytes.
    pub bytes: Option<u64>,
}

/// One weight.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WeightReport {
    /// Weight name.
    pub name: String,
    /// Shape (`[]` for a scalar).
    pub shape: Vec<usize>,
    /// dtype after dequantization.
    pub dtype: String,
    /// `model` / `optimizer`, when the manifest says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The manifest's `quantization` object as written, `null` when not quantized.
    pub quantization: Option<Quantization>,
    /// Bytes stored for this weight.
    pub bytes: u64,
    /// Value statistics (only with `--stats`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<WeightStats>,
}

impl ModelReport {
    /// The report for `artifacts` loaded from `url`; with `with_stats`, each weight is streamed
    /// (dequantized) once, block by block, to compute its [`WeightStats`]: memory stays at the
    /// loaded weights plus one small block.
    pub fn new(url: &str, artifacts: &ModelArtifacts, with_stats: bool) -> Result<Self> {
        let data = &artifacts.weight_data;
        let ranges = layout(&artifacts.weight_specs, data, &[]).map_err(|e| e.with_location(url))?;
        let mut bytes_per_dtype = BTreeMap::new();
        let mut weights = Vec::with_capacity(ranges.len());
        for (spec, range) in artifacts.weight_specs.iter().zip(ranges) {
            let bytes = range.len() as u64;
            *bytes_per_dtype.entry(stored_dtype(spec).to_string()).or_insert(0) += bytes;
            let stats = match with_stats {
                true => Some(WeightStats::of_weight(spec, data, range).map_err(|e| e.with_location(url))?),
                false => None,
            };
            weights.push(WeightReport {
                name: spec.name.clone(),
                shape: spec.shape.clone(),
                dtype: spec.dtype.as_str().to_string(),
                group: spec.group.clone(),
                quantization: spec.quantization.clone(),
                bytes,
                stats,
            });
        }
        Ok(ModelReport {
            url: url.to_string(),
            format: artifacts.format.clone(),
            generated_by: artifacts.generated_by.clone(),
            converted_by: artifacts.converted_by.clone().flatten(),
            topology: TopologyReport::new(artifacts.model_topology.as_ref()),
            weight_count: weights.len(),
            weight_bytes: artifacts.weight_bytes(),
            bytes_per_dtype,
            weights,
        })
    }

    /// The report as text: a summary block, then one table row per weight.
    pub fn to_text(&self) -> String {
        let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let topology = match (self.topology.kind, &self.topology.class_name, self.topology.bytes) {
            (None, _, _) => "-".to_string(),
            (Some(kind), class, bytes) => {
                format!("{} ({kind}, {} bytes)", class.as_deref().unwrap_or("graph"), bytes.unwrap_or(0))
            }
        };
        let per_dtype: Vec<String> = self.bytes_per_dtype.iter().map(|(d, b)| format!("{d}: {b}")).collect();
        let summary = [
            ("url", self.url.clone()),
            ("format", or_dash(&self.format)),
            ("generatedBy", or_dash(&self.generated_by)),
            ("convertedBy", or_dash(&self.converted_by)),
            ("topology", topology),
            ("weights", format!("{} weights, {} bytes", self.weight_count, self.weight_bytes)),
            ("bytes per dtype", if per_dtype.is_empty() { "-".into() } else { per_dtype.join(", ") }),
        ];
        let mut out = String::new();
        for (k, v) in summary {
            out.push_str(&format!("{:<17}{v}\n", format!("{k}:")));
        }
        if self.weights.is_empty() {
            return out;
        }
        out.push('\n');
        let with_group = self.weights.iter().any(|w| w.group.is_some());
        let with_stats = self.weights.iter().any(|w| w.stats.is_some());
        let mut header = vec!["name", "shape", "dtype", "quantization", "bytes"];
        if with_group {
            header.push("group");
        }
        if with_stats {
            header.extend(["count", "min", "max", "mean", "sum"]);
        }
        let rows: Vec<Vec<String>> = self.weights.iter().map(|w| w.row(with_group)).collect();
        out.push_str(&table::render(&header, &rows));
        out
    }
}

impl TopologyReport {
    fn new(topology: Option<&Topology>) -> Self {
        match topology {
            None => TopologyReport { kind: None, class_name: None, bytes: None },
            Some(Topology::GraphDef(b)) => {
                TopologyReport { kind: Some("GraphDef"), class_name: None, bytes: Some(b.len() as u64) }
            }
            Some(Topology::Json(v)) => {
                let class_name = keras_class_name(v.as_str());
                TopologyReport { kind: Some("JSON"), class_name, bytes: Some(v.as_str().len() as u64) }
            }
        }
    }
}

impl WeightReport {
    fn row(&self, with_group: bool) -> Vec<String> {
        let shape = format!("[{}]", self.shape.iter().map(usize::to_string).collect::<Vec<_>>().join(","));
        let quantization = match &self.quantization {
            None => "-".to_string(),
            Some(q) => match (q.scale_f64(), q.min_f64()) {
                (Some(scale), Some(min)) => {
                    format!("{} scale={} min={}", q.dtype.as_str(), table::number(scale), table::number(min))
                }
                _ => q.dtype.as_str().to_string(),
            },
        };
        let mut row = vec![self.name.clone(), shape, self.dtype.clone(), quantization, self.bytes.to_string()];
        if with_group {
            row.push(self.group.clone().unwrap_or_else(|| "-".into()));
        }
        if let Some(s) = &self.stats {
            row.push(s.count.to_string());
            row.extend([s.min, s.max, s.mean, s.sum].map(table::opt_number));
        }
        row
    }
}

/// The class of a Keras JSON topology: `{class_name, config, ...}`, or wrapped as
/// `{model_config: {class_name, ...}}`. Reads only those keys (the rest of the text is skipped, no tree).
fn keras_class_name(topology: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Head<'a> {
        #[serde(borrow, default)]
        class_name: Option<&'a serde_json::value::RawValue>,
        #[serde(borrow, default)]
        model_config: Option<&'a serde_json::value::RawValue>,
    }
    // Only objects (a derived struct would also read an array positionally).
    fn head(text: &str) -> Option<Head<'_>> {
        text.trim_start().starts_with('{').then(|| serde_json::from_str(text).ok())?
    }
    let string = |raw: &serde_json::value::RawValue| serde_json::from_str::<String>(raw.get()).ok();
    let outer = head(topology)?;
    outer.class_name.and_then(string).or_else(|| head(outer.model_config?.get())?.class_name.and_then(string))
}

/// The element type a weight is stored as.
fn stored_dtype(spec: &WeightSpec) -> &str {
    match &spec.quantization {
        Some(q) => q.dtype.as_str(),
        None => spec.dtype.as_str(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use modelio::{DType, QuantDType, WeightData};

    fn model() -> ModelArtifacts {
        let mut q = WeightSpec::new("q", vec![2], DType::Float32);
        q.quantization = Some(Quantization {
            dtype: QuantDType::Uint8,
            min: Some(Quantization::js_number(-1.0)),
            scale: Some(Quantization::js_number(0.5)),
            original_dtype: Some("float32".into()),
        });
        let specs = vec![WeightSpec::new("f", vec![2], DType::Float32), q, WeightSpec::new("i", vec![], DType::Int32)];
        let mut bytes = Vec::new();
        bytes.extend(1.5f32.to_le_bytes());
        bytes.extend((-3f32).to_le_bytes());
        bytes.extend([0u8, 4]);
        bytes.extend(7i32.to_le_bytes());
        let mut a = ModelArtifacts::new(
            serde_json::json!({"model_config": {"class_name": "Sequential"}}),
            specs,
            WeightData::single(bytes),
        );
        a.format = Some("layers-model".into());
        a.converted_by = Some(None);
        a
    }

    #[test]
    fn keras_class_name_reads_plain_and_wrapped_topologies_only() {
        assert_eq!(keras_class_name(r#"{"class_name":"Model","config":{}}"#).as_deref(), Some("Model"));
        assert_eq!(keras_class_name(r#"{"model_config":{"class_name":"Sequential"}}"#).as_deref(), Some("Sequential"));
        assert_eq!(keras_class_name(r#"{"class_name":1,"model_config":{"class_name":"S"}}"#).as_deref(), Some("S"));
        for none in [r#"["Sequential"]"#, r#"{"node":[]}"#, "null", r#"{"model_config":[1]}"#] {
            assert_eq!(keras_class_name(none), None, "{none}");
        }
    }

    #[test]
    fn summarizes_weights_and_dtypes() {
        let r = ModelReport::new("memory://m", &model(), true).unwrap();
        assert_eq!(r.topology.class_name.as_deref(), Some("Sequential"));
        assert_eq!((r.weight_count, r.weight_bytes), (3, 14));
        assert_eq!(
            r.bytes_per_dtype,
            BTreeMap::from([("float32".into(), 8), ("int32".into(), 4), ("uint8".into(), 2)])
        );
        let q = r.weights[1].stats.clone().unwrap();
        assert_eq!((q.min, q.max, q.sum), (Some(-1.0), Some(1.0), Some(0.0)));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["convertedBy"], serde_json::Value::Null);
        assert_eq!(json["weights"][1]["quantization"]["dtype"], "uint8");
        let text = r.to_text();
        assert!(text.contains("uint8 scale=0.5 min=-1"), "{text}");
        assert!(text.contains("Sequential (JSON, "), "{text}");
    }

    #[test]
    fn mismatched_weights_name_the_url() {
        let mut a = model();
        a.weight_data = WeightData::single(vec![0u8; 3]);
        let msg = ModelReport::new("memory://m", &a, false).unwrap_err().to_string();
        assert!(msg.contains("memory://m") && msg.contains("'f'"), "{msg}");
    }
}
