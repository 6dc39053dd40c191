//! Loading a model folder: model.json, then every group's shards resolved next to it.

use std::path::{Path, PathBuf};

use io_core::buffer::ShardMemory;
use io_core::codec::{check_group, FileSpan};
use io_core::{Error, ModelArtifacts, ModelJson, Result, WeightData};

use crate::dir::ModelDir;
use crate::handler::MODEL_JSON;

/// How many times a load starts over when a concurrent save swapped the folder under it.
const ATTEMPTS: usize = 16;

/// Loads the model at `path`: a model.json file, or a folder holding `model.json`.
pub(crate) fn load(path: &Path, allow_outside: bool) -> Result<ModelArtifacts> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::NotFound { url: path.display().to_string(), detail: "no such file or folder".into() }
        }
        _ => Error::io("reading", path, e),
    })?;
    let (folder, json_name) = if meta.is_dir() {
        (path.to_path_buf(), PathBuf::from(MODEL_JSON))
    } else {
        let name = PathBuf::from(path.file_name().unwrap_or(MODEL_JSON.as_ref()));
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        (parent.to_path_buf(), name)
    };
    let mut attempt = 0;
    loop {
        let dir = ModelDir::open(&folder).map_err(|e| open_error(&folder, e))?;
        match load_from(&dir, &json_name, allow_outside) {
            // A save swapped the folder while we read it: start over from the new one.
            Err(_) if attempt + 1 < ATTEMPTS && !dir.is_current() => attempt += 1,
            other => return other,
        }
    }
}

fn open_error(folder: &Path, e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => Error::not_found(folder.display().to_string()),
        _ => Error::io("opening the model folder", folder, e),
    }
}

fn load_from(dir: &ModelDir, json_name: &Path, allow_outside: bool) -> Result<ModelArtifacts> {
    let json_path = dir.display(json_name);
    let bytes = dir.read(json_name, &ShardMemory::none()).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound {
            url: json_path.display().to_string(),
            detail: format!("no {} in the folder", json_name.display()),
        },
        _ => Error::io("reading", &json_path, e),
    })?;
    let location = json_path.display().to_string();
    let parsed = ModelJson::parse(&bytes, &location)?;
    let mut weights = WeightData::default();
    // All weight files in one allocation, faulted in ahead on a helper thread (io_core::buffer).
    let memory = ShardMemory::new(parsed.artifacts.fixed_weight_bytes().unwrap_or(0));
    for group in &parsed.weights_manifest {
        let mut data = WeightData::default();
        let mut spans = Vec::with_capacity(group.paths.len());
        for rel in &group.paths {
            if !allow_outside {
                check_inside(rel, &location)?;
            }
            let file = dir.display(rel);
            let b = dir.read(rel, &memory).map_err(|e| Error::io("reading weight file", &file, e))?;
            spans.push(FileSpan { name: file.display().to_string(), len: b.len() });
            data.push(b);
        }
        check_group(group, &data, &spans)?;
        weights.append(data);
    }
    let mut artifacts = parsed.artifacts;
    artifacts.weight_data = weights;
    Ok(artifacts)
}

/// Refuses a manifest weight path that is absolute or climbs out of the model's folder.
pub(crate) fn check_inside(rel: &str, location: &str) -> Result<()> {
    let why = if rel.is_empty() {
        Some("is empty")
    } else if rel.starts_with('/') || rel.starts_with('\\') || rel.as_bytes().get(1) == Some(&b':') {
        Some("is absolute")
    } else if rel.split(['/', '\\']).any(|c| c == "..") {
        Some("climbs out of the model's folder ('..')")
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(why) => Err(Error::invalid_model(
            location,
            format!(
                "weight path '{rel}' in weightsManifest {why}; modelio reads weight files only inside the model's \
                 folder (FileHandler::allow_paths_outside_folder(true) lifts this)"
            ),
        )),
    }
}
