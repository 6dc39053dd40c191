//! Per-call options every scheme understands — byte progress, cancellation, limits, shard size —
//! and a typed slot for scheme-specific options.
//!
//! ```
//! use io_core::{Cancel, Limits, Options};
//! let cancel = Cancel::new();
//! let opts = Options::new()
//!     .on_progress(|p| eprintln!("{} of {:?} bytes", p.bytes, p.total))
//!     .cancel_with(cancel.clone())
//!     .limits(Limits { max_weight_bytes: 1 << 30, ..Limits::default() });
//! # let _ = opts;
//! ```

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use crate::convert::Conversion;
use crate::error::{Error, Result};

/// The converter's default shard size (`weight_shard_size_bytes`): 4 MiB.
pub const DEFAULT_SHARD_SIZE: usize = 4 << 20;

/// Called with every file a file-shaped load reads: (manifest path or model.json's name, the
/// name used in messages, the file's bytes), once the file is read in full.
#[cfg(not(target_arch = "wasm32"))]
pub type FileTapFn = Arc<dyn Fn(&str, &str, &Bytes) + Send + Sync>;
/// Called with every file a file-shaped load reads: (manifest path or model.json's name, the
/// name used in messages, the file's bytes), once the file is read in full.
#[cfg(target_arch = "wasm32")]
pub type FileTapFn = Arc<dyn Fn(&str, &str, &Bytes)>;

/// How far a transfer is: bytes moved so far, and the total when it is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Bytes read or written so far (weights and model.json).
    pub bytes: u64,
    /// All bytes of the transfer, when known up front.
    pub total: Option<u64>,
}

/// A progress callback (`Send + Sync` natively; any closure on `wasm32`).
#[cfg(not(target_arch = "wasm32"))]
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;
/// A progress callback (`Send + Sync` natively; any closure on `wasm32`).
#[cfg(target_arch = "wasm32")]
pub type ProgressFn = Arc<dyn Fn(Progress)>;

/// A cancellation flag shared between the caller and a running operation. Cancelling stops the
/// operation at its next check (between files, between chunks of a file); a cancelled save leaves
/// the previous model in place, as any failed save does.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A flag that is not set.
    pub fn new() -> Self {
        Self::default()
    }
    /// Asks every operation holding this flag to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Size limits applied while reading a model. Nothing beyond a limit is read: a reader stops after
/// `limit + 1` bytes with [`Error::TooLarge`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest model.json accepted (default [`Limits::DEFAULT_MODEL_JSON_BYTES`]).
    pub max_model_json_bytes: u64,
    /// Largest total of weight bytes a manifest may declare (default: no limit beyond memory).
    pub max_weight_bytes: u64,
}

impl Limits {
    /// 256 MiB: far above any real model.json (the largest converter outputs are a few MB).
    pub const DEFAULT_MODEL_JSON_BYTES: u64 = 256 << 20;
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_model_json_bytes: Self::DEFAULT_MODEL_JSON_BYTES, max_weight_bytes: u64::MAX }
    }
}

#[cfg(not(target_arch = "wasm32"))]
type AnyBox = Arc<dyn Any + Send + Sync>;
#[cfg(target_arch = "wasm32")]
type AnyBox = Arc<dyn Any>;

/// [`Conversion::apply`], as [`Options::convert`] stores it.
type ApplyFn = fn(&Conversion, &crate::ModelArtifacts) -> Result<crate::ModelArtifacts>;

/// The options of one call (`save_with`, `load_with`, `copy_with`, `move_with`). Cheap to clone.
#[derive(Clone, Default)]
pub struct Options {
    progress: Option<ProgressFn>,
    cancel: Cancel,
    limits: Limits,
    shard_size: Option<usize>,
    conversion: Option<(Arc<Conversion>, ApplyFn)>,
    file_tap: Option<FileTapFn>,
    ext: HashMap<TypeId, AnyBox>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("progress", &self.progress.is_some())
            .field("cancelled", &self.cancel.is_cancelled())
            .field("limits", &self.limits)
            .field("shard_size", &self.shard_size)
            .field("conversion", &self.get_conversion())
            .field("file_tap", &self.file_tap.is_some())
            .field("scheme_options", &self.ext.len())
            .finish()
    }
}

impl Options {
    /// No progress, no cancellation, default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls `f` as bytes move (every scheme reports bytes; at least once at the end).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn on_progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }
    /// Calls `f` as bytes move (every scheme reports bytes; at least once at the end).
    #[cfg(target_arch = "wasm32")]
    pub fn on_progress(mut self, f: impl Fn(Progress) + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Stops the operation when `cancel` is set.
    pub fn cancel_with(mut self, cancel: Cancel) -> Self {
        self.cancel = cancel;
        self
    }

    /// Size limits for reads.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Saves the weights as converter-style `group1-shard{I}of{N}.bin` files of at most `bytes`
    /// each, where the medium stores files (`file://`, buckets); ignored by the others.
    pub fn shard_size(mut self, bytes: usize) -> Self {
        self.shard_size = Some(bytes.max(1));
        self
    }

    /// Converts the weights before a save writes them (quantize or dequantize, as the TF.js
    /// converter does; see [`crate::convert`]). Every scheme honors it: `Registry::save_with`
    /// applies it before the handler sees the model.
    pub fn convert(mut self, conversion: Conversion) -> Self {
        let apply: ApplyFn = Conversion::apply;
        self.conversion = (!conversion.is_identity()).then(|| (Arc::new(conversion), apply));
        self
    }

    /// The conversion a save applies, if any.
    pub fn get_conversion(&self) -> Option<&Conversion> {
        self.conversion.as_ref().map(|(c, _)| &**c)
    }

    /// The conversion applied to `artifacts` (`None` without one). Called through the function
    /// [`Options::convert`] stored, so an app that never converts does not link the conversion code
    /// (about 25 KB of a wasm32 page; BENCHMARKS.md "wasm size").
    pub(crate) fn apply_conversion(&self, artifacts: &crate::ModelArtifacts) -> Option<Result<crate::ModelArtifacts>> {
        self.conversion.as_ref().map(|(c, apply)| apply(c, artifacts))
    }

    /// Calls `f` with every file a file-shaped load (`file://`, `http(s)://`, uploads) reads, in
    /// full, once read: model.json first, then the weight files as they arrive. Stores that keep
    /// records rather than files (`localstorage://`, `indexeddb://`) call it for nothing.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn on_file(mut self, f: impl Fn(&str, &str, &Bytes) + Send + Sync + 'static) -> Self {
        self.file_tap = Some(Arc::new(f));
        self
    }
    /// Calls `f` with every file a file-shaped load reads (see the native docs).
    #[cfg(target_arch = "wasm32")]
    pub fn on_file(mut self, f: impl Fn(&str, &str, &Bytes) + 'static) -> Self {
        self.file_tap = Some(Arc::new(f));
        self
    }

    /// Reports a file read in full to the [`Options::on_file`] callback (file-shaped media call it
    /// through [`crate::files`]).
    pub fn tap_file(&self, path: &str, name: &str, bytes: &Bytes) {
        if let Some(f) = &self.file_tap {
            f(path, name, bytes);
        }
    }

    /// Adds a scheme-specific option value (one per type), e.g. an http handler's headers.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn with<T: Any + Send + Sync>(mut self, value: T) -> Self {
        self.ext.insert(TypeId::of::<T>(), Arc::new(value));
        self
    }
    /// Adds a scheme-specific option value (one per type), e.g. an http handler's headers.
    #[cfg(target_arch = "wasm32")]
    pub fn with<T: Any>(mut self, value: T) -> Self {
        self.ext.insert(TypeId::of::<T>(), Arc::new(value));
        self
    }

    /// The scheme-specific option of type `T`, if one was added.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.ext.get(&TypeId::of::<T>()).and_then(|v| v.downcast_ref::<T>())
    }

    /// The limits in force.
    pub fn get_limits(&self) -> Limits {
        self.limits
    }

    /// The requested shard size, if any.
    pub fn get_shard_size(&self) -> Option<usize> {
        self.shard_size
    }

    /// The cancellation flag.
    pub fn cancel(&self) -> &Cancel {
        &self.cancel
    }

    /// [`Error::Cancelled`] if the caller cancelled; handlers call it between steps.
    pub fn check_cancelled(&self, operation: &'static str, url: &str) -> Result<()> {
        if self.cancel.is_cancelled() {
            return Err(Error::Cancelled { operation, url: url.to_string() });
        }
        Ok(())
    }

    /// A byte counter for one transfer of `total` bytes (when known) that reports to the callback.
    pub fn meter(&self, total: Option<u64>) -> Meter {
        Meter { progress: self.progress.clone(), total, bytes: AtomicU64::new(0) }
    }

    /// Whether a progress callback is set.
    pub fn has_progress(&self) -> bool {
        self.progress.is_some()
    }
}

/// Counts the bytes of one transfer and reports them (safe to share between concurrent fetches).
pub struct Meter {
    progress: Option<ProgressFn>,
    total: Option<u64>,
    bytes: AtomicU64,
}

impl Meter {
    /// `n` more bytes moved.
    pub fn add(&self, n: u64) {
        let bytes = self.bytes.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(f) = &self.progress {
            f(Progress { bytes: self.total.map_or(bytes, |t| bytes.min(t)), total: self.total });
        }
    }

    /// For retried pieces: the piece that had `counted` bytes reported now has `received`; only
    /// the growth is added, so bytes are counted once however often a piece is fetched.
    pub fn advance(&self, counted: &AtomicU64, received: u64) {
        let before = counted.fetch_max(received, Ordering::Relaxed);
        if received > before {
            self.add(received - before);
        }
    }

    /// A meter reporting to the same callback with the same total, starting from this one's count
    /// (for a part of the transfer that must own its meter, e.g. a `'static` body stream).
    pub fn fork(&self) -> Meter {
        Meter { progress: self.progress.clone(), total: self.total, bytes: AtomicU64::new(self.bytes()) }
    }

    /// Bytes counted so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// The transfer succeeded with `bytes` bytes in all: the last report says 100%.
    pub fn finish(&self, bytes: u64) {
        if let Some(f) = &self.progress {
            f(Progress { bytes, total: Some(bytes) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn typed_options_and_cancel() {
        #[derive(Debug, PartialEq)]
        struct Headers(Vec<(String, String)>);
        let c = Cancel::new();
        let o = Options::new().with(Headers(vec![("a".into(), "b".into())])).cancel_with(c.clone());
        assert_eq!(o.get::<Headers>(), Some(&Headers(vec![("a".into(), "b".into())])));
        assert_eq!(o.get::<u32>(), None);
        assert!(o.check_cancelled("load", "x://y").is_ok());
        c.cancel();
        assert!(matches!(o.check_cancelled("load", "x://y"), Err(Error::Cancelled { operation: "load", .. })));
    }

    #[test]
    fn meter_counts_retries_once_and_caps_at_total() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let o = Options::new().on_progress(move |p| s.lock().unwrap().push(p.bytes));
        let m = o.meter(Some(10));
        let piece = AtomicU64::new(0);
        m.advance(&piece, 4);
        m.advance(&piece, 2); // a retry starting over
        m.advance(&piece, 6);
        m.add(9);
        m.finish(10);
        assert_eq!(*seen.lock().unwrap(), [4, 6, 10, 10]);
        assert_eq!(m.bytes(), 15);
    }
}
