// TF.js 4.22 (Node, cpu backend) against a modelio server: for every fixture model, load it from the
// server, save it back to the server with model.save('http://…'), load that copy with
// tf.loadLayersModel and predict the fixture's input. Prints one line `RESULT {json}`.
//
// Usage: node http_interop.js BASE_URL FIXTURES_DIR   (BASE_URL like http://127.0.0.1:PORT)
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

// The input values, listed or given by the fixture's `input` formula ((j % 13) - 6) / 8.
function inputValues(input) {
  if (Array.isArray(input.values)) return input.values;
  const n = input.shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, (_, j) => ((j % 13) - 6) / 8);
}

async function roundTrip(base, fixtures, m) {
  const exp = JSON.parse(fs.readFileSync(path.join(fixtures, 'models', m, 'expected.json'), 'utf8'));
  const src = await tf.loadLayersModel(`${base}/models/src/${m}/model.json`);
  const saved = await src.save(`${base}/models/tfjs/${m}`, { includeOptimizer: m === 'd' });
  const back = await tf.loadLayersModel(`${base}/models/tfjs/${m}/model.json`);
  const y = back.predict(tf.tensor(inputValues(exp.input), exp.input.shape, 'float32'));
  const got = Array.from(await y.data());
  const want = exp.output.values.map(Math.fround);
  const bitExact = got.length === want.length && got.every((v, i) => Object.is(v, want[i]));
  const maxAbsDiff = got.reduce((d, v, i) => Math.max(d, Math.abs(v - want[i])), 0);
  return {
    saveStatus: (saved.responses || []).map((r) => r.status),
    shape: y.shape,
    bitExact,
    maxAbsDiff,
    optimizer: back.optimizer ? back.optimizer.getClassName() : null,
  };
}

async function main() {
  const [base, fixtures] = process.argv.slice(2);
  if (!base || !fixtures) throw new Error('usage: node http_interop.js BASE_URL FIXTURES_DIR');
  await tf.setBackend('cpu');
  const out = {};
  for (const m of ['a', 'b', 'c', 'd']) out[m] = await roundTrip(base, fixtures, m);
  console.log('RESULT ' + JSON.stringify(out));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
