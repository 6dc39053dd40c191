//! [`Bucket`]: an `object_store` client as an [`io_core::keyed::KeyValueStore`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, ObjectStore, PutPayload};

use io_core::files::FileRequest;
use io_core::keyed::{KeyValueStore, ObjectMeta};
use io_core::{Config, Error, Result, WeightData};

use tokio::sync::mpsc::Receiver;

use crate::runtime::{self, run};

/// An object storage service, and its URL scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Service {
    /// Amazon S3 and S3-compatible servers (MinIO, Ceph, SeaweedFS): `s3://`.
    S3,
    /// Google Cloud Storage: `gs://`.
    Gcs,
    /// Azure Blob Storage: `az://` (the bucket is the container).
    Azure,
}

impl Service {
    /// The URL scheme, without `://`.
    pub const fn scheme(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::Gcs => "gs",
            Service::Azure => "az",
        }
    }

    /// The `modelio` Cargo feature (and this crate's) that builds the service's client.
    pub const fn feature(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::Gcs => "gcs",
            Service::Azure => "azure",
        }
    }

    /// A client for `bucket` configured from the environment as `object_store` reads it
    /// (`AmazonS3Builder::from_env`, `GoogleCloudStorageBuilder::from_env`,
    /// `MicrosoftAzureBuilder::from_env`), then from `config` (keys as `object_store`'s config
    /// keys parse them, e.g. `endpoint`, `allow_http`, `access_key_id`, `region`).
    #[allow(unused_variables, unreachable_code)]
    pub fn build(self, bucket: &str, config: &[(&str, &str)]) -> Result<Arc<dyn ObjectStore>> {
        let at = format!("{}://{bucket}", self.scheme());
        let bad_key =
            |k: &str, e: object_store::Error| Error::storage_from(self.scheme(), format!("{at} (config key '{k}')"), e);
        let built: object_store::Result<Arc<dyn ObjectStore>> = match self {
            #[cfg(feature = "aws")]
            Service::S3 => {
                let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
                for (k, v) in config {
                    b = b.with_config(k.parse().map_err(|e| bad_key(k, e))?, *v);
                }
                b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
            }
            #[cfg(feature = "gcp")]
            Service::Gcs => {
                let mut b = object_store::gcp::GoogleCloudStorageBuilder::from_env().with_bucket_name(bucket);
                for (k, v) in config {
                    b = b.with_config(k.parse().map_err(|e| bad_key(k, e))?, *v);
                }
                b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
            }
            #[cfg(feature = "azure")]
            Service::Azure => {
                let mut b = object_store::azure::MicrosoftAzureBuilder::from_env().with_container_name(bucket);
                for (k, v) in config {
                    b = b.with_config(k.parse().map_err(|e| bad_key(k, e))?, *v);
                }
                b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
            }
            #[allow(unreachable_patterns)]
            _ => {
                return Err(Error::Unsupported {
                    operation: "connect",
                    url: at,
                    reason: format!(
                        "io-object-store was built without the client for {}:// (Cargo feature `{}` of `modelio`)",
                        self.scheme(),
                        self.feature()
                    ),
                })
            }
        };
        built.map_err(|e| Error::storage_from(self.scheme(), at, e))
    }
}

/// One bucket (or container) with a key prefix: the store of a configured mount.
struct Fixed {
    store: Arc<dyn ObjectStore>,
    bucket: String,
    /// `""` or `a/b/`: prepended to every key.
    root: String,
}

/// Object storage as a [`KeyValueStore`]; [`io_core::KeyedStore`] over it is the `s3://`, `gs://`
/// and `az://` scheme.
///
/// - [`Bucket::env`] (the registered schemes): keys are `BUCKET/KEY`, the bucket is the URL's host
///   (`s3://BUCKET/prefix/NAME`), and each bucket's client is built from the environment on first
///   use ([`Service::build`]) and kept for the process. It cannot list every bucket, so
///   `modelio ls` needs a prefix (`s3://BUCKET/` or below).
/// - [`Bucket::fixed`] / [`KeyValueStore::configure`]: one bucket and a key prefix, for
///   `Registry::mount_configured` or `Registry::mount`; it lists everything under its prefix.
#[derive(Clone)]
pub struct Bucket {
    service: Service,
    fixed: Option<Arc<Fixed>>,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.fixed {
            None => write!(f, "Bucket({}://, from the environment)", self.service.scheme()),
            Some(x) => write!(f, "Bucket({}://{}/{})", self.service.scheme(), x.bucket, x.root),
        }
    }
}

/// Every read is retried this many times when the transfer breaks after the request succeeded
/// (`object_store` retries the requests themselves, with backoff).
const BODY_RETRIES: u32 = 3;

/// Chunks of a body in flight between the runtime's task and the reader.
const CHANNEL_CHUNKS: usize = 8;

/// Most bytes of already-arrived body chunks handed to the reader at once.
const BATCH_BYTES: usize = 1 << 20;

/// Objects larger than this are read as parallel ranges ([`RANGE_BYTES`] each).
pub const RANGE_THRESHOLD: u64 = 16 << 20;

/// The bytes of one range request of a large object.
pub const RANGE_BYTES: u64 = 8 << 20;

/// Requests in flight for one large object (its first GET and range GETs).
pub const RANGES_AT_ONCE: usize = 4;

impl Bucket {
    /// The registered store of `service`: the bucket is the first part of every key, its client built
    /// from the environment.
    pub const fn env(service: Service) -> Bucket {
        Bucket { service, fixed: None }
    }

    /// `store` (any `object_store` client, configured in code) holding bucket `bucket` of `service`,
    /// with every key under `prefix` (`""`, or `/`-separated parts). `bucket` only names objects
    /// in messages (`s3://bucket/prefix/NAME/model.json`).
    pub fn fixed(service: Service, store: Arc<dyn ObjectStore>, bucket: &str, prefix: &str) -> Bucket {
        let p = prefix.trim_matches('/');
        let root = if p.is_empty() { String::new() } else { format!("{p}/") };
        Bucket { service, fixed: Some(Arc::new(Fixed { store, bucket: bucket.to_string(), root })) }
    }

    /// The service.
    pub fn service(&self) -> Service {
        self.service
    }

    /// The client and the object path of `key`.
    fn locate(&self, key: &str) -> Result<(Arc<dyn ObjectStore>, Path)> {
        let (store, full) = match &self.fixed {
            Some(f) => (f.store.clone(), format!("{}{key}", f.root)),
            None => {
                let (bucket, rest) = key.split_once('/').unwrap_or((key, ""));
                (env_client(self.service, bucket, &self.describe(key))?, rest.to_string())
            }
        };
        let path = Path::parse(&full)
            .map_err(|e| Error::InvalidUrl { url: self.describe(key), reason: format!("not an object key: {e}") })?;
        Ok((store, path))
    }

    /// The key of an object listed under `path`'s client.
    fn key_of(&self, listed_bucket: &str, location: &Path) -> Option<String> {
        let loc = location.as_ref();
        match &self.fixed {
            Some(f) => loc.strip_prefix(f.root.as_str()).map(str::to_string),
            None => Some(format!("{listed_bucket}/{loc}")),
        }
    }

    fn error(&self, key: &str, e: object_store::Error) -> Error {
        match e {
            object_store::Error::NotFound { .. } => Error::not_found(self.describe(key)),
            other => Error::storage_from(self.service.scheme(), self.describe(key), other),
        }
    }

    /// Copies the object `from` to `to` inside the service (a server-side copy: no bytes pass
    /// through this process). Both keys must be in one bucket for [`Bucket::env`] stores.
    pub async fn copy_object(&self, from: &str, to: &str) -> Result<()> {
        let (store, src) = self.locate(from)?;
        let (_, dst) = self.locate(to)?;
        let this = self.clone();
        let (f, t) = (from.to_string(), to.to_string());
        if self.fixed.is_none() && from.split('/').next() != to.split('/').next() {
            return Err(Error::Unsupported {
                operation: "copy",
                url: self.describe(from),
                reason: format!("a server-side copy stays in one bucket; '{}' is in another", self.describe(to)),
            });
        }
        run(async move {
            store.copy(&src, &dst).await.map_err(|e| match e {
                object_store::Error::NotFound { .. } => Error::not_found(this.describe(&f)),
                other => Error::storage_from(
                    this.service.scheme(),
                    format!("{} -> {}", this.describe(&f), this.describe(&t)),
                    other,
                ),
            })
        })
        .await
    }

    /// The size, modification time and ETag of the object `key` (a HEAD request).
    pub async fn head(&self, key: &str) -> Result<(ObjectMeta, Option<String>)> {
        let (store, path) = self.locate(key)?;
        let (this, k) = (self.clone(), key.to_string());
        run(async move {
            let m = store.head(&path).await.map_err(|e| this.error(&k, e))?;
            let meta = ObjectMeta { key: k, size: m.size, last_modified: Some(SystemTime::from(m.last_modified)) };
            Ok((meta, m.e_tag))
        })
        .await
    }
}

/// The environment-configured client of `bucket`, built once per process.
fn env_client(service: Service, bucket: &str, url: &str) -> Result<Arc<dyn ObjectStore>> {
    type Clients = Mutex<HashMap<(Service, String), Arc<dyn ObjectStore>>>;
    static CLIENTS: std::sync::OnceLock<Clients> = std::sync::OnceLock::new();
    if bucket.is_empty() {
        return Err(Error::InvalidUrl {
            url: url.to_string(),
            reason: format!("name a bucket: {}://BUCKET/prefix/NAME", service.scheme()),
        });
    }
    let clients = CLIENTS.get_or_init(Default::default);
    let mut clients = clients.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = clients.get(&(service, bucket.to_string())) {
        return Ok(c.clone());
    }
    let client = service.build(bucket, &[])?;
    clients.insert((service, bucket.to_string()), client.clone());
    Ok(client)
}

/// One message from the task that reads a body on the runtime.
enum Piece {
    /// The whole object's size (also for a range request) and its ETag, before any bytes.
    Size(u64, Option<String>),
    /// Body bytes, as they arrived (one or more network reads).
    Chunks(Vec<Bytes>),
    Failed(object_store::Error),
}

#[io_core::async_trait]
impl KeyValueStore for Bucket {
    fn describe(&self, key: &str) -> String {
        match &self.fixed {
            Some(f) => format!("{}://{}/{}{key}", self.service.scheme(), f.bucket, f.root),
            None => format!("{}://{key}", self.service.scheme()),
        }
    }

    /// One GET, streamed through `req`: the object's size is announced before its body is read
    /// (more than the manifest declares fails naming the object), every chunk is counted (byte
    /// progress, the budget), and a body that breaks off is read again (up to 3 times, with backoff).
    ///
    /// An object larger than [`RANGE_THRESHOLD`] is read as ranges of [`RANGE_BYTES`] into the one
    /// buffer the load gives: the first GET's body fills the first range while range GETs (pinned
    /// to the first answer's ETag) fill the others, [`RANGES_AT_ONCE`] requests at a time; a range
    /// whose body breaks off is requested again from where it stopped.
    async fn get(&self, key: &str, req: &FileRequest<'_>) -> Result<Bytes> {
        let (store, path) = self.locate(key)?;
        let mut wait = Duration::from_millis(100);
        let mut attempt = 0;
        loop {
            req.restart();
            match self.get_once(key, &store, &path, req).await {
                Err(Error::Network { temporary: true, .. }) if attempt < BODY_RETRIES => {
                    attempt += 1;
                    runtime::sleep(wait).await;
                    wait *= 2;
                }
                done => return done,
            }
        }
    }

    async fn put(&self, key: &str, data: WeightData) -> Result<()> {
        let (store, path) = self.locate(key)?;
        let payload: PutPayload = data.chunks().iter().cloned().collect();
        let (this, k) = (self.clone(), key.to_string());
        run(async move { store.put(&path, payload).await.map(drop).map_err(|e| this.error(&k, e)) }).await
    }

    /// Every object under `prefix` (a `/`-terminated folder, or `""`), page by page as the
    /// service returns them (S3 `ListObjectsV2` continuation tokens, handled by `object_store`).
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let (store, path, bucket) = match &self.fixed {
            Some(_) => {
                let (s, p) = self.locate(prefix.trim_end_matches('/'))?;
                (s, p, String::new())
            }
            None => {
                let bucket = prefix.split('/').next().unwrap_or_default().to_string();
                if bucket.is_empty() || !prefix.contains('/') {
                    return Err(Error::Unsupported {
                        operation: "list",
                        url: self.describe(prefix),
                        reason: format!(
                            "{}:// lists under a bucket: {}://BUCKET/ or a prefix in it",
                            self.service.scheme(),
                            self.service.scheme()
                        ),
                    });
                }
                let (s, p) = self.locate(prefix.trim_end_matches('/'))?;
                (s, p, bucket)
            }
        };
        let (this, p) = (self.clone(), prefix.to_string());
        run(async move {
            let prefix = if path.as_ref().is_empty() { None } else { Some(&path) };
            let listed: Vec<object_store::ObjectMeta> =
                store.list(prefix).try_collect().await.map_err(|e| this.error(&p, e))?;
            Ok(listed
                .into_iter()
                .filter_map(|m| {
                    let key = this.key_of(&bucket, &m.location)?;
                    Some(ObjectMeta { key, size: m.size, last_modified: Some(SystemTime::from(m.last_modified)) })
                })
                .collect())
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let (store, path) = self.locate(key)?;
        let (this, k) = (self.clone(), key.to_string());
        run(async move {
            match store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(this.error(&k, e)),
            }
        })
        .await
    }

    /// Eight requests at once.
    fn concurrency(&self) -> usize {
        8
    }

    /// A server-side copy ([`Bucket::copy_object`]: S3 `CopyObject`, GCS rewrite, Azure Copy Blob);
    /// between two buckets of a [`Bucket::env`] store, a GET and a PUT through this process.
    async fn copy(&self, from: &str, to: &str) -> Result<()> {
        match self.copy_object(from, to).await {
            Err(Error::Unsupported { .. }) => io_core::keyed::copy_through(self, from, to).await,
            done => done,
        }
    }

    fn copies_in_place(&self) -> bool {
        true
    }

    fn lists_everything(&self) -> bool {
        self.fixed.is_some()
    }

    /// Keys: `bucket` (required; the container for `az`), `prefix` (optional: every model is under
    /// it), and any `object_store` config key of the service (`endpoint`, `region`, `allow_http`,
    /// `access_key_id`, `secret_access_key`, ...), applied over what the environment sets.
    fn configure(&self, config: &Config) -> Result<Self> {
        let bucket = config.get("bucket").filter(|b| !b.is_empty()).ok_or_else(|| Error::Unsupported {
            operation: "configure",
            url: format!("{}://", self.service.scheme()),
            reason: format!(
                "{}:// needs a `bucket` key (and takes `prefix` and object_store's config keys); got {:?}",
                self.service.scheme(),
                config.keys().collect::<Vec<_>>()
            ),
        })?;
        let prefix = config.get("prefix").map(String::as_str).unwrap_or("");
        let rest: Vec<(&str, &str)> = config
            .iter()
            .filter(|(k, _)| *k != "bucket" && *k != "prefix")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Ok(Bucket::fixed(self.service, self.service.build(bucket, &rest)?, bucket, prefix))
    }
}

/// A large object being read in ranges: what every range request of it shares.
struct Ranged<'a, 'r> {
    key: &'a str,
    store: &'a Arc<dyn ObjectStore>,
    path: &'a Path,
    req: &'a FileRequest<'r>,
    /// The object's size, as the first GET announced it.
    size: u64,
    /// The first GET's ETag: range GETs must match it.
    e_tag: Option<String>,
}

/// One range of a large object being read.
struct Part {
    /// Its offset in the object.
    start: u64,
    /// Its bytes (a piece of the load's buffer).
    buf: bytes::BytesMut,
    /// How many of them arrived.
    filled: usize,
}

/// Starts a GET on the crate's runtime: its answer, then its body's chunks, arrive on the channel
/// (at most [`CHANNEL_CHUNKS`] ahead of the reader; dropping the receiver ends the request).
fn spawn_get(store: &Arc<dyn ObjectStore>, path: &Path, options: GetOptions) -> Receiver<Piece> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Piece>(CHANNEL_CHUNKS);
    let (store, path) = (store.clone(), path.clone());
    runtime::spawn(async move {
        let got = match store.get_opts(&path, options).await {
            Ok(g) => g,
            Err(e) => {
                let _ = tx.send(Piece::Failed(e)).await;
                return;
            }
        };
        if tx.send(Piece::Size(got.meta.size, got.meta.e_tag.clone())).await.is_err() {
            return;
        }
        let mut body = got.into_stream();
        // Chunks that have already arrived go over together (up to BATCH_BYTES): one hand-over to
        // the reader's task per batch instead of per network read.
        while let Some(first) = body.next().await {
            let mut batch = Vec::new();
            let mut failed = None;
            let (mut bytes, mut ended) = (0, false);
            let mut next = Some(first);
            while let Some(chunk) = next.take() {
                match chunk {
                    Ok(c) => {
                        bytes += c.len();
                        batch.push(c);
                    }
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
                if bytes < BATCH_BYTES {
                    match body.next().now_or_never() {
                        Some(Some(c)) => next = Some(c),
                        Some(None) => ended = true,
                        None => {}
                    }
                }
            }
            if !batch.is_empty() && tx.send(Piece::Chunks(batch)).await.is_err() {
                return;
            }
            if let Some(e) = failed {
                let _ = tx.send(Piece::Failed(e)).await;
                return;
            }
            if ended {
                return;
            }
        }
    });
    rx
}

impl Bucket {
    /// One GET: the body is pulled by a task on the crate's runtime and handed over in chunks
    /// (at most [`CHANNEL_CHUNKS`] ahead), so the caller's executor never touches tokio.
    async fn get_once(
        &self,
        key: &str,
        store: &Arc<dyn ObjectStore>,
        path: &Path,
        req: &FileRequest<'_>,
    ) -> Result<Bytes> {
        let mut rx = spawn_get(store, path, GetOptions::default());
        let (size, e_tag) = match rx.recv().await {
            Some(Piece::Size(n, e_tag)) => (n, e_tag),
            Some(Piece::Failed(e)) => return Err(self.error(key, e)),
            _ => return Err(self.broken(key, "the request task ended without an answer")),
        };
        if size > RANGE_THRESHOLD {
            return self.get_ranges(Ranged { key, store, path, req, size, e_tag }, rx).await;
        }
        // A piece of the load's memory, zeroed and as long as announced.
        let mut received = req.receive(Some(size))?;
        while let Some(piece) = rx.recv().await {
            match piece {
                Piece::Chunks(cs) => {
                    for c in cs {
                        received.push(&c)?;
                    }
                }
                Piece::Failed(e) => return Err(self.broken(key, &e.to_string())),
                Piece::Size(..) => continue,
            }
        }
        if received.len() as u64 != size {
            let filled = received.len();
            return Err(self.broken(key, &format!("the body ended after {filled} of the object's {size} bytes")));
        }
        Ok(received.finish())
    }

    /// A large object of `size` bytes (announced by the first GET, whose body `first` brings) read
    /// as ranges into one buffer; see [`KeyValueStore::get`].
    async fn get_ranges(&self, read: Ranged<'_, '_>, first: Receiver<Piece>) -> Result<Bytes> {
        let size = read.size;
        read.req.announce(size)?;
        let len = usize::try_from(size).unwrap_or(usize::MAX);
        let mut buf = read.req.buffer(Some(size));
        if buf.len() != len {
            buf = bytes::BytesMut::zeroed(len);
        }
        let mut parts = Vec::new();
        let mut start = 0u64;
        while start < size {
            let n = RANGE_BYTES.min(size - start);
            parts.push(Part { start, buf: buf.split_to(n as usize), filled: 0 });
            start += n;
        }
        let mut first = Some(first);
        let read = &read;
        let fills = parts.into_iter().map(|part| {
            let body = first.take();
            async move { self.fill(read, part, body).await }
        });
        let mut done: Vec<Part> = futures::stream::iter(fills).buffer_unordered(RANGES_AT_ONCE).try_collect().await?;
        done.sort_by_key(|p| p.start);
        let mut whole = bytes::BytesMut::new();
        for p in done {
            whole.unsplit(p.buf);
        }
        Ok(whole.freeze())
    }

    /// Fills `part` of the object: from `body` (the first GET's, which is dropped once the part is
    /// full), else (and after a body broke off) from a range GET of what is still missing.
    async fn fill(&self, read: &Ranged<'_, '_>, mut part: Part, mut body: Option<Receiver<Piece>>) -> Result<Part> {
        let Ranged { key, store, path, req, size, e_tag } = read;
        let (key, size) = (*key, *size);
        let mut wait = Duration::from_millis(100);
        let mut attempt = 0;
        loop {
            let mut rx = match body.take() {
                Some(rx) => rx,
                None => {
                    let from = part.start + part.filled as u64;
                    let to = part.start + part.buf.len() as u64;
                    let options =
                        GetOptions { range: Some((from..to).into()), if_match: e_tag.clone(), ..GetOptions::default() };
                    let mut rx = spawn_get(store, path, options);
                    match rx.recv().await {
                        Some(Piece::Size(n, _)) if n == size => rx,
                        Some(Piece::Size(n, _)) => {
                            return Err(self.changed(key, &format!("it has {n} bytes now, {size} at first")))
                        }
                        Some(Piece::Failed(object_store::Error::Precondition { .. })) => {
                            return Err(self.changed(key, "its ETag changed"))
                        }
                        Some(Piece::Failed(e)) => return Err(self.error(key, e)),
                        _ => return Err(self.broken(key, "the request task ended without an answer")),
                    }
                }
            };
            let broke = loop {
                match rx.recv().await {
                    Some(Piece::Chunks(cs)) => {
                        for c in cs {
                            let room = part.buf.len() - part.filled;
                            let n = c.len().min(room);
                            req.take(n)?;
                            part.buf[part.filled..part.filled + n].copy_from_slice(&c[..n]);
                            part.filled += n;
                            if part.filled == part.buf.len() {
                                return Ok(part); // the first GET's body: the rest is other ranges'
                            }
                        }
                    }
                    Some(Piece::Failed(e)) => break e.to_string(),
                    Some(Piece::Size(..)) => continue,
                    None => {
                        break format!(
                            "the body of bytes {}..{} ended after {}",
                            part.start,
                            part.start + part.buf.len() as u64,
                            part.filled
                        )
                    }
                }
            };
            if attempt == BODY_RETRIES {
                return Err(self.broken(key, &broke));
            }
            attempt += 1;
            runtime::sleep(wait).await;
            wait *= 2;
        }
    }

    /// The object was replaced while it was read in ranges (temporary: [`KeyValueStore::get`] reads
    /// it again from its start).
    fn changed(&self, key: &str, detail: &str) -> Error {
        Error::Network {
            url: self.describe(key),
            detail: format!("the object changed while it was read in ranges: {detail}"),
            temporary: true,
            source: None,
        }
    }

    /// A transfer that broke off (temporary: the read is tried again).
    fn broken(&self, key: &str, detail: &str) -> Error {
        Error::Network { url: self.describe(key), detail: detail.to_string(), temporary: true, source: None }
    }
}
