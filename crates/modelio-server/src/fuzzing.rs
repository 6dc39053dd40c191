//! The entry point of the `upload` fuzz target (`fuzz/`), shared with the corpus replay test so
//! both exercise exactly the same code. It must never panic, whatever the input.

use axum::extract::{FromRequest, Multipart};
use bytes::Bytes;

/// The boundary of inputs whose first line is not a Content-Type.
pub const BOUNDARY: &str = "----formdata-undici-029914219587";

/// Splits fuzz input into the request's Content-Type and body: the first line (up to `\n`) is the
/// Content-Type when it starts with `multipart/`, and the rest the body; otherwise the whole input
/// is the body, sent as `multipart/form-data; boundary=`[`BOUNDARY`].
pub fn split_request(bytes: &[u8]) -> (String, Bytes) {
    if bytes.starts_with(b"multipart/") {
        if let Some(nl) = bytes.iter().position(|&b| b == b'\n') {
            let ct = String::from_utf8_lossy(&bytes[..nl]).into_owned();
            return (ct, Bytes::copy_from_slice(&bytes[nl + 1..]));
        }
    }
    (format!("multipart/form-data; boundary={BOUNDARY}"), Bytes::copy_from_slice(bytes))
}

/// Raw bytes as an upload request (see [`split_request`]) through axum's `Multipart` extractor and
/// the server's upload parsing and assembly ([`crate::upload::read`]): an error or a model, never a
/// panic. A model it returns must pass `codec::layout`. Returns whether the upload was accepted.
pub fn upload(bytes: &[u8]) -> bool {
    let (content_type, body) = split_request(bytes);
    let Ok(req) = axum::http::Request::builder()
        .method("POST")
        .uri("/models/fuzz")
        .header("content-type", content_type)
        .body(axum::body::Body::from(body))
    else {
        return false;
    };
    futures::executor::block_on(async {
        let Ok(multipart) = Multipart::from_request(req, &()).await else { return false };
        let Ok(model) = crate::upload::read(multipart, &Default::default()).await else { return false };
        if let Err(e) = io_core::codec::layout(&model.weight_specs, &model.weight_data, &[]) {
            panic!("an accepted upload's weights do not fit their specs: {e}");
        }
        true
    })
}
