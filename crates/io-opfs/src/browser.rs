//! The store in the browser: OPFS files by `/`-separated key ([`OpfsStore`]), made a scheme by
//! [`KeyedStore`]; `persist()` and `estimate()`.

use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use io_core::files::{FileRequest, MODEL_JSON};
use io_core::keyed::{KeyValueStore, KeyedStore, ObjectMeta};
use io_core::{Error, Registry, Result, SchemeRegistration, WeightData};
use io_store_support::web::{is_quota_exceeded, js_error_text, js_storage_error, ByteStreamReader};
use js_sys::{Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    FileSystemDirectoryHandle as Dir, FileSystemFileHandle, FileSystemGetDirectoryOptions, FileSystemGetFileOptions,
    FileSystemHandle, FileSystemHandleKind, FileSystemWritableFileStream,
};

use crate::{quota_error, Estimate, ROOT, SCHEME};

/// Bytes read from a file per `Blob.slice().arrayBuffer()` (the JS-side copy a read holds at once),
/// where `File.stream()` is not a byte stream.
const READ_CHUNK: usize = 8 << 20;
/// The buffer a file's byte stream is read through (reused by every read).
const READ_BUFFER: u32 = 1 << 20;
/// Bytes copied out of wasm memory per `write()` (the JS-side copy a write holds at once).
const WRITE_CHUNK: usize = 4 << 20;

/// Files of the origin private file system under one folder at its root, by `/`-separated key
/// (`a/b/model.json` is the file `model.json` in folder `b` in folder `a`). Folders are created
/// as files are put and removed when their last file is deleted.
#[derive(Clone, Copy, Debug)]
pub struct OpfsStore {
    root: &'static str,
}

impl OpfsStore {
    /// The store behind `opfs://`: folder [`ROOT`].
    pub const DEFAULT: OpfsStore = OpfsStore { root: ROOT };

    /// Files under the folder `root` of the origin private file system instead (tests, apps that
    /// keep separate collections; make a [`KeyedStore`] of it).
    pub const fn in_folder(root: &'static str) -> Self {
        OpfsStore { root }
    }

    /// The folder at the root of the origin private file system this store keeps its files in.
    pub fn root(&self) -> &'static str {
        self.root
    }

    fn err(&self, key: &str, what: &str, e: &JsValue) -> Error {
        js_storage_error(SCHEME, &self.describe(key), what, e)
    }

    fn missing(&self, key: &str, detail: &str) -> Error {
        Error::NotFound { url: self.describe(key), detail: detail.to_string() }
    }

    /// The folder `parts` under the root (created with `create`); `None` if it does not exist.
    async fn dir(&self, parts: &[&str], create: bool, key: &str) -> Result<Option<Dir>> {
        let opfs =
            js(storage()?.get_directory()).await.map_err(|e| self.err(key, "navigator.storage.getDirectory()", &e))?;
        let mut d: Dir = opfs.unchecked_into();
        for name in std::iter::once(&self.root).chain(parts) {
            match child_dir(&d, name, create)
                .await
                .map_err(|e| self.err(key, &format!("opening folder '{name}'"), &e))?
            {
                Some(c) => d = c,
                None => return Ok(None),
            }
        }
        Ok(Some(d))
    }

    /// The file `key`; `None` if it (or a folder on its way) does not exist.
    async fn file(&self, key: &str) -> Result<Option<FileSystemFileHandle>> {
        let (parts, name) = split(key);
        let Some(d) = self.dir(&parts, false, key).await? else { return Ok(None) };
        let opts = FileSystemGetFileOptions::new();
        match js(d.get_file_handle_with_options(name, &opts)).await {
            Ok(h) => Ok(Some(h.unchecked_into())),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(self.err(key, "opening the file", &e)),
        }
    }

    async fn write(&self, key: &str, data: &WeightData) -> std::result::Result<(), JsValue> {
        let (parts, name) = split(key);
        let Some(d) = self.dir(&parts, true, key).await.map_err(|e| JsValue::from_str(&e.to_string()))? else {
            return Err(JsValue::from_str("the folder was not created"));
        };
        let opts = FileSystemGetFileOptions::new();
        opts.set_create(true);
        let handle: FileSystemFileHandle = js(d.get_file_handle_with_options(name, &opts)).await?.unchecked_into();
        let w: FileSystemWritableFileStream = js(handle.create_writable()).await?.unchecked_into();
        // A save dropped mid-write (its future abandoned) aborts the stream: the file keeps its old content.
        let mut guard = AbortOnDrop(Some(w.clone()));
        let written = async {
            // Each piece is copied out of wasm memory before the asynchronous write (wasm memory may
            // grow, and move, while a write is pending), so a write holds one piece twice, never a file.
            for chunk in data.chunks() {
                for piece in chunk.chunks(WRITE_CHUNK) {
                    let arr = Uint8Array::new_with_length(piece.len() as u32);
                    arr.copy_from(piece);
                    js(w.write_with_js_u8_array(&arr)?).await?;
                }
            }
            // The commit of this file: close() swaps the written data in at once.
            js(w.close()).await
        }
        .await;
        guard.0 = None; // finished: closed, or aborted just below
        if written.is_err() {
            let _ = js(w.abort()).await;
        }
        written.map(|_| ())
    }
}

/// The error of a write of `needed` bytes to `url` that the browser failed with `e`: for a
/// `QuotaExceededError`, [`Error::QuotaExceeded`] with the origin's usage and quota from
/// `navigator.storage.estimate()` ([`quota_error`]); otherwise [`Error::Storage`] with the exception's text.
pub async fn write_error(url: &str, needed: u64, e: &JsValue) -> Error {
    if is_quota_exceeded(e) {
        let cause = format!("{} (writing {needed} bytes)", js_error_text(e));
        return quota_error(url, needed, estimate().await.ok(), &cause);
    }
    js_storage_error(SCHEME, url, "writing the file (the model that was there is unchanged)", e)
}

/// Aborts a writable that is still open when dropped (the write was abandoned half way).
struct AbortOnDrop(Option<FileSystemWritableFileStream>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(w) = self.0.take() {
            let _ = w.abort();
        }
    }
}

fn storage() -> Result<web_sys::StorageManager> {
    let w = web_sys::window()
        .ok_or_else(|| Error::storage(SCHEME, "opfs://", "no window: opfs:// needs a page's navigator.storage"))?;
    Ok(w.navigator().storage())
}

async fn js(p: Promise) -> std::result::Result<JsValue, JsValue> {
    JsFuture::from(p).await
}

/// A missing entry, or one of the other kind (a folder where a file was asked for).
fn is_missing(e: &JsValue) -> bool {
    e.dyn_ref::<web_sys::DomException>()
        .is_some_and(|d| matches!(d.name().as_str(), "NotFoundError" | "TypeMismatchError"))
}

async fn child_dir(d: &Dir, name: &str, create: bool) -> std::result::Result<Option<Dir>, JsValue> {
    let opts = FileSystemGetDirectoryOptions::new();
    opts.set_create(create);
    match js(d.get_directory_handle_with_options(name, &opts)).await {
        Ok(h) => Ok(Some(h.unchecked_into())),
        Err(e) if !create && is_missing(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A key's folders and file name.
fn split(key: &str) -> (Vec<&str>, &str) {
    match key.rsplit_once('/') {
        Some((dirs, name)) => (dirs.split('/').collect(), name),
        None => (Vec::new(), key),
    }
}

#[io_core::async_trait(?Send)]
impl KeyValueStore for OpfsStore {
    fn describe(&self, key: &str) -> String {
        match self.root {
            ROOT => format!("{SCHEME}://{key}"),
            root => format!("{SCHEME}://{key} (OPFS folder '{root}')"),
        }
    }

    /// Reads the file straight into the load's memory after checking its size against what the
    /// manifest allows: through `File.stream()` into one reused buffer where it is a byte stream
    /// (no garbage per read), else in `Blob.slice().arrayBuffer()` pieces of 8 MiB.
    async fn get(&self, key: &str, req: &FileRequest<'_>) -> Result<Bytes> {
        let handle =
            self.file(key).await?.ok_or_else(|| self.missing(key, "no such file in the origin private file system"))?;
        let file: web_sys::File =
            js(handle.get_file()).await.map_err(|e| self.err(key, "getFile()", &e))?.unchecked_into();
        let size = file.size() as u64;
        if size == 0 && split(key).1 == MODEL_JSON {
            return Err(self.missing(key, "model.json is empty: a first save that has not committed"));
        }
        req.announce(size)?;
        let n = usize::try_from(size).map_err(|_| Error::storage(SCHEME, self.describe(key), "file too large"))?;
        let mut buf = req.buffer(Some(size));
        if buf.len() != n {
            buf.clear();
            buf.resize(n, 0);
        }
        let changed = || Error::storage(SCHEME, self.describe(key), "the file changed while it was read");
        let mut at = 0;
        let mut place = |piece: Uint8Array| {
            let end = at + piece.length() as usize;
            if end > n {
                return Err(changed());
            }
            req.take(end - at)?;
            piece.copy_to(&mut buf[at..end]);
            at = end;
            Ok(())
        };
        match ByteStreamReader::new(&file.stream(), READ_BUFFER) {
            Some(mut reader) => {
                while let Some(piece) = reader.read().await.map_err(|e| self.err(key, "reading", &e))? {
                    place(piece)?;
                }
            }
            None => {
                for from in (0..n).step_by(READ_CHUNK) {
                    let to = (from + READ_CHUNK).min(n);
                    let blob = file
                        .slice_with_f64_and_f64(from as f64, to as f64)
                        .map_err(|e| self.err(key, "reading", &e))?;
                    let piece = js(blob.array_buffer()).await.map_err(|e| self.err(key, "reading", &e))?;
                    place(Uint8Array::new(&piece))?;
                }
            }
        }
        if at != n {
            return Err(changed());
        }
        Ok(buf.freeze())
    }

    /// Writes the file through `createWritable()`; `close()` swaps it in whole (a failure aborts
    /// the stream, leaving the file as it was).
    async fn put(&self, key: &str, data: WeightData) -> Result<()> {
        match self.write(key, &data).await {
            Ok(()) => Ok(()),
            Err(e) => Err(write_error(&self.describe(key), data.len() as u64, &e).await),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        // Start in the deepest folder the prefix names whole; walk everything under it.
        let (parts, _) = split(prefix);
        let Some(start) = self.dir(&parts, false, prefix).await? else { return Ok(Vec::new()) };
        let base = if parts.is_empty() { String::new() } else { format!("{}/", parts.join("/")) };
        let mut out = Vec::new();
        let mut stack = vec![(start, base)];
        while let Some((d, base)) = stack.pop() {
            let entries = d.values();
            loop {
                let next = entries.next().map_err(|e| self.err(&base, "listing", &e))?;
                let next = js(next).await.map_err(|e| self.err(&base, "listing", &e))?;
                if Reflect::get(&next, &"done".into()).ok().and_then(|d| d.as_bool()).unwrap_or(true) {
                    break;
                }
                let h: FileSystemHandle = Reflect::get(&next, &"value".into()).unwrap_or_default().unchecked_into();
                let key = format!("{base}{}", h.name());
                match h.kind() {
                    FileSystemHandleKind::Directory
                        if format!("{key}/").starts_with(prefix) || key.starts_with(prefix) =>
                    {
                        stack.push((h.unchecked_into(), format!("{key}/")));
                    }
                    FileSystemHandleKind::File if key.starts_with(prefix) => {
                        let file = h.unchecked_into::<FileSystemFileHandle>().get_file();
                        let file: web_sys::File = match js(file).await {
                            Ok(f) => f.unchecked_into(),
                            Err(e) if is_missing(&e) => continue, // deleted since the listing
                            Err(e) => return Err(self.err(&key, "getFile()", &e)),
                        };
                        let size = file.size() as u64;
                        if size == 0 && split(&key).1 == MODEL_JSON {
                            continue; // a first save that has not committed
                        }
                        let modified = UNIX_EPOCH + Duration::from_millis(file.last_modified().max(0.0) as u64);
                        out.push(ObjectMeta { key, size, last_modified: Some(modified) });
                    }
                    _ => {}
                }
            }
        }
        Ok(out)
    }

    /// Deletes the file, then each folder on its way that it left empty.
    async fn delete(&self, key: &str) -> Result<()> {
        let (parts, name) = split(key);
        let Some(d) = self.dir(&parts, false, key).await? else { return Ok(()) };
        match js(d.remove_entry(name)).await {
            Err(e) if !is_missing(&e) => return Err(self.err(key, "removeEntry()", &e)),
            _ => {}
        }
        for depth in (0..parts.len()).rev() {
            let Some(parent) = self.dir(&parts[..depth], false, key).await? else { break };
            // Fails on a folder that still holds something: then so do its parents.
            if js(parent.remove_entry(parts[depth])).await.is_err() {
                break;
            }
        }
        Ok(())
    }

    /// Four files at a time (a 256 MiB save in 2.4 s instead of 3.8 s, a load in 1.3 s instead
    /// of 1.8 s). When a write fails, the others running end first (closed or aborted: an open
    /// writable would lock its file against the deletion that cleans up after a failed save).
    fn concurrency(&self) -> usize {
        4
    }
}

/// The plugin: [`OpfsStore::DEFAULT`] as a [`KeyedStore`] (the model logic: versioned weight
/// files, model.json as the commit, lists, removal).
pub static OPFS: KeyedStore<OpfsStore> = KeyedStore::new(OpfsStore::DEFAULT);

static REGISTRATION: SchemeRegistration = SchemeRegistration { scheme: SCHEME, plugin: "io-opfs", handler: &OPFS };

io_core::inventory::submit! {
    SchemeRegistration { scheme: SCHEME, plugin: "io-opfs", handler: &OPFS }
}

/// Keeps this module (and its `inventory` submission) linked by wasm-ld.
#[no_mangle]
pub extern "C" fn modelio_io_opfs_anchor() {}

/// Registers `opfs://` in `registry` (idempotent; `inventory` does it for the global one too).
pub fn register(registry: &Registry) {
    registry.register(&REGISTRATION);
}

/// Asks the browser to keep the origin's storage (OPFS included) under storage pressure
/// (`navigator.storage.persist()`); whether it granted it. Chromium decides without a prompt.
pub async fn persist() -> Result<bool> {
    let p = storage()?.persist().map_err(|e| js_storage_error(SCHEME, "opfs://", "navigator.storage.persist()", &e))?;
    let granted = js(p).await.map_err(|e| js_storage_error(SCHEME, "opfs://", "navigator.storage.persist()", &e))?;
    Ok(granted.as_bool().unwrap_or(false))
}

/// Whether the origin's storage is persistent (`navigator.storage.persisted()`).
pub async fn persisted() -> Result<bool> {
    let p =
        storage()?.persisted().map_err(|e| js_storage_error(SCHEME, "opfs://", "navigator.storage.persisted()", &e))?;
    let granted = js(p).await.map_err(|e| js_storage_error(SCHEME, "opfs://", "navigator.storage.persisted()", &e))?;
    Ok(granted.as_bool().unwrap_or(false))
}

/// The origin's storage usage and quota (`navigator.storage.estimate()`).
pub async fn estimate() -> Result<Estimate> {
    let fail = |e: &JsValue| js_storage_error(SCHEME, "opfs://", "navigator.storage.estimate()", e);
    let est: web_sys::StorageEstimate =
        js(storage()?.estimate().map_err(|e| fail(&e))?).await.map_err(|e| fail(&e))?.unchecked_into();
    Ok(Estimate { usage: est.get_usage().unwrap_or(0.0) as u64, quota: est.get_quota().unwrap_or(0.0) as u64 })
}
