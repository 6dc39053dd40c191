//! The `safetensors://` plugin and [`SafetensorsHandler`].

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use io_core::artifacts::BROWSER_ORDER;
use io_core::{
    codec, DType, Error, LoadHandler, ModelArtifacts, ModelJson, ModelUrl, Options, QuantDType, Result, SaveHandler,
    SaveResult, Scheme, WeightData, WeightSpec,
};
use safetensors::tensor::{Metadata, TensorInfo};
use safetensors::{Dtype, View};

use crate::MODEL_JSON_KEY;

/// The `safetensors://` plugin, as registered in the router.
pub struct SafetensorsScheme;

impl Scheme for SafetensorsScheme {
    fn save_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn SaveHandler>>> {
        Ok(Some(Box::new(SafetensorsHandler::from_url(url)?)))
    }
    fn load_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn LoadHandler>>> {
        Ok(Some(Box::new(SafetensorsHandler::from_url(url)?)))
    }
}

/// Exports a model to, or imports one from, one `.safetensors` file (see the crate docs).
#[derive(Clone, Debug)]
pub struct SafetensorsHandler {
    path: PathBuf,
    url: String,
}

impl SafetensorsHandler {
    /// A handler for the file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        SafetensorsHandler { url: format!("safetensors://{}", path.display()), path }
    }

    /// A handler for `safetensors:///abs/m.safetensors` or `safetensors://./rel/m.safetensors`.
    pub fn from_url(url: &ModelUrl) -> Result<Self> {
        if url.path.is_empty() {
            return Err(Error::InvalidUrl {
                url: url.raw.clone(),
                reason: "the path is empty (e.g. safetensors://./model.safetensors)".into(),
            });
        }
        Ok(SafetensorsHandler { url: url.raw.clone(), ..Self::new(&url.path) })
    }

    /// Whether the URL names a Hugging Face index (`….safetensors.index.json`): a sharded model.
    pub fn is_sharded(&self) -> bool {
        self.path.to_string_lossy().ends_with(INDEX_SUFFIX)
    }

    /// Saves (blocking, atomically for one file; see [`crate`] for the sharded layout).
    pub fn save_sync(&self, artifacts: &ModelArtifacts, opts: &Options) -> Result<SaveResult> {
        io_core::files::check_json_topology(artifacts, &self.url, "safetensors")?;
        let (tensors, model_json) = self.tensors(artifacts)?;
        opts.check_cancelled("save", &self.url)?;
        let (parent, target) = self.target()?;
        let meter = opts.meter(Some(artifacts.weight_data.len() as u64));
        if self.is_sharded() {
            self.save_sharded(tensors, model_json, &parent, &target, opts)?;
        } else {
            let meta = HashMap::from([(MODEL_JSON_KEY.to_string(), model_json)]);
            let temp = write_temp(tensors, meta, &parent, &target)?;
            commit(&[(temp, target)], opts, &self.url)?;
        }
        let _ = File::open(&parent).and_then(|d| d.sync_all());
        meter.finish(artifacts.weight_data.len() as u64);
        Ok(SaveResult::for_artifacts(artifacts))
    }

    /// Shards of at most the shard size (`Options::shard_size`, else [`DEFAULT_SHARD_BYTES`]; a
    /// bigger weight gets a shard of its own), named `model-0000I-of-0000N.safetensors` beside
    /// the index; each shard and the index carry one save id, which a load checks, so shards of
    /// two saves are never mixed. Shards and index are written to temporary files first and renamed
    /// into place (index last); shard files of an earlier save that the new index no longer names
    /// are removed after the index is in place.
    fn save_sharded(
        &self,
        tensors: Vec<(String, Tensor)>,
        model_json: String,
        parent: &Path,
        target: &Path,
        opts: &Options,
    ) -> Result<()> {
        let limit = opts.get_shard_size().unwrap_or(DEFAULT_SHARD_BYTES) as u64;
        let mut groups: Vec<Vec<(String, Tensor)>> = Vec::new();
        let mut size = 0u64;
        for t in tensors {
            let n = t.1.data.len() as u64;
            if groups.is_empty() || (size > 0 && size + n > limit) {
                groups.push(Vec::new());
                size = 0;
            }
            size += n;
            groups.last_mut().expect("a group").push(t);
        }
        if groups.is_empty() {
            groups.push(Vec::new());
        }
        let save_id = format!("{}-{}", std::process::id(), nanos());
        let count = groups.len();
        let mut weight_map = serde_json::Map::new();
        let mut total = 0u64;
        let mut renames = Vec::with_capacity(count + 1);
        let mut names = HashSet::new();
        for (i, group) in groups.into_iter().enumerate() {
            let name = format!("model-{:05}-of-{:05}.safetensors", i + 1, count);
            for (t, v) in &group {
                weight_map.insert(t.clone(), name.clone().into());
                total += v.data.len() as u64;
            }
            let meta = HashMap::from([(SAVE_ID_KEY.to_string(), save_id.clone())]);
            let dest = parent.join(&name);
            match write_temp(group, meta, parent, &dest) {
                Ok(temp) => renames.push((temp, dest)),
                Err(e) => {
                    renames.iter().for_each(|(t, _)| drop(std::fs::remove_file(t)));
                    return Err(e);
                }
            }
            names.insert(name);
        }
        let index = serde_json::json!({
            "metadata": { "total_size": total, MODEL_JSON_KEY: model_json, SAVE_ID_KEY: save_id },
            "weight_map": weight_map,
        });
        let old = read_bounded(target, 100_000_000, &self.url, "safetensors index")
            .ok()
            .and_then(|b| serde_json::from_slice::<Index>(&b).ok());
        let temp = temp_path(parent, target);
        let written = std::fs::write(&temp, serde_json::to_vec_pretty(&index).expect("JSON"))
            .and_then(|_| File::open(&temp).and_then(|f| f.sync_all()))
            .map_err(|e| Error::io("writing", &temp, e));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            renames.iter().for_each(|(t, _)| drop(std::fs::remove_file(t)));
            return Err(e);
        }
        renames.push((temp, target.to_path_buf()));
        commit(&renames, opts, &self.url)?;
        for stale in old.iter().flat_map(|o| o.weight_map.values()) {
            if !names.contains(stale) && is_plain_name(stale) {
                let _ = std::fs::remove_file(parent.join(stale));
            }
        }
        Ok(())
    }

    /// The folder and the absolute target file of a save (refusing a folder as target).
    fn target(&self) -> Result<(PathBuf, PathBuf)> {
        let target = std::path::absolute(&self.path).map_err(|e| Error::io("resolving", &self.path, e))?;
        let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
        if target.file_name().is_none() {
            return Err(Error::InvalidUrl { url: self.url.clone(), reason: "the path names no file".into() });
        }
        if target.is_dir() {
            return Err(Error::InvalidUrl {
                url: self.url.clone(),
                reason: format!("'{}' is a folder; safetensors:// saves one file", target.display()),
            });
        }
        std::fs::create_dir_all(&parent).map_err(|e| Error::io("creating folder", &parent, e))?;
        Ok((parent, target))
    }

    /// One safetensors tensor per weight (names unique) and the model.json text for the metadata.
    fn tensors(&self, artifacts: &ModelArtifacts) -> Result<(Vec<(String, Tensor)>, String)> {
        let ranges = codec::layout(&artifacts.weight_specs, &artifacts.weight_data, &[])
            .map_err(|e| e.with_location(&self.url))?;
        let mut seen = HashSet::new();
        let mut tensors = Vec::with_capacity(ranges.len());
        for (spec, range) in artifacts.weight_specs.iter().zip(ranges) {
            if !seen.insert(spec.name.as_str()) {
                return Err(Error::Unsupported {
                    operation: "save",
                    url: self.url.clone(),
                    reason: format!("the weight name '{}' is used twice; safetensors names must be unique", spec.name),
                });
            }
            if spec.name == METADATA_KEY {
                return Err(Error::Unsupported {
                    operation: "save",
                    url: self.url.clone(),
                    reason: format!(
                        "a weight is named '{METADATA_KEY}', the key safetensors reserves for its metadata"
                    ),
                });
            }
            let (dtype, shape) = stored(spec, range.len()).ok_or_else(|| Error::Unsupported {
                operation: "save",
                url: self.url.clone(),
                reason: format!("weight '{}' has a dtype safetensors cannot hold ({})", spec.name, spec.dtype.as_str()),
            })?;
            tensors.push((spec.name.clone(), Tensor { dtype, shape, data: artifacts.weight_data.sub(range) }));
        }
        let model_json = ModelJson::for_artifacts(artifacts, Vec::new()).to_bytes(BROWSER_ORDER);
        Ok((tensors, String::from_utf8(model_json).expect("serde_json writes UTF-8")))
    }

    /// Loads (blocking), bounded as the crate docs say.
    pub fn load_sync(&self, opts: &Options) -> Result<ModelArtifacts> {
        let limits = opts.get_limits();
        if self.is_sharded() {
            return self.load_sharded(opts);
        }
        let file = read_file(&self.path, &self.url, limits.max_weight_bytes, &limits, opts)?;
        let mut artifacts = match file.metadata.get(MODEL_JSON_KEY) {
            Some(json) => ModelJson::parse(json.as_bytes(), &self.url)?.artifacts,
            None => foreign_specs(&file, &self.url)?,
        };
        let chunks =
            artifacts.weight_specs.iter().map(|spec| file.pick(spec, &self.url)).collect::<Result<Vec<_>>>()?;
        artifacts.weight_data = WeightData::from_chunks(chunks);
        Ok(artifacts)
    }

    /// Loads a Hugging Face index and its shards: the index is bounded like a header, every shard
    /// it names must be a plain file name in the index's folder, the shards' total size is held
    /// against `Limits::max_weight_bytes` before any is read, and every shard must carry the
    /// index's save id when the index has one.
    fn load_sharded(&self, opts: &Options) -> Result<ModelArtifacts> {
        let limits = opts.get_limits();
        let cap = header_cap(&limits);
        let bytes = read_bounded(&self.path, cap, &self.url, "safetensors index")?;
        let index: Index = serde_json::from_slice(&bytes)
            .map_err(|e| Error::invalid_model(&self.url, format!("bad safetensors index: {e}")))?;
        let parent = self.path.parent().unwrap_or(Path::new("."));
        let save_id = index.metadata.get(SAVE_ID_KEY).and_then(|v| v.as_str());
        let mut artifacts = match index.metadata.get(MODEL_JSON_KEY).and_then(|v| v.as_str()) {
            Some(json) => ModelJson::parse(json.as_bytes(), &self.url)?.artifacts,
            None => ModelArtifacts::default(),
        };
        // Shards in the order the index first names them; sizes checked before any is read.
        let mut shards: Vec<&str> = Vec::new();
        let mut seen = HashSet::new();
        for shard in index.weight_map.values() {
            if !is_plain_name(shard) {
                return Err(Error::invalid_model(
                    &self.url,
                    format!("the index names shard {shard:?}, which is not a file name in its folder"),
                ));
            }
            if seen.insert(shard.as_str()) {
                shards.push(shard);
            }
        }
        let mut total = 0u64;
        for shard in &shards {
            let path = parent.join(shard);
            let len =
                std::fs::metadata(&path).map_err(|e| Error::io("reading a shard named by the index", &path, e))?.len();
            total = total.saturating_add(len);
        }
        if total > limits.max_weight_bytes {
            return Err(Error::TooLarge {
                what: "the shards",
                location: self.url.clone(),
                limit: limits.max_weight_bytes,
                actual: total,
                detail: "the files the index names; nothing was read (raise Limits::max_weight_bytes)".into(),
            });
        }
        let mut files = HashMap::with_capacity(shards.len());
        for shard in shards {
            let url = format!("{} (shard {shard})", self.url);
            let file = read_file(&parent.join(shard), &url, limits.max_weight_bytes, &limits, opts)?;
            if let Some(id) = save_id {
                if file.metadata.get(SAVE_ID_KEY).map(String::as_str) != Some(id) {
                    return Err(Error::invalid_model(
                        &url,
                        "the shard belongs to another save than its index (a save was interrupted or files were mixed)",
                    ));
                }
            }
            files.insert(shard, (url, file));
        }
        if artifacts.weight_specs.is_empty() && index.metadata.get(MODEL_JSON_KEY).is_none() {
            for (shard, (url, file)) in &files {
                let mut specs = foreign_specs(file, url)?.weight_specs;
                specs.retain(|s| index.weight_map.get(&s.name).map(String::as_str) == Some(*shard));
                artifacts.weight_specs.extend(specs);
            }
            artifacts.weight_specs.sort_by(|a, b| a.name.cmp(&b.name));
        }
        let mut chunks = Vec::with_capacity(artifacts.weight_specs.len());
        for spec in &artifacts.weight_specs {
            let shard = index.weight_map.get(&spec.name).ok_or_else(|| {
                Error::invalid_model(&self.url, format!("the index maps no shard for weight '{}'", spec.name))
            })?;
            let (url, file) = &files[shard.as_str()];
            chunks.push(file.pick(spec, url)?);
        }
        artifacts.weight_data = WeightData::from_chunks(chunks);
        Ok(artifacts)
    }
}

/// The header key safetensors reserves for its metadata: no tensor may have this name.
const METADATA_KEY: &str = "__metadata__";

/// The metadata key of the save id shared by a sharded save's index and shards.
const SAVE_ID_KEY: &str = "modelio.save";

/// File names of a sharded save end with this (`model.safetensors.index.json`).
pub const INDEX_SUFFIX: &str = ".safetensors.index.json";

/// Default shard size of the sharded layout: 5 GiB, Hugging Face's `max_shard_size` default.
pub const DEFAULT_SHARD_BYTES: usize = 5 << 30;

/// A Hugging Face `model.safetensors.index.json`.
#[derive(serde::Deserialize)]
struct Index {
    #[serde(default)]
    metadata: serde_json::Map<String, serde_json::Value>,
    weight_map: std::collections::BTreeMap<String, String>,
}

/// A name that stays in its folder: no separators, not `.`/`..`, not empty.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

/// Most bytes of a header (or index): twice the model.json limit plus 1 MiB for the tensor table.
fn header_cap(limits: &io_core::Limits) -> u64 {
    limits.max_model_json_bytes.saturating_mul(2).saturating_add(1 << 20).min(100_000_000)
}

/// A small regular file, read only when it is at most `cap` bytes.
fn read_bounded(path: &Path, cap: u64, url: &str, what: &'static str) -> Result<Vec<u8>> {
    let file = open_regular(path, url)?;
    let len = file.metadata().map_err(|e| Error::io("reading", path, e))?.len();
    if len > cap {
        return Err(Error::TooLarge {
            what,
            location: url.to_string(),
            limit: cap,
            actual: len,
            detail: "nothing was read (raise Limits::max_model_json_bytes)".into(),
        });
    }
    let mut out = Vec::with_capacity(len as usize);
    file.take(cap + 1).read_to_end(&mut out).map_err(|e| Error::io("reading", path, e))?;
    Ok(out)
}

fn open_regular(path: &Path, url: &str) -> Result<File> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::not_found(url.to_string()),
        _ => Error::io("reading", path, e),
    })?;
    if !meta.is_file() {
        return Err(Error::invalid_model(url, "not a regular file"));
    }
    File::open(path).map_err(|e| Error::io("opening", path, e))
}

/// One safetensors file read and checked: its tensors (ranges inside the data), metadata and data.
struct ReadFile {
    tensors: HashMap<String, TensorInfo>,
    order: Vec<String>,
    metadata: HashMap<String, String>,
    data: Bytes,
}

impl ReadFile {
    /// The bytes of the tensor a weight is stored as, checked against the weight's dtype and shape.
    fn pick(&self, spec: &WeightSpec, url: &str) -> Result<Bytes> {
        let info = self
            .tensors
            .get(&spec.name)
            .ok_or_else(|| Error::invalid_model(url, format!("no tensor '{}' for the manifest's weight", spec.name)))?;
        let (start, end) = info.data_offsets;
        match stored(spec, end - start) {
            Some((dtype, shape)) if dtype == info.dtype && shape == info.shape => Ok(self.data.slice(start..end)),
            _ => Err(Error::invalid_model(
                url,
                format!(
                    "tensor '{}' is {:?} {:?}, not what the manifest's {} {:?} is stored as",
                    spec.name,
                    info.dtype,
                    info.shape,
                    spec.dtype.as_str(),
                    spec.shape
                ),
            )),
        }
    }
}

/// Reads one safetensors file: the header length is checked against [`header_cap`] and the file's
/// length before it is allocated; the data section must end exactly at the end of the file and is
/// held against `max_data` before it is read; every tensor's range is checked.
fn read_file(path: &Path, url: &str, max_data: u64, limits: &io_core::Limits, opts: &Options) -> Result<ReadFile> {
    let mut file = open_regular(path, url)?;
    let file_len = file.metadata().map_err(|e| Error::io("reading", path, e))?.len();
    let mut n8 = [0u8; 8];
    file.read_exact(&mut n8).map_err(|e| Error::io("reading the header length of", path, e))?;
    let n = u64::from_le_bytes(n8);
    let cap = header_cap(limits);
    if n > cap {
        return Err(Error::TooLarge {
            what: "safetensors header",
            location: url.to_string(),
            limit: cap,
            actual: n,
            detail: "declared by the file's first 8 bytes; nothing was read (raise Limits::max_model_json_bytes)"
                .into(),
        });
    }
    if n.checked_add(8).map_or(true, |end| end > file_len) {
        return Err(Error::invalid_model(url, format!("header of {n} bytes but the file has {file_len}")));
    }
    let mut header = Vec::with_capacity(n as usize);
    (&mut file).take(n).read_to_end(&mut header).map_err(|e| Error::io("reading the header of", path, e))?;
    if header.len() as u64 != n {
        return Err(Error::invalid_model(url, "the file ended inside its header"));
    }
    let metadata: Metadata = serde_json::from_slice(&header)
        .map_err(|e| Error::invalid_model(url, format!("bad safetensors header: {e}")))?;
    let data_len = metadata.data_len() as u64;
    if 8 + n + data_len != file_len {
        return Err(Error::invalid_model(
            url,
            format!("the tensors end at byte {} but the file has {file_len} bytes", 8 + n + data_len),
        ));
    }
    if data_len > max_data {
        return Err(Error::TooLarge {
            what: "the declared weights",
            location: url.to_string(),
            limit: max_data,
            actual: data_len,
            detail: "declared by the safetensors header; nothing was read (raise Limits::max_weight_bytes)".into(),
        });
    }
    let tensors: HashMap<String, TensorInfo> = metadata.tensors().into_iter().map(|(k, v)| (k, v.clone())).collect();
    for (name, info) in &tensors {
        check_range(name, info, data_len, url)?;
    }
    opts.check_cancelled("load", url)?;
    let mut data = Vec::new();
    data.try_reserve_exact(data_len as usize).map_err(|_| Error::TooLarge {
        what: "the declared weights",
        location: url.to_string(),
        limit: max_data,
        actual: data_len,
        detail: "could not allocate that much memory".into(),
    })?;
    (&mut file).take(data_len).read_to_end(&mut data).map_err(|e| Error::io("reading", path, e))?;
    if data.len() as u64 != data_len {
        return Err(Error::invalid_model(url, "the file ended inside its tensors"));
    }
    opts.meter(Some(data_len)).finish(data_len);
    Ok(ReadFile {
        order: metadata.offset_keys(),
        metadata: metadata.metadata().clone().unwrap_or_default(),
        tensors,
        data: Bytes::from(data),
    })
}

/// A temporary file name beside `target`.
fn temp_path(parent: &Path, target: &Path) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    parent.join(format!(".{name}.tmp-{}-{}", std::process::id(), nanos()))
}

/// Writes `tensors` with `meta` to a synced temporary file beside `target` and returns its path.
fn write_temp(
    tensors: Vec<(String, Tensor)>,
    meta: HashMap<String, String>,
    parent: &Path,
    target: &Path,
) -> Result<PathBuf> {
    let temp = temp_path(parent, target);
    let result = safetensors::serialize_to_file(tensors, Some(meta), &temp)
        .map_err(|e| Error::storage("safetensors", temp.display().to_string(), e))
        .and_then(|_| File::open(&temp).and_then(|f| f.sync_all()).map_err(|e| Error::io("syncing", &temp, e)));
    match result {
        Ok(()) => Ok(temp),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

/// Renames each temporary file over its target, in order, unless cancelled first (then removes them).
fn commit(renames: &[(PathBuf, PathBuf)], opts: &Options, url: &str) -> Result<()> {
    let result = opts.check_cancelled("save", url).and_then(|_| {
        renames.iter().try_for_each(|(temp, target)| {
            std::fs::rename(temp, target).map_err(|e| Error::io("renaming into place", target, e))
        })
    });
    if result.is_err() {
        renames.iter().for_each(|(t, _)| drop(std::fs::remove_file(t)));
    }
    result
}

fn nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// Bytes per element of the dtypes this plugin reads (others are refused).
fn dtype_size(d: Dtype) -> Option<usize> {
    Some(match d {
        Dtype::BOOL | Dtype::U8 | Dtype::I8 => 1,
        Dtype::F16 | Dtype::BF16 | Dtype::U16 | Dtype::I16 => 2,
        Dtype::F32 | Dtype::I32 | Dtype::U32 => 4,
        Dtype::F64 | Dtype::I64 | Dtype::U64 => 8,
        _ => return None,
    })
}

fn check_range(name: &str, info: &TensorInfo, data_len: u64, url: &str) -> Result<()> {
    let (start, end) = info.data_offsets;
    let bad = |why: String| Error::invalid_model(url, format!("tensor '{name}': {why}"));
    if start > end || end as u64 > data_len {
        return Err(bad(format!("byte range {start}..{end} is outside the {data_len} data bytes")));
    }
    let size = dtype_size(info.dtype).ok_or_else(|| bad(format!("unsupported dtype {:?}", info.dtype)))?;
    let expected = info.shape.iter().try_fold(size, |a, &d| a.checked_mul(d));
    if expected != Some(end - start) {
        return Err(bad(format!("{} bytes do not hold a {:?} {:?}", end - start, info.dtype, info.shape)));
    }
    Ok(())
}

/// The safetensors dtype and shape a weight is stored as (its bytes as TF.js stores them).
fn stored(spec: &WeightSpec, bytes: usize) -> Option<(Dtype, Vec<usize>)> {
    if let Some(q) = &spec.quantization {
        let d = match q.dtype {
            QuantDType::Uint8 => Dtype::U8,
            QuantDType::Uint16 => Dtype::U16,
            QuantDType::Float16 => Dtype::F16,
            QuantDType::Other(_) => return None,
        };
        return Some((d, spec.shape.clone()));
    }
    match spec.dtype {
        DType::Float32 => Some((Dtype::F32, spec.shape.clone())),
        DType::Int32 => Some((Dtype::I32, spec.shape.clone())),
        DType::Bool => Some((Dtype::BOOL, spec.shape.clone())),
        DType::Complex64 => Some((Dtype::F32, spec.shape.iter().copied().chain([2]).collect())),
        DType::String => Some((Dtype::U8, vec![bytes])),
        DType::Other(_) => None,
    }
}

/// Weights-only specs for a file without a model.json: F32/I32/BOOL tensors in file order.
fn foreign_specs(file: &ReadFile, url: &str) -> Result<ModelArtifacts> {
    let mut specs = Vec::new();
    for name in &file.order {
        let info = &file.tensors[name];
        let dtype = match info.dtype {
            Dtype::F32 => DType::Float32,
            Dtype::I32 => DType::Int32,
            Dtype::BOOL => DType::Bool,
            other => {
                return Err(Error::Unsupported {
                    operation: "load",
                    url: url.to_string(),
                    reason: format!(
                        "tensor '{name}' is {other:?}; without modelio's model.json only F32, I32 and BOOL map to TF.js"
                    ),
                })
            }
        };
        specs.push(WeightSpec::new(name.clone(), info.shape.clone(), dtype));
    }
    Ok(ModelArtifacts { weight_specs: specs, ..ModelArtifacts::default() })
}

/// One weight as a safetensors view.
struct Tensor {
    dtype: Dtype,
    shape: Vec<usize>,
    data: WeightData,
}

impl View for Tensor {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        self.data.slice(0..self.data.len())
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

#[io_core::async_trait]
impl SaveHandler for SafetensorsHandler {
    async fn save(&self, artifacts: &ModelArtifacts, opts: &Options) -> Result<SaveResult> {
        let (h, a, o) = (self.clone(), artifacts.clone(), opts.clone());
        io_core::blocking::unblock(move || h.save_sync(&a, &o)).await
    }
}

#[io_core::async_trait]
impl LoadHandler for SafetensorsHandler {
    async fn load(&self, opts: &Options) -> Result<ModelArtifacts> {
        let (h, o) = (self.clone(), opts.clone());
        io_core::blocking::unblock(move || h.load_sync(&o)).await
    }
}
