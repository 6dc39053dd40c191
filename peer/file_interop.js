// Real TensorFlow.js 4.22 (cpu backend) with tfjs-node's plain-JS `file://` handler, for modelio's
// interop tests (crates/io-file/tests/tfjs_interop.rs). The handler is registered on plain
// @tensorflow/tfjs exactly as tfjs-node's dist/index.js does (registerLoadRouter + registerSaveRouter).
//
//   node file_interop.js predict <model.json> <expected.json> [<model.json> <expected.json> ...]
//     loads each model with tf.loadLayersModel('file://…') (or straight from an http:// URL of a
//     model.json, e.g. an S3 endpoint's bucket), predicts expected.input, prints
//     [{model, shape, got, want, bitExact}] as JSON.
//   node file_interop.js save <src model.json> <dest folder>
//     loads a model and saves it with model.save('file://dest'); prints the save result.
// The handler comes from `npm pack @tensorflow/tfjs-node@4.22.0`, unpacked by `cargo xtask test-all`
// into .cache/tfjs-node (never committed).
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const handler = require(path.join(__dirname, '.cache/tfjs-node/package/dist/io/file_system.js'));

tf.io.registerLoadRouter(handler.nodeFileSystemRouter);
tf.io.registerSaveRouter(handler.nodeFileSystemRouter);

// expected.input.values, or (model c) the input formula `((j % 13) - 6) / 8` over every element j.
function inputValues(expected) {
  const { values, shape } = expected.input;
  if (Array.isArray(values)) return values;
  const formula = String(expected.weightFormulas && expected.weightFormulas.input);
  if (!formula.startsWith('((j % 13) - 6) / 8')) throw new Error('unknown input formula: ' + formula);
  const n = shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, (_, j) => ((j % 13) - 6) / 8);
}

async function predict(pairs) {
  const out = [];
  for (let i = 0; i < pairs.length; i += 2) {
    const expected = JSON.parse(fs.readFileSync(pairs[i + 1], 'utf8'));
    const model = await tf.loadLayersModel(/^https?:\/\//.test(pairs[i]) ? pairs[i] : 'file://' + pairs[i]);
    const x = tf.tensor(inputValues(expected), expected.input.shape, expected.input.dtype);
    const y = model.predict(x);
    const got = Array.from(await y.data());
    const want = expected.output.values;
    const sameShape = JSON.stringify(y.shape) === JSON.stringify(expected.output.shape);
    const bitExact = sameShape && got.length === want.length && got.every((v, k) => Object.is(v, want[k]));
    out.push({ model: pairs[i], shape: y.shape, bitExact, got: got.slice(0, 8), want: want.slice(0, 8) });
  }
  return out;
}

async function save(src, dest) {
  const model = await tf.loadLayersModel('file://' + src);
  return model.save('file://' + dest);
}

async function main() {
  await tf.setBackend('cpu');
  const [cmd, ...args] = process.argv.slice(2);
  let result;
  if (cmd === 'predict' && args.length >= 2 && args.length % 2 === 0) result = await predict(args);
  else if (cmd === 'save' && args.length === 2) result = await save(args[0], args[1]);
  else throw new Error('usage: node file_interop.js predict <model.json> <expected.json>... | save <src> <dest>');
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => {
  process.stderr.write(String((e && e.stack) || e) + '\n');
  process.exit(1);
});
