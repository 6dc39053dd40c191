//! Peak memory of `ModelJson::parse` on a 20 MB model.json whose topology holds a long numeric array
//! (the shape of a real report: 21 MB peaking at 3.3 GB). The parse runs in a child process (this same
//! binary, re-run with `MODELIO_PARSE_CHILD=<file>`) so its peak RSS (`VmHWM`) is its own.
//!
//! Prints the document size, the child's RSS before reading the document, its peak RSS, and
//! `(peak - before) / size`: the memory reading plus parsing costs per document byte, the document itself
//! included. `cargo xtask bench json-memory` runs it; Linux only (reads `/proc/self/status`).

use std::io::Write;
use std::process::Command;

const TARGET_BYTES: usize = 20 << 20;

/// A model.json of about `target` bytes: a small Keras topology plus a long array of one-digit
/// numbers, one small weights manifest group, and the usual metadata.
fn document(target: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(target + 4096);
    out.extend_from_slice(br#"{"modelTopology":{"class_name":"Sequential","config":{"name":"s","layers":[{"class_name":"Dense","config":{"units":4,"name":"d"}}]},"keras_version":"tfjs-layers 4.22.0","backend":"tensor_flow.js","embedded":["#);
    let mut i: u64 = 0;
    while out.len() < target {
        if i > 0 {
            out.push(b',');
        }
        // Small integers (e.g. token ids, a mask): the most elements per byte, the worst case for a tree.
        write!(out, "{}", i.wrapping_mul(2654435761) % 10).unwrap();
        i += 1;
    }
    out.extend_from_slice(br#"]},"format":"layers-model","generatedBy":"TensorFlow.js tfjs-layers v4.22.0","convertedBy":null,"weightsManifest":[{"paths":["./w.bin"],"weights":[{"name":"d/kernel","shape":[4,4],"dtype":"float32"}]}]}"#);
    out
}

fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':')?.trim().strip_suffix("kB")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

fn child(path: &str) {
    let before = status_kib("VmRSS");
    let bytes = std::fs::read(path).expect("read document");
    let doc = io_core::ModelJson::parse(&bytes, path).expect("document parses");
    let peak = status_kib("VmHWM");
    std::hint::black_box(&doc);
    println!("{before} {peak}");
}

fn main() {
    if let Ok(path) = std::env::var("MODELIO_PARSE_CHILD") {
        return child(&path);
    }
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and friends: nothing to list.
    }
    let doc = document(TARGET_BYTES);
    let dir = std::env::temp_dir().join(format!("modelio-json-mem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("model.json");
    std::fs::write(&path, &doc).expect("write document");
    let out = Command::new(std::env::current_exe().expect("current exe"))
        .env("MODELIO_PARSE_CHILD", &path)
        .output()
        .expect("run child");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let nums: Vec<u64> = text.split_whitespace().filter_map(|n| n.parse().ok()).collect();
    let [before, peak] = nums[..] else { panic!("unexpected child output {text:?}") };
    let size = doc.len() as f64;
    let used = (peak.saturating_sub(before) * 1024) as f64;
    println!(
        "model.json parse, {:.1} MB document (topology: long numeric array): RSS before read {:.1} MB, peak {:.1} MB; \
         (peak - before) / size = {:.2}x",
        size / 1e6,
        before as f64 * 1024.0 / 1e6,
        peak as f64 * 1024.0 / 1e6,
        used / size
    );
}
