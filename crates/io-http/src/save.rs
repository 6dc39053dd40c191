//! Saving: one multipart request, as TF.js sends it.

use io_core::{ModelArtifacts, Result, SaveResponse, SaveResult};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};

use crate::handler::HttpHandler;
use crate::multipart::MultipartBody;

impl HttpHandler {
    /// Uploads `artifacts`; a non-2xx answer is an [`io_core::Error::HttpStatus`].
    pub(crate) async fn save_artifacts(&self, artifacts: &ModelArtifacts) -> Result<SaveResult> {
        let body = MultipartBody::for_artifacts(artifacts, &MultipartBody::random_boundary());
        let mut rb = self.request(self.method.clone(), &self.url).header(CONTENT_TYPE, body.content_type());
        if cfg!(not(target_arch = "wasm32")) {
            // Browsers set it themselves and refuse it from scripts.
            rb = rb.header(CONTENT_LENGTH, body.len());
        }
        let rb = rb.body(request_body(body));
        let resp = self.send(rb, &self.method, &self.url).await?;
        let mut result = SaveResult::for_artifacts(artifacts);
        result.responses.push(SaveResponse { url: self.url.clone(), status: resp.status().as_u16() });
        Ok(result)
    }
}

/// Native: the pieces are streamed, the weights never copied into one buffer.
#[cfg(not(target_arch = "wasm32"))]
fn request_body(body: MultipartBody) -> reqwest::Body {
    let pieces = body.pieces.into_iter().map(Ok::<_, std::io::Error>);
    reqwest::Body::wrap_stream(futures::stream::iter(pieces))
}

/// wasm32: `fetch` takes one buffer (it is copied into JavaScript anyway).
#[cfg(target_arch = "wasm32")]
fn request_body(body: MultipartBody) -> reqwest::Body {
    reqwest::Body::from(body.to_bytes().to_vec())
}
