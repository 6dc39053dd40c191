//! The `safetensors://` plugin and [`SafetensorsHandler`].

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
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

    /// Saves (blocking, atomically).
    pub fn save_sync(&self, artifacts: &ModelArtifacts, opts: &Options) -> Result<SaveResult> {
        io_core::files::check_json_topology(artifacts, &self.url, "safetensors")?;
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
            let (dtype, shape) = stored(spec, range.len()).ok_or_else(|| Error::Unsupported {
                operation: "save",
                url: self.url.clone(),
                reason: format!("weight '{}' has a dtype safetensors cannot hold ({})", spec.name, spec.dtype.as_str()),
            })?;
            tensors.push((spec.name.clone(), Tensor { dtype, shape, data: artifacts.weight_data.sub(range) }));
        }
        let model_json = ModelJson::for_artifacts(artifacts, Vec::new()).to_bytes(BROWSER_ORDER);
        let model_json = String::from_utf8(model_json).expect("serde_json writes UTF-8");
        let meta = HashMap::from([(MODEL_JSON_KEY.to_string(), model_json)]);
        opts.check_cancelled("save", &self.url)?;
        let target = std::path::absolute(&self.path).map_err(|e| Error::io("resolving", &self.path, e))?;
        let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = target
            .file_name()
            .ok_or_else(|| Error::InvalidUrl { url: self.url.clone(), reason: "the path names no file".into() })?;
        if target.is_dir() {
            return Err(Error::InvalidUrl {
                url: self.url.clone(),
                reason: format!("'{}' is a folder; safetensors:// saves one file", target.display()),
            });
        }
        std::fs::create_dir_all(parent).map_err(|e| Error::io("creating folder", parent, e))?;
        let temp = parent.join(format!(".{}.tmp-{}-{}", name.to_string_lossy(), std::process::id(), nanos()));
        let meter = opts.meter(Some(artifacts.weight_data.len() as u64));
        let result = safetensors::serialize_to_file(tensors, Some(meta), &temp)
            .map_err(|e| Error::storage("safetensors", temp.display().to_string(), e))
            .and_then(|_| File::open(&temp).and_then(|f| f.sync_all()).map_err(|e| Error::io("syncing", &temp, e)))
            .and_then(|_| opts.check_cancelled("save", &self.url))
            .and_then(|_| std::fs::rename(&temp, &target).map_err(|e| Error::io("renaming into place", &target, e)));
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result?;
        let _ = File::open(parent).and_then(|d| d.sync_all());
        meter.finish(artifacts.weight_data.len() as u64);
        Ok(SaveResult::for_artifacts(artifacts))
    }

    /// Loads (blocking), bounded as the crate docs say.
    pub fn load_sync(&self, opts: &Options) -> Result<ModelArtifacts> {
        let path = &self.path;
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::not_found(self.url.clone()),
            _ => Error::io("reading", path, e),
        })?;
        if !meta.is_file() {
            return Err(Error::invalid_model(&self.url, "not a regular file"));
        }
        let mut file = File::open(path).map_err(|e| Error::io("opening", path, e))?;
        let file_len = file.metadata().map_err(|e| Error::io("reading", path, e))?.len();
        let limits = opts.get_limits();
        let mut n8 = [0u8; 8];
        file.read_exact(&mut n8).map_err(|e| Error::io("reading the header length of", path, e))?;
        let n = u64::from_le_bytes(n8);
        let cap = limits.max_model_json_bytes.saturating_mul(2).saturating_add(1 << 20).min(100_000_000);
        if n > cap {
            return Err(Error::TooLarge {
                what: "safetensors header",
                location: self.url.clone(),
                limit: cap,
                actual: n,
                detail: "declared by the file's first 8 bytes; nothing was read (raise Limits::max_model_json_bytes)"
                    .into(),
            });
        }
        if n.checked_add(8).map_or(true, |end| end > file_len) {
            return Err(Error::invalid_model(&self.url, format!("header of {n} bytes but the file has {file_len}")));
        }
        let mut header = Vec::with_capacity(n as usize);
        (&mut file).take(n).read_to_end(&mut header).map_err(|e| Error::io("reading the header of", path, e))?;
        if header.len() as u64 != n {
            return Err(Error::invalid_model(&self.url, "the file ended inside its header"));
        }
        let metadata: Metadata = serde_json::from_slice(&header)
            .map_err(|e| Error::invalid_model(&self.url, format!("bad safetensors header: {e}")))?;
        let data_len = metadata.data_len() as u64;
        if 8 + n + data_len != file_len {
            return Err(Error::invalid_model(
                &self.url,
                format!("the tensors end at byte {} but the file has {file_len} bytes", 8 + n + data_len),
            ));
        }
        if data_len > limits.max_weight_bytes {
            return Err(Error::TooLarge {
                what: "the declared weights",
                location: self.url.clone(),
                limit: limits.max_weight_bytes,
                actual: data_len,
                detail: "declared by the safetensors header; nothing was read (raise Limits::max_weight_bytes)".into(),
            });
        }
        let tensors = metadata.tensors();
        for (name, info) in &tensors {
            check_range(name, info, data_len, &self.url)?;
        }
        let artifacts_meta = metadata.metadata().as_ref().and_then(|m| m.get(MODEL_JSON_KEY));
        let mut artifacts = match artifacts_meta {
            Some(json) => ModelJson::parse(json.as_bytes(), &self.url)?.artifacts,
            None => foreign_specs(&metadata, &self.url)?,
        };
        // Which tensor each weight reads, checked before the data is read.
        let mut picks = Vec::with_capacity(artifacts.weight_specs.len());
        for spec in &artifacts.weight_specs {
            let info = tensors.get(&spec.name).ok_or_else(|| {
                Error::invalid_model(&self.url, format!("no tensor '{}' for the manifest's weight", spec.name))
            })?;
            let (start, end) = info.data_offsets;
            match stored(spec, end - start) {
                Some((dtype, shape)) if dtype == info.dtype && shape == info.shape => picks.push(start..end),
                _ => {
                    return Err(Error::invalid_model(
                        &self.url,
                        format!(
                            "tensor '{}' is {:?} {:?}, not what the manifest's {} {:?} is stored as",
                            spec.name,
                            info.dtype,
                            info.shape,
                            spec.dtype.as_str(),
                            spec.shape
                        ),
                    ))
                }
            }
        }
        opts.check_cancelled("load", &self.url)?;
        let mut data = Vec::new();
        data.try_reserve_exact(data_len as usize).map_err(|_| Error::TooLarge {
            what: "the declared weights",
            location: self.url.clone(),
            limit: limits.max_weight_bytes,
            actual: data_len,
            detail: "could not allocate that much memory".into(),
        })?;
        file.seek(SeekFrom::Start(8 + n)).map_err(|e| Error::io("seeking", path, e))?;
        (&mut file).take(data_len).read_to_end(&mut data).map_err(|e| Error::io("reading", path, e))?;
        if data.len() as u64 != data_len {
            return Err(Error::invalid_model(&self.url, "the file ended inside its tensors"));
        }
        let meter = opts.meter(Some(data_len));
        meter.finish(data_len);
        let data = Bytes::from(data);
        artifacts.weight_data = WeightData::from_chunks(picks.into_iter().map(|r| data.slice(r)).collect());
        Ok(artifacts)
    }
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
fn foreign_specs(metadata: &Metadata, url: &str) -> Result<ModelArtifacts> {
    let tensors = metadata.tensors();
    let mut specs = Vec::new();
    for name in metadata.offset_keys() {
        let info = tensors[&name];
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
        specs.push(WeightSpec::new(name, info.shape.clone(), dtype));
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
