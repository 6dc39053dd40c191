//! `downloads://` in the browser, as TF.js's `browserDownloads` does it.
//!
//! `downloads://NAME` saves two files through the browser's download mechanism: `NAME.json` (the
//! model.json, keys in [`io_core::artifacts::BROWSER_ORDER`], manifest path `./NAME.weights.bin`)
//! and `NAME.weights.bin` (the weight bytes), named by [`crate::file_names`]; `downloads://` alone
//! uses the name `model`.
//!
//! Each file becomes a `Blob` behind an object URL, put on an `<a download=...>` anchor that is
//! clicked with a synthetic `click` event. As in TF.js, each click is deferred to its own task
//! (`setTimeout`), because browsers drop all but the last of several synchronous downloads. Unlike
//! TF.js, both object URLs are revoked once the clicks have been dispatched (one more task later),
//! also when the save fails half-way. Weight buffers are handed to the `Blob` as they are, never
//! joined into one buffer first.
//!
//! The scheme only saves; loading picked files is TF.js's `browserFiles` (see [`load_files`]).

use std::cell::RefCell;
use std::rc::Rc;

use io_core::files::{WeightFiles, BROWSER_DOWNLOADS};
use io_core::{
    Error, LoadHandler, ModelArtifacts, ModelUrl, Options, Result, SaveHandler, SaveResult, Scheme, SchemeRegistration,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, BlobPropertyBag, HtmlAnchorElement, MouseEvent, Url};

/// The browser `downloads://` plugin.
pub struct BrowserDownloads;

static REGISTRATION: SchemeRegistration =
    SchemeRegistration { scheme: crate::SCHEME, plugin: "io-downloads", handler: &BrowserDownloads };

/// Registers the browser `downloads://` in `registry` (idempotent).
pub fn register(registry: &io_core::Registry) {
    registry.register(&REGISTRATION);
}

io_core::inventory::submit! {
    SchemeRegistration { scheme: crate::SCHEME, plugin: "io-downloads", handler: &BrowserDownloads }
}

/// Keeps this module's `inventory` registration linked on wasm32 (wasm-ld drops unreferenced code
/// units; an exported symbol is always kept). See TOOLCHAIN-NOTES.
#[no_mangle]
pub extern "C" fn modelio_io_downloads_browser_anchor() {}

type Observer = Rc<dyn Fn(&HtmlAnchorElement)>;

thread_local! {
    static OBSERVER: RefCell<Option<Observer>> = const { RefCell::new(None) };
}

/// Sets (or clears, with `None`) a function called with each download anchor just before its click
/// is dispatched: its `download` attribute is the file name and its `href` the object URL, still
/// valid during the call. Meant for tests and for apps that want to know a download started.
pub fn set_download_observer(observer: Option<Observer>) {
    OBSERVER.with(|o| *o.borrow_mut() = observer);
}

impl Scheme for BrowserDownloads {
    fn save_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn SaveHandler>>> {
        Ok(Some(Box::new(DownloadsSave { url: url.raw.clone(), name: url.path.clone() })))
    }
    fn load_handler(&self, _url: &ModelUrl) -> Result<Option<Box<dyn LoadHandler>>> {
        Ok(None)
    }
}

struct DownloadsSave {
    url: String,
    name: String,
}

fn js_err(url: &str, what: &str, e: JsValue) -> Error {
    let text = e
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"));
    Error::storage("downloads", url, format!("{what}: {text}"))
}

/// Object URLs that are revoked when dropped, whatever happened in between.
struct ObjectUrls(Vec<String>);

impl Drop for ObjectUrls {
    fn drop(&mut self) {
        for u in &self.0 {
            let _ = Url::revoke_object_url(u);
        }
    }
}

fn blob(parts: &js_sys::Array, mime: &str, url: &str) -> Result<Blob> {
    let opts = BlobPropertyBag::new();
    opts.set_type(mime);
    Blob::new_with_u8_array_sequence_and_options(parts, &opts).map_err(|e| js_err(url, "creating a Blob", e))
}

/// Resolves after one `setTimeout(0)` task, as TF.js's `defer`.
async fn next_task(url: &str) -> Result<()> {
    let window = web_sys::window().ok_or_else(|| no_window(url))?;
    let mut err = None;
    let p = js_sys::Promise::new(&mut |resolve, _reject| {
        if let Err(e) = window.set_timeout_with_callback(&resolve) {
            err = Some(e);
        }
    });
    if let Some(e) = err {
        return Err(js_err(url, "setTimeout", e));
    }
    JsFuture::from(p).await.map_err(|e| js_err(url, "waiting for the next task", e))?;
    Ok(())
}

fn no_window(url: &str) -> Error {
    Error::Unsupported {
        operation: "save",
        url: url.to_string(),
        reason: "browser downloads need a window with a document (not available in workers)".into(),
    }
}

#[io_core::async_trait(?Send)]
impl SaveHandler for DownloadsSave {
    async fn save(&self, artifacts: &ModelArtifacts, opts: &Options) -> Result<SaveResult> {
        let url = self.url.as_str();
        let (json_name, weights_name) = crate::file_names(&self.name, 0);
        // The topology policy and the weights are checked before anything is downloaded.
        let files = io_core::files::split(artifacts, url, BROWSER_DOWNLOADS, &WeightFiles::One(weights_name.clone()))?;
        let document = web_sys::window().and_then(|w| w.document()).ok_or_else(|| no_window(url))?;
        let meter = opts.meter(Some(files.total_bytes()));

        let weight_parts = js_sys::Array::new();
        for chunk in files.weights[0].1.chunks() {
            weight_parts.push(&js_sys::Uint8Array::from(&chunk[..]));
        }
        let weights_blob = blob(&weight_parts, "application/octet-stream", url)?;
        let json = &files.model_json;
        let json_blob = blob(&js_sys::Array::of1(&js_sys::Uint8Array::from(&json[..])), "application/json", url)?;
        opts.check_cancelled("save", url)?;

        let mut urls = ObjectUrls(Vec::new());
        for b in [&weights_blob, &json_blob] {
            urls.0.push(Url::create_object_url_with_blob(b).map_err(|e| js_err(url, "creating an object URL", e))?);
        }
        let (weights_href, json_href) = (urls.0[0].clone(), urls.0[1].clone());

        for (name, href) in [(&json_name, &json_href), (&weights_name, &weights_href)] {
            let anchor: HtmlAnchorElement = document
                .create_element("a")
                .map_err(|e| js_err(url, "creating an anchor", e))?
                .dyn_into()
                .map_err(|_| Error::storage("downloads", url, "document.createElement('a') is not an anchor"))?;
            anchor.set_download(name);
            anchor.set_href(href);
            next_task(url).await?;
            if let Some(obs) = OBSERVER.with(|o| o.borrow().clone()) {
                obs(&anchor);
            }
            let click = MouseEvent::new("click").map_err(|e| js_err(url, "creating a click event", e))?;
            anchor.dispatch_event(&click).map_err(|e| js_err(url, &format!("clicking the anchor for {name}"), e))?;
        }
        // One more task so the browser has picked up both URLs before `urls` revokes them.
        next_task(url).await?;
        drop(urls);
        meter.finish(files.total_bytes());
        Ok(SaveResult::for_artifacts(artifacts))
    }
}

/// Loads a model from files the user picked (TF.js's `browserFiles`): `json` is the model.json,
/// `weights` the weight files its manifest names, matched by file name as [`crate::files`] does
/// (with TF.js's errors).
pub async fn load_files(json: &web_sys::File, weights: &[web_sys::File]) -> Result<ModelArtifacts> {
    let json = read_file(json).await?;
    let mut named = Vec::with_capacity(weights.len());
    for w in weights {
        named.push(read_file(w).await?);
    }
    crate::files::artifacts_from_files(&json, &named).await
}

async fn read_file(file: &web_sys::File) -> Result<crate::NamedFile> {
    let buf = JsFuture::from(file.array_buffer()).await.map_err(|e| js_err(&file.name(), "reading the file", e))?;
    Ok(crate::NamedFile::new(file.name(), js_sys::Uint8Array::new(&buf).to_vec()))
}
