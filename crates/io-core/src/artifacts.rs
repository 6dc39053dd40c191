//! The model artifacts and the `model.json` document, with TF.js's field names and key orders.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::json::text::{self, Reader};
use crate::json::{kind_of_text, raw_entries, schema, RawJson};
use crate::weights::WeightData;

/// The default cap on the size of a model.json, 256 MiB (see [`ModelJson::parse_with_limit`]).
pub const MAX_MODEL_JSON_BYTES: u64 = 256 << 20;

/// Element type of a weight as stored in the manifest (`dtype`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// `float32`: 4 bytes, little-endian IEEE 754.
    Float32,
    /// `int32`: 4 bytes, little-endian two's complement.
    Int32,
    /// `bool`: 1 byte per value, 0 or 1.
    Bool,
    /// `complex64`: 8 bytes, interleaved (re, im) float32 pairs.
    Complex64,
    /// `string`: per element a u32 LE byte length followed by that many bytes.
    String,
    /// A dtype this version does not know; kept so the model survives a copy, refused on decode.
    Other(String),
}

impl DType {
    /// The dtypes modelio can decode, as TF.js spells them.
    pub const SUPPORTED: [&'static str; 5] = ["float32", "int32", "bool", "complex64", "string"];

    /// TF.js's name for the dtype.
    pub fn as_str(&self) -> &str {
        match self {
            DType::Float32 => "float32",
            DType::Int32 => "int32",
            DType::Bool => "bool",
            DType::Complex64 => "complex64",
            DType::String => "string",
            DType::Other(s) => s,
        }
    }

    /// Parses TF.js's name; unknown names become [`DType::Other`].
    pub fn parse(s: &str) -> DType {
        match s {
            "float32" => DType::Float32,
            "int32" => DType::Int32,
            "bool" => DType::Bool,
            "complex64" => DType::Complex64,
            "string" => DType::String,
            other => DType::Other(other.to_string()),
        }
    }

    /// Bytes per element, or `None` for `string` (variable) and unknown dtypes.
    pub fn byte_size(&self) -> Option<usize> {
        match self {
            DType::Float32 | DType::Int32 => Some(4),
            DType::Bool => Some(1),
            DType::Complex64 => Some(8),
            DType::String | DType::Other(_) => None,
        }
    }
}

/// Storage type of a quantized weight (`quantization.dtype`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum QuantDType {
    /// 1 byte, `q * scale + min`.
    Uint8,
    /// 2 bytes LE, `q * scale + min`.
    Uint16,
    /// IEEE half precision, 2 bytes LE.
    Float16,
    /// Unknown; refused on decode.
    Other(String),
}

impl QuantDType {
    /// The quantization dtypes modelio can decode.
    pub const SUPPORTED: [&'static str; 3] = ["uint8", "uint16", "float16"];

    /// TF.js's name.
    pub fn as_str(&self) -> &str {
        match self {
            QuantDType::Uint8 => "uint8",
            QuantDType::Uint16 => "uint16",
            QuantDType::Float16 => "float16",
            QuantDType::Other(s) => s,
        }
    }

    /// Parses TF.js's name.
    pub fn parse(s: &str) -> QuantDType {
        match s {
            "uint8" => QuantDType::Uint8,
            "uint16" => QuantDType::Uint16,
            "float16" => QuantDType::Float16,
            other => QuantDType::Other(other.to_string()),
        }
    }

    /// Bytes per stored element, `None` when unknown.
    pub fn byte_size(&self) -> Option<usize> {
        match self {
            QuantDType::Uint8 => Some(1),
            QuantDType::Uint16 | QuantDType::Float16 => Some(2),
            QuantDType::Other(_) => None,
        }
    }
}

macro_rules! string_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok(<$t>::parse(&s))
            }
        }
    };
}
string_serde!(DType);
string_serde!(QuantDType);

/// `quantization` of a weight spec. Key order on write: `dtype, min, scale, original_dtype` (the converter's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quantization {
    /// Storage dtype.
    pub dtype: QuantDType,
    /// Offset added after scaling (uint8/uint16). Kept as written, so it re-serializes byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<serde_json::Number>,
    /// Scale factor (uint8/uint16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<serde_json::Number>,
    /// Written by the Python converter; TF.js ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_dtype: Option<String>,
}

impl Quantization {
    /// `scale` as f64, if present and numeric.
    pub fn scale_f64(&self) -> Option<f64> {
        self.scale.as_ref().and_then(|n| n.as_f64())
    }
    /// `min` as f64, if present and numeric.
    pub fn min_f64(&self) -> Option<f64> {
        self.min.as_ref().and_then(|n| n.as_f64())
    }
    /// A JSON number written exactly as JavaScript's `JSON.stringify` writes `v`.
    pub fn js_number(v: f64) -> serde_json::Number {
        let mut buf = ryu_js::Buffer::new();
        buf.format(v).parse().unwrap_or_else(|_| serde_json::Number::from(0))
    }
}

/// One entry of `weightSpecs` / a manifest group's `weights`.
/// Key order on write: `name, shape, dtype, group, quantization` (TF.js's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeightSpec {
    /// Weight name, e.g. `dense/kernel`.
    pub name: String,
    /// Shape; `[]` for a scalar.
    pub shape: Vec<usize>,
    /// Element dtype (after dequantization).
    pub dtype: DType,
    /// `model` or `optimizer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// How the stored bytes are quantized, if at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization: Option<Quantization>,
}

impl WeightSpec {
    /// A plain (unquantized, ungrouped) spec.
    pub fn new(name: impl Into<String>, shape: Vec<usize>, dtype: DType) -> Self {
        WeightSpec { name: name.into(), shape, dtype, group: None, quantization: None }
    }

    /// Bytes the weight takes in the weight data when that follows from the spec alone (quantized or
    /// fixed-size dtype); `None` for `string` weights, unknown dtypes and overflowing shapes.
    pub fn fixed_byte_len(&self) -> Option<usize> {
        let per = match &self.quantization {
            Some(q) => q.dtype.byte_size()?,
            None => self.dtype.byte_size()?,
        };
        self.num_elements().ok()?.checked_mul(per)
    }

    /// Number of elements, or an error if the shape product overflows.
    pub fn num_elements(&self) -> Result<usize> {
        self.shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or_else(|| {
            Error::invalid_model(
                format!("weight '{}'", self.name),
                format!("shape {:?} has more elements than this machine can address", self.shape),
            )
        })
    }
}

/// One group of `weightsManifest`: the group's bytes, cut into `paths` at arbitrary boundaries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestGroup {
    /// Shard files, relative to model.json, in order.
    pub paths: Vec<String>,
    /// The weights the concatenated shards hold, in order.
    pub weights: Vec<WeightSpec>,
}

/// `modelTopology`: a JSON object (layers models, JSON graph models) or binary GraphDef bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum Topology {
    /// A JSON value, kept as its compact text (key order and number text as written).
    Json(RawJson),
    /// Binary GraphDef.
    GraphDef(Bytes),
}

/// A model in memory, as TF.js's `ModelArtifacts`: topology, metadata, weight specs and weight bytes.
///
/// `weight_data` may be one buffer or many; nothing here joins them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelArtifacts {
    /// `modelTopology`.
    pub model_topology: Option<Topology>,
    /// `trainingConfig`.
    pub training_config: Option<RawJson>,
    /// `weightSpecs`: all weights, in the order their bytes appear in `weight_data`.
    pub weight_specs: Vec<WeightSpec>,
    /// `weightData`.
    pub weight_data: WeightData,
    /// `format`, e.g. `layers-model`.
    pub format: Option<String>,
    /// `generatedBy`.
    pub generated_by: Option<String>,
    /// `convertedBy`: `None` = absent, `Some(None)` = JSON `null` (what TF.js writes), `Some(Some(s))`.
    pub converted_by: Option<Option<String>>,
    /// `signature`.
    pub signature: Option<RawJson>,
    /// `userDefinedMetadata`.
    pub user_defined_metadata: Option<RawJson>,
    /// `modelInitializer`.
    pub model_initializer: Option<RawJson>,
    /// `initializerSignature`.
    pub initializer_signature: Option<RawJson>,
    /// Top-level fields of a model.json that modelio does not know, in order, each key once, kept
    /// for round trips.
    pub extra: Vec<(String, RawJson)>,
}

/// A top-level field of model.json / artifacts metadata, used to spell out each route's key order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// `modelTopology`
    ModelTopology,
    /// `weightsManifest` (only in model.json)
    WeightsManifest,
    /// `format`
    Format,
    /// `generatedBy`
    GeneratedBy,
    /// `convertedBy`
    ConvertedBy,
    /// `trainingConfig`
    TrainingConfig,
    /// `signature`
    Signature,
    /// `userDefinedMetadata`
    UserDefinedMetadata,
    /// `modelInitializer`
    ModelInitializer,
    /// `initializerSignature`
    InitializerSignature,
}

impl Field {
    /// The JSON key.
    pub fn key(self) -> &'static str {
        match self {
            Field::ModelTopology => "modelTopology",
            Field::WeightsManifest => "weightsManifest",
            Field::Format => "format",
            Field::GeneratedBy => "generatedBy",
            Field::ConvertedBy => "convertedBy",
            Field::TrainingConfig => "trainingConfig",
            Field::Signature => "signature",
            Field::UserDefinedMetadata => "userDefinedMetadata",
            Field::ModelInitializer => "modelInitializer",
            Field::InitializerSignature => "initializerSignature",
        }
    }
}

/// Key order of model.json as the browser routes and `http(s)://` write it
/// (`getModelJSONForModelArtifacts` in TF.js).
pub const BROWSER_ORDER: &[Field] = &[
    Field::ModelTopology,
    Field::Format,
    Field::GeneratedBy,
    Field::ConvertedBy,
    Field::WeightsManifest,
    Field::Signature,
    Field::UserDefinedMetadata,
    Field::ModelInitializer,
    Field::InitializerSignature,
    Field::TrainingConfig,
];

/// Key order of model.json as tfjs-node's `file://` handler writes it.
pub const NODE_FILE_ORDER: &[Field] = &[
    Field::ModelTopology,
    Field::WeightsManifest,
    Field::Format,
    Field::GeneratedBy,
    Field::ConvertedBy,
    Field::TrainingConfig,
    Field::Signature,
    Field::UserDefinedMetadata,
    Field::ModelInitializer,
    Field::InitializerSignature,
];

/// Key order of TF.js's `model_metadata` record (localStorage, IndexedDB-free metadata).
pub const METADATA_ORDER: &[Field] = &[
    Field::Format,
    Field::GeneratedBy,
    Field::ConvertedBy,
    Field::Signature,
    Field::UserDefinedMetadata,
    Field::ModelInitializer,
    Field::InitializerSignature,
    Field::TrainingConfig,
];

impl ModelArtifacts {
    /// The number of weight bytes the specs describe; `None` when a string weight makes it unknown
    /// before the bytes are read, or the sum overflows.
    pub fn fixed_weight_bytes(&self) -> Option<usize> {
        self.weight_specs.iter().try_fold(0usize, |acc, s| acc.checked_add(s.fixed_byte_len()?))
    }

    /// A model's artifacts from a JSON topology and encoded weights.
    pub fn new(topology: impl Into<RawJson>, weight_specs: Vec<WeightSpec>, weight_data: WeightData) -> Self {
        ModelArtifacts {
            model_topology: Some(Topology::Json(topology.into())),
            weight_specs,
            weight_data,
            ..Default::default()
        }
    }

    /// The JSON value of a field, `None` when absent (so it is not written), as TF.js's
    /// `JSON.stringify` drops `undefined`. Cheap: big values are shared, not copied.
    pub fn field_value(&self, field: Field) -> Option<RawJson> {
        match field {
            Field::ModelTopology => match &self.model_topology {
                Some(Topology::Json(v)) => Some(v.clone()),
                // TF.js would write an ArrayBuffer as `{}`; we never emit that silently.
                Some(Topology::GraphDef(_)) | None => None,
            },
            Field::WeightsManifest => None,
            Field::Format => self.format.as_deref().map(RawJson::string),
            Field::GeneratedBy => self.generated_by.as_deref().map(RawJson::string),
            Field::ConvertedBy => {
                self.converted_by.as_ref().map(|c| c.as_deref().map(RawJson::string).unwrap_or_else(RawJson::null))
            }
            Field::TrainingConfig => self.training_config.clone(),
            Field::Signature => self.signature.clone(),
            Field::UserDefinedMetadata => self.user_defined_metadata.clone(),
            Field::ModelInitializer => self.model_initializer.clone(),
            Field::InitializerSignature => self.initializer_signature.clone(),
        }
    }

    /// Sets a field from its JSON value; `location` names where it came from for errors.
    pub fn set_field(&mut self, field: Field, value: RawJson, location: &str) -> Result<()> {
        let want_string = |v: RawJson, key: &str| -> Result<String> {
            v.as_string()
                .ok_or_else(|| Error::invalid_model(location, format!("'{key}' must be a string, found {}", v.kind())))
        };
        match field {
            Field::ModelTopology => self.model_topology = Some(Topology::Json(value)),
            Field::WeightsManifest => {}
            Field::Format => self.format = Some(want_string(value, "format")?),
            Field::GeneratedBy => self.generated_by = Some(want_string(value, "generatedBy")?),
            Field::ConvertedBy => {
                self.converted_by = Some(if value.is_null() { None } else { Some(want_string(value, "convertedBy")?) })
            }
            Field::TrainingConfig => self.training_config = Some(value),
            Field::Signature => self.signature = Some(value),
            Field::UserDefinedMetadata => self.user_defined_metadata = Some(value),
            Field::ModelInitializer => self.model_initializer = Some(value),
            Field::InitializerSignature => self.initializer_signature = Some(value),
        }
        Ok(())
    }

    /// The metadata fields in `order` that are present, as (key, value) pairs; `extra` fields are
    /// appended when `with_extra` is set (a key already present is not repeated).
    pub fn json_fields(&self, order: &[Field], with_extra: bool) -> Vec<(String, RawJson)> {
        let mut fields: Vec<(String, RawJson)> =
            order.iter().filter_map(|&f| Some((f.key().to_string(), self.field_value(f)?))).collect();
        if with_extra {
            let mut seen: HashSet<String> = fields.iter().map(|(k, _)| k.clone()).collect();
            for (k, v) in &self.extra {
                if seen.insert(k.clone()) {
                    fields.push((k.clone(), v.clone()));
                }
            }
        }
        fields
    }

    /// The metadata fields in `order` as one compact JSON object (e.g. TF.js's `model_metadata`);
    /// `extra` fields are appended when `with_extra` is set.
    pub fn to_json_text(&self, order: &[Field], with_extra: bool) -> String {
        let mut out = Vec::new();
        write_object(&mut out, self.json_fields(order, with_extra).iter().map(|(k, v)| (k.as_str(), v.as_str())));
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    /// Reads the metadata fields of a JSON object's entries; other keys go to `extra` when
    /// `keep_extra` is set (a key already there is replaced).
    pub fn apply_json_object(
        &mut self,
        entries: impl IntoIterator<Item = (String, RawJson)>,
        location: &str,
        keep_extra: bool,
    ) -> Result<()> {
        let mut index: HashMap<String, usize> =
            self.extra.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)).collect();
        for (k, v) in entries {
            match field_for_key(&k) {
                Some(Field::WeightsManifest) => {}
                Some(f) => self.set_field(f, v, location)?,
                None if keep_extra => match index.get(&k) {
                    Some(&i) => self.extra[i].1 = v,
                    None => {
                        index.insert(k.clone(), self.extra.len());
                        self.extra.push((k, v));
                    }
                },
                None => {}
            }
        }
        Ok(())
    }

    /// Total weight bytes.
    pub fn weight_bytes(&self) -> u64 {
        self.weight_data.len() as u64
    }
}

/// The [`Field`] for a JSON key, if it is one TF.js defines.
pub fn field_for_key(k: &str) -> Option<Field> {
    Some(match k {
        "modelTopology" => Field::ModelTopology,
        "weightsManifest" => Field::WeightsManifest,
        "format" => Field::Format,
        "generatedBy" => Field::GeneratedBy,
        "convertedBy" => Field::ConvertedBy,
        "trainingConfig" => Field::TrainingConfig,
        "signature" => Field::Signature,
        "userDefinedMetadata" => Field::UserDefinedMetadata,
        "modelInitializer" => Field::ModelInitializer,
        "initializerSignature" => Field::InitializerSignature,
        _ => return None,
    })
}

/// Writes the compact JSON object of `entries` (keys escaped, values verbatim) to `out`.
fn write_object<'a>(out: &mut Vec<u8>, entries: impl IntoIterator<Item = (&'a str, &'a str)>) {
    out.push(b'{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mut key = String::with_capacity(k.len() + 2);
        text::write_string(&mut key, k);
        out.extend_from_slice(key.as_bytes());
        out.push(b':');
        out.extend_from_slice(v.as_bytes());
    }
    out.push(b'}');
}

/// A parsed `model.json`: the artifacts without weight bytes, and the weights manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelJson {
    /// Everything but the weights (`weight_specs` holds all groups' weights in order; `weight_data` is empty).
    pub artifacts: ModelArtifacts,
    /// `weightsManifest`.
    pub weights_manifest: Vec<ManifestGroup>,
}

impl ModelJson {
    /// Parses and checks a model.json document of at most [`MAX_MODEL_JSON_BYTES`].
    /// `location` (URL or path) is named in errors.
    pub fn parse(bytes: &[u8], location: &str) -> Result<Self> {
        Self::parse_with_limit(bytes, location, MAX_MODEL_JSON_BYTES)
    }

    /// Parses and checks a model.json document of at most `max_bytes` bytes (a bigger one is an
    /// [`Error::InvalidModel`] naming the location, the size and the cap).
    ///
    /// Memory is a small multiple of the document's size, whatever it holds: the opaque fields
    /// (`modelTopology` when JSON, `trainingConfig`, `signature`, `userDefinedMetadata`,
    /// `modelInitializer`, `initializerSignature`, unknown fields) are kept as compact text
    /// ([`RawJson`]); only `weightsManifest` and the string fields are parsed into values.
    pub fn parse_with_limit(bytes: &[u8], location: &str, max_bytes: u64) -> Result<Self> {
        check_model_json_size(bytes.len() as u64, location, max_bytes)?;
        let trimmed = bytes.iter().position(|b| !b.is_ascii_whitespace()).map(|i| &bytes[i..]).unwrap_or(&[]);
        if trimmed.first() == Some(&b'<') {
            return Err(Error::invalid_model(location, "expected model.json but got HTML (is the URL right?)"));
        }
        let invalid = |e: text::JsonError| Error::invalid_model(location, format!("model.json is not valid JSON: {e}"));
        let reader = Reader::from_bytes(bytes).map_err(invalid)?;
        if trimmed.first() != Some(&b'{') {
            let mut r = reader;
            let value = r.value_text().map_err(invalid)?;
            r.end().map_err(invalid)?;
            return Err(Error::invalid_model(
                location,
                format!("model.json must be a JSON object, found {}", kind_of_text(value)),
            ));
        }
        let entries = raw_entries(reader).map_err(invalid)?;
        if !entries.iter().any(|(k, _)| k == "modelTopology") {
            return Err(Error::invalid_model(location, "model.json has no 'modelTopology'"));
        }
        let manifest = entries
            .iter()
            .find(|(k, _)| k == "weightsManifest")
            .ok_or_else(|| Error::invalid_model(location, "model.json has no 'weightsManifest'"))?
            .1;
        let weights_manifest = schema::read_all(manifest, schema::manifest)
            .map_err(|e| Error::invalid_model(location, format!("'weightsManifest' is malformed: {e}")))?;
        let mut artifacts = ModelArtifacts::default();
        for (k, v) in entries {
            // `raw_entries` gave each key once.
            match field_for_key(&k) {
                Some(Field::WeightsManifest) => {}
                Some(f) => artifacts.set_field(f, RawJson::from_valid(v).map_err(invalid)?, location)?,
                None => artifacts.extra.push((k.into_owned(), RawJson::from_valid(v).map_err(invalid)?)),
            }
        }
        artifacts.weight_specs = weights_manifest.iter().flat_map(|g| g.weights.iter().cloned()).collect();
        Ok(ModelJson { artifacts, weights_manifest })
    }

    /// A model.json for `artifacts` whose weights are written as one group in the files `paths`.
    pub fn for_artifacts(artifacts: &ModelArtifacts, paths: Vec<String>) -> Self {
        let mut a = artifacts.clone();
        a.weight_data = WeightData::default();
        ModelJson {
            weights_manifest: vec![ManifestGroup { paths, weights: artifacts.weight_specs.clone() }],
            artifacts: a,
        }
    }

    /// Compact JSON bytes, as `JSON.stringify` writes them, with the route's key `order`; unknown
    /// fields come last.
    pub fn to_bytes(&self, order: &[Field]) -> Vec<u8> {
        let mut manifest = String::new();
        schema::write_manifest(&mut manifest, &self.weights_manifest);
        let fields = self.artifacts.json_fields(order, true);
        let len = manifest.len() + fields.iter().map(|(k, v)| k.len() + v.as_str().len() + 4).sum::<usize>() + 32;
        let mut out = Vec::with_capacity(len);
        let mut fields = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).peekable();
        let mut entries = Vec::new();
        for &f in order {
            if f == Field::WeightsManifest {
                entries.push((f.key(), manifest.as_str()));
            } else if fields.peek().is_some_and(|(k, _)| *k == f.key()) {
                entries.extend(fields.next());
            }
        }
        let manifest_written = order.contains(&Field::WeightsManifest);
        entries.extend(fields.filter(|(k, _)| !(manifest_written && *k == Field::WeightsManifest.key())));
        write_object(&mut out, entries);
        out
    }
}

/// Checks a model.json's size against the cap `max_bytes` ([`MAX_MODEL_JSON_BYTES`] by default):
/// an [`Error::InvalidModel`] naming `location`, the size and the cap when it is over.
///
/// A reader should read at most `max_bytes + 1` bytes and pass what it got (or a size it was
/// announced, before reading); `max_bytes + 1` is reported as "more than `max_bytes`".
pub fn check_model_json_size(size: u64, location: &str, max_bytes: u64) -> Result<()> {
    if size <= max_bytes {
        return Ok(());
    }
    let what = if size == max_bytes.saturating_add(1) {
        format!("more than {max_bytes} bytes")
    } else {
        format!("{size} bytes")
    };
    Err(Error::invalid_model(
        location,
        format!(
            "model.json is {what}, over the limit of {max_bytes} bytes \
             (io_core::artifacts::MAX_MODEL_JSON_BYTES; raise it with ModelJson::parse_with_limit)"
        ),
    ))
}
