// TF.js 4.22's http load of one model (tf.io.http(url).load(): model.json, every weight file, weights
// joined), for `cargo xtask bench http`. Prints `bytes=N seconds=S`.
//
// Usage: node http_bench_load.js MODEL_JSON_URL
'use strict';
const tf = require('@tensorflow/tfjs');

async function main() {
  const url = process.argv[2];
  if (!url) throw new Error('usage: node http_bench_load.js MODEL_JSON_URL');
  const t0 = process.hrtime.bigint();
  const artifacts = await tf.io.http(url).load();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`bytes=${artifacts.weightData.byteLength} seconds=${seconds.toFixed(3)}`);
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
