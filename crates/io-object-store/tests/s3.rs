//! `s3://` against a real S3 API server: SeaweedFS on loopback ([`Weed`], one per run of this
//! file), one trial per case (`harness = false`).
//!
//! - the io-core conformance suite on the environment-configured `s3://BUCKET/...` scheme and on a
//!   configured mount (`Registry::mount_configured(.., "s3", ..)`);
//! - the layout in the bucket, versions and their collection, a save killed with SIGKILL before its
//!   commit, listing past S3's 1,000-key pages, loads racing saves, copy / move / remove, hostile
//!   objects, and TF.js (Node) loading a saved model straight from the S3 endpoint.
//!
//! Needs SeaweedFS's `weed`: `cargo xtask test-all`, or
//! `MODELIO_WEED=$(cargo xtask weed) cargo test -p io-object-store --test s3`.

use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures::executor::block_on;
use futures::{StreamExt, TryStreamExt};
use io_core::keyed::KeyedStore;
use io_core::testkit::libtest_mimic::{self, Arguments, Failed, Trial};
use io_core::testkit::{self, fixtures, oracle, same_model, Capabilities, Capability, Target};
use io_core::{Error, ModelArtifacts, Options, Registry, Scheme};
use io_object_store::object_store::{
    self, path::Path as ObjectPath, GetOptions, GetRange, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, WriteMultipart,
};
use io_object_store::testkit::Weed;
use io_object_store::{Bucket, Service};

/// Set in the child process of [`killed_save`]: the URL it saves to before it is killed.
const CRASH_ENV: &str = "MODELIO_S3_TEST_KILLED_SAVE";

/// The server and what every trial shares.
struct World {
    registry: &'static Registry,
    options: Vec<(&'static str, String)>,
    endpoint: String,
    /// For the direct object_store calls of the checks (object_store needs a tokio reactor).
    rt: tokio::runtime::Runtime,
}

impl World {
    /// A plain object_store client of `bucket` (no modelio in between), to look at the bucket.
    fn raw(&self, bucket: &str) -> Arc<dyn ObjectStore> {
        let opts: Vec<(&str, &str)> = self.options.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Service::S3.build(bucket, &opts).expect("object_store client")
    }

    /// The keys under `prefix` in `bucket`, with their sizes.
    fn keys(&self, bucket: &str, prefix: &str) -> Vec<(String, u64)> {
        let store = self.raw(bucket);
        let prefix = ObjectPath::from(prefix);
        let listed: Vec<_> = self.rt.block_on(store.list(Some(&prefix)).try_collect()).expect("list");
        let mut out: Vec<(String, u64)> = listed.into_iter().map(|m| (m.location.to_string(), m.size)).collect();
        out.sort();
        out
    }

    fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>) {
        let store = self.raw(bucket);
        self.rt.block_on(store.put(&ObjectPath::from(key), PutPayload::from(bytes))).expect("put");
    }

    /// A configured `s3` scheme of `bucket` under `prefix` whose saves collect leftovers at once.
    fn eager(&self, bucket: &str, prefix: &str) -> Arc<dyn Scheme> {
        let config = config(&self.options, bucket, prefix);
        KeyedStore::new(Bucket::env(Service::S3)).leftover_age(Duration::ZERO).configure(&config).expect("configure")
    }
}

fn config(options: &[(&'static str, String)], bucket: &str, prefix: &str) -> io_core::Config {
    let mut c: io_core::Config = options.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    c.insert("bucket".into(), bucket.into());
    c.insert("prefix".into(), prefix.into());
    c
}

type Check = fn(&World) -> Result<(), String>;

/// An `object_store` client that records the requests it forwards to another: what passed
/// through the client (GETs with their ranges, PUTs) and what the service did alone (copies).
/// It can also break the body of the next range GET off after some bytes (a transfer failing
/// midway).
#[derive(Debug)]
struct Recorded {
    inner: Arc<dyn ObjectStore>,
    log: Mutex<Vec<String>>,
    /// Bytes after which the next range GET's body fails.
    cut: Mutex<Option<usize>>,
}

impl Recorded {
    fn new(inner: Arc<dyn ObjectStore>) -> Arc<Recorded> {
        Arc::new(Recorded { inner, log: Mutex::new(Vec::new()), cut: Mutex::new(None) })
    }

    /// The next range GET's body breaks off after `n` bytes.
    fn cut_next_range_after(&self, n: usize) {
        *self.cut.lock().unwrap() = Some(n);
    }

    fn note(&self, what: String) {
        self.log.lock().unwrap().push(what);
    }

    /// The requests since the last call: `get KEY`, `get KEY START..END`, `head KEY`, `put KEY`,
    /// `copy FROM -> TO`, `delete KEY`, `list PREFIX`.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

impl std::fmt::Display for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Recorded({})", self.inner)
    }
}

#[io_core::async_trait]
impl ObjectStore for Recorded {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.note(format!("put {location}"));
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.note(format!("put {location}"));
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(&self, location: &ObjectPath, options: GetOptions) -> object_store::Result<GetResult> {
        match (&options.range, options.head) {
            (_, true) => self.note(format!("head {location}")),
            (Some(GetRange::Bounded(r)), _) => self.note(format!("get {location} {}..{}", r.start, r.end)),
            (Some(other), _) => self.note(format!("get {location} {other}")),
            (None, _) => self.note(format!("get {location}")),
        }
        let ranged = options.range.is_some();
        let got = self.inner.get_opts(location, options).await?;
        let Some(n) = ranged.then(|| self.cut.lock().unwrap().take()).flatten() else { return Ok(got) };
        let (meta, range, attributes) = (got.meta.clone(), got.range.clone(), got.attributes.clone());
        let body = got.bytes().await?;
        let broken = object_store::Error::Generic { store: "Recorded", source: "the test broke the body off".into() };
        let pieces = vec![Ok(body.slice(..n.min(body.len()))), Err(broken)];
        let payload = GetResultPayload::Stream(futures::stream::iter(pieces).boxed());
        Ok(GetResult { payload, meta, range, attributes })
    }
    async fn delete(&self, location: &ObjectPath) -> object_store::Result<()> {
        self.note(format!("delete {location}"));
        self.inner.delete(location).await
    }
    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.note(format!("list {}", prefix.map(ObjectPath::to_string).unwrap_or_default()));
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(&self, prefix: Option<&ObjectPath>) -> object_store::Result<ListResult> {
        self.note(format!("list {}", prefix.map(ObjectPath::to_string).unwrap_or_default()));
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy(&self, from: &ObjectPath, to: &ObjectPath) -> object_store::Result<()> {
        self.note(format!("copy {from} -> {to}"));
        self.inner.copy(from, to).await
    }
    async fn copy_if_not_exists(&self, from: &ObjectPath, to: &ObjectPath) -> object_store::Result<()> {
        self.note(format!("copy {from} -> {to}"));
        self.inner.copy_if_not_exists(from, to).await
    }
}

fn ensure(ok: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(msg())
    }
}

fn tag(m: &ModelArtifacts) -> Option<u64> {
    m.user_defined_metadata.as_ref().and_then(|v| v.to_value()["tag"].as_u64())
}

fn tagged(name: &str, t: u64) -> ModelArtifacts {
    let mut m = fixtures::model(name);
    m.user_defined_metadata = Some(serde_json::json!({ "tag": t }).into());
    m
}

/// The weight objects of a key listing (the `.bin` files directly under `dir`).
fn weight_keys(keys: &[(String, u64)], dir: &str) -> BTreeSet<String> {
    keys.iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| k.strip_prefix(dir).is_some_and(|f| !f.contains('/') && f.ends_with(".bin")))
        .map(str::to_string)
        .collect()
}

/// After a save: `NAME/model.json` plus the converter-style shards its manifest names, each at most
/// 4 MiB, nothing else; a second save commits a new version and the first version's objects are gone.
fn layout_and_versions(w: &World) -> Result<(), String> {
    w.registry.mount("layout://", w.eager("layout", "p")).map_err(|e| e.to_string())?;
    let c = tagged("c", 1);
    block_on(w.registry.save("layout://team/c", &c)).map_err(|e| format!("save: {e}"))?;
    let keys = w.keys("layout", "p/team/c");
    let v1 = weight_keys(&keys, "p/team/c/");
    ensure(keys.iter().any(|(k, _)| k == "p/team/c/model.json"), || format!("no model.json: {keys:?}"))?;
    ensure(keys.len() == v1.len() + 1, || format!("objects besides model.json and the shards: {keys:?}"))?;
    // Model c has 4.4 MB of weights: two converter-style shards of at most 4 MiB.
    ensure(v1.len() == 2, || format!("want 2 shards of at most 4 MiB, got {keys:?}"))?;
    for (k, size) in &keys {
        ensure(*size <= 4 << 20, || format!("{k} has {size} bytes, over 4 MiB"))?;
    }
    let names: Vec<&str> = v1.iter().map(|k| k.rsplit('/').next().unwrap_or_default()).collect();
    ensure(names[0].ends_with(".group1-shard1of2.bin") && names[1].ends_with(".group1-shard2of2.bin"), || {
        format!("not converter-style shard names: {names:?}")
    })?;
    // model.json names exactly these objects, relative to itself (TF.js resolves them so over HTTP).
    let json = w.rt.block_on(async {
        let got = w.raw("layout").get(&ObjectPath::from("p/team/c/model.json")).await.map_err(|e| e.to_string())?;
        got.bytes().await.map_err(|e| e.to_string())
    })?;
    let doc: serde_json::Value = serde_json::from_slice(&json).map_err(|e| format!("model.json: {e}"))?;
    let paths: Vec<&str> =
        doc["weightsManifest"][0]["paths"].as_array().into_iter().flatten().filter_map(|p| p.as_str()).collect();
    ensure(paths == names, || format!("model.json's paths {paths:?} != the objects {names:?}"))?;
    ensure(doc["modelTopology"].is_object() && doc["format"] == "layers-model", || "model.json fields".into())?;

    let d = tagged("d", 2);
    block_on(w.registry.save("layout://team/c", &d)).map_err(|e| format!("second save: {e}"))?;
    let keys = w.keys("layout", "p/team/c");
    let v2: BTreeSet<String> = weight_keys(&keys, "p/team/c/").difference(&v1).cloned().collect();
    ensure(v2.len() == 1, || format!("second version {v2:?} (first {v1:?})"))?;
    // The previous version stays, so a reader that fetched the old model.json still gets its weights.
    ensure(keys.len() == 1 + v1.len() + v2.len(), || format!("the previous version was not kept: {keys:?}"))?;
    let back = block_on(w.registry.load("layout://team/c")).map_err(|e| format!("load: {e}"))?;
    ensure(tag(&back) == Some(2), || format!("loaded tag {:?}, want 2", tag(&back)))?;
    same_model(&back, &d)?;
    // A third save collects the version two saves back (leftover age zero here), keeps the second.
    block_on(w.registry.save("layout://team/c", &tagged("c", 3))).map_err(|e| format!("third save: {e}"))?;
    let keys = w.keys("layout", "p/team/c");
    let now = weight_keys(&keys, "p/team/c/");
    ensure(now.is_disjoint(&v1) && v2.is_subset(&now) && now.len() == 3, || {
        format!("after the third save: {now:?} (first {v1:?}, second {v2:?})")
    })
}

/// The child process of [`killed_save`]: saves to `url` and, once every weight object is put,
/// says so on stdout and waits to be killed before the commit.
fn killed_save_child(url: &str) -> ! {
    let registry = Registry::new();
    io_object_store::register(&registry);
    let c = tagged("c", 2);
    let weights = c.weight_data.len() as u64;
    let opts = Options::new().shard_size(1 << 20).on_progress(move |p| {
        if p.bytes >= weights {
            println!("WEIGHTS PUT");
            let _ = std::io::Write::flush(&mut std::io::stdout());
            loop {
                std::thread::sleep(Duration::from_secs(60));
            }
        }
    });
    let r = block_on(registry.save_with(url, &c, &opts));
    panic!("the save was to be killed before its commit, but ended: {r:?}");
}

/// A save killed with SIGKILL after its weight objects were put and before model.json: the
/// previous model still loads; the next save collects what the killed one left (and keeps the
/// previous version).
fn killed_save(w: &World) -> Result<(), String> {
    w.registry.mount("crash://", w.eager("layout", "crash")).map_err(|e| e.to_string())?;
    block_on(w.registry.save("crash://m", &tagged("a", 1))).map_err(|e| format!("first save: {e}"))?;
    let v1 = weight_keys(&w.keys("layout", "crash/m"), "crash/m/");

    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .env(CRASH_ENV, "s3://layout/crash/m")
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn the saving child: {e}"))?;
    let mut line = String::new();
    let out = child.stdout.take().ok_or("no stdout")?;
    std::io::BufReader::new(out).read_line(&mut line).map_err(|e| e.to_string())?;
    child.kill().map_err(|e| e.to_string())?; // SIGKILL
    let status = child.wait().map_err(|e| e.to_string())?;
    ensure(line.trim() == "WEIGHTS PUT", || format!("the child said {line:?} and ended with {status}"))?;

    let keys = w.keys("layout", "crash/m");
    let left: BTreeSet<String> = weight_keys(&keys, "crash/m/").difference(&v1).cloned().collect();
    ensure(left.len() == 5, || format!("want the killed save's 5 shards of 1 MiB left behind, got {keys:?}"))?;
    let back = block_on(w.registry.load("crash://m")).map_err(|e| format!("load after the kill: {e}"))?;
    ensure(tag(&back) == Some(1), || format!("after the kill the model has tag {:?}, want 1", tag(&back)))?;
    same_model(&back, &tagged("a", 1))?;

    block_on(w.registry.save("crash://m", &tagged("b", 3))).map_err(|e| format!("next save: {e}"))?;
    let keys = w.keys("layout", "crash/m");
    let now = weight_keys(&keys, "crash/m/");
    // The killed save's objects are collected; the first version, now the previous one, is kept.
    ensure(now.len() == 1 + v1.len() && now.is_disjoint(&left) && v1.is_subset(&now), || {
        format!("the killed save's objects were not collected, or the previous version not kept: {keys:?}")
    })?;
    let back = block_on(w.registry.load("crash://m")).map_err(|e| format!("load: {e}"))?;
    ensure(tag(&back) == Some(3), || format!("tag {:?}, want 3", tag(&back)))
}

/// 1,200 models (2,400 objects: S3 lists 1,000 keys a page) are all listed, through a configured
/// mount and through `s3://BUCKET/prefix/`; then remove, copy and move on that bucket.
fn many_models(w: &World) -> Result<(), String> {
    const N: usize = 1200;
    w.registry.mount_configured("many://", "s3", &config(&w.options, "many", "p")).map_err(|e| e.to_string())?;
    let a = fixtures::model("a");
    let t0 = Instant::now();
    block_on(
        futures::stream::iter((0..N).map(|i| {
            let (a, r) = (&a, w.registry);
            async move { r.save(&format!("many://m{i:04}"), a).await.map(drop) }
        }))
        .buffer_unordered(16)
        .try_collect::<Vec<()>>(),
    )
    .map_err(|e| format!("saves: {e}"))?;
    eprintln!("  many_models: {N} saves in {:.1?}", t0.elapsed());
    let objects = w.keys("many", "p/");
    ensure(objects.len() == 2 * N, || format!("{} objects in the bucket, want {}", objects.len(), 2 * N))?;
    let want: Vec<String> = (0..N).map(|i| format!("m{i:04}")).collect();

    let t0 = Instant::now();
    let listed = block_on(w.registry.list_under("many://")).map_err(|e| format!("list_under: {e}"))?;
    eprintln!("  many_models: list_under of {N} models in {:.1?}", t0.elapsed());
    ensure(listed.keys().cloned().collect::<Vec<_>>() == want, || format!("list_under listed {}", listed.len()))?;
    let info = &listed["m0007"];
    ensure(info.weight_data_bytes == Some(92), || format!("listed info {info:?}"))?;
    let all = block_on(w.registry.list_models()).map_err(|e| format!("list_models: {e}"))?;
    let mine = all.keys().filter(|k| k.starts_with("many://")).count();
    ensure(mine == N, || format!("list_models lists {mine} of the {N} models"))?;
    let env = block_on(w.registry.list_under("s3://many/p/")).map_err(|e| format!("list_under s3://: {e}"))?;
    ensure(env.len() == N && env.contains_key("many/p/m1199"), || format!("s3:// lists {} models", env.len()))?;

    block_on(w.registry.remove_model("many://m0000")).map_err(|e| format!("remove: {e}"))?;
    ensure(w.keys("many", "p/m0000/").is_empty(), || "objects left after remove".into())?;
    block_on(w.registry.copy_model("many://m0001", "many://copied")).map_err(|e| format!("copy: {e}"))?;
    block_on(w.registry.load("many://m0001")).map_err(|e| format!("the copy's source: {e}"))?;
    block_on(w.registry.move_model("many://m0002", "many://moved")).map_err(|e| format!("move: {e}"))?;
    ensure(w.keys("many", "p/m0002/").is_empty(), || "the move's source is still there".into())?;
    // Into a bucket that does not exist: the destination save fails and the source stays.
    let r = block_on(w.registry.move_model("many://m0003", "s3://no-such-bucket/x"));
    ensure(r.is_err(), || "a move into a missing bucket succeeded".into())?;
    block_on(w.registry.load("many://m0003")).map_err(|e| format!("the failed move lost its source: {e}"))?;
    let listed = block_on(w.registry.list_under("many://")).map_err(|e| format!("list_under: {e}"))?;
    ensure(listed.len() == N, || format!("{} models after remove, copy and move", listed.len()))?;
    for m in ["copied", "moved"] {
        let back = block_on(w.registry.load(&format!("many://{m}"))).map_err(|e| format!("load {m}: {e}"))?;
        same_model(&back, &a)?;
    }
    ensure(!listed.contains_key("m0000") && !listed.contains_key("m0002"), || "removed/moved still listed".into())
}

/// A weight object shorter or longer than the manifest says fails naming it; a 1 GiB object behind
/// the 92 bytes model a declares is refused from its announced size, before its body is read.
fn hostile_objects(w: &World) -> Result<(), String> {
    w.registry.mount("hostile://", w.eager("hostile", "")).map_err(|e| e.to_string())?;
    block_on(w.registry.save("hostile://m", &fixtures::model("a"))).map_err(|e| format!("save: {e}"))?;
    let key = weight_keys(&w.keys("hostile", "m/"), "m/").into_iter().next().ok_or("no weight object")?;
    let url = format!("s3://hostile/{key}");
    for (what, len) in [("shorter", 91usize), ("longer", 93)] {
        w.put("hostile", &key, vec![7u8; len]);
        match block_on(w.registry.load("hostile://m")) {
            Err(e @ Error::WeightsMismatch { .. }) => {
                let msg = e.to_string();
                ensure(msg.contains(&url), || format!("{what}: the error does not name {url}: {msg}"))?;
            }
            other => return Err(format!("{what} object: {:?}, want WeightsMismatch", other.map(|_| "loaded"))),
        }
    }

    // 1 GiB, uploaded in 16 MiB parts.
    let t0 = Instant::now();
    w.rt.block_on(async {
        let upload = w.raw("hostile").put_multipart(&ObjectPath::from(key.as_str())).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, 16 << 20);
        let block = vec![0u8; 16 << 20];
        for _ in 0..64 {
            writer.wait_for_capacity(4).await?;
            writer.write(&block);
        }
        writer.finish().await
    })
    .map_err(|e| format!("uploading 1 GiB: {e}"))?;
    eprintln!("  hostile_objects: 1 GiB uploaded in {:.1?}", t0.elapsed());
    let head = w.rt.block_on(w.raw("hostile").head(&ObjectPath::from(key.as_str())));
    let size = head.map(|m| m.size).map_err(|e| format!("head {key}: {e}"))?;
    ensure(size == 1 << 30, || format!("the object has {size} bytes"))?;
    let read = Arc::new(AtomicU64::new(0));
    let seen = read.clone();
    let opts = Options::new().on_progress(move |p| {
        seen.fetch_max(p.bytes, Ordering::Relaxed);
    });
    let t0 = Instant::now();
    let r = block_on(w.registry.load_with("hostile://m", &opts));
    let took = t0.elapsed();
    match r {
        Err(e @ Error::WeightsMismatch { actual, expected: 92, .. }) => {
            let msg = e.to_string();
            ensure(actual == 1 << 30, || format!("actual {actual}, want the announced 1 GiB: {msg}"))?;
            ensure(msg.contains(&url), || format!("the error does not name {url}: {msg}"))?;
        }
        other => return Err(format!("1 GiB object: {:?}, want WeightsMismatch", other.map(|_| "loaded"))),
    }
    let bytes = read.load(Ordering::Relaxed);
    ensure(bytes == 0, || format!("{bytes} weight bytes were read from the 1 GiB object"))?;
    eprintln!("  hostile_objects: the 1 GiB object refused in {took:.1?}");
    Ok(())
}

/// TF.js 4.22 in Node loads the fixture models modelio saved to the bucket, straight from the S3
/// endpoint over HTTP (anonymous GETs), and predicts each fixture's output bit for bit.
fn tfjs_loads_from_the_bucket(w: &World) -> Result<(), String> {
    let fixtures_dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/tfjs/models"));
    let mut args: Vec<PathBuf> = Vec::new();
    for m in fixtures::MODELS {
        block_on(w.registry.save(&format!("s3://tfjs/served/{m}"), &fixtures::model(m)))
            .map_err(|e| format!("save {m}: {e}"))?;
        args.push(PathBuf::from(format!("{}/tfjs/served/{m}/model.json", w.endpoint)));
        args.push(fixtures_dir.join(m).join("expected.json"));
    }
    let refs: Vec<&std::path::Path> = args.iter().map(PathBuf::as_path).collect();
    let out = oracle::tfjs_file("predict", &refs);
    let results = out.as_array().ok_or_else(|| format!("node printed {out}"))?;
    ensure(results.len() == 4, || format!("node printed {out}"))?;
    for r in results {
        ensure(r["bitExact"] == true, || format!("TF.js's prediction differs: {r}"))?;
    }
    Ok(())
}

/// Loads racing a stream of saves of two models of the same shape (model c, 5 shards of 1 MiB, with
/// different bytes) each return one of them, whole: never shards of one with the other's.
fn loads_never_mix_during_saves(w: &World) -> Result<(), String> {
    const SAVES: u64 = 12;
    let one = tagged("c", 1);
    let mut two = tagged("c", 2);
    let flipped: Vec<u8> = two.weight_data.to_vec().iter().map(|b| b ^ 0x5a).collect();
    two.weight_data = io_core::WeightData::single(flipped);
    let opts = Options::new().shard_size(1 << 20);
    block_on(w.registry.save_with("conf://race/m", &one, &opts)).map_err(|e| format!("first save: {e}"))?;
    let done = std::sync::atomic::AtomicBool::new(false);
    let (mut whole, mut gone) = (0u32, 0u32);
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let r = (0..SAVES).try_for_each(|i| {
                let m = if i % 2 == 0 { &two } else { &one };
                block_on(w.registry.save_with("conf://race/m", m, &opts)).map(drop)
            });
            done.store(true, Ordering::Relaxed);
            r.map_err(|e| format!("save: {e}"))
        });
        while !done.load(Ordering::Relaxed) {
            match block_on(w.registry.load("conf://race/m")) {
                Ok(m) => {
                    let matches = [&one, &two].iter().any(|want| same_model(&m, want).is_ok());
                    ensure(matches, || format!("a load returned a mix of two saves (tag {:?})", tag(&m)))?;
                    whole += 1;
                }
                // Two commits within one load collected the weights it was after (it retries once).
                Err(Error::NotFound { .. }) => gone += 1,
                Err(e) => return Err(format!("a load during the saves failed: {e}")),
            }
        }
        writer.join().map_err(|_| "the writer panicked".to_string())?
    })?;
    eprintln!("  loads_never_mix_during_saves: {whole} whole loads, {gone} NotFound, during {SAVES} saves");
    ensure(whole >= 3, || format!("only {whole} loads completed during the saves"))
}

/// `Bucket`'s own operations: a server-side `copy_object` (same bytes, source kept; across buckets of
/// the environment store refused), `head` (size and ETag), a missing object as NotFound naming it;
/// bad configurations refused naming the key; an unknown bucket's error names it.
fn bucket_api(w: &World) -> Result<(), String> {
    let opts: Vec<(&str, &str)> = w.options.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let client = Service::S3.build("layout", &opts).map_err(|e| e.to_string())?;
    let b = Bucket::fixed(Service::S3, client, "layout", "api");
    w.put("layout", "api/src.bin", b"seven b".to_vec());
    block_on(b.copy_object("src.bin", "dst.bin")).map_err(|e| format!("copy_object: {e}"))?;
    let keys = w.keys("layout", "api/");
    ensure(keys == [("api/dst.bin".to_string(), 7), ("api/src.bin".to_string(), 7)], || format!("{keys:?}"))?;
    let (meta, etag) = block_on(b.head("dst.bin")).map_err(|e| format!("head: {e}"))?;
    ensure(meta.size == 7 && meta.key == "dst.bin" && etag.is_some(), || format!("head: {meta:?} {etag:?}"))?;
    match block_on(b.head("missing.bin")) {
        Err(Error::NotFound { url, .. }) => {
            ensure(url == "s3://layout/api/missing.bin", || format!("NotFound names {url}"))?
        }
        other => return Err(format!("head of a missing object: {other:?}")),
    }
    match block_on(b.copy_object("missing.bin", "x.bin")) {
        Err(Error::NotFound { url, .. }) => ensure(url.ends_with("api/missing.bin"), || url.clone())?,
        other => return Err(format!("copy of a missing object: {other:?}")),
    }
    let env = Bucket::env(Service::S3);
    let r = block_on(env.copy_object("layout/api/src.bin", "many/x.bin"));
    ensure(matches!(r, Err(Error::Unsupported { .. })), || format!("a copy across buckets: {r:?}"))?;

    let r = Registry::new();
    io_object_store::register(&r);
    let mut bad = config(&w.options, "layout", "");
    bad.insert("no_such_option".into(), "1".into());
    let e = r.mount_configured("bad://", "s3", &bad).map(drop).unwrap_err().to_string();
    ensure(e.contains("no_such_option"), || format!("a bad key's error: {e}"))?;
    let mut no_bucket = config(&w.options, "", "");
    no_bucket.remove("bucket");
    let e = r.mount_configured("bad://", "s3", &no_bucket).map(drop).unwrap_err().to_string();
    ensure(e.contains("`bucket`"), || format!("a missing bucket's error: {e}"))?;
    let e = block_on(r.load("s3://no-such-bucket/m")).map(drop).unwrap_err().to_string();
    ensure(e.contains("s3://no-such-bucket/m/model.json"), || format!("an unknown bucket's error: {e}"))
}

/// A model whose one weight object is 40 MiB (over `RANGE_THRESHOLD`) is read as the first GET plus
/// 8 MiB range GETs of the rest, into the right places (the model loads bit for bit, progress
/// reaches its size); an object one byte longer or shorter than the manifest says fails naming it.
fn large_objects_as_ranges(w: &World) -> Result<(), String> {
    const FLOATS: usize = 10 << 20;
    let size = (FLOATS * 4) as u64;
    let recorded = Recorded::new(w.raw("hostile"));
    let bucket = Bucket::fixed(Service::S3, recorded.clone(), "hostile", "ranges");
    w.registry.mount("ranges://", Arc::new(KeyedStore::new(bucket))).map_err(|e| e.to_string())?;
    let data: Vec<u8> = (0..size as usize).map(|i| (i % 251) as u8 ^ (i >> 20) as u8).collect();
    let model = ModelArtifacts::new(
        serde_json::json!({"a": 1}),
        vec![io_core::WeightSpec::new("w", vec![FLOATS], io_core::DType::Float32)],
        io_core::WeightData::single(data),
    );
    let one_file = Options::new().shard_size(64 << 20);
    block_on(w.registry.save_with("ranges://big", &model, &one_file)).map_err(|e| format!("save: {e}"))?;
    let keys = weight_keys(&w.keys("hostile", "ranges/big/"), "ranges/big/");
    ensure(keys.len() == 1, || format!("one weight object: {keys:?}"))?;
    let key = keys.into_iter().next().unwrap_or_default();
    recorded.take();

    let read = Arc::new(Mutex::new(Vec::new()));
    let seen = read.clone();
    let opts = Options::new().on_progress(move |p| seen.lock().unwrap().push(p.bytes));
    let loaded = block_on(w.registry.load_with("ranges://big", &opts)).map_err(|e| format!("load: {e}"))?;
    same_model(&loaded, &model).map_err(|e| format!("the ranged load differs: {e}"))?;
    let mut gets: Vec<String> = recorded.take().into_iter().filter(|r| r.starts_with(&format!("get {key}"))).collect();
    gets.sort();
    let mib = 1u64 << 20;
    let mut want: Vec<String> = vec![format!("get {key}")];
    want.extend((1..5).map(|i| format!("get {key} {}..{}", i * 8 * mib, (i + 1) * 8 * mib)));
    want.sort();
    ensure(gets == want, || format!("the requests for the 40 MiB object: {gets:?}, want {want:?}"))?;
    let progress = read.lock().unwrap().clone();
    ensure(progress.windows(2).all(|p| p[0] <= p[1]), || format!("progress went back: {progress:?}"))?;
    ensure(progress.last() == Some(&size), || format!("progress ended at {:?}", progress.last()))?;
    ensure(progress.len() > 5, || format!("progress in {} steps", progress.len()))?;

    // A range whose body breaks off after 1 MiB + 5 bytes is requested again from there.
    recorded.cut_next_range_after((1 << 20) + 5);
    let loaded = block_on(w.registry.load("ranges://big")).map_err(|e| format!("load with a broken range: {e}"))?;
    same_model(&loaded, &model).map_err(|e| format!("after a broken range: {e}"))?;
    let gets: Vec<String> = recorded.take().into_iter().filter(|r| r.starts_with(&format!("get {key}"))).collect();
    let resumed: Vec<&String> = gets
        .iter()
        .filter(|r| {
            r.rsplit_once(' ')
                .and_then(|(_, range)| range.split_once(".."))
                .is_some_and(|(start, _)| start.parse::<u64>().is_ok_and(|s| s % (8 * mib) == (1 << 20) + 5))
        })
        .collect();
    ensure(gets.len() == 6 && resumed.len() == 1, || format!("no single resumed range in {gets:?}"))?;

    let url = format!("s3://hostile/{key}");
    for (what, len) in [("longer", size + 1), ("shorter", size - 1)] {
        w.put("hostile", &key, vec![7u8; len as usize]);
        match block_on(w.registry.load("ranges://big")) {
            Err(e @ Error::WeightsMismatch { .. }) => {
                let msg = e.to_string();
                ensure(msg.contains(&url), || format!("{what}: the error does not name {url}: {msg}"))?;
            }
            other => return Err(format!("{what} object: {:?}, want WeightsMismatch", other.map(|_| "loaded"))),
        }
    }
    Ok(())
}

/// `Registry::copy_model` / `move_model` within one bucket store copy the weight objects inside the
/// service (S3 CopyObject): the client sends no GET and no PUT of a weight object, one copy per
/// object to a new version-unique name, then the destination's model.json (the commit); the copy
/// loads as the source; a move removes the source. The environment-configured `s3://` scheme does
/// the same within a bucket, and a copy to another store still loads and saves.
fn server_side_copy_and_move(w: &World) -> Result<(), String> {
    let recorded = Recorded::new(w.raw("layout"));
    let bucket = Bucket::fixed(Service::S3, recorded.clone(), "layout", "cp");
    w.registry.mount("cp://", Arc::new(KeyedStore::new(bucket))).map_err(|e| e.to_string())?;
    let model = tagged("c", 7);
    let opts = Options::new().shard_size(1 << 20);
    block_on(w.registry.save_with("cp://a", &model, &opts)).map_err(|e| format!("save: {e}"))?;
    let src = weight_keys(&w.keys("layout", "cp/a/"), "cp/a/");
    ensure(src.len() == 5, || format!("model c in 1 MiB shards: {src:?}"))?;
    for (op, from, to) in [("copy", "cp://a", "cp://b"), ("move", "cp://b", "cp://c")] {
        recorded.take();
        let info = match op {
            "copy" => block_on(w.registry.copy_model(from, to)),
            _ => block_on(w.registry.move_model(from, to)),
        }
        .map_err(|e| format!("{op} {from} {to}: {e}"))?;
        let log = recorded.take();
        let through: Vec<&String> =
            log.iter().filter(|r| (r.starts_with("get ") || r.starts_with("put ")) && r.contains(".bin")).collect();
        ensure(through.is_empty(), || format!("{op}: weight bytes passed through the client: {through:?}"))?;
        let dst = format!("cp/{}/", to.trim_start_matches("cp://"));
        let copies: Vec<&String> = log.iter().filter(|r| r.starts_with("copy ")).collect();
        ensure(copies.len() == 5, || format!("{op}: {} server-side copies: {log:?}", copies.len()))?;
        for c in &copies {
            let (_, target) = c.split_once(" -> ").unwrap_or_default();
            ensure(target.starts_with(&dst) && !src.contains(target), || format!("{op}: {c}"))?;
        }
        let commit = log.iter().position(|r| *r == format!("put {dst}model.json"));
        let last_copy = log.iter().rposition(|r| r.starts_with("copy "));
        ensure(commit.is_some() && last_copy < commit, || {
            format!("{op}: model.json is not put after the copies: {log:?}")
        })?;
        let loaded = block_on(w.registry.load(to)).map_err(|e| format!("load {to}: {e}"))?;
        same_model(&loaded, &model).map_err(|e| format!("{op}: the copy differs: {e}"))?;
        ensure(tag(&loaded) == Some(7), || format!("{op}: tag {:?}", tag(&loaded)))?;
        let total: u64 = w.keys("layout", &dst).iter().filter(|(k, _)| k.ends_with(".bin")).map(|(_, n)| n).sum();
        ensure(info.weight_data_bytes == Some(total), || {
            format!("{op}: info {:?} vs {total}", info.weight_data_bytes)
        })?;
    }
    ensure(block_on(w.registry.load("cp://a")).is_ok(), || "the copy's source is gone".into())?;
    match block_on(w.registry.load("cp://b")) {
        Err(Error::NotFound { .. }) => {}
        other => return Err(format!("the moved model: {:?}", other.map(|_| "still loads"))),
    }

    // s3://BUCKET/... (the environment's client): a copy within the bucket, then one to another store.
    block_on(w.registry.copy_model("cp://a", "s3://layout/envcp/a")).map_err(|e| format!("to s3://: {e}"))?;
    ensure(recorded.take().iter().any(|r| r.starts_with("get cp/a/") && r.contains(".bin")), || {
        "a copy to another store did not read the weights".into()
    })?;
    block_on(w.registry.copy_model("s3://layout/envcp/a", "s3://layout/envcp/b"))
        .map_err(|e| format!("s3 copy: {e}"))?;
    block_on(w.registry.move_model("s3://layout/envcp/b", "s3://layout/envcp/c"))
        .map_err(|e| format!("s3 move: {e}"))?;
    let loaded = block_on(w.registry.load("s3://layout/envcp/c")).map_err(|e| format!("load: {e}"))?;
    same_model(&loaded, &model).map_err(|e| format!("s3:// copy then move: {e}"))?;
    let b = weight_keys(&w.keys("layout", "envcp/b/"), "envcp/b/");
    ensure(b.is_empty() && block_on(w.registry.load("s3://layout/envcp/b")).is_err(), || format!("moved: {b:?}"))
}

const CHECKS: &[(&str, Check)] = &[
    ("server_side_copy_and_move", server_side_copy_and_move),
    ("large_objects_as_ranges", large_objects_as_ranges),
    ("layout_and_versions", layout_and_versions),
    ("killed_save", killed_save),
    ("many_models", many_models),
    ("hostile_objects", hostile_objects),
    ("tfjs_loads_from_the_bucket", tfjs_loads_from_the_bucket),
    ("loads_never_mix_during_saves", loads_never_mix_during_saves),
    ("bucket_api", bucket_api),
];

fn main() {
    if let Ok(url) = std::env::var(CRASH_ENV) {
        killed_save_child(&url);
    }
    let args = Arguments::from_args();
    if args.list {
        let mut names: Vec<Trial> = CHECKS.iter().map(|(n, _)| Trial::test(format!("s3::{n}"), || Ok(()))).collect();
        names.extend(targets(leak(Registry::new())).into_iter().flat_map(testkit::trials));
        libtest_mimic::run(&args, names).exit();
    }
    let weed = Weed::start();
    eprintln!("SeaweedFS answers on {} after {:.1?}", weed.endpoint(), weed.started_in());
    // The registered s3:// scheme reads its configuration from the environment (before any thread).
    for (k, v) in weed.env() {
        std::env::set_var(k, v);
    }
    for bucket in ["suite", "layout", "many", "hostile", "tfjs"] {
        weed.create_bucket(bucket);
    }
    let registry = leak(Registry::new());
    io_object_store::register(registry);
    registry.mount_configured("conf://", "s3", &weed.config("suite", "configured")).expect("mount_configured");
    let world = Arc::new(World {
        registry,
        options: weed.s3_options(),
        endpoint: weed.endpoint(),
        rt: tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime"),
    });

    let mut trials: Vec<Trial> = targets(registry).into_iter().flat_map(testkit::trials).collect();
    trials.extend(CHECKS.iter().map(|&(name, check)| {
        let w = world.clone();
        Trial::test(format!("s3::{name}"), move || check(&w).map_err(Failed::from))
    }));
    let t0 = Instant::now();
    let conclusion = libtest_mimic::run(&args, trials);
    eprintln!("trials ran in {:.1?}", t0.elapsed());
    drop(world);
    drop(weed); // `exit` runs no destructors
    conclusion.exit()
}

fn leak(r: Registry) -> &'static Registry {
    static KEEP: OnceLock<&'static Registry> = OnceLock::new();
    KEEP.get_or_init(|| Box::leak(Box::new(r)))
}

/// The conformance targets: `s3://suite/env/...` (environment-configured; it lists under a bucket,
/// not every bucket) and `conf://...` (a configured bucket and prefix: it lists everything).
fn targets(registry: &'static Registry) -> Vec<Target> {
    vec![
        Target::new(registry, "s3", |p| format!("s3://suite/env/{p}"))
            .capabilities(Capabilities::STORE.without(Capability::ListEverything))
            .name("s3_env"),
        Target::new(registry, "conf", |p| format!("conf://{p}"))
            .capabilities(Capabilities::STORE)
            .name("s3_configured"),
    ]
}
