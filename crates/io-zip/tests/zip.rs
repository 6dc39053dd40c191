//! zip:// on real files: the TF.js fixtures round trip (one weights.bin and shards), zipped
//! folders, and hostile archives (names leaving the archive, declared sizes over the manifest,
//! lying sizes, several model.json files).

use std::io::Write;
use std::path::Path;

use io_core::artifacts::BROWSER_ORDER;
use io_core::testkit::fixtures;
use io_core::{Error, ModelArtifacts, ModelJson, Options, Registry};
use io_zip::ZipHandler;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

fn registry() -> Registry {
    let r = Registry::new();
    io_zip::register(&r);
    r
}

fn json(a: &ModelArtifacts) -> String {
    String::from_utf8(ModelJson::for_artifacts(a, vec![]).to_bytes(BROWSER_ORDER)).unwrap()
}

#[test]
fn fixtures_round_trip_one_file_and_shards() {
    let dir = tempfile::tempdir().unwrap();
    let r = registry();
    for name in fixtures::MODELS {
        let model = fixtures::model(name);
        for shard in [None, Some(if name == "c" { 1 << 20 } else { 64 })] {
            let url = format!("zip://{}/{name}-{shard:?}.zip", dir.path().display());
            let opts = shard.map_or(Options::new(), |n| Options::new().shard_size(n));
            futures::executor::block_on(r.save_with(&url, &model, &opts)).unwrap();
            let back = futures::executor::block_on(r.load(&url)).unwrap();
            assert_eq!(json(&back), json(&model), "{url}");
            assert_eq!(back.weight_data.to_vec(), model.weight_data.to_vec(), "{url}");
        }
    }
    // Saving again replaces the file; no temporary files stay behind.
    let url = format!("zip://{}/a-None.zip", dir.path().display());
    futures::executor::block_on(r.save(&url, &fixtures::model("b"))).unwrap();
    assert_eq!(json(&futures::executor::block_on(r.load(&url)).unwrap()), json(&fixtures::model("b")));
    let left = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .count();
    assert_eq!(left, 0);
}

/// Writes a zip of (name, bytes, stored?) entries.
fn write_zip(path: &Path, entries: &[(&str, &[u8], bool)]) {
    let mut z = ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, data, stored) in entries {
        let m = if *stored { CompressionMethod::Stored } else { CompressionMethod::Deflated };
        z.start_file(*name, SimpleFileOptions::default().compression_method(m)).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap();
}

const ONE_WEIGHT: &str = r#"{"modelTopology":{},"weightsManifest":[{"paths":["./w.bin"],"weights":[{"name":"w","shape":[4],"dtype":"float32"}]}]}"#;

fn load(path: &Path) -> io_core::Result<ModelArtifacts> {
    ZipHandler::new(path).load_sync(&Options::new())
}

#[test]
fn zipped_folder_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.zip");
    write_zip(&p, &[("m/", b"", true), ("m/model.json", ONE_WEIGHT.as_bytes(), false), ("m/w.bin", &[1; 16], false)]);
    assert_eq!(load(&p).unwrap().weight_data.to_vec(), vec![1; 16]);
    // Two model.json files: ambiguous.
    write_zip(&p, &[("a/model.json", ONE_WEIGHT.as_bytes(), false), ("b/model.json", ONE_WEIGHT.as_bytes(), false)]);
    assert!(load(&p).unwrap_err().to_string().contains("several model.json"));
    // None at all.
    write_zip(&p, &[("w.bin", &[1; 16], true)]);
    assert!(matches!(load(&p), Err(Error::NotFound { .. })));
}

#[test]
fn names_leaving_the_archive_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.zip");
    for evil in ["../evil.bin", "/etc/passwd", "a/../../b", "c:\\x"] {
        write_zip(&p, &[("model.json", ONE_WEIGHT.as_bytes(), false), ("w.bin", &[0; 16], true), (evil, b"x", true)]);
        let err = load(&p).unwrap_err().to_string();
        assert!(err.contains("refused"), "{evil}: {err}");
    }
    // A manifest path leaving the folder.
    let out = ONE_WEIGHT.replace("./w.bin", "../w.bin");
    write_zip(&p, &[("m/model.json", out.as_bytes(), false), ("w.bin", &[0; 16], true)]);
    assert!(load(&p).is_err());
}

#[test]
fn entry_sizes_are_held_to_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.zip");
    // A deflated entry of 64 MiB of zeros (a small bomb) where the manifest declares 16 bytes:
    // refused from its declared size, before reading.
    let big = vec![0u8; 64 << 20];
    write_zip(&p, &[("model.json", ONE_WEIGHT.as_bytes(), false), ("w.bin", &big, false)]);
    let err = load(&p).unwrap_err();
    assert!(err.to_string().contains("announced by the medium"), "{err}");
    // A short entry.
    write_zip(&p, &[("model.json", ONE_WEIGHT.as_bytes(), false), ("w.bin", &[0; 15], true)]);
    assert!(load(&p).is_err());
    // A stored entry whose central directory lies about its size (15 declared, 16 stored).
    write_zip(&p, &[("model.json", ONE_WEIGHT.as_bytes(), false), ("w.bin", &[0; 16], true)]);
    let mut bytes = std::fs::read(&p).unwrap();
    let sig = [0x50, 0x4b, 0x01, 0x02];
    let at = (0..bytes.len() - 46)
        .filter(|&i| bytes[i..i + 4] == sig)
        .find(|&i| {
            let n = u16::from_le_bytes([bytes[i + 28], bytes[i + 29]]) as usize;
            &bytes[i + 46..i + 46 + n] == b"w.bin"
        })
        .unwrap();
    bytes[at + 24..at + 28].copy_from_slice(&15u32.to_le_bytes());
    std::fs::write(&p, &bytes).unwrap();
    let err = load(&p).unwrap_err();
    assert!(err.to_string().contains("zip bomb"), "{err}");
    // The honest archive loads.
    write_zip(&p, &[("model.json", ONE_WEIGHT.as_bytes(), false), ("w.bin", &[0; 16], false)]);
    assert_eq!(load(&p).unwrap().weight_data.len(), 16);
}

#[test]
fn model_json_is_capped_and_non_files_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.zip");
    let padded = format!("{ONE_WEIGHT}{}", " ".repeat(4096));
    write_zip(&p, &[("model.json", padded.as_bytes(), false), ("w.bin", &[0; 16], true)]);
    let small = Options::new().limits(io_core::Limits { max_model_json_bytes: 1024, ..io_core::Limits::default() });
    assert!(matches!(ZipHandler::new(&p).load_sync(&small), Err(Error::TooLarge { .. })));
    assert!(load(dir.path()).is_err());
    assert!(matches!(load(&dir.path().join("none.zip")), Err(Error::NotFound { .. })));
}
