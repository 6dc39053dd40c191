// The bench models, shared by the page (TF.js's side, and the model.json modelio's side parses) and the
// loopback server (which synthesizes shard bytes from it). Weight data: float32 values, element k of
// all weights one after the other = ((k * 2654435761) mod 2^32) / 2^32 - 0.5 (src/lib.rs `value`).

/// model.json of a model with `bytes` weight bytes: weights `w0, w1, …` of `weightBytes` each (the last
/// shorter), written as shards of `shardBytes` (`group1-shardIofN.bin`).
export function modelJson({ bytes, weightBytes = 1 << 20, shardBytes = 4 << 20 }) {
  const weights = [];
  for (let at = 0, i = 0; at < bytes; at += weightBytes, i++) {
    weights.push({ name: `w${i}`, shape: [Math.min(weightBytes, bytes - at) / 4], dtype: 'float32' });
  }
  const n = Math.ceil(bytes / shardBytes);
  const paths = Array.from({ length: n }, (_, i) => `group1-shard${i + 1}of${n}.bin`);
  return {
    modelTopology: { class_name: 'Sequential', config: { name: 'bench', layers: [] } },
    format: 'layers-model',
    generatedBy: 'modelio browser bench',
    convertedBy: null,
    weightsManifest: [{ paths, weights }],
  };
}

/// Fills `f32` with the values from element index `first` on.
export function fill(f32, first) {
  for (let i = 0; i < f32.length; i++) f32[i] = (Math.imul(first + i, -1640531535) >>> 0) / 4294967296 - 0.5;
  return f32;
}

/// Bytes `[start, end)` of the weight data (both multiples of 4).
export function bytesAt(start, end) {
  return new Uint8Array(fill(new Float32Array((end - start) / 4), start / 4).buffer);
}

/// The total weight bytes of a model.json.
export const totalBytes = (mj) => mj.weightsManifest[0].weights.reduce((s, w) => s + w.shape[0] * 4, 0);
