//! Saving: one multipart request, as TF.js sends it.

use io_core::files::{self, WeightFiles, HTTP};
use io_core::{ModelArtifacts, Options, Result, SaveResponse, SaveResult};

use crate::handler::HttpHandler;
use crate::multipart::{MultipartBody, WEIGHTS_PART};
use crate::transport::Upload;

impl HttpHandler {
    /// Uploads `artifacts` (weights as TF.js's one `model.weights.bin`, or as converter shards when
    /// `opts` asks for a shard size); a non-2xx answer is an [`io_core::Error::HttpStatus`].
    pub(crate) async fn save_artifacts(&self, artifacts: &ModelArtifacts, opts: &Options) -> Result<SaveResult> {
        let files = files::split(artifacts, &self.url, HTTP, &WeightFiles::from_options(opts, WEIGHTS_PART))?;
        let body = MultipartBody::for_files(&files, &MultipartBody::random_boundary());
        opts.check_cancelled("save", &self.url)?;
        let total = body.len();
        let meter = opts.meter(Some(total));
        let resp = self.send(&self.method, &self.url, Some(Upload { body, meter: &meter })).await?;
        meter.finish(total);
        let mut result = SaveResult::for_artifacts(artifacts);
        result.responses.push(SaveResponse { url: self.url.clone(), status: resp.status() });
        Ok(result)
    }
}
