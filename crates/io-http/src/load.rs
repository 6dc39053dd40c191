//! Loading: model.json, then every weight file with bounded concurrency, checked against the manifest.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use io_core::buffer::ShardMemory;
use io_core::codec::{check_group, FileSpan};
use io_core::{Error, ModelArtifacts, ModelJson, Result, WeightData};

use crate::handler::{HttpHandler, Progress, ProgressFn};
use crate::urls::ShardUrlRule;

impl HttpHandler {
    /// The URL of every weight file, grouped as in the manifest, by TF.js's rule (see [`ShardUrlRule`]).
    pub fn weight_urls(&self, model_json: &ModelJson) -> Vec<Vec<String>> {
        self.url_rule().urls(&model_json.weights_manifest)
    }

    fn url_rule(&self) -> ShardUrlRule<'_> {
        match &self.weight_url_converter {
            Some(f) => ShardUrlRule::Converter(f.as_ref()),
            None => {
                ShardUrlRule::Prefix { model_url: &self.url, weight_path_prefix: self.weight_path_prefix.as_deref() }
            }
        }
    }

    /// Fetches and parses model.json. 404 and 410 are [`Error::NotFound`]; HTML is refused.
    pub(crate) async fn load_model_json(&self) -> Result<ModelJson> {
        let bytes = self.get_bytes(&self.url, None, &ShardMemory::none(), &|_| {}).await.map_err(|e| match e {
            Error::HttpStatus { status: status @ (404 | 410), url, .. } => Error::NotFound {
                url,
                detail: format!("HTTP {status}; check that the URL points to the model.json of the model"),
            },
            other => other,
        })?;
        ModelJson::parse(&bytes, &self.url)
    }

    /// The whole load: model.json, then the weights, each shard kept as its own buffer.
    pub(crate) async fn load_artifacts(&self) -> Result<ModelArtifacts> {
        let model_json = self.load_model_json().await?;
        let urls = self.weight_urls(&model_json);
        let fixed = model_json.artifacts.fixed_weight_bytes();
        // All weight bytes in one allocation, faulted in ahead on a helper thread (io_core::buffer).
        let memory = ShardMemory::new(fixed.unwrap_or(0));
        let memory = &memory;
        let meter =
            Meter { on_progress: self.on_progress.clone(), total: fixed.map(|n| n as u64), loaded: Mutex::new(0) };
        let flat: Vec<String> = urls.iter().flatten().cloned().collect();
        let mut shards: Vec<Bytes> = vec![Bytes::new(); flat.len()];
        let meter = &meter;
        // Collected first (the futures are lazy): a plain Vec keeps the future `Send` on native.
        let fetches: Vec<_> = flat
            .into_iter()
            .enumerate()
            .map(|(i, url)| async move {
                let counted = AtomicU64::new(0);
                let on_bytes = |received: u64| meter.advance(&counted, received);
                self.get_bytes(&url, fixed, memory, &on_bytes).await.map(|b| (i, b))
            })
            .collect();
        let mut done = stream::iter(fetches).buffer_unordered(self.concurrency);
        while let Some((i, b)) = done.try_next().await? {
            shards[i] = b;
        }
        drop(done);
        let mut weight_data = WeightData::default();
        let mut next = 0;
        for (group, group_urls) in model_json.weights_manifest.iter().zip(&urls) {
            let mine = &shards[next..next + group_urls.len()];
            next += group_urls.len();
            let spans: Vec<FileSpan> =
                group_urls.iter().zip(mine).map(|(u, b)| FileSpan { name: u.clone(), len: b.len() }).collect();
            let data = WeightData::from_chunks(mine.to_vec());
            check_group(group, &data, &spans).map_err(|e| e.at(&self.url))?;
            weight_data.append(data);
        }
        meter.finish(weight_data.len() as u64);
        let mut artifacts = model_json.artifacts;
        artifacts.weight_data = weight_data;
        Ok(artifacts)
    }
}

/// Progress across concurrent shard fetches: bytes are counted once, also when a shard is retried.
struct Meter {
    on_progress: Option<ProgressFn>,
    total: Option<u64>,
    loaded: Mutex<u64>,
}

impl Meter {
    /// A shard's attempt has `received` bytes; `counted` is the most any attempt of it had reported.
    fn advance(&self, counted: &AtomicU64, received: u64) {
        let before = counted.fetch_max(received, Ordering::Relaxed);
        if received <= before {
            return;
        }
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        *loaded += received - before;
        if let Some(f) = &self.on_progress {
            let shown = self.total.map_or(*loaded, |t| (*loaded).min(t));
            f(Progress { loaded: shown, total: self.total });
        }
    }

    /// The load succeeded with `bytes` weight bytes: the last report is 100%.
    fn finish(&self, bytes: u64) {
        if let Some(f) = &self.on_progress {
            f(Progress { loaded: bytes, total: Some(bytes) });
        }
    }
}
