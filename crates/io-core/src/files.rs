//! The TF.js file layout — a `model.json` plus weight files — in one place, for every medium that
//! stores files (folders, HTTP, downloads, uploads, buckets, key-value stores).
//!
//! - [`split`]: artifacts → the model.json bytes and an ordered list of weight files (name, bytes),
//!   one file or converter-style `group1-shard{I}of{N}.bin` shards; it owns TF.js's policy for what
//!   a model.json can hold (a binary GraphDef topology is refused with one error text, where TF.js
//!   refuses it: [`check_json_topology`]).
//! - [`load`] / [`assemble`]: model.json + a [`FileSource`] that fetches named files → checked
//!   [`ModelArtifacts`]. Linear in paths and files. Before any weight file is fetched, the manifest's
//!   paths are checked (duplicates refused; paths leaving the folder refused unless the policy allows
//!   them) and the declared weight bytes are held against [`Limits::max_weight_bytes`](crate::Limits::max_weight_bytes). Every read is
//!   bounded by what the manifest declares: a size the medium announces (a file's length, a
//!   `Content-Length`) that is too large fails before the read, and a stream longer than declared is
//!   cut off after at most one byte more ([`FileRequest`]). Each group's files are then checked
//!   against its weights ([`codec::layout`]), with errors naming the weight and the file.
//!
//! A medium implements [`FileSource`] (read one named file through a [`FileRequest`]) and writes
//! what [`split`] returns; it keeps no layout loop of its own.

use std::collections::HashMap;
use std::io::Read;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use futures::stream::{self, StreamExt};

use crate::artifacts::{Field, ManifestGroup, ModelArtifacts, ModelJson, Topology, BROWSER_ORDER, NODE_FILE_ORDER};
use crate::buffer::ShardMemory;
use crate::codec::{self, FileSpan};
use crate::error::{Error, Result};
use crate::handler::MaybeSendSync;
use crate::options::{Meter, Options};
use crate::weights::WeightData;

/// The usual name of the model file.
pub const MODEL_JSON: &str = "model.json";

/// The one weight file of a model whose weights are kept as one buffer (TF.js's http upload part
/// and `downloads://` file name; what a server names the weights of a model stored without files).
pub const WEIGHTS_BIN: &str = "model.weights.bin";

/// A route that writes model.json files: the key order it writes, how its manifest spells weight
/// paths, and the TF.js handler it mirrors (named in errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// The TF.js save handler this route mirrors, e.g. `NodeFileSystem`.
    pub tfjs_handler: &'static str,
    /// model.json's top-level key order.
    pub order: &'static [Field],
    /// Written before each weight file's name in the manifest (`"./"` or `""`).
    pub manifest_prefix: &'static str,
}

/// tfjs-node's `file://` (`NodeFileSystem`): node key order, bare paths (`weights.bin`).
pub const NODE_FILE: Route = Route { tfjs_handler: "NodeFileSystem", order: NODE_FILE_ORDER, manifest_prefix: "" };
/// TF.js's `browserDownloads`: browser key order, `./` paths.
pub const BROWSER_DOWNLOADS: Route =
    Route { tfjs_handler: "BrowserDownloads", order: BROWSER_ORDER, manifest_prefix: "./" };
/// TF.js's `http(s)://` save (`HTTPRequest`): browser key order, `./` paths.
pub const HTTP: Route = Route { tfjs_handler: "HTTPRequest", order: BROWSER_ORDER, manifest_prefix: "./" };
/// Stores of files by key (buckets, the memory example): browser key order, bare paths, as the
/// converter writes them.
pub const KEYED: Route = Route { tfjs_handler: "HTTPRequest", order: BROWSER_ORDER, manifest_prefix: "" };

/// How a save names its weight files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WeightFiles {
    /// Every weight in one file of this name (tfjs-node: `weights.bin`, http: `model.weights.bin`).
    One(String),
    /// Converter-style `group1-shard{I}of{N}.bin` files of at most this many bytes each.
    Shards(usize),
}

impl WeightFiles {
    /// `One(default_name)`, or `Shards(n)` when the call's options ask for a shard size.
    pub fn from_options(opts: &Options, default_name: &str) -> Self {
        match opts.get_shard_size() {
            Some(n) => WeightFiles::Shards(n),
            None => WeightFiles::One(default_name.to_string()),
        }
    }

    /// The files for `total` weight bytes: names and byte ranges, in order. Zero bytes still get
    /// one (empty) file, as TF.js writes one.
    pub fn plan(&self, total: usize) -> Vec<(String, Range<usize>)> {
        match self {
            WeightFiles::One(name) => vec![(name.clone(), 0..total)],
            WeightFiles::Shards(size) => {
                let size = (*size).max(1);
                let n = total.div_ceil(size).max(1);
                (0..n)
                    .map(|i| {
                        let range = (i * size).min(total)..((i + 1) * size).min(total);
                        (format!("group1-shard{}of{n}.bin", i + 1), range)
                    })
                    .collect()
            }
        }
    }
}

/// Whether `name` is a weight file name modelio's saves write: `default_name`, or
/// `group{G}-shard{I}of{N}.bin`.
pub fn is_weight_file_name(name: &str, default_name: &str) -> bool {
    if name == default_name {
        return true;
    }
    let Some(rest) = name.strip_prefix("group").and_then(|r| r.strip_suffix(".bin")) else { return false };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match rest.split_once("-shard").and_then(|(g, r)| r.split_once("of").map(|(i, n)| (g, i, n))) {
        Some((g, i, n)) => digits(g) && digits(i) && digits(n),
        None => false,
    }
}

/// A model as files: model.json and the weight files it names, in manifest order.
#[derive(Clone, Debug)]
pub struct ModelFiles {
    /// The model.json bytes.
    pub model_json: Bytes,
    /// Weight files: name (without the route's manifest prefix) and bytes (pieces of the
    /// artifacts' weight data, not copies).
    pub weights: Vec<(String, WeightData)>,
}

impl ModelFiles {
    /// Bytes of all files.
    pub fn total_bytes(&self) -> u64 {
        self.model_json.len() as u64 + self.weights.iter().map(|(_, d)| d.len() as u64).sum::<u64>()
    }
}

/// TF.js's policy: a model.json cannot hold a binary GraphDef topology, so every route that writes
/// one (and `localstorage://`, which stores the topology as JSON text) refuses it — with this one
/// error. (`indexeddb://` stores the bytes, as TF.js does.)
pub fn check_json_topology(artifacts: &ModelArtifacts, url: &str, tfjs_handler: &str) -> Result<()> {
    if let Some(Topology::GraphDef(_)) = artifacts.model_topology {
        return Err(Error::Unsupported {
            operation: "save",
            url: url.to_string(),
            reason: format!(
                "a binary (GraphDef) model topology cannot be written as JSON; TF.js's {tfjs_handler}.save() \
                 refuses it too (indexeddb:// keeps it)"
            ),
        });
    }
    Ok(())
}

/// The files of a save of `artifacts` to `url` on `route`: checks the topology policy and the
/// weights against their specs (nothing is written for a bad model), then lays the weights out
/// as `files` says.
pub fn split(artifacts: &ModelArtifacts, url: &str, route: Route, files: &WeightFiles) -> Result<ModelFiles> {
    split_named(artifacts, url, route, files, "")
}

/// [`split`] with `name_prefix` put before every weight file's name (in the manifest and in
/// [`ModelFiles::weights`]), e.g. a save's version so that its files never overwrite another's
/// (`1764099154925-3f9a1c0b42de.group1-shard1of1.bin`, [`crate::keyed`]).
pub fn split_named(
    artifacts: &ModelArtifacts,
    url: &str,
    route: Route,
    files: &WeightFiles,
    name_prefix: &str,
) -> Result<ModelFiles> {
    check_json_topology(artifacts, url, route.tfjs_handler)?;
    codec::layout(&artifacts.weight_specs, &artifacts.weight_data, &[]).map_err(|e| e.with_location(url))?;
    let mut plan = files.plan(artifacts.weight_data.len());
    for (name, _) in &mut plan {
        name.insert_str(0, name_prefix);
    }
    let paths = plan.iter().map(|(name, _)| format!("{}{name}", route.manifest_prefix)).collect();
    let model_json = Bytes::from(ModelJson::for_artifacts(artifacts, paths).to_bytes(route.order));
    let weights = plan.into_iter().map(|(name, range)| (name, artifacts.weight_data.sub(range))).collect();
    Ok(ModelFiles { model_json, weights })
}

/// Which weight paths a load accepts and how they are looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathPolicy {
    /// Paths relative to model.json's folder; absolute paths and `..` are refused (files, buckets).
    Inside,
    /// Any path; the source resolves it (http URLs, where TF.js allows `../` and absolute URLs).
    Any,
    /// Matched by basename (TF.js's `browserFiles`, uploads); a basename twice is refused.
    Basename,
}

/// What a [`FileSource`] is asked to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// The model.json itself.
    ModelJson,
    /// A weight file named by the manifest.
    Weights,
}

/// A medium that can read a model's files by name.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait FileSource: MaybeSendSync {
    /// How the file `path` is named in errors (a full path or URL).
    fn name(&self, path: &str) -> String;

    /// Reads the file `req.path()` (a manifest path, or the model.json's name) through `req`, which
    /// bounds it: call [`FileRequest::announce`] with a size the medium knows before reading, take
    /// buffers from [`FileRequest::buffer`], and count every chunk with [`FileRequest::take`] (or
    /// use [`FileRequest::read_from`] for a `std::io::Read`). A missing file is [`Error::NotFound`].
    async fn read(&self, req: &FileRequest<'_>) -> Result<Bytes>;

    /// How many files may be read at once.
    fn concurrency(&self) -> usize {
        1
    }
}

/// The byte budget of one manifest group (or of model.json).
struct Budget {
    /// Bytes the group may still receive.
    left: AtomicU64,
    /// Bytes the group declares, when its weights say (no string weights).
    declared: Option<u64>,
    /// The most it may hold at all.
    limit: u64,
}

impl Budget {
    fn new(declared: Option<u64>, limit: u64) -> Self {
        let limit = declared.unwrap_or(limit);
        Budget { left: AtomicU64::new(limit), declared, limit }
    }
}

/// The [`ShardMemory`] of one load, allocated when a source first asks for a buffer
/// ([`FileRequest::buffer`]) rather than when the manifest is read: the manifest's total is only a
/// claim, and a source that hands out bytes it already holds (an upload, [`NamedFiles`]) never
/// asks, so a small upload declaring gigabytes allocates (and prefaults) nothing.
struct LoadMemory {
    total: usize,
    memory: std::sync::OnceLock<ShardMemory>,
}

impl LoadMemory {
    fn new(total: usize) -> Self {
        LoadMemory { total, memory: std::sync::OnceLock::new() }
    }

    fn get(&self) -> &ShardMemory {
        self.memory.get_or_init(|| ShardMemory::new(self.total))
    }
}

/// One file to read, with the bounds the manifest sets. Handed to [`FileSource::read`].
pub struct FileRequest<'a> {
    path: &'a str,
    name: String,
    kind: FileKind,
    group: Option<(usize, &'a ManifestGroup)>,
    budget: &'a Budget,
    held: AtomicU64,
    counted: AtomicU64,
    meter: &'a Meter,
    memory: &'a LoadMemory,
    opts: &'a Options,
    url: &'a str,
}

/// Bytes read per `read` call by [`FileRequest::read_from`] once the announced size is reached.
const TAIL_CHUNK: usize = 64 << 10;

/// A file arriving in pieces ([`FileRequest::receive`]): each piece is counted against what the
/// manifest allows ([`FileRequest::take`]) and copied into the load's memory as it comes.
pub struct Receiving<'r, 'a> {
    req: &'r FileRequest<'a>,
    buf: BytesMut,
    filled: usize,
}

impl Receiving<'_, '_> {
    /// Takes the next piece; an error once the file holds more than allowed (or the load is cancelled).
    pub fn push(&mut self, chunk: &[u8]) -> Result<()> {
        self.push_with(chunk.len(), |dst| dst.copy_from_slice(chunk))
    }

    /// [`push`](Self::push) for a piece of `len` bytes that `fill` copies into its place in the
    /// buffer itself (e.g. straight out of a JavaScript array: one copy instead of two).
    pub fn push_with(&mut self, len: usize, fill: impl FnOnce(&mut [u8])) -> Result<()> {
        self.req.take(len)?;
        let end = self.filled + len;
        if self.buf.len() < end {
            // Longer than announced (the caller then refuses it) or of unknown size: grow.
            self.buf.truncate(self.filled);
            self.buf.resize(end, 0);
        }
        fill(&mut self.buf[self.filled..end]);
        self.filled = end;
        Ok(())
    }

    /// The bytes received so far.
    pub fn len(&self) -> usize {
        self.filled
    }

    /// Whether nothing was received yet.
    pub fn is_empty(&self) -> bool {
        self.filled == 0
    }

    /// The received bytes.
    pub fn finish(mut self) -> Bytes {
        self.buf.truncate(self.filled);
        self.buf.freeze()
    }
}

impl FileRequest<'_> {
    /// The path to read (as the manifest writes it, or model.json's name).
    pub fn path(&self) -> &str {
        self.path
    }

    /// The file's name for messages ([`FileSource::name`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What is being read.
    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// The call's options (scheme-specific options, limits).
    pub fn options(&self) -> &Options {
        self.opts
    }

    /// The most bytes this file may hold now.
    pub fn max_len(&self) -> u64 {
        self.budget.left.load(Ordering::Relaxed) + self.held.load(Ordering::Relaxed)
    }

    /// The medium says the file has `size` bytes: an error at once if that is more than the
    /// manifest leaves for it (nothing is read).
    pub fn announce(&self, size: u64) -> Result<()> {
        if size > self.max_len() {
            return Err(self.too_long(size, "announced by the medium, before reading"));
        }
        Ok(())
    }

    /// A zeroed buffer for a file of `announced` bytes (carved from the load's memory), or an
    /// empty one when the size is unknown or too large.
    pub fn buffer(&self, announced: Option<u64>) -> BytesMut {
        match announced.filter(|&n| n <= self.max_len()).and_then(|n| usize::try_from(n).ok()) {
            Some(n) => self.memory.get().take(n).unwrap_or_default(),
            None => BytesMut::new(),
        }
    }

    /// Starts receiving the file's bytes in pieces (a stream's chunks): `announced`, when the
    /// medium knows it, is checked first ([`FileRequest::announce`]) and sizes the buffer.
    pub fn receive(&self, announced: Option<u64>) -> Result<Receiving<'_, '_>> {
        if let Some(n) = announced {
            self.announce(n)?;
        }
        Ok(Receiving { req: self, buf: self.buffer(announced), filled: 0 })
    }

    /// `n` more bytes of this file arrived: counted against the budget (an error naming the file
    /// once it holds more than the manifest allows), reported as progress, checked for cancellation.
    pub fn take(&self, n: usize) -> Result<()> {
        self.opts.check_cancelled("load", self.url)?;
        let n = n as u64;
        if self.budget.left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| l.checked_sub(n)).is_err() {
            let actual = self.held.load(Ordering::Relaxed) + n;
            return Err(self.too_long(actual, "read stopped there"));
        }
        let held = self.held.fetch_add(n, Ordering::Relaxed) + n;
        if self.kind == FileKind::Weights {
            self.meter.advance(&self.counted, held);
        }
        Ok(())
    }

    /// The whole file is already in memory (a map, a cache): checks its length as
    /// [`FileRequest::announce`] does, counts it as [`FileRequest::take`] does, and returns it.
    pub fn whole(&self, bytes: Bytes) -> Result<Bytes> {
        self.announce(bytes.len() as u64)?;
        self.take(bytes.len())?;
        Ok(bytes)
    }

    /// Starts the file over (a retried request): the bytes taken so far are given back.
    pub fn restart(&self) {
        let held = self.held.swap(0, Ordering::Relaxed);
        self.budget.left.fetch_add(held, Ordering::Relaxed);
    }

    /// Reads `reader` to its end through this request: into a buffer of the `announced` size,
    /// then in small chunks, never more than one byte past what the manifest allows.
    pub fn read_from(&self, reader: &mut impl Read, announced: Option<u64>) -> Result<Bytes> {
        if let Some(size) = announced {
            self.announce(size)?;
        }
        let mut buf = self.buffer(announced);
        let mut filled = 0;
        let io = |e| Error::io("reading", self.name.clone(), e);
        let mut probe = Vec::new();
        loop {
            if filled == buf.len() {
                // Past the announced size (or none): read on in small steps, at most one byte past
                // what the budget leaves, so an endless input is cut off there. The steps go to a
                // buffer of their own first: the announced size is almost always the end, and
                // growing `buf` would move the file out of the load's shared memory (a copy, and
                // the shared pages left unused).
                let room = self.budget.left.load(Ordering::Relaxed).saturating_add(1);
                let step = TAIL_CHUNK.min(usize::try_from(room).unwrap_or(usize::MAX));
                probe.resize(step, 0);
                match reader.read(&mut probe) {
                    Ok(0) => break,
                    Ok(n) => {
                        self.take(n)?;
                        buf.extend_from_slice(&probe[..n]);
                        filled += n;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(io(e)),
                }
                continue;
            }
            match reader.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => {
                    self.take(n)?;
                    filled += n;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io(e)),
            }
        }
        buf.truncate(filled);
        Ok(buf.freeze())
    }

    fn too_long(&self, actual: u64, how: &str) -> Error {
        // What the group would hold: the other files' bytes so far, plus this file's.
        let others = self.budget.limit - self.budget.left.load(Ordering::Relaxed) - self.held.load(Ordering::Relaxed);
        match (self.kind, self.group) {
            (FileKind::Weights, Some((gi, group))) if self.budget.declared.is_some() => Error::WeightsMismatch {
                weight: group.weights.last().map(|w| w.name.clone()).unwrap_or_else(|| "(no weights)".into()),
                file: Some(self.name.clone()),
                expected: self.budget.limit,
                actual: (others + actual).max(self.budget.limit + 1),
                detail: format!(
                    "manifest group {} declares {} bytes for its {} file(s); this file has {actual} bytes ({how})",
                    gi + 1,
                    self.budget.limit,
                    group.paths.len()
                ),
            },
            (FileKind::Weights, _) => Error::TooLarge {
                what: "weight file",
                location: self.name.clone(),
                limit: self.budget.limit,
                actual,
                detail: format!("{how}; raise Limits::max_weight_bytes to allow more"),
            },
            (FileKind::ModelJson, _) => Error::TooLarge {
                what: "model.json",
                location: self.name.clone(),
                limit: self.budget.limit,
                actual,
                detail: format!("{how}; raise Limits::max_model_json_bytes to allow more"),
            },
        }
    }
}

/// Loads a model from a [`FileSource`]: reads `model_json_path` (bounded by
/// [`Limits::max_model_json_bytes`](crate::Limits)), parses it, then [`assemble`]s the weights.
/// `url` is named in errors.
pub async fn load(
    source: &dyn FileSource,
    model_json_path: &str,
    url: &str,
    policy: PathPolicy,
    opts: &Options,
) -> Result<ModelArtifacts> {
    let bytes = read_model_json(source, model_json_path, url, opts).await?;
    let parsed = ModelJson::parse(&bytes, &source.name(model_json_path))?;
    assemble(parsed, source, url, policy, opts).await
}

/// Reads model.json through `source`, at most [`Limits::max_model_json_bytes`](crate::Limits) + 1 bytes.
pub async fn read_model_json(source: &dyn FileSource, path: &str, url: &str, opts: &Options) -> Result<Bytes> {
    read_one(source, path, url, FileKind::ModelJson, opts.get_limits().max_model_json_bytes, &Options::new(), opts)
        .await
}

/// Reads one whole file that is not part of a manifest (an archive holding a model, say) through
/// `source`: at most `limit` bytes (a larger announced size fails before reading, a longer stream is
/// cut off one byte past it), with byte progress reported to `opts`. Read as a weight file.
pub async fn read_whole(source: &dyn FileSource, path: &str, url: &str, limit: u64, opts: &Options) -> Result<Bytes> {
    read_one(source, path, url, FileKind::Weights, limit, opts, opts).await
}

async fn read_one(
    source: &dyn FileSource,
    path: &str,
    url: &str,
    kind: FileKind,
    limit: u64,
    progress: &Options,
    opts: &Options,
) -> Result<Bytes> {
    let budget = Budget::new(None, limit);
    let meter = progress.meter(None);
    let memory = LoadMemory::new(0);
    let req = FileRequest {
        path,
        name: source.name(path),
        kind,
        group: None,
        budget: &budget,
        held: AtomicU64::new(0),
        counted: AtomicU64::new(0),
        meter: &meter,
        memory: &memory,
        opts,
        url,
    };
    let bytes = source.read(&req).await?;
    meter.finish(bytes.len() as u64);
    opts.tap_file(path, &req.name, &bytes);
    Ok(bytes)
}

/// The model of a parsed model.json with its weight files read from `source` (see the module docs
/// for the checks). Each file is read once, at most [`FileSource::concurrency`] at a time.
pub async fn assemble(
    model: ModelJson,
    source: &dyn FileSource,
    url: &str,
    policy: PathPolicy,
    opts: &Options,
) -> Result<ModelArtifacts> {
    let location = url.to_string();
    check_paths(&model.weights_manifest, policy, &location)?;
    let limit = opts.get_limits().max_weight_bytes;
    let declared: Vec<Option<u64>> = model
        .weights_manifest
        .iter()
        .map(|g| g.weights.iter().try_fold(0u64, |acc, w| acc.checked_add(w.fixed_byte_len()? as u64)))
        .collect();
    let known: u64 = declared.iter().flatten().fold(0u64, |a, &b| a.saturating_add(b));
    if known > limit {
        return Err(Error::TooLarge {
            what: "the declared weights",
            location,
            limit,
            actual: known,
            detail: "declared by the weights manifest; nothing was read (raise Limits::max_weight_bytes)".into(),
        });
    }
    let budgets: Vec<Budget> = declared.iter().map(|d| Budget::new(*d, limit.saturating_sub(known))).collect();
    let total_known = declared.iter().all(Option::is_some).then_some(known);
    let memory = LoadMemory::new(total_known.and_then(|n| usize::try_from(n).ok()).unwrap_or(0));
    let meter = opts.meter(total_known);
    let requests: Vec<FileRequest<'_>> = model
        .weights_manifest
        .iter()
        .enumerate()
        .flat_map(|(gi, g)| g.paths.iter().map(move |p| (gi, g, p)))
        .map(|(gi, g, p)| FileRequest {
            path: p,
            name: source.name(p),
            kind: FileKind::Weights,
            group: Some((gi, g)),
            budget: &budgets[gi],
            held: AtomicU64::new(0),
            counted: AtomicU64::new(0),
            meter: &meter,
            memory: &memory,
            opts,
            url,
        })
        .collect();
    opts.check_cancelled("load", url)?;
    let got = std::sync::Mutex::new(vec![Bytes::new(); requests.len()]);
    let reads: Vec<BoxedWork<'_>> = requests
        .iter()
        .enumerate()
        .map(|(i, r)| -> BoxedWork<'_> {
            let got = &got;
            Box::pin(async move {
                let b = source.read(r).await?;
                opts.tap_file(r.path, &r.name, &b);
                got.lock().unwrap_or_else(std::sync::PoisonError::into_inner)[i] = b;
                Ok(())
            })
        })
        .collect();
    run_bounded(reads, source.concurrency(), OnError::Drop).await.map_err(|e| e.with_location(url))?;
    let files = got.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut weight_data = WeightData::default();
    let mut next = 0;
    for group in &model.weights_manifest {
        let mine = &files[next..next + group.paths.len()];
        let spans: Vec<FileSpan> = requests[next..next + group.paths.len()]
            .iter()
            .zip(mine)
            .map(|(r, b)| FileSpan { name: r.name.clone(), len: b.len() })
            .collect();
        next += group.paths.len();
        let data = WeightData::from_chunks(mine.to_vec());
        codec::layout(&group.weights, &data, &spans).map_err(|e| e.with_location(url))?;
        weight_data.append(data);
    }
    meter.finish(weight_data.len() as u64);
    let mut artifacts = model.artifacts;
    artifacts.weight_data = weight_data;
    Ok(artifacts)
}

/// A boxed piece of concurrent work (a read, a put, a copy): `Send` natively, as the handlers'
/// futures are; the type async-trait methods returning `Result<()>` have.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type BoxedWork<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send + 'a>>;
/// A boxed piece of concurrent work (a read, a put, a copy); the type async-trait methods
/// returning `Result<()>` have.
#[cfg(target_arch = "wasm32")]
pub(crate) type BoxedWork<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + 'a>>;

/// What [`run_bounded`] does with the work still running when one piece fails.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnError {
    /// Drops it (reads: nothing to clean up, and the error comes at once).
    Drop,
    /// Lets it end, starting no more (writes: the cleanup that follows then sees every object
    /// written, and no write is left half-open, e.g. an OPFS writable that locks its file).
    Finish,
}

/// Runs `work` at most `limit` at a time (at least one), until the first error. Every caller's
/// futures are boxed to one type, so the stream machinery exists once in the wasm a web app
/// downloads.
pub(crate) async fn run_bounded(work: Vec<BoxedWork<'_>>, limit: usize, on_error: OnError) -> Result<()> {
    let mut waiting = work.into_iter();
    let mut running = stream::FuturesUnordered::new();
    let mut first = None;
    loop {
        while first.is_none() && running.len() < limit.max(1) {
            match waiting.next() {
                Some(w) => running.push(w),
                None => break,
            }
        }
        match running.next().await {
            None => break,
            Some(Ok(())) => {}
            Some(Err(e)) if on_error == OnError::Drop => return Err(e),
            Some(Err(e)) => {
                first.get_or_insert(e);
            }
        }
    }
    first.map_or(Ok(()), Err)
}

/// Refuses duplicate paths (or basenames) and, under [`PathPolicy::Inside`], paths that are
/// absolute or climb out of the folder. Linear in the number of paths.
pub fn check_paths(manifest: &[ManifestGroup], policy: PathPolicy, location: &str) -> Result<()> {
    // Path → its position: the `&str → index` map type the wasm has anyway (a set would be one
    // more hash table instantiation).
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, path) in manifest.iter().flat_map(|g| &g.paths).enumerate() {
        let key = if policy == PathPolicy::Basename { basename(path) } else { path.as_str() };
        if seen.insert(key, i).is_some() {
            let what = if policy == PathPolicy::Basename { "file basename" } else { "weight path" };
            return Err(Error::invalid_model(location, format!("duplicate {what} '{key}' in weightsManifest")));
        }
        if policy == PathPolicy::Inside {
            check_inside(path, location)?;
        }
    }
    Ok(())
}

/// Refuses a manifest weight path that is empty, absolute or climbs out of the model's folder.
pub fn check_inside(rel: &str, location: &str) -> Result<()> {
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
            format!("weight path '{rel}' in weightsManifest {why}; modelio reads weight files only inside the model's folder (the handler's allow_paths_outside_folder option lifts this)"),
        )),
    }
}

/// TF.js's `basename`: the text after the last `/`, ignoring surrounding whitespace and trailing `/`.
pub fn basename(path: &str) -> &str {
    let p = path.trim().trim_end_matches('/');
    p.rsplit('/').next().unwrap_or(p)
}

/// Files held in memory, looked up by basename (TF.js's `browserFiles`, multipart uploads): a
/// [`FileSource`] over `(name, bytes)` pairs, built in linear time.
pub struct NamedFiles {
    by_name: HashMap<String, Bytes>,
    location: String,
}

impl NamedFiles {
    /// The files, keyed by their basenames; `location` (e.g. "uploaded model.json") prefixes names
    /// in errors. A basename given twice is refused.
    pub fn new(files: impl IntoIterator<Item = (String, Bytes)>, location: &str) -> Result<Self> {
        let mut by_name = HashMap::new();
        for (name, bytes) in files {
            let base = basename(&name).to_string();
            if by_name.insert(base.clone(), bytes).is_some() {
                return Err(Error::invalid_model(location, format!("two files are named '{base}'")));
            }
        }
        Ok(NamedFiles { by_name, location: location.to_string() })
    }

    /// How many files there are.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl FileSource for NamedFiles {
    fn name(&self, path: &str) -> String {
        path.to_string()
    }

    async fn read(&self, req: &FileRequest<'_>) -> Result<Bytes> {
        let base = basename(req.path());
        let bytes = self.by_name.get(base).ok_or_else(|| {
            let mut have: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
            have.sort_unstable();
            have.truncate(20);
            Error::invalid_model(
                &self.location,
                format!(
                    "the manifest names weight file '{}' but no file '{base}' was given (files: {have:?})",
                    req.path()
                ),
            )
        })?;
        req.announce(bytes.len() as u64)?;
        req.take(bytes.len())?;
        Ok(bytes.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::{DType, WeightSpec};

    fn model(n: usize) -> ModelArtifacts {
        let data: Vec<u8> = (0..n * 4).map(|i| i as u8).collect();
        ModelArtifacts::new(
            serde_json::json!({"a": 1}),
            vec![WeightSpec::new("w", vec![n], DType::Float32)],
            WeightData::single(data),
        )
    }

    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        futures::executor::block_on(f)
    }

    /// A test source whose files are made by a closure (names are `src/{path}`).
    struct FnSource<F>(F);

    #[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
    #[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
    impl<F: Fn(&FileRequest<'_>) -> Result<Bytes> + Send + Sync> FileSource for FnSource<F> {
        fn name(&self, p: &str) -> String {
            format!("src/{p}")
        }
        async fn read(&self, req: &FileRequest<'_>) -> Result<Bytes> {
            (self.0)(req)
        }
    }

    fn from_split(files: &ModelFiles) -> (Bytes, NamedFiles) {
        let named = NamedFiles::new(files.weights.iter().map(|(n, d)| (n.clone(), d.to_bytes())), "test").unwrap();
        (files.model_json.clone(), named)
    }

    #[test]
    fn split_then_assemble_round_trips_one_file_and_shards() {
        let m = model(10);
        for wf in [WeightFiles::One("weights.bin".into()), WeightFiles::Shards(7)] {
            let files = split(&m, "t://m", NODE_FILE, &wf).unwrap();
            let (json, named) = from_split(&files);
            let parsed = ModelJson::parse(&json, "t").unwrap();
            let back = block_on(assemble(parsed, &named, "t://m", PathPolicy::Basename, &Options::new())).unwrap();
            assert_eq!(back.weight_data.to_vec(), m.weight_data.to_vec());
            assert_eq!(back.weight_specs, m.weight_specs);
        }
        let names: Vec<_> =
            split(&m, "t://m", HTTP, &WeightFiles::Shards(16)).unwrap().weights.into_iter().map(|w| w.0).collect();
        assert_eq!(names, ["group1-shard1of3.bin", "group1-shard2of3.bin", "group1-shard3of3.bin"]);
    }

    #[test]
    fn graphdef_is_refused_with_one_text() {
        let mut m = model(1);
        m.model_topology = Some(Topology::GraphDef(Bytes::from_static(b"\x0a\x00")));
        let e = split(&m, "x://m", HTTP, &WeightFiles::One("w".into())).unwrap_err().to_string();
        assert!(e.contains("binary (GraphDef)") && e.contains("HTTPRequest.save()"), "{e}");
    }

    #[test]
    fn longer_file_is_cut_at_declared_plus_one() {
        let endless = FnSource(|req: &FileRequest<'_>| {
            let b = req.read_from(&mut std::io::repeat(0).take(1 << 40), None);
            assert!(req.held.load(Ordering::Relaxed) <= 41, "read too far");
            b
        });
        let m = model(10);
        let files = split(&m, "t://m", NODE_FILE, &WeightFiles::One("weights.bin".into())).unwrap();
        let parsed = ModelJson::parse(&files.model_json, "t").unwrap();
        let e = block_on(assemble(parsed, &endless, "t://m", PathPolicy::Inside, &Options::new())).unwrap_err();
        match e {
            Error::WeightsMismatch { file, expected, actual, .. } => {
                assert_eq!(file.as_deref(), Some("src/weights.bin"));
                assert_eq!((expected, actual), (40, 41));
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn announced_size_over_budget_fails_before_reading() {
        let huge = FnSource(|req: &FileRequest<'_>| {
            req.announce(5 << 30)?;
            panic!("read after a refused announce");
        });
        let files = split(&model(2), "t://m", NODE_FILE, &WeightFiles::One("weights.bin".into())).unwrap();
        let parsed = ModelJson::parse(&files.model_json, "t").unwrap();
        let e = block_on(assemble(parsed, &huge, "t://m", PathPolicy::Inside, &Options::new())).unwrap_err();
        assert!(e.to_string().contains("5368709120"), "{e}");
    }

    #[test]
    fn declared_total_over_limit_and_bad_paths_fail_before_any_read() {
        let files = split(&model(1000), "t://m", NODE_FILE, &WeightFiles::One("weights.bin".into())).unwrap();
        let (json, named) = from_split(&files);
        let opts = Options::new().limits(crate::Limits { max_weight_bytes: 100, ..Default::default() });
        let e = block_on(load_json(&json, &named, &opts)).unwrap_err();
        assert!(matches!(e, Error::TooLarge { limit: 100, actual: 4000, .. }), "{e}");
        for (paths, want) in [
            (r#"["a.bin","a.bin"]"#, "duplicate weight path 'a.bin'"),
            (r#"["../a.bin"]"#, "climbs out"),
            (r#"["/etc/passwd"]"#, "is absolute"),
        ] {
            let doc = format!(r#"{{"modelTopology":{{}},"weightsManifest":[{{"paths":{paths},"weights":[]}}]}}"#);
            let parsed = ModelJson::parse(doc.as_bytes(), "t").unwrap();
            let e = block_on(assemble(parsed, &named, "t://m", PathPolicy::Inside, &Options::new())).unwrap_err();
            assert!(e.to_string().contains(want), "{e}");
        }
    }

    async fn load_json(json: &[u8], named: &NamedFiles, opts: &Options) -> Result<ModelArtifacts> {
        assemble(ModelJson::parse(json, "t")?, named, "t://m", PathPolicy::Inside, opts).await
    }

    #[test]
    fn model_json_over_its_cap_is_refused_after_cap_plus_one_bytes() {
        let big = FnSource(|req: &FileRequest<'_>| req.read_from(&mut std::io::repeat(b' ').take(1 << 30), None));
        let opts = Options::new().limits(crate::Limits { max_model_json_bytes: 1000, ..Default::default() });
        let e = block_on(load(&big, "model.json", "t://m", PathPolicy::Inside, &opts)).unwrap_err();
        assert!(matches!(e, Error::TooLarge { what: "model.json", limit: 1000, actual: 1001, .. }), "{e}");
    }

    /// Found by the `assemble` fuzz target: a manifest declaring 64 MiB or more, uploaded with a few
    /// bytes, made `assemble` allocate its declared total and start the prefault thread (64 MiB
    /// populated per load) although in-memory files never use that memory. Now the memory is
    /// allocated on a source's first `FileRequest::buffer` call only.
    #[test]
    fn declared_total_is_not_allocated_for_in_memory_files() {
        let doc = r#"{"modelTopology":{},"weightsManifest":[{"paths":["w.bin"],"weights":[{"name":"w","shape":[16777216],"dtype":"float32"}]}]}"#;
        let named = NamedFiles::new([("w.bin".to_string(), Bytes::from_static(b"1234"))], "t").unwrap();
        let before = crate::buffer::shared_allocations();
        let e = block_on(load_json(doc.as_bytes(), &named, &Options::new())).unwrap_err();
        assert!(matches!(e, Error::WeightsMismatch { .. }), "{e}");
        assert_eq!(crate::buffer::shared_allocations(), before, "no shared memory for in-memory files");

        // A source that reads into buffers still gets the load's shared memory.
        struct Buffered;
        #[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
        #[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
        impl FileSource for Buffered {
            fn name(&self, p: &str) -> String {
                p.to_string()
            }
            async fn read(&self, req: &FileRequest<'_>) -> Result<Bytes> {
                req.read_from(&mut &[7u8; 40][..], Some(40))
            }
        }
        let files = split(&model(10), "t://m", NODE_FILE, &WeightFiles::One("weights.bin".into())).unwrap();
        let parsed = ModelJson::parse(&files.model_json, "t").unwrap();
        block_on(assemble(parsed, &Buffered, "t://m", PathPolicy::Inside, &Options::new())).unwrap();
        assert_eq!(crate::buffer::shared_allocations(), before + 1);
    }

    /// Files read with `read_from` at their announced size land in the load's one shared buffer, side
    /// by side: checking that nothing follows them must not move them into buffers of their own (that
    /// doubled a big load's memory and cost a copy).
    #[test]
    fn files_read_to_their_announced_size_stay_in_the_shared_memory() {
        let files = split(&model(3 << 20), "t://m", NODE_FILE, &WeightFiles::Shards(4 << 20)).unwrap();
        assert_eq!(files.weights.len(), 3);
        let parsed = ModelJson::parse(&files.model_json, "t").unwrap();
        let by_name: std::collections::HashMap<String, Bytes> =
            files.weights.iter().map(|(n, d)| (n.clone(), d.to_bytes())).collect();
        let source = FnSource(move |req: &FileRequest<'_>| {
            let data = by_name[req.path()].clone();
            req.read_from(&mut &data[..], Some(data.len() as u64))
        });
        let a = block_on(assemble(parsed, &source, "t://m", PathPolicy::Inside, &Options::new())).unwrap();
        assert_eq!(a.weight_data.to_vec(), model(3 << 20).weight_data.to_vec());
        let pieces = a.weight_data.chunks();
        assert_eq!(pieces.len(), 3);
        for w in pieces.windows(2) {
            assert_eq!(w[0].as_ptr() as usize + w[0].len(), w[1].as_ptr() as usize, "side by side in one buffer");
        }
    }

    #[test]
    fn many_paths_are_checked_in_linear_time() {
        let paths: Vec<String> = (0..60_000).map(|i| format!("p{i}.bin")).collect();
        let group = ManifestGroup { paths, weights: vec![] };
        check_paths(std::slice::from_ref(&group), PathPolicy::Basename, "t").unwrap();
        let named = NamedFiles::new(group.paths.iter().map(|p| (p.clone(), Bytes::new())), "t").unwrap();
        assert_eq!(named.len(), 60_000);
    }
}
