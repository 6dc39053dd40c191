//! Model folders whose files lie: a sparse 5 GB weights file against a 92-byte manifest is refused
//! from its size alone, before any byte is read; FIFOs and devices are refused without being opened
//! for a read that could block or never end.

use std::path::Path;
use std::time::{Duration, Instant};

use futures::executor::block_on;
use io_core::{Error, LoadHandler};
use io_file::FileHandler;

/// A copy of fixture `node_file/a` (92 weight bytes in `weights.bin`) in `dir`, without its weights file.
fn model_folder(dir: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tfjs/node_file/a/model.json");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(src, dir.join("model.json")).unwrap();
}

fn load(dir: &Path) -> (io_core::Result<io_core::ModelArtifacts>, Duration) {
    let t = Instant::now();
    let got = block_on(FileHandler::new(dir).load(&Default::default()));
    (got, t.elapsed())
}

#[test]
fn a_sparse_5_gb_weights_file_fails_at_once_from_its_size() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    model_folder(&dir);
    let f = std::fs::File::create(dir.join("weights.bin")).unwrap();
    f.set_len(5_000_000_000).unwrap();
    drop(f);
    let (got, took) = load(&dir);
    let e = got.expect_err("5 GB against 92 declared bytes");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    match &e {
        Error::WeightsMismatch { file: Some(file), expected: 92, actual: 5_000_000_000, detail, .. } => {
            assert!(file.ends_with("m/weights.bin"), "{file}");
            // The size came from the file's metadata, not from reading it.
            assert!(detail.contains("5000000000 bytes (announced by the medium, before reading)"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

/// Makes a FIFO at `p` with mkfifo(1).
fn mkfifo(p: &Path) {
    let ok = std::process::Command::new("mkfifo").arg(p).status().expect("mkfifo runs").success();
    assert!(ok, "mkfifo {}", p.display());
}

#[test]
fn fifos_and_devices_are_refused_without_blocking() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo_weights = tmp.path().join("fifo");
    model_folder(&fifo_weights);
    mkfifo(&fifo_weights.join("weights.bin"));
    let zero_weights = tmp.path().join("zero");
    model_folder(&zero_weights);
    std::os::unix::fs::symlink("/dev/zero", zero_weights.join("weights.bin")).unwrap();
    let fifo_json = tmp.path().join("fifo-json");
    std::fs::create_dir_all(&fifo_json).unwrap();
    mkfifo(&fifo_json.join("model.json"));
    for (dir, file) in [(&fifo_weights, "weights.bin"), (&zero_weights, "weights.bin"), (&fifo_json, "model.json")] {
        let (got, took) = load(dir);
        let e = got.expect_err("a special file is refused");
        assert!(took < Duration::from_secs(1), "{}: took {took:?}", dir.display());
        let text = e.to_string();
        assert!(text.contains(&format!("'{file}' is not a regular file")), "{text}");
        assert!(text.contains(&dir.join(file).display().to_string()), "names the path: {text}");
    }
}
