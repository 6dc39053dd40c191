//! The command line, as clap parses it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Inspect, copy, move, list and serve TensorFlow.js models through modelio's URL schemes.
///
/// URLs are the strings TF.js uses: `file://./my-model`, `indexeddb://my-model`,
/// `localstorage://my-model`, `downloads://my-model`, `http(s)://host/path/model.json`.
/// Native stores: `localstorage://` and `indexeddb://` live in the profile folder (`--home`, else
/// `MODELIO_HOME`, else the platform's data folder); `downloads://` writes to `MODELIO_DOWNLOADS_DIR`,
/// else the user's Downloads folder. Exit status: 0 success, 1 failure (one line on stderr), 2 usage error.
#[derive(Debug, Parser)]
#[command(name = "modelio", version)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// No progress bars and no summary lines (results such as `ls` and `info` are still printed).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// The profile folder holding the native `localstorage://` and `indexeddb://` stores
    /// (sets `MODELIO_HOME` for this run).
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// A header sent with every http(s) request of this command, as curl's -H: `NAME: VALUE`
    /// (repeat for several). A token for `modelio serve` is better given as `MODELIO_HTTP_TOKEN`,
    /// which is sent as `Authorization: Bearer TOKEN` and stays out of the process list.
    #[arg(short = 'H', long = "header", global = true, value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Describe a model: format, producer, topology, weights (and their value statistics).
    Info(InfoArgs),
    /// List the models of every store that can list, or of one store (`tf.io.listModels`).
    Ls(LsArgs),
    /// Copy a model from any scheme to any scheme (`tf.io.copyModel`), optionally converting its
    /// weights as the TF.js converter does (quantize, dequantize, shard).
    Cp(TransferArgs),
    /// Move a model; the source is removed only after the copy succeeded (`tf.io.moveModel`).
    Mv(TransferArgs),
    /// Remove a model from its store (`tf.io.removeModel`).
    Rm(RmArgs),
    /// Check a model: every file's size against the manifest, every weight decodable, and the
    /// sha256 of each file (printed as `sha256sum` does; checked against `--digests`).
    Verify(VerifyArgs),
    /// Delete what interrupted saves and replaced versions left in a bucket (`s3://`, `gs://`,
    /// `az://`): version-named weight objects no model.json names, older than `--older-than`; the
    /// current and the previous version of every model are kept.
    Gc(GcArgs),
    /// Serve a model store over HTTP for TF.js's `tf.io.http` saves and `loadLayersModel` loads.
    Serve(Box<ServeArgs>),
}

/// `modelio info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The model, e.g. `file://./my-model` or `indexeddb://my-model`.
    pub url: String,
    /// Print one JSON document instead of text (schema in the README).
    #[arg(long)]
    pub json: bool,
    /// Also decode (and dequantize) every weight: element count, min, max, mean and sum.
    #[arg(long)]
    pub stats: bool,
}

/// `modelio ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only this store, e.g. `indexeddb://` (or `indexeddb`). Default: every store that can list.
    pub store: Option<String>,
    /// Print one JSON object `{ "scheme://path": ModelArtifactsInfo }` instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `modelio cp` and `modelio mv`.
#[derive(Debug, Args)]
pub struct TransferArgs {
    /// Where the model is.
    pub src: String,
    /// Where it goes.
    pub dst: String,
    /// How the weights are converted on the way.
    #[command(flatten)]
    pub convert: ConvertArgs,
}

/// The converter's weight options (`tensorflowjs_converter --quantize_* / --weight_shard_size_bytes`).
/// Values attach with `=`: `--quantize-uint8='emb/*,*/kernel'`; a bare flag applies to every
/// weight no other flag's patterns select (at most one bare quantize flag). Only float32 weights
/// are quantized, as the converter does.
#[derive(Debug, Args, Default)]
pub struct ConvertArgs {
    /// Quantize to uint8 (affine, 1 byte a value): every weight, or those matching the
    /// comma-separated wildcard PATTERNS (`*`, `?`, `[seq]`; `*` matches `/` too).
    #[arg(long, value_name = "PATTERNS", num_args = 0..=1, require_equals = true)]
    pub quantize_uint8: Option<Option<String>>,
    /// Quantize to uint16 (affine, 2 bytes a value): every weight, or those matching PATTERNS.
    #[arg(long, value_name = "PATTERNS", num_args = 0..=1, require_equals = true)]
    pub quantize_uint16: Option<Option<String>>,
    /// Quantize to float16 (2 bytes a value): every weight, or those matching PATTERNS.
    #[arg(long, value_name = "PATTERNS", num_args = 0..=1, require_equals = true)]
    pub quantize_float16: Option<Option<String>>,
    /// Turn every quantized weight back into float32 (int32 for int32 weights).
    #[arg(long, conflicts_with_all = ["quantize_uint8", "quantize_uint16", "quantize_float16"])]
    pub dequantize: bool,
    /// Write the weights as converter-style `group1-shard{I}of{N}.bin` files of at most BYTES each
    /// (bare: the converter's 4 MiB) where the destination stores files (`file://`).
    #[arg(long, value_name = "BYTES", num_args = 0..=1, require_equals = true)]
    pub shard_size: Option<Option<usize>>,
}

/// `modelio verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The model, e.g. `file://./my-model` or `https://host/model.json`.
    pub url: String,
    /// A digest file of `<sha256>  <file>` lines (as `sha256sum` writes them, names relative to
    /// the model's folder); every file of the model must be listed and match.
    #[arg(long, value_name = "FILE")]
    pub digests: Option<PathBuf>,
}

/// `modelio rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// The model to remove, e.g. `localstorage://my-model`.
    pub url: String,
}

/// `modelio gc`.
#[derive(Debug, Args)]
pub struct GcArgs {
    /// A model or a folder of models, e.g. `s3://bucket/team` or `s3://bucket/`.
    pub url: String,
    /// Only objects written at least this long ago (a younger one may belong to a save in
    /// progress), e.g. `1h`, `30m`, `0s`.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "1h")]
    pub older_than: Duration,
}

/// `modelio serve`.
///
/// Security defaults: loopback only; reads open; writes need a write token (`--token-file`, or
/// `MODELIO_TOKEN`, else one is made at start and printed on stdout as `token: TOKEN`); the Host header
/// must name this server; pages on other origins may read but not write unless listed with
/// `--cors-origin`. Logs go to stderr (`RUST_LOG` filters them, default `info`).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The store models are saved to and loaded from: a store URL prefix such as `file://./models`
    /// or `indexeddb://` (model NAME lives at `{store}/NAME`).
    #[arg(long, default_value = modelio_server::DEFAULT_STORE, value_name = "URL")]
    pub store: String,
    /// Address to listen on (port 0 picks a free port; the first stdout line says which).
    #[arg(long, default_value = modelio_server::DEFAULT_ADDR)]
    pub addr: SocketAddr,
    /// Largest accepted upload, in bytes (bigger uploads get HTTP 413).
    #[arg(long, value_name = "BYTES", default_value_t = modelio_server::DEFAULT_MAX_UPLOAD_BYTES)]
    pub max_upload_bytes: u64,
    /// Origins whose pages may write (and read) through CORS, e.g. `https://app.example`; repeat for
    /// several; `*` for any. Default: none may write; any origin may read.
    #[arg(long = "cors-origin", value_name = "ORIGIN", conflicts_with = "no_cors")]
    pub cors_origins: Vec<String>,
    /// Send no CORS headers: pages on other origins may neither read nor write.
    #[arg(long)]
    pub no_cors: bool,
    /// Largest accepted model.json part of an upload, in bytes (bigger: HTTP 413).
    #[arg(long, value_name = "BYTES", default_value_t = modelio_server::DEFAULT_MAX_MODEL_JSON_BYTES)]
    pub max_model_json_bytes: u64,
    /// Most parts one upload may have, model.json included (more: HTTP 413).
    #[arg(long, value_name = "N", default_value_t = modelio_server::DEFAULT_MAX_UPLOAD_PARTS)]
    pub max_upload_parts: usize,
    /// Most weight paths an uploaded manifest may name (more: HTTP 413).
    #[arg(long, value_name = "N", default_value_t = modelio_server::DEFAULT_MAX_MANIFEST_PATHS)]
    pub max_manifest_paths: usize,
    /// A quota on the bytes the store holds, all kept versions included (an upload over it: HTTP 507).
    #[arg(long, value_name = "BYTES")]
    pub max_store_bytes: Option<u64>,
    /// How many versions of each model to keep (the latest included; at least 1).
    #[arg(long, value_name = "N", default_value_t = modelio_server::DEFAULT_KEEP_VERSIONS)]
    pub keep_versions: usize,
    /// How long a version beyond --keep-versions stays after a newer save replaced it, so loads that
    /// read its model.json can still fetch its weights (deleted by a later save).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "10s")]
    pub version_grace: Duration,
    /// Tokens, one a line: `read|write TOKEN [NAME-PREFIX]` (`#` comments). A write token also reads;
    /// a prefix limits the token to the models named PREFIX or PREFIX/...
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Let anyone write and delete without a token (reads are open anyway, unless --require-read-token).
    #[arg(long, conflicts_with = "read_only")]
    pub allow_anonymous_writes: bool,
    /// Reads (GET, HEAD, /healthz, /metrics) need a read or write token too.
    #[arg(long)]
    pub require_read_token: bool,
    /// Refuse every write and delete (403).
    #[arg(long)]
    pub read_only: bool,
    /// A further Host name this server answers for (`NAME` with any port, or `NAME:PORT`); repeat for
    /// several; `*` turns the Host check off. Always allowed: the bound address, localhost, 127.0.0.1
    /// and [::1] with the bound port.
    #[arg(long = "allowed-host", value_name = "HOST")]
    pub allowed_hosts: Vec<String>,
    /// How long a new connection may take to send its request head (e.g. `10s`, `500ms`).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "10s")]
    pub header_read_timeout: Duration,
    /// How long a connection may stay idle between requests.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "15s")]
    pub keep_alive_timeout: Duration,
    /// How long an upload may send nothing before it is cut off (408).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "30s")]
    pub body_idle_timeout: Duration,
    /// How long a client may take none of an answer's bytes before its connection is closed (slow reads).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "30s")]
    pub send_timeout: Duration,
    /// Most connections served at once (more wait until one closes).
    #[arg(long, value_name = "N", default_value_t = modelio_server::conn::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Most uploads in progress at once (more get 503 with Retry-After).
    #[arg(long, value_name = "N", default_value_t = modelio_server::conn::DEFAULT_MAX_CONCURRENT_UPLOADS)]
    pub max_concurrent_uploads: usize,
    /// How long Ctrl-C / SIGTERM waits for requests in progress before dropping them.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "10s")]
    pub shutdown_grace: Duration,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Log format on stderr: `text` or `json` (one object a line). `RUST_LOG` filters (default `info`).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}
