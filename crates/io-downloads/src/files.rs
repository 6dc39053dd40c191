//! TF.js's `browserFiles` on any target: a model.json and weight files given as `(name, bytes)`,
//! weight files matched to the manifest's paths by basename, with TF.js's error texts.

use std::collections::HashMap;

use bytes::Bytes;
use io_core::files::{self, FileSource, NamedFiles, PathPolicy};
use io_core::{Error, ManifestGroup, ModelArtifacts, ModelJson, Options, Result};

/// A file the user picked: its name (no folders needed) and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedFile {
    /// File name, e.g. `model.weights.bin`; only its basename is used for matching.
    pub name: String,
    /// The file's content.
    pub bytes: Bytes,
}

impl NamedFile {
    /// A named file.
    pub fn new(name: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        NamedFile { name: name.into(), bytes: bytes.into() }
    }
}

pub use io_core::files::basename;

/// For every manifest path, group by group, the index in `file_names` of the weight file with the
/// same basename. Errors exactly as TF.js's `browserFiles`: a basename twice in the manifest, a path
/// with no file, or more files than paths. `location` (the model.json's name) goes into errors.
/// Linear in paths and files.
pub fn match_weight_files(manifest: &[ManifestGroup], file_names: &[&str], location: &str) -> Result<Vec<Vec<usize>>> {
    let mut names: HashMap<&str, usize> = HashMap::with_capacity(file_names.len());
    for (i, n) in file_names.iter().enumerate() {
        names.entry(basename(n)).or_insert(i);
    }
    // Basenames seen (→ position in their group): one map type with `names`, where a set would be
    // one more hash table instantiation in the wasm.
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::with_capacity(manifest.len());
    for group in manifest {
        let mut idx = Vec::with_capacity(group.paths.len());
        for path in &group.paths {
            let b = basename(path);
            if seen.insert(b, idx.len()).is_some() {
                return Err(Error::invalid_model(
                    location,
                    format!("Duplicate file basename found in weights manifest: '{b}'"),
                ));
            }
            match names.get(b) {
                Some(&i) => idx.push(i),
                None => {
                    return Err(Error::invalid_model(
                        location,
                        format!("Weight file with basename '{b}' is not provided."),
                    ))
                }
            }
        }
        out.push(idx);
    }
    if seen.len() != file_names.len() {
        return Err(Error::invalid_model(
            location,
            format!(
                "Mismatch in the number of files in weights manifest ({}) and the number of weight files provided ({}).",
                seen.len(),
                file_names.len()
            ),
        ));
    }
    Ok(out)
}

/// The model in `model_json` with its weights taken from `weights` (TF.js's `browserFiles(...).load()`).
///
/// The files are matched with TF.js's rules and errors ([`match_weight_files`]), then read through
/// the layout component ([`io_core::files`]): every group's files are checked against its weights
/// (a short or long file is an error naming it). As in TF.js, giving no weight files at all loads
/// the model without weights (topology and metadata only; modelio also drops the weight specs, so
/// the result is consistent).
pub async fn artifacts_from_files(model_json: &NamedFile, weights: &[NamedFile]) -> Result<ModelArtifacts> {
    let source = NamedFiles::new(weights.iter().map(|f| (f.name.clone(), f.bytes.clone())), &model_json.name)?;
    load_matched(model_json, &source, &weights.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), &Options::new())
        .await
}

/// [`artifacts_from_files`] over any [`FileSource`] that finds weight files by basename: `json` is
/// the model.json already read, `names` the weight files' names (for TF.js's matching errors).
pub(crate) async fn load_matched(
    json: &NamedFile,
    source: &dyn FileSource,
    names: &[&str],
    opts: &Options,
) -> Result<ModelArtifacts> {
    let limit = opts.get_limits().max_model_json_bytes;
    if json.bytes.len() as u64 > limit {
        return Err(Error::TooLarge {
            what: "model.json",
            location: json.name.clone(),
            limit,
            actual: json.bytes.len() as u64,
            detail: "raise Limits::max_model_json_bytes to allow more".into(),
        });
    }
    let parsed = ModelJson::parse(&json.bytes, &json.name)?;
    if names.is_empty() {
        let mut artifacts = parsed.artifacts;
        artifacts.weight_specs.clear();
        return Ok(artifacts);
    }
    match_weight_files(&parsed.weights_manifest, names, &json.name)?;
    files::assemble(parsed, source, &json.name, PathPolicy::Basename, opts).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(paths: &[&[&str]]) -> Vec<ManifestGroup> {
        paths
            .iter()
            .map(|p| ManifestGroup { paths: p.iter().map(|s| s.to_string()).collect(), weights: vec![] })
            .collect()
    }

    #[test]
    fn basename_is_tfjs_basename() {
        assert_eq!(basename("./model.weights.bin"), "model.weights.bin");
        assert_eq!(basename(" a/b/c.bin/ "), "c.bin");
        assert_eq!(basename("plain"), "plain");
    }

    #[test]
    fn matches_by_basename_across_groups_in_any_order() {
        let m = manifest(&[&["./g1-s1.bin", "sub/g1-s2.bin"], &["g2.bin"]]);
        assert_eq!(
            match_weight_files(&m, &["g2.bin", "g1-s2.bin", "x/g1-s1.bin"], "m.json").unwrap(),
            [vec![2, 1], vec![0]]
        );
    }

    #[test]
    fn tfjs_errors() {
        let msg = |m: &[&[&str]], f: &[&str]| match_weight_files(&manifest(m), f, "m.json").unwrap_err().to_string();
        assert!(msg(&[&["a/w.bin"], &["b/w.bin"]], &["w.bin"])
            .contains("Duplicate file basename found in weights manifest: 'w.bin'"));
        assert!(msg(&[&["./fixture-a.weights.bin"]], &["other.bin"])
            .contains("Weight file with basename 'fixture-a.weights.bin' is not provided."));
        assert!(msg(&[&["w1.bin"]], &["w1.bin", "w2.bin"]).contains(
            "Mismatch in the number of files in weights manifest (1) and the number of weight files provided (2)."
        ));
    }
}
