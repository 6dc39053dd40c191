//! Importing a dump of a browser's localStorage (the format of `fixtures/tfjs/chromium_localstorage`:
//! `{"items": {key: value, ...}}`), e.g. to bring models saved by TF.js in a browser to a native store.

use io_core::{Error, Result};

use crate::storage::{KvOp, WebStorage};

/// Writes every item of `dump` into `storage` in one batch (all or nothing); returns the count.
pub fn import_dump(storage: &dyn WebStorage, dump: &serde_json::Value) -> Result<usize> {
    let bad = |what: String| Error::invalid_model("localStorage dump", what);
    let items = dump.get("items").and_then(|i| i.as_object()).ok_or_else(|| bad("no 'items' object".into()))?;
    let ops = items
        .iter()
        .map(|(k, v)| {
            Ok(KvOp::Set(k.clone(), v.as_str().ok_or_else(|| bad(format!("value of '{k}' is not a string")))?.into()))
        })
        .collect::<Result<Vec<_>>>()?;
    storage.batch(&ops, "localStorage dump")?;
    Ok(ops.len())
}
