//! A TF.js upload (`multipart/form-data` with `model.json` and the weight files) to model artifacts,
//! checked completely before anything is stored.
//!
//! Limits ([`UploadLimits`], from [`ServeConfig`](crate::ServeConfig)), each enforced while the body
//! arrives, before the part over it is read further:
//! - the model.json part is at most `max_model_json_bytes` (413);
//! - at most `max_parts` parts (413) and at most `max_paths` weight paths in the manifest (413);
//! - the manifest may not name a file twice (by path or basename: 400), so one uploaded part can
//!   never be stored more than once;
//! - every weight part must be named by the manifest, once (400), and when model.json came first (as
//!   TF.js and modelio send it) a part is cut off as soon as its group holds more bytes than its
//!   weights declare (400);
//! - after the body: every group's files hold exactly the bytes its weights declare
//!   ([`io_core::codec::layout`]), so the bytes stored are the bytes the manifest declares.

use std::collections::HashMap;

use axum::extract::multipart::{Field, Multipart, MultipartError};
use axum::http::StatusCode;
use bytes::{Bytes, BytesMut};
use io_core::files::{basename, check_paths, NamedFiles, PathPolicy};
use io_core::{ModelArtifacts, ModelJson, Options};

use crate::error::ApiError;

/// The part holding model.json (TF.js's field name).
pub const MODEL_JSON_FIELD: &str = "model.json";

/// Where errors about the upload's model.json point.
const LOCATION: &str = "uploaded model.json";

/// What one upload may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadLimits {
    /// Largest model.json part, in bytes.
    pub max_model_json_bytes: u64,
    /// Most parts, model.json included.
    pub max_parts: usize,
    /// Most weight paths in the manifest.
    pub max_paths: usize,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            max_model_json_bytes: crate::config::DEFAULT_MAX_MODEL_JSON_BYTES,
            max_parts: crate::config::DEFAULT_MAX_UPLOAD_PARTS,
            max_paths: crate::config::DEFAULT_MAX_MANIFEST_PATHS,
        }
    }
}

impl UploadLimits {
    /// The limits of `cfg`.
    pub fn of(cfg: &crate::ServeConfig) -> Self {
        UploadLimits {
            max_model_json_bytes: cfg.max_model_json_bytes,
            max_parts: cfg.max_upload_parts,
            max_paths: cfg.max_manifest_paths,
        }
    }
}

/// The manifest of the upload, once its model.json has arrived: which basenames it names, in which
/// group, and how many bytes each group may still receive (`None`: string weights, no fixed size).
struct Expected {
    group_of: HashMap<String, usize>,
    left: Vec<Option<u64>>,
}

impl Expected {
    fn new(doc: &ModelJson, limits: &UploadLimits) -> Result<Self, ApiError> {
        let paths: usize = doc.weights_manifest.iter().map(|g| g.paths.len()).sum();
        if paths > limits.max_paths {
            return Err(too_large(format!(
                "the manifest names {paths} weight files; this server accepts at most {}",
                limits.max_paths
            )));
        }
        check_paths(&doc.weights_manifest, PathPolicy::Basename, LOCATION)?;
        let mut group_of = HashMap::with_capacity(paths);
        for (gi, g) in doc.weights_manifest.iter().enumerate() {
            for p in &g.paths {
                group_of.insert(basename(p).to_string(), gi);
            }
        }
        let left = doc
            .weights_manifest
            .iter()
            .map(|g| g.weights.iter().try_fold(0u64, |acc, w| acc.checked_add(w.fixed_byte_len()? as u64)))
            .collect();
        Ok(Expected { group_of, left })
    }

    /// The group of the part `base`, or a 400 when the manifest does not name it.
    fn group(&self, base: &str) -> Result<usize, ApiError> {
        self.group_of.get(base).copied().ok_or_else(|| {
            ApiError::bad_request(format!(
                "the upload has a part '{base}' that the manifest of its model.json does not name; \
                 every uploaded weight file must be named exactly once"
            ))
        })
    }

    /// `n` more bytes arrived for group `gi`: a 400 once it holds more than its weights declare.
    fn take(&mut self, gi: usize, base: &str, n: usize) -> Result<(), ApiError> {
        if let Some(left) = &mut self.left[gi] {
            *left = left.checked_sub(n as u64).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "weight file '{base}' holds more bytes than the weights of its manifest group declare \
                     (group {}); the bytes uploaded must equal the bytes declared",
                    gi + 1
                ))
            })?;
        }
        Ok(())
    }
}

/// Reads the whole upload and returns the model it holds, or a 400 (413 when over a limit) saying
/// what is wrong.
pub async fn read(mut multipart: Multipart, limits: &UploadLimits) -> Result<ModelArtifacts, ApiError> {
    let mut model_json: Option<(Bytes, ModelJson, Expected)> = None;
    let mut files: Vec<(String, Bytes)> = Vec::new();
    // Basenames of the weight parts read after model.json (linear-time duplicate check).
    let mut seen_after: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut parts = 0usize;
    // How many weight parts came before model.json.
    let mut before_json = 0usize;
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        count_part(&mut parts, limits)?;
        let name = field.name().unwrap_or_default().to_string();
        if name == MODEL_JSON_FIELD {
            let (bytes, doc, mut expected) = model_json_part(&mut field, limits, model_json.is_some()).await?;
            // Parts that came before model.json (not what TF.js sends) are checked now.
            let mut seen = std::collections::HashSet::new();
            for (n, b) in &files {
                let base = basename(n);
                if !seen.insert(base) {
                    return Err(two_parts(base));
                }
                let gi = expected.group(base)?;
                expected.take(gi, base, b.len())?;
            }
            before_json = files.len();
            model_json = Some((bytes, doc, expected));
        } else {
            let file_name = field.file_name().map(str::to_string).unwrap_or(name);
            let data = match &mut model_json {
                Some((_, _, expected)) => {
                    let base = basename(&file_name).to_string();
                    if !seen_after.insert(base.clone())
                        || files.iter().take(before_json).any(|(n, _)| basename(n) == base)
                    {
                        return Err(two_parts(&base));
                    }
                    let gi = expected.group(&base)?;
                    let mut buf = BytesMut::new();
                    while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                        expected.take(gi, &base, chunk.len())?;
                        buf.extend_from_slice(&chunk);
                    }
                    buf.freeze()
                }
                None => field.bytes().await.map_err(malformed)?,
            };
            files.push((file_name, data));
        }
    }
    let (json, _, _) = model_json.ok_or_else(|| ApiError::bad_request("the upload has no 'model.json' part"))?;
    assemble(&json, &files).await
}

/// Counts one more part of the upload: 413 past [`UploadLimits::max_parts`].
fn count_part(parts: &mut usize, limits: &UploadLimits) -> Result<(), ApiError> {
    *parts += 1;
    if *parts > limits.max_parts {
        return Err(too_large(format!(
            "the upload has more than {} parts, the most this server accepts",
            limits.max_parts
        )));
    }
    Ok(())
}

/// The model.json part (`second`: one came before, a 400): its bytes, parsed, and what its
/// manifest expects of the weight parts.
async fn model_json_part(
    field: &mut Field<'_>,
    limits: &UploadLimits,
    second: bool,
) -> Result<(Bytes, ModelJson, Expected), ApiError> {
    if second {
        return Err(ApiError::bad_request("the upload has two 'model.json' parts"));
    }
    let bytes = read_capped(field, limits.max_model_json_bytes).await?;
    let doc = ModelJson::parse_with_limit(&bytes, LOCATION, limits.max_model_json_bytes)?;
    let expected = Expected::new(&doc, limits)?;
    Ok((bytes, doc, expected))
}

/// A part's bytes, at most `max` (a 413 past it, before reading further).
async fn read_capped(field: &mut Field<'_>, max: u64) -> Result<Bytes, ApiError> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = field.chunk().await.map_err(malformed)? {
        if (buf.len() + chunk.len()) as u64 > max {
            return Err(too_large(format!(
                "the upload's model.json is over {max} bytes, the most this server accepts"
            )));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// The model from its model.json and its weight files (matched to manifest paths by file name),
/// through the layout component: linear in paths and parts, every part checked against the
/// manifest, a path named twice refused, a part the manifest does not name refused.
pub async fn assemble(json: &[u8], files: &[(String, Bytes)]) -> Result<ModelArtifacts, ApiError> {
    let parsed = ModelJson::parse(json, LOCATION)?;
    check_paths(&parsed.weights_manifest, PathPolicy::Basename, LOCATION)?;
    let parts = NamedFiles::new(files.iter().cloned(), LOCATION)?;
    let named: std::collections::HashSet<&str> =
        parsed.weights_manifest.iter().flat_map(|g| &g.paths).map(|p| basename(p)).collect();
    if let Some((extra, _)) = files.iter().find(|(n, _)| !named.contains(basename(n))) {
        return Err(ApiError::bad_request(format!(
            "the upload has a part '{}' that the manifest of its model.json does not name; \
             every uploaded weight file must be named exactly once",
            basename(extra)
        )));
    }
    Ok(io_core::files::assemble(parsed, &parts, LOCATION, PathPolicy::Basename, &Options::new()).await?)
}

fn two_parts(base: &str) -> ApiError {
    ApiError::bad_request(format!("{LOCATION}: two files are named '{base}'"))
}

fn too_large(message: String) -> ApiError {
    ApiError { status: StatusCode::PAYLOAD_TOO_LARGE, message }
}

fn malformed(e: MultipartError) -> ApiError {
    ApiError { status: e.status(), message: format!("malformed multipart upload: {}", e.body_text()) }
}

/// An upload written to a folder, checked, ready to become a version of a `file://` store: the weight
/// files named `group{G}-shard{I}of{N}.bin` (manifest order) and a model.json naming them.
pub struct Spooled {
    /// The folder (removed when dropped unless kept).
    pub dir: tempfile::TempDir,
    /// The info of the model.
    pub info: io_core::ModelArtifactsInfo,
}

/// Bytes a spooled part is written in, at most (what one multipart chunk holds, usually far less).
async fn write_part(
    field: &mut Field<'_>,
    path: &std::path::Path,
    mut count: impl FnMut(usize) -> Result<(), ApiError>,
) -> Result<u64, ApiError> {
    use tokio::io::AsyncWriteExt;
    let io = |e: std::io::Error| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("writing an uploaded file: {e}"),
    };
    let mut f = tokio::fs::OpenOptions::new().write(true).create_new(true).open(path).await.map_err(io)?;
    let mut n = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(malformed)? {
        count(chunk.len())?;
        f.write_all(&chunk).await.map_err(io)?;
        n += chunk.len() as u64;
    }
    f.flush().await.map_err(io)?;
    f.sync_all().await.map_err(io)?;
    Ok(n)
}

/// Streams the upload into a new folder under `tmp` (on the store's file system), each weight part
/// written as it arrives and bounded by what the manifest declares (parts before model.json, which
/// TF.js never sends, are bounded by the body limit only), so the body is never held in memory.
/// Checks what [`read`] checks; groups of string weights (whose size the manifest cannot declare) are
/// read back to check their layout.
pub async fn spool(
    mut multipart: Multipart,
    limits: &UploadLimits,
    tmp: &std::path::Path,
) -> Result<Spooled, ApiError> {
    let internal = |e: std::io::Error| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("creating the upload's temporary folder: {e}"),
    };
    tokio::fs::create_dir_all(tmp).await.map_err(internal)?;
    let prefix = format!("upload-{}-", std::process::id());
    let tmp_owned = tmp.to_path_buf();
    let dir = tokio::task::spawn_blocking(move || tempfile::Builder::new().prefix(&prefix).tempdir_in(tmp_owned))
        .await
        .map_err(|e| internal(std::io::Error::other(e)))?
        .map_err(internal)?;
    let mut model: Option<(ModelJson, Expected, HashMap<String, String>)> = None;
    let mut early: Vec<(String, String, u64)> = Vec::new(); // (basename, temp file, size) before model.json
    let mut received: HashMap<String, u64> = HashMap::new(); // disk name -> bytes
    let mut seen = std::collections::HashSet::new();
    let mut parts = 0usize;
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        count_part(&mut parts, limits)?;
        let name = field.name().unwrap_or_default().to_string();
        if name == MODEL_JSON_FIELD {
            let (_, doc, mut expected) = model_json_part(&mut field, limits, model.is_some()).await?;
            let mut disk = HashMap::new();
            for (gi, g) in doc.weights_manifest.iter().enumerate() {
                for (i, p) in g.paths.iter().enumerate() {
                    disk.insert(
                        basename(p).to_string(),
                        format!("group{}-shard{}of{}.bin", gi + 1, i + 1, g.paths.len()),
                    );
                }
            }
            for (base, file, size) in early.drain(..) {
                let gi = expected.group(&base)?;
                expected.take(gi, &base, usize::try_from(size).unwrap_or(usize::MAX))?;
                let to = disk[&base].clone();
                tokio::fs::rename(dir.path().join(&file), dir.path().join(&to)).await.map_err(internal)?;
                received.insert(to, size);
            }
            model = Some((doc, expected, disk));
        } else {
            let file_name = field.file_name().map(str::to_string).unwrap_or(name);
            let base = basename(&file_name).to_string();
            if !seen.insert(base.clone()) {
                return Err(two_parts(&base));
            }
            match &mut model {
                Some((_, expected, disk)) => {
                    let gi = expected.group(&base)?;
                    let to = disk[&base].clone();
                    let n = write_part(&mut field, &dir.path().join(&to), |n| expected.take(gi, &base, n)).await?;
                    received.insert(to, n);
                }
                None => {
                    let file = format!("early-{}", early.len());
                    let n = write_part(&mut field, &dir.path().join(&file), |_| Ok(())).await?;
                    early.push((base, file, n));
                }
            }
        }
    }
    let (mut doc, expected, disk) =
        model.ok_or_else(|| ApiError::bad_request("the upload has no 'model.json' part"))?;
    let mut total = 0u64;
    for (gi, g) in doc.weights_manifest.iter_mut().enumerate() {
        let mut group_bytes = 0u64;
        for p in &mut g.paths {
            let base = basename(p).to_string();
            let to = &disk[&base];
            let n = *received.get(to).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "{LOCATION}: the manifest names weight file '{p}' but no file '{base}' was given"
                ))
            })?;
            group_bytes += n;
            *p = to.clone();
        }
        total += group_bytes;
        match expected.left[gi] {
            Some(0) => {}
            Some(left) => {
                return Err(ApiError::bad_request(format!(
                    "{LOCATION}: the weights of manifest group {} declare {} bytes; its files hold {group_bytes} \
                     (the bytes uploaded must equal the bytes declared)",
                    gi + 1,
                    group_bytes + left
                )))
            }
            None => {
                // String weights: their layout can only be checked by reading their lengths.
                let files: Vec<std::path::PathBuf> = g.paths.iter().map(|p| dir.path().join(p)).collect();
                let weights = g.weights.clone();
                tokio::task::spawn_blocking(move || check_strings_on_disk(&weights, &files))
                    .await
                    .map_err(|e| internal(std::io::Error::other(e)))?
                    .map_err(|e| match e {
                        io_core::Error::Io { .. } => ApiError {
                            status: StatusCode::INTERNAL_SERVER_ERROR,
                            message: format!("reading an uploaded file: {e}"),
                        },
                        e => ApiError::from(e.with_location(LOCATION)),
                    })?;
            }
        }
    }
    let json = doc.to_bytes(io_core::artifacts::BROWSER_ORDER);
    let json_path = dir.path().join(io_core::files::MODEL_JSON);
    tokio::fs::write(&json_path, &json).await.map_err(internal)?;
    let sync = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        std::fs::File::open(&json_path)?.sync_all()?;
        std::fs::File::open(&sync)?.sync_all()
    })
    .await
    .map_err(|e| internal(std::io::Error::other(e)))?
    .map_err(internal)?;
    let mut info = io_core::ModelArtifactsInfo::for_artifacts(&doc.artifacts);
    info.weight_data_bytes = Some(total);
    Ok(Spooled { dir, info })
}

/// Checks a group holding string weights against its `files` on disk with
/// [`io_core::codec::layout_of`], without holding them: only each string element's 4-byte length is
/// read ([`DiskLengths`]). Memory stays one read buffer, whatever the upload's size.
fn check_strings_on_disk(specs: &[io_core::WeightSpec], files: &[std::path::PathBuf]) -> io_core::Result<()> {
    let mut spans = Vec::with_capacity(files.len());
    for f in files {
        let len = std::fs::metadata(f).map_err(|e| io_core::Error::io("reading", f, e))?.len();
        let too_large = || io_core::Error::invalid_model(LOCATION, format!("{} is too large", f.display()));
        let len = usize::try_from(len).map_err(|_| too_large())?;
        let name = f.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        spans.push(io_core::codec::FileSpan { name, len });
    }
    let total = spans.iter().try_fold(0usize, |acc, s| acc.checked_add(s.len));
    let total = total.ok_or_else(|| io_core::Error::invalid_model(LOCATION, "the uploaded files' sizes overflow"))?;
    let mut lengths = DiskLengths { files, spans: &spans, file: 0, start: 0, open: None };
    io_core::codec::layout_of(specs, total, &mut lengths, &spans).map(|_| ())
}

/// Reads the 4-byte lengths of string elements from a group's files: positions only grow, so the
/// file holding a byte is found by a cursor that moves forward only (linear in the files), and read
/// through one buffered reader of that file.
struct DiskLengths<'a> {
    files: &'a [std::path::PathBuf],
    spans: &'a [io_core::codec::FileSpan],
    /// The file the cursor is in, and where it starts in the group.
    file: usize,
    start: usize,
    /// The open file, its index and the offset the reader is at in it.
    open: Option<(usize, std::io::BufReader<std::fs::File>, usize)>,
}

impl io_core::codec::LengthReader for DiskLengths<'_> {
    fn u32_at(&mut self, pos: usize) -> io_core::Result<u32> {
        use std::io::Read;
        let mut out = [0u8; 4];
        for (k, b) in out.iter_mut().enumerate() {
            let at = pos + k;
            while at >= self.start + self.spans[self.file].len {
                self.start += self.spans[self.file].len;
                self.file += 1;
            }
            let (i, path) = (self.file, &self.files[self.file]);
            let io = |e: std::io::Error| io_core::Error::io("reading", path, e);
            if !self.open.as_ref().is_some_and(|(j, ..)| *j == i) {
                let f = std::fs::File::open(path).map_err(io)?;
                self.open = Some((i, std::io::BufReader::with_capacity(1 << 16, f), 0));
            }
            let (_, r, off) = self.open.as_mut().expect("opened above");
            let want = at - self.start;
            r.seek_relative(want as i64 - *off as i64).map_err(io)?;
            r.read_exact(std::slice::from_mut(b)).map_err(io)?;
            *off = want + 1;
        }
        Ok(u32::from_le_bytes(out))
    }
}

/// Removes upload folders under `tmp` left by server processes that no longer run (a crash): those
/// named `upload-{pid}-…` whose pid is not alive (on systems without `/proc`, none).
pub fn clean_leftovers(tmp: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) =
            name.strip_prefix("upload-").and_then(|r| r.split('-').next()).and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let alive = pid == std::process::id()
            || !std::path::Path::new("/proc/self").exists()
            || std::path::Path::new(&format!("/proc/{pid}")).exists();
        if !alive {
            match std::fs::remove_dir_all(e.path()) {
                Ok(()) => tracing::info!(folder = %name, "removed the leftover of an interrupted upload"),
                Err(err) => tracing::warn!(folder = %name, error = %err, "could not remove the leftover of an upload"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use io_core::{DType, WeightData, WeightSpec};

    /// The check on disk agrees with `codec::layout` in memory, for every way of cutting the bytes
    /// into files (lengths split across files, empty files).
    #[test]
    fn strings_on_disk_agree_with_the_layout_in_memory() {
        let specs = vec![
            WeightSpec::new("f", vec![1], DType::Float32),
            WeightSpec::new("s", vec![3], DType::String),
            WeightSpec::new("b", vec![2], DType::Bool),
        ];
        let mut good = vec![0u8; 4];
        for s in [&b"ab"[..], b"", b"xyz"] {
            good.extend_from_slice(&(s.len() as u32).to_le_bytes());
            good.extend_from_slice(s);
        }
        good.extend_from_slice(&[1, 0]);
        let dir = tempfile::tempdir().unwrap();
        let mut cases = vec![good.clone(), good[..good.len() - 1].to_vec(), [good.clone(), vec![0]].concat()];
        let mut long = good.clone();
        long[4] = 200;
        cases.push(long);
        for (c, bytes) in cases.iter().enumerate() {
            let in_memory = io_core::codec::layout(&specs, &WeightData::single(bytes.clone()), &[]).is_ok();
            for cut in 0..=bytes.len() {
                let parts = [&bytes[..cut], &[][..], &bytes[cut..]];
                let files: Vec<std::path::PathBuf> = parts
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let f = dir.path().join(format!("{c}-{cut}-{i}"));
                        std::fs::write(&f, p).unwrap();
                        f
                    })
                    .collect();
                let on_disk = check_strings_on_disk(&specs, &files);
                assert_eq!(on_disk.is_ok(), in_memory, "case {c} cut at {cut}: {on_disk:?}");
            }
        }
    }
}
