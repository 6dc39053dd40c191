//! Importing a dump of a browser's IndexedDB database (the format of
//! `fixtures/tfjs/chromium_indexeddb`: `{"objectStores": {name: {"records": [...]}}}`, see
//! [`Value::from_dump`]), e.g. to bring models saved by TF.js in a browser to a native store.

use io_core::{Error, Result};

use crate::database::{IdbDatabase, Value, WriteOp};
use crate::layout::{INFO_STORE, MODELS_STORE};

/// Writes every record of TF.js's two object stores in `dump` into `db` in one transaction;
/// returns the number of records.
pub async fn import_dump(db: &dyn IdbDatabase, dump: &serde_json::Value) -> Result<usize> {
    let mut ops = Vec::new();
    for store in [INFO_STORE, MODELS_STORE] {
        let records = dump["objectStores"][store]["records"]
            .as_array()
            .ok_or_else(|| Error::invalid_model("IndexedDB dump", format!("no records array for '{store}'")))?;
        for r in records {
            ops.push(WriteOp::Put { store, value: Value::from_dump(r)? });
        }
    }
    let n = ops.len();
    db.write(ops, "IndexedDB dump").await?;
    Ok(n)
}
