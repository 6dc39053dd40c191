//! Quantize and dequantize throughput (`Conversion::apply`, MB/s of float32 weights), against a
//! memcpy of the same bytes into a fresh buffer in the same run (the machine's limit).
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use io_core::convert::{Conversion, QuantizeTo, Selection};
use io_core::{DType, ModelArtifacts, WeightData, WeightSpec};

fn bench(c: &mut Criterion) {
    let n = 16 << 20; // 16 Mi float32 = 64 MiB
    let bytes: Vec<u8> = (0..n).flat_map(|i| (((i * 7919) % 20011) as f32 * 1e-4 - 1.0).to_le_bytes()).collect();
    let model = ModelArtifacts::new(
        serde_json::json!({}),
        vec![WeightSpec::new("w", vec![n], DType::Float32)],
        WeightData::single(bytes.clone()),
    );
    let mut g = c.benchmark_group("convert");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.sample_size(10);
    g.bench_function(BenchmarkId::new("memcpy-limit", "64MiB"), |b| b.iter(|| black_box(bytes.to_vec())));
    for to in [QuantizeTo::Uint8, QuantizeTo::Uint16, QuantizeTo::Float16] {
        let conv = Conversion::new().quantize(to, Selection::All);
        g.bench_function(BenchmarkId::new(format!("quantize-{to}"), "64MiB-float32"), |b| {
            b.iter(|| black_box(conv.apply(&model).unwrap()))
        });
        // Dequantize back to the same 64 MiB of float32 (throughput counted by the float32 bytes).
        let quantized = conv.apply(&model).unwrap();
        let back = Conversion::new().dequantize();
        g.bench_function(BenchmarkId::new(format!("dequantize-{to}"), "64MiB-float32"), |b| {
            b.iter(|| black_box(back.apply(&quantized).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
