//! `ModelJson::parse` holds no tree of the document: under a counting global allocator, parsing a
//! 4 MB model.json whose topology is a long array of one-digit numbers (the worst case for a
//! `serde_json::Value` tree: over 50x the document) must allocate, at its peak, less than twice the
//! document beyond what was live before (the document plus the parse stay under 3x its size).
//! One test in its own binary, so no other test allocates meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        System.dealloc(p, layout);
        LIVE.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = System.realloc(p, layout, new_size);
        if !q.is_null() {
            if new_size >= layout.size() {
                let now = LIVE.fetch_add(new_size - layout.size(), Relaxed) + (new_size - layout.size());
                PEAK.fetch_max(now, Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn document(target: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(target + 4096);
    out.extend_from_slice(
        br#"{ "modelTopology": { "class_name": "Sequential", "config": {"layers": []}, "embedded": ["#,
    );
    let mut i: u64 = 0;
    while out.len() < target {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        write!(out, "{}", i.wrapping_mul(2654435761) % 10).unwrap();
        i += 1;
    }
    out.extend_from_slice(
        br#"] }, "format": "layers-model", "convertedBy": null, "userDefinedMetadata": {"ids": [1, 2, 3]},
        "weightsManifest": [{"paths": ["w.bin"], "weights": [{"name": "d/kernel", "shape": [4, 4], "dtype": "float32"}]}]}"#,
    );
    out
}

#[test]
fn parse_peak_memory_is_a_small_multiple_of_the_document() {
    let doc = document(4 << 20);
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let parsed = io_core::ModelJson::parse(&doc, "model.json").expect("parses");
    let extra = PEAK.load(Relaxed) - before;
    let ratio = extra as f64 / doc.len() as f64;
    let Some(io_core::Topology::Json(t)) = &parsed.artifacts.model_topology else { panic!("JSON topology") };
    assert!(t.as_str().starts_with(r#"{"class_name":"Sequential","config":{"layers":[]},"embedded":[0,1,2,"#));
    assert_eq!(parsed.weights_manifest[0].weights[0].name, "d/kernel");
    assert!(
        ratio < 2.0,
        "parsing a {} byte model.json allocated {extra} bytes at its peak ({ratio:.2}x the document)",
        doc.len()
    );
    eprintln!("peak allocation of the parse: {ratio:.2}x the document");
}
