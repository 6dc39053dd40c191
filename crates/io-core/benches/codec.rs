//! Decode and dequantize throughput (MB/s), and the memcpy of the same bytes as the machine's limit.
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use io_core::{codec, DType, QuantDType, Quantization, WeightData, WeightSpec};

fn bench(c: &mut Criterion) {
    let n = 16 << 20; // 16 Mi elements
    let f32_bytes: Vec<u8> = (0..n).flat_map(|i| (i as f32 * 0.5).to_le_bytes()).collect();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Bytes(f32_bytes.len() as u64));
    g.sample_size(10);
    g.bench_function(BenchmarkId::new("memcpy-limit", "64MiB"), |b| b.iter(|| black_box(f32_bytes.to_vec())));
    let spec = WeightSpec::new("w", vec![n], DType::Float32);
    let data = WeightData::single(f32_bytes.clone());
    g.bench_function(BenchmarkId::new("float32", "64MiB"), |b| {
        b.iter(|| black_box(codec::decode_weights(std::slice::from_ref(&spec), &data).unwrap()))
    });
    // The same bytes in two buffers, split mid-element.
    let split = WeightData::from_chunks(vec![f32_bytes[..1001].to_vec().into(), f32_bytes[1001..].to_vec().into()]);
    g.bench_function(BenchmarkId::new("float32-2-buffers", "64MiB"), |b| {
        b.iter(|| black_box(codec::decode_weights(std::slice::from_ref(&spec), &split).unwrap()))
    });
    g.finish();

    let mut g = c.benchmark_group("dequantize");
    g.sample_size(10);
    let q8: Vec<u8> = (0..n).map(|i| i as u8).collect();
    g.throughput(Throughput::Bytes(q8.len() as u64));
    let mut spec8 = WeightSpec::new("q", vec![n], DType::Float32);
    spec8.quantization = Some(Quantization {
        dtype: QuantDType::Uint8,
        min: Some(Quantization::js_number(-0.5)),
        scale: Some(Quantization::js_number(0.003)),
        original_dtype: None,
    });
    let d8 = WeightData::single(q8);
    g.bench_function(BenchmarkId::new("uint8->float32", "16MiB-in"), |b| {
        b.iter(|| black_box(codec::decode_weights(std::slice::from_ref(&spec8), &d8).unwrap()))
    });
    let h: Vec<u8> = (0..n).flat_map(|i| half::f16::from_f32(i as f32 * 1e-3).to_bits().to_le_bytes()).collect();
    g.throughput(Throughput::Bytes(h.len() as u64));
    let mut spec16 = WeightSpec::new("h", vec![n], DType::Float32);
    spec16.quantization =
        Some(Quantization { dtype: QuantDType::Float16, min: None, scale: None, original_dtype: None });
    let dh = WeightData::single(h);
    g.bench_function(BenchmarkId::new("float16->float32", "32MiB-in"), |b| {
        b.iter(|| black_box(codec::decode_weights(std::slice::from_ref(&spec16), &dh).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
