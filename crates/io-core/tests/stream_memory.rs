//! `codec::visit_weight` streams: decoding a 48 MiB weight (plain and quantized) that spans
//! three buffers allocates one small block, not the weight. Measured with a counting allocator
//! (this test binary only).
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use io_core::codec::{visit_weight, Values};
use io_core::{DType, QuantDType, Quantization, WeightData, WeightSpec};

struct Counting;
static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = NOW.fetch_add(l.size(), Ordering::SeqCst) + l.size();
        PEAK.fetch_max(now, Ordering::SeqCst);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        NOW.fetch_sub(l.size(), Ordering::SeqCst);
        System.dealloc(p, l)
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn a_big_weight_is_decoded_in_small_blocks() {
    const N: usize = 12 << 20; // 12 Mi float32 = 48 MiB
    let bytes: Vec<u8> = (0..N).flat_map(|i| ((i % 1000) as f32).to_le_bytes()).collect();
    // Cut at odd places so elements straddle buffers.
    let cuts = [0, 16 << 20 | 3, 33 << 20 | 1, N * 4];
    let data = WeightData::from_chunks(cuts.windows(2).map(|w| bytes[w[0]..w[1]].to_vec().into()).collect());
    drop(bytes);
    let mut q = WeightSpec::new("q", vec![N * 4], DType::Float32);
    q.quantization = Some(Quantization {
        dtype: QuantDType::Uint8,
        min: Some(Quantization::js_number(-1.0)),
        scale: Some(Quantization::js_number(0.5)),
        original_dtype: None,
    });
    for spec in [WeightSpec::new("w", vec![N], DType::Float32), q] {
        let before = NOW.load(Ordering::SeqCst);
        PEAK.store(before, Ordering::SeqCst);
        let (mut count, mut sum) = (0usize, 0f64);
        visit_weight(&spec, &data, 0..N * 4, |v| {
            if let Values::F32(v) = v {
                count += v.len();
                sum += v.iter().map(|&x| x as f64).sum::<f64>();
            }
            Ok(())
        })
        .unwrap();
        let extra = PEAK.load(Ordering::SeqCst) - before;
        assert_eq!(count, spec.num_elements().unwrap(), "{}", spec.name);
        assert!(sum != 0.0);
        assert!(extra < 512 << 10, "{}: {extra} bytes allocated while streaming 48 MiB", spec.name);
    }
}
