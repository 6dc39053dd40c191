//! `ModelArtifactsInfo` and `SaveResult`, computed as TF.js computes them.

use serde::{Deserialize, Serialize};

use crate::artifacts::{ModelArtifacts, Topology};

/// Summary of a saved model, as TF.js's `ModelArtifactsInfo`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelArtifactsInfo {
    /// When the model was saved, ISO 8601 UTC with milliseconds (`2026-11-25T19:32:34.925Z`).
    pub date_saved: String,
    /// `"JSON"` or `"GraphDef"`.
    pub model_topology_type: String,
    /// UTF-8 length of the compact JSON of the topology (or the GraphDef's byte length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_topology_bytes: Option<u64>,
    /// UTF-8 length of the compact JSON of the weight specs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_specs_bytes: Option<u64>,
    /// Total weight bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_data_bytes: Option<u64>,
}

impl ModelArtifactsInfo {
    /// Info for `artifacts`, dated now (TF.js's `getModelArtifactsInfoForJSON`).
    pub fn for_artifacts(artifacts: &ModelArtifacts) -> Self {
        Self::for_artifacts_at(artifacts, now_iso())
    }

    /// Info for `artifacts` with a given `dateSaved`.
    pub fn for_artifacts_at(artifacts: &ModelArtifacts, date_saved: String) -> Self {
        let (ty, topo_bytes) = match &artifacts.model_topology {
            Some(Topology::GraphDef(b)) => ("GraphDef", Some(b.len() as u64)),
            Some(Topology::Json(v)) => ("JSON", Some(v.as_str().len() as u64)),
            None => ("JSON", None),
        };
        ModelArtifactsInfo {
            date_saved,
            model_topology_type: ty.to_string(),
            model_topology_bytes: topo_bytes,
            weight_specs_bytes: Some(crate::json::weight_specs_to_json(&artifacts.weight_specs).len() as u64),
            weight_data_bytes: Some(artifacts.weight_data.len() as u64),
        }
    }

    /// The compact JSON TF.js stores (`JSON.stringify` of the info; absent counts left out).
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        crate::json::schema::write_info(&mut out, self);
        out
    }

    /// Reads the JSON of an info (unknown fields ignored), errors saying what is wrong and where.
    pub fn from_json(text: &str) -> crate::json::text::JsonResult<Self> {
        crate::json::schema::read_all(text, crate::json::schema::info)
    }

    /// Total of the three byte counts: what a store must hold, roughly.
    pub fn total_bytes(&self) -> u64 {
        self.model_topology_bytes.unwrap_or(0)
            + self.weight_specs_bytes.unwrap_or(0)
            + self.weight_data_bytes.unwrap_or(0)
    }
}

/// UTF-8 length of the compact JSON of `v`, as `JSON.stringify(v).length` in UTF-8 bytes.
pub fn json_len<T: Serialize + ?Sized>(v: &T) -> u64 {
    struct Counter(u64);
    impl std::io::Write for Counter {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len() as u64;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Counter(0);
    serde_json::to_writer(&mut c, v).expect("JSON values serialize");
    c.0
}

/// The current time as TF.js writes `dateSaved` (`new Date().toISOString()`), on every target.
pub fn now_iso() -> String {
    let since = web_time::SystemTime::now().duration_since(web_time::UNIX_EPOCH).unwrap_or_default();
    iso(std::time::UNIX_EPOCH + since)
}

/// A time as TF.js writes `dateSaved`: ISO 8601 UTC with milliseconds (`2026-11-25T19:32:34.925Z`).
pub fn iso(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// One response a save received (HTTP saves), as TF.js's `SaveResult.responses`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveResponse {
    /// Where the request went.
    pub url: String,
    /// HTTP status code.
    pub status: u16,
}

/// What a save returns, as TF.js's `SaveResult`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SaveResult {
    /// Info of the saved model.
    pub model_artifacts_info: ModelArtifactsInfo,
    /// Responses received (HTTP), empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub responses: Vec<SaveResponse>,
}

impl SaveResult {
    /// A result for `artifacts` saved now, with no responses.
    pub fn for_artifacts(artifacts: &ModelArtifacts) -> Self {
        SaveResult { model_artifacts_info: ModelArtifactsInfo::for_artifacts(artifacts), responses: Vec::new() }
    }
}
