//! `modelio ls`, `cp`, `mv` and `rm`: TF.js's model management through the facade, so every
//! registered scheme works, in any combination.

use std::collections::BTreeMap;

use modelio::ModelArtifactsInfo;

use modelio::convert::{Conversion, QuantizeTo, Selection};
use modelio::Options;

use crate::cli::{ConvertArgs, GcArgs, LsArgs, RmArgs, TransferArgs};
use crate::failure::CmdResult;
use crate::output::Output;
use crate::source;
use crate::table;

/// `modelio ls [SCHEME://[PREFIX]]`: models of every store that can list, or of one store
/// (optionally only the models at or under the path PREFIX).
pub async fn ls(args: &LsArgs, out: &Output) -> CmdResult {
    let models = match &args.store {
        None => modelio::list_models().await?,
        Some(store) => {
            let url = if store.contains("://") { store.clone() } else { format!("{store}://") };
            let scheme = modelio::ModelUrl::parse(&url)?.scheme;
            let found = modelio::registry().list_under(&url).await?;
            found.into_iter().map(|(path, info)| (format!("{scheme}://{path}"), info)).collect()
        }
    };
    if args.json {
        return out.json(&models);
    }
    out.text(&ls_table(&models))
}

fn ls_table(models: &BTreeMap<String, ModelArtifactsInfo>) -> String {
    if models.is_empty() {
        return String::new();
    }
    let rows: Vec<Vec<String>> = models
        .iter()
        .map(|(url, info)| {
            vec![
                url.clone(),
                info.date_saved.clone(),
                info.model_topology_type.clone(),
                info.weight_data_bytes.map(|b| b.to_string()).unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table::render(&["url", "saved", "topology", "weight bytes"], &rows)
}

/// `modelio cp SRC DST`.
pub async fn cp(args: &TransferArgs, out: &Output) -> CmdResult {
    let task = out.progress.task(format!("copying {} to {}", args.src, args.dst));
    let opts = with_conversion(source::options(&task), &args.convert);
    let info = task.run(modelio::copy_with(&args.src, &args.dst, &opts)).await?;
    task.finish("copied", info.weight_data_bytes);
    out.summary(&format!("copied {} -> {} ({})", args.src, args.dst, describe(&info)))
}

/// `modelio mv SRC DST`.
pub async fn mv(args: &TransferArgs, out: &Output) -> CmdResult {
    let task = out.progress.task(format!("moving {} to {}", args.src, args.dst));
    let opts = with_conversion(source::options(&task), &args.convert);
    let info = task.run(modelio::move_with(&args.src, &args.dst, &opts)).await?;
    task.finish("moved", info.weight_data_bytes);
    out.summary(&format!("moved {} -> {} ({})", args.src, args.dst, describe(&info)))
}

/// The conversion and shard size the flags ask for, applied by the save (`Options::convert`).
pub fn with_conversion(opts: Options, args: &ConvertArgs) -> Options {
    let mut c = Conversion::new();
    for (flag, to) in [
        (&args.quantize_float16, QuantizeTo::Float16),
        (&args.quantize_uint8, QuantizeTo::Uint8),
        (&args.quantize_uint16, QuantizeTo::Uint16),
    ] {
        match flag {
            None => {}
            Some(None) => c = c.quantize(to, Selection::All),
            Some(Some(patterns)) => c = c.quantize(to, Selection::patterns(patterns)),
        }
    }
    if args.dequantize {
        c = c.dequantize();
    }
    let opts = opts.convert(c);
    match args.shard_size {
        None => opts,
        Some(n) => opts.shard_size(n.unwrap_or(modelio::DEFAULT_SHARD_SIZE)),
    }
}

/// `modelio rm URL`.
pub async fn rm(args: &RmArgs, out: &Output) -> CmdResult {
    let task = out.progress.task(format!("removing {}", args.url));
    let info = task.run(modelio::remove_model(&args.url)).await?;
    task.finish("removed", None);
    out.summary(&format!("removed {} ({})", args.url, describe(&info)))
}

/// `modelio gc URL`: prints each deleted object and a summary line.
pub async fn gc(args: &GcArgs, out: &Output) -> CmdResult {
    let task = out.progress.task(format!("collecting under {}", args.url));
    let got = task.run(modelio::registry().collect_garbage(&args.url, args.older_than)).await?;
    task.finish("collected", None);
    // The store's keys are paths after `scheme://` (the registered schemes of the CLI mount nothing).
    let scheme = args.url.split_once("://").map_or("", |(s, _)| s);
    for key in &got.objects {
        out.text(&format!("deleted {scheme}://{key}\n"))?;
    }
    out.summary(&format!("collected {} objects ({} bytes) under {}", got.objects.len(), got.bytes, args.url))
}

fn describe(info: &ModelArtifactsInfo) -> String {
    format!("{} weight bytes", info.weight_data_bytes.unwrap_or(0))
}
