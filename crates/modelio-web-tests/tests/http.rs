//! `http://` in Chromium through `fetch`, against the loopback server `cargo xtask test-all` starts
//! (`crates/modelio-web-tests/http-server.mjs`; its origin comes in `MODELIO_TEST_HTTP_ORIGIN` at
//! compile time): a sharded converter model loads bit-exact, a save uploads TF.js's multipart
//! parts that load back identical and that TF.js `loadLayersModel` predicts exactly from, and
//! HTTP errors name the status and URL.
#![cfg(target_arch = "wasm32")]

use io_core::testkit::fixtures;
use modelio_web_tests::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn origin() -> &'static str {
    match option_env!("MODELIO_TEST_HTTP_ORIGIN") {
        Some(o) => o,
        None => panic!(
            "MODELIO_TEST_HTTP_ORIGIN is not set: run the browser tests with `cargo xtask test-browser` (or test-all), \
             which starts the loopback server (crates/modelio-web-tests/http-server.mjs) and passes its origin"
        ),
    }
}

#[wasm_bindgen_test]
async fn http_loads_sharded_converter_model_bit_exact() {
    let url = format!("{}/fixtures/converter_write_weights/c_sharded/model.json", origin());
    let got = modelio::load(&url).await.unwrap_or_else(|e| panic!("load {url}: {e}"));
    let want = fixtures::model("c");
    assert_eq!(got.weight_specs, want.weight_specs);
    assert!(got.weight_data.to_vec() == want.weight_data.to_vec(), "weight bytes differ");
    assert_eq!(got.weight_data.len(), 4_194_304 + 209_696);
}

#[wasm_bindgen_test]
async fn http_save_uploads_tfjs_parts_that_load_back_and_predict() {
    assert_eq!(tfjs().await, "4.22.0 cpu");
    for m in ["a", "d"] {
        let model = fixtures::model(m);
        let save_url = format!("{}/upload/{m}", origin());
        let res = modelio::save(&save_url, &model).await.unwrap_or_else(|e| panic!("save {save_url}: {e}"));
        assert_eq!(res.model_artifacts_info.weight_data_bytes, Some(model.weight_data.len() as u64));
        let bin = fetch_bytes(&format!("{}/uploaded/{m}/model.weights.bin", origin())).await.expect("uploaded weights");
        assert!(bin == fixtures::weight_bytes(m), "uploaded weights differ");
        let load_url = format!("{}/uploaded/{m}/model.json", origin());
        let back = modelio::load(&load_url).await.unwrap_or_else(|e| panic!("load {load_url}: {e}"));
        io_core::testkit::assert_same_model(&load_url, &back, &model);
        let e = expected(m);
        let out = tfjs_predict_from_url(&load_url, e.input_shape.clone(), e.input.clone()).await.expect("TF.js load");
        assert_eq!(f32_vec(&out), e.output, "TF.js output on modelio's upload of {m}");
    }
}

#[wasm_bindgen_test]
async fn http_errors_name_status_and_url() {
    let url = format!("{}/status/404", origin());
    match modelio::load(&url).await {
        Err(modelio::Error::HttpStatus { status, url: u, .. }) => {
            assert_eq!(status, 404);
            assert!(u.contains("/status/404"), "{u}");
        }
        Err(modelio::Error::NotFound { url: u, .. }) => assert!(u.contains("/status/404"), "{u}"),
        Err(e) => panic!("expected an HTTP 404 error, got {e}"),
        Ok(_) => panic!("loaded a model from a 404"),
    }
    let missing = format!("{}/fixtures/converter_write_weights/c_sharded/nothing.json", origin());
    assert!(modelio::load(&missing).await.is_err());
}

/// Through the handler's own `fetch` path: the request hook sees (and may change) every request, a
/// shard longer than its manifest allows stops the read with an error naming it, and a time
/// limit shorter than any answer aborts the request (`AbortController`) as a temporary network error.
#[wasm_bindgen_test]
async fn http_hook_bounded_reads_and_time_limit() {
    use io_core::{LoadHandler, Options};
    use modelio::http::HttpHandler;
    use std::sync::{Arc, Mutex};
    let url = format!("{}/fixtures/converter_write_weights/c_sharded/model.json", origin());

    // The hook sees model.json and both shards, with the header set on the handler.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let got = HttpHandler::new(&url)
        .header("x-modelio-test", "1")
        .expect("a valid header")
        .on_request(move |r| {
            assert!(r.headers.iter().any(|(n, v)| n == "x-modelio-test" && v == "1"), "{:?}", r.headers);
            log.lock().unwrap().push(format!("{} {}", r.method, r.url));
        })
        .load(&Options::new())
        .await
        .expect("load with a hook");
    assert_eq!(got.weight_data.len(), 4_194_304 + 209_696);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen.iter().all(|s| s.starts_with("GET ")), "{seen:?}");
    assert!(HttpHandler::new(&url).header("bad name", "v").is_err());

    // Every shard fetched from the 4 MiB first shard: the second (209,696 bytes announced) is refused.
    let big = format!("{}/fixtures/converter_write_weights/c_sharded/group1-shard1of2.bin", origin());
    let e = HttpHandler::new(&url)
        .weight_url_converter(move |_| big.clone())
        .retries(0)
        .load(&Options::new())
        .await
        .expect_err("a shard longer than its manifest says");
    let text = e.to_string();
    assert!(text.contains("group1-shard1of2.bin"), "{text}");

    // A 100 ms limit on an answer that takes 5 s: aborted, a temporary network error naming the limit.
    let start = js_sys::Date::now();
    let e = HttpHandler::new(format!("{}/slow/5000", origin()))
        .timeout(Some(std::time::Duration::from_millis(100)))
        .retries(0)
        .load(&Options::new())
        .await
        .expect_err("no answer within 100 ms");
    assert!(js_sys::Date::now() - start < 3000.0, "the time limit did not stop the request");
    match &e {
        modelio::Error::Network { detail, temporary: true, .. } => assert!(detail.contains("100ms"), "{detail}"),
        other => panic!("expected a temporary network error, got {other}"),
    }
}

#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
// Reads `url`'s body with a BYOB reader into one 64 KiB buffer; the byte count. Throws where
// fetch bodies are not byte streams.
export async function byobByteCount(url) {
  const reader = (await fetch(url)).body.getReader({ mode: 'byob' });
  let n = 0;
  let buffer = new ArrayBuffer(65536);
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (done) return n;
    n += value.byteLength;
    buffer = value.buffer;
  }
}
// fetch, answered with the body re-wrapped in a plain (not byte) stream of the same chunks.
export async function fetchPlainStream(request) {
  const response = await fetch(request);
  const source = response.body.getReader();
  const body = new ReadableStream({
    async pull(controller) {
      const { done, value } = await source.read();
      if (done) controller.close(); else controller.enqueue(value);
    },
  });
  return new Response(body, { status: response.status, headers: response.headers });
}
"#)]
extern "C" {
    #[wasm_bindgen(catch, js_name = byobByteCount)]
    async fn byob_byte_count(url: &str) -> Result<wasm_bindgen::JsValue, wasm_bindgen::JsValue>;
    #[wasm_bindgen(js_name = fetchPlainStream)]
    fn fetch_plain_stream(request: web_sys::Request) -> js_sys::Promise;
}

/// Bodies are read both ways the transport knows: `fetch`'s own bodies are byte streams in
/// Chromium (what io-http's reused-buffer reads depend on: checked here, so a browser that changes
/// it fails this test rather than quietly leaving a load's chunks as garbage), and a body that is
/// a plain stream (from a `fetch` hook) loads the same bytes and is bounded by the manifest too.
#[wasm_bindgen_test]
async fn http_reads_byte_streams_and_plain_streams() {
    use io_core::{LoadHandler, Options};
    use modelio::http::HttpHandler;
    let url = format!("{}/fixtures/converter_write_weights/c_sharded/model.json", origin());
    let shard = format!("{}/fixtures/converter_write_weights/c_sharded/group1-shard1of2.bin", origin());
    let n = byob_byte_count(&shard).await.unwrap_or_else(|e| panic!("fetch bodies are not byte streams: {e:?}"));
    assert_eq!(n.as_f64(), Some(4_194_304.0));

    let plain = |request: web_sys::Request| -> modelio::http::FetchFuture {
        Box::pin(async move {
            let response = wasm_bindgen_futures::JsFuture::from(fetch_plain_stream(request)).await;
            response.map(wasm_bindgen::JsCast::unchecked_into).map_err(|e| io_core::Error::Network {
                url: String::new(),
                detail: format!("{e:?}"),
                temporary: false,
                source: None,
            })
        })
    };
    let got = HttpHandler::new(&url).fetch(plain).load(&Options::new()).await.expect("load through plain streams");
    let want = fixtures::model("c");
    assert_eq!(got.weight_specs, want.weight_specs);
    assert!(got.weight_data.to_vec() == want.weight_data.to_vec(), "weight bytes differ");

    let big = shard.clone();
    let e = HttpHandler::new(&url)
        .fetch(plain)
        .weight_url_converter(move |_| big.clone())
        .retries(0)
        .load(&Options::new())
        .await
        .expect_err("a shard longer than its manifest says, from a plain stream");
    assert!(e.to_string().contains("group1-shard1of2.bin"), "{e}");
}

/// `ByteStreamReader` (io-http's and io-opfs's reader) reads a byte stream whole through one buffer,
/// reused by every read, and a dropped reader hands it to the next reader of the same size:
/// reading many bodies leaves no buffer per body behind.
#[wasm_bindgen_test]
async fn byte_stream_reader_reuses_one_buffer_across_reads_and_readers() {
    use io_store_support::web::{spare_bytes, ByteStreamReader, SPARE_BYTES};
    const SIZE: u32 = 65_537; // a size no other reader of this test page uses
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let blob = || {
        let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(&bytes[..]));
        web_sys::Blob::new_with_u8_array_sequence(&parts).expect("blob")
    };
    let read_all = |mut reader: ByteStreamReader| async move {
        let (mut got, mut reads) = (Vec::new(), 0);
        while let Some(view) = reader.read().await.expect("read") {
            assert!(view.length() <= SIZE && view.buffer().byte_length() == SIZE);
            got.extend(view.to_vec());
            reads += 1;
        }
        (got, reads)
    };
    let (got, reads) = read_all(ByteStreamReader::new(&blob().stream(), SIZE).expect("a byte stream")).await;
    assert_eq!(got, bytes);
    assert!(reads >= 5, "{reads} reads of 300,000 bytes through 64 KiB");
    // Dropped: its one buffer is kept (the newest; older ones go first past SPARE_BYTES) ...
    let kept = spare_bytes();
    assert!((SIZE..=SPARE_BYTES).contains(&kept), "{kept} bytes kept");
    let mut second = ByteStreamReader::new(&blob().stream(), SIZE).expect("a byte stream");
    let view = second.read().await.expect("read").expect("bytes");
    // ... and the next reader of that size takes it instead of allocating another.
    assert_eq!(spare_bytes(), kept - SIZE);
    assert_eq!(view.to_vec()[..], bytes[..view.length() as usize]);
}
