//! Saving: one multipart request, as TF.js sends it.

use io_core::files::{self, WeightFiles, HTTP};
use io_core::{Meter, ModelArtifacts, Options, Result, SaveResponse, SaveResult};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};

use crate::handler::HttpHandler;
use crate::multipart::{MultipartBody, WEIGHTS_PART};

impl HttpHandler {
    /// Uploads `artifacts` (weights as TF.js's one `model.weights.bin`, or as converter shards when
    /// `opts` asks for a shard size); a non-2xx answer is an [`io_core::Error::HttpStatus`].
    pub(crate) async fn save_artifacts(&self, artifacts: &ModelArtifacts, opts: &Options) -> Result<SaveResult> {
        let files = files::split(artifacts, &self.url, HTTP, &WeightFiles::from_options(opts, WEIGHTS_PART))?;
        let body = MultipartBody::for_files(&files, &MultipartBody::random_boundary());
        let mut rb = self.request(self.method.clone(), &self.url).header(CONTENT_TYPE, body.content_type());
        if cfg!(not(target_arch = "wasm32")) {
            // Browsers set it themselves and refuse it from scripts.
            rb = rb.header(CONTENT_LENGTH, body.len());
        }
        opts.check_cancelled("save", &self.url)?;
        let meter = opts.meter(Some(body.len()));
        let total = body.len();
        let rb = rb.body(request_body(body, &meter));
        let resp = self.send(rb, &self.method, &self.url).await?;
        meter.finish(total);
        let mut result = SaveResult::for_artifacts(artifacts);
        result.responses.push(SaveResponse { url: self.url.clone(), status: resp.status().as_u16() });
        Ok(result)
    }
}

/// Native: the pieces are streamed (never copied into one buffer), counted as they are sent.
#[cfg(not(target_arch = "wasm32"))]
fn request_body(body: MultipartBody, meter: &Meter) -> reqwest::Body {
    use futures::StreamExt;
    // The body stream must be `'static`: it counts on a fork of the call's meter.
    let meter = std::sync::Arc::new(meter.fork());
    let pieces = futures::stream::iter(body.pieces).map(move |p| {
        meter.add(p.len() as u64);
        Ok::<_, std::io::Error>(p)
    });
    reqwest::Body::wrap_stream(pieces)
}

/// wasm32: `fetch` takes one buffer (it is copied into JavaScript anyway).
#[cfg(target_arch = "wasm32")]
fn request_body(body: MultipartBody, _meter: &Meter) -> reqwest::Body {
    reqwest::Body::from(body.to_bytes().to_vec())
}
