//! safetensors export and import of a 64 MiB model (8 float32 weights of 8 MiB) against a plain copy
//! of the same bytes from one file to another (`std::fs::copy`, the machine's limit for writing them)
//! in the same run, all in one temporary folder.
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use io_core::{DType, ModelArtifacts, Options, WeightData, WeightSpec};
use io_safetensors::SafetensorsHandler;

fn bench(c: &mut Criterion) {
    let per = 2 << 20; // float32 elements per weight: 8 MiB
    let specs: Vec<WeightSpec> = (0..8).map(|i| WeightSpec::new(format!("w{i}"), vec![per], DType::Float32)).collect();
    let bytes: Vec<u8> = (0..8 * per).flat_map(|i| ((i % 1009) as f32).to_le_bytes()).collect();
    let model = ModelArtifacts::new(serde_json::json!({}), specs, WeightData::single(bytes.clone()));
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("weights.bin");
    std::fs::write(&raw, &bytes).unwrap();
    let single = SafetensorsHandler::new(dir.path().join("m.safetensors"));
    let sharded = SafetensorsHandler::new(dir.path().join("s/model.safetensors.index.json"));
    let shards = Options::new().shard_size(16 << 20);
    let none = Options::new();

    let mut g = c.benchmark_group("safetensors");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.sample_size(10);
    g.bench_function(BenchmarkId::new("file-copy-limit", "64MiB"), |b| {
        b.iter(|| std::fs::copy(&raw, dir.path().join("copy.bin")).unwrap())
    });
    // What an export also does: fsync the new file before it is renamed into place.
    g.bench_function(BenchmarkId::new("file-copy-fsync", "64MiB"), |b| {
        b.iter(|| {
            let to = dir.path().join("copy.bin");
            std::fs::copy(&raw, &to).unwrap();
            std::fs::File::open(&to).unwrap().sync_all().unwrap()
        })
    });
    g.bench_function(BenchmarkId::new("export", "64MiB"), |b| b.iter(|| single.save_sync(&model, &none).unwrap()));
    g.bench_function(BenchmarkId::new("export-sharded-16MiB", "64MiB"), |b| {
        b.iter(|| sharded.save_sync(&model, &shards).unwrap())
    });
    g.bench_function(BenchmarkId::new("import", "64MiB"), |b| b.iter(|| black_box(single.load_sync(&none).unwrap())));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
