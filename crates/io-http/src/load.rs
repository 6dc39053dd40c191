//! Loading: model.json, then every weight file at TF.js's URL for it, through the layout component
//! ([`io_core::files`]): bounded concurrency, every body bounded and checked against the manifest.

use std::collections::HashMap;

use bytes::Bytes;
use io_core::files::{self, FileKind, FileRequest, FileSource, PathPolicy};
use io_core::{Error, ModelArtifacts, ModelJson, Options, Result};

use crate::handler::HttpHandler;
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

    /// Fetches model.json (at most `Limits::max_model_json_bytes` + 1 bytes). 404 and 410 are
    /// [`Error::NotFound`]; HTML is refused.
    pub(crate) async fn load_model_json(&self, opts: &Options) -> Result<ModelJson> {
        let source = HttpFiles { handler: self, by_path: HashMap::new(), urls: Vec::new() };
        let bytes = files::read_model_json(&source, &self.url, &self.url, opts).await.map_err(|e| match e {
            Error::HttpStatus { status: status @ (404 | 410), url, .. } => Error::NotFound {
                url,
                detail: format!("HTTP {status}; check that the URL points to the model.json of the model"),
            },
            other => other,
        })?;
        ModelJson::parse(&bytes, &self.url)
    }

    /// `GET` of the handler's URL as one whole file of at most `limit` bytes (a larger
    /// `Content-Length` fails before the body is read; a longer body is cut off one byte past it),
    /// retried on temporary failures, with byte progress to `opts`. For archives holding a model
    /// (`zip://https://…`). Runs on the handler's runtime like a load.
    pub async fn fetch_whole(&self, limit: u64, opts: &Options) -> Result<Bytes> {
        let (h, o) = (self.clone(), opts.clone());
        crate::runtime::run(async move {
            let source = HttpFiles { handler: &h, by_path: HashMap::new(), urls: Vec::new() };
            files::read_whole(&source, &h.url, &h.url, limit, &o).await.map_err(|e| match e {
                Error::HttpStatus { status: status @ (404 | 410), url, .. } => {
                    Error::NotFound { url, detail: format!("HTTP {status}") }
                }
                other => other,
            })
        })
        .await
    }

    /// The whole load: model.json, then the weights, each file kept as its own buffer.
    pub(crate) async fn load_artifacts(&self, opts: &Options) -> Result<ModelArtifacts> {
        let model_json = self.load_model_json(opts).await?;
        let urls: Vec<String> = self.weight_urls(&model_json).into_iter().flatten().collect();
        let paths = model_json.weights_manifest.iter().flat_map(|g| g.paths.iter().cloned());
        let source = HttpFiles { handler: self, by_path: paths.zip(0..).collect(), urls };
        files::assemble(model_json, &source, &self.url, PathPolicy::Any, opts).await
    }
}

/// The files of one model over HTTP: model.json at the handler's URL, weight files at their URLs.
struct HttpFiles<'a> {
    handler: &'a HttpHandler,
    /// Manifest path → its index in `urls` (a `String → index` map, the hash table type io-core
    /// has already: one less in the wasm).
    by_path: HashMap<String, usize>,
    /// The weight files' URLs (TF.js's rule), in manifest order.
    urls: Vec<String>,
}

impl HttpFiles<'_> {
    fn url<'p>(&'p self, path: &'p str) -> &'p str {
        self.by_path.get(path).map_or(path, |&i| self.urls[i].as_str())
    }
}

#[cfg_attr(not(target_arch = "wasm32"), io_core::async_trait)]
#[cfg_attr(target_arch = "wasm32", io_core::async_trait(?Send))]
impl FileSource for HttpFiles<'_> {
    fn name(&self, path: &str) -> String {
        self.url(path).to_string()
    }

    async fn read(&self, req: &FileRequest<'_>) -> Result<Bytes> {
        let url = match req.kind() {
            FileKind::ModelJson => self.handler.url.as_str(),
            FileKind::Weights => self.url(req.path()),
        };
        self.handler.get_bytes(url, req).await
    }

    fn concurrency(&self) -> usize {
        self.handler.concurrency
    }
}
