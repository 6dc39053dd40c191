// `modelio serve` against pages in real headless Chromium (playwright-core, Debian's /usr/bin/chromium)
// with real TF.js 4.22 on the page. Two page origins on loopback: ALLOWED (given with --cors-origin)
// and FOREIGN (not). Checks, each against what the server then holds (read from Node, not the page):
//   - a foreign page cannot save with TF.js (with or without a token), cannot delete, and a "simple"
//     no-cors multipart POST (no preflight, the response unreadable to the page) stores nothing;
//   - a page on the allowed origin without a token is refused (401);
//   - a page on the allowed origin with a write token saves with TF.js's http handler, loads the model
//     back and predicts exactly what the model it saved predicts.
// Run by `cargo xtask test-all` after Chromium is installed:
//   node crates/modelio-cli/tests/browser/origins.mjs <path of the modelio binary>
// Needs MODELIO_PEER_DIR (peer/ with node_modules: playwright-core, @tensorflow/tfjs).
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const peer = process.env.MODELIO_PEER_DIR || path.resolve(here, '../../../../peer');
const require = createRequire(path.join(peer, 'package.json'));
const { chromium } = require('playwright-core');
const tfjs = path.join(peer, 'node_modules/@tensorflow/tfjs/dist/tf.min.js');
const bin = process.argv[2];
if (!bin) throw new Error('usage: origins.mjs <modelio binary>');

const fail = (msg) => { throw new Error(msg); };

// A page origin: an empty HTML page at '/'.
async function pageOrigin() {
  const s = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>page</title>'));
  await new Promise(r => s.listen(0, '127.0.0.1', r));
  return { server: s, origin: `http://127.0.0.1:${s.address().port}` };
}

const work = await mkdtemp(path.join(tmpdir(), 'modelio-origins-'));
const allowed = await pageOrigin();
const foreign = await pageOrigin();
const token = 'browser-write-token-0123456789abcdef';
await writeFile(path.join(work, 'tokens.txt'), `write ${token}\n`);

// `modelio serve` on a fresh store with `args`; resolves to its base URL.
const servers = [];
async function startServe(args) {
  const store = await mkdtemp(path.join(work, 'store-'));
  const child = spawn(bin, ['serve', '--addr', '127.0.0.1:0', '--store', `file://${store}`, '--cors-origin', allowed.origin, '-q', ...args],
    { stdio: ['ignore', 'pipe', 'ignore'] });
  servers.push(child);
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', l => l.startsWith('listening on ') ? resolve(l.slice('listening on '.length).trim()) : reject(new Error(`first line: ${l}`)));
    child.once('exit', code => reject(new Error(`modelio serve exited with ${code}`)));
  });
}
let base = await startServe(['--token-file', path.join(work, 'tokens.txt')]);

// What the server holds, asked from Node (no Origin header).
const status = async (p, at = base) => (await fetch(`${at}${p}`)).status;

const profile = await mkdtemp(path.join(tmpdir(), 'modelio-origins-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const open = async (origin) => {
    const page = await browser.newPage();
    await page.goto(origin + '/');
    await page.addScriptTag({ path: tfjs });
    await page.evaluate(async () => {
      await tf.setBackend('cpu');
      // A small model with fixed weights, the same on every page.
      window.makeModel = () => {
        const m = tf.sequential();
        m.add(tf.layers.dense({ units: 3, inputShape: [4], activation: 'relu', kernelInitializer: 'glorotUniform', name: 'd1' }));
        m.add(tf.layers.dense({ units: 2, name: 'd2' }));
        m.setWeights(m.getWeights().map((w, i) => tf.tensor(Array.from({ length: w.size }, (_, j) => Math.sin(1 + i * 7 + j)), w.shape)));
        return m;
      };
      window.input = () => tf.tensor2d([[0.5, -1, 2, 0.25], [1, 2, 3, 4]]);
      // The multipart body TF.js's http save sends, for the small model.
      window.makeForm = async () => {
        const form = new FormData();
        await makeModel().save(tf.io.withSaveHandler(async (a) => {
          form.append('model.json', new Blob([JSON.stringify({ modelTopology: a.modelTopology, format: 'layers-model', weightsManifest: [{ paths: ['./model.weights.bin'], weights: a.weightSpecs }] })], { type: 'application/json' }), 'model.json');
          form.append('model.weights.bin', new Blob([a.weightData], { type: 'application/octet-stream' }), 'model.weights.bin');
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }));
        return form;
      };
    });
    return page;
  };

  // The allowed origin: refused without a token; with one, TF.js saves, loads back, predicts the same.
  const good = await open(allowed.origin);
  const noToken = await good.evaluate(async (url) => {
    try { await makeModel().save(url); return 'saved'; } catch (e) { return String(e); }
  }, `${base}/models/good`);
  if (!noToken.includes('401')) fail(`allowed origin without a token: ${noToken}`);
  if (await status('/models/good/model.json') !== 404) fail('a refused save stored something');
  const same = await good.evaluate(async ({ url, token }) => {
    const m = makeModel();
    const headers = { Authorization: `Bearer ${token}` };
    const r = await m.save(tf.io.http(url, { requestInit: { headers } }));
    if (!r.responses || r.responses[0].status !== 200) return `save answered ${JSON.stringify(r.responses?.map(x => x.status))}`;
    const back = await tf.loadLayersModel(`${url}/model.json`);
    const a = await m.predict(input()).data();
    const b = await back.predict(input()).data();
    return a.length === b.length && a.every((v, i) => Object.is(v, b[i])) ? 'same' : `predictions differ: ${a} vs ${b}`;
  }, { url: `${base}/models/good`, token });
  if (same !== 'same') fail(`allowed origin with a token: ${same}`);
  if (await status('/models/good/model.json') !== 200) fail('the allowed save is not stored');

  // The foreign origin: TF.js's save fails with or without the token, a delete fails, and a no-cors
  // simple POST stores nothing.
  const evil = await open(foreign.origin);
  const tries = await evil.evaluate(async ({ base, token }) => {
    const out = {};
    const attempt = async (k, f) => { try { await f(); out[k] = 'succeeded'; } catch (e) { out[k] = String(e); } };
    await attempt('save', () => makeModel().save(`${base}/models/evil`));
    await attempt('saveWithToken', () => makeModel().save(tf.io.http(`${base}/models/evil`, { requestInit: { headers: { Authorization: `Bearer ${token}` } } })));
    await attempt('delete', async () => {
      const r = await fetch(`${base}/models/good`, { method: 'DELETE' });
      if (!r.ok) throw new Error(`status ${r.status}`);
    });
    // The request TF.js's save sends, as a form would: no preflight; the page cannot read the answer.
    const form = await makeForm();
    await attempt('noCorsPost', () => fetch(`${base}/models/evil-simple`, { method: 'POST', mode: 'no-cors', body: form }));
    await attempt('noCorsDelete', () => fetch(`${base}/models/good`, { method: 'DELETE', mode: 'no-cors' }));
    return out;
  }, { base, token });
  for (const k of ['save', 'saveWithToken', 'delete']) {
    if (tries[k] === 'succeeded') fail(`foreign origin: ${k} succeeded`);
  }
  if (await status('/models/evil/model.json') !== 404) fail('a foreign page stored a model');
  if (await status('/models/evil-simple/model.json') !== 404) fail('a foreign no-cors POST stored a model');
  if (await status('/models/good/model.json') !== 200) fail('a foreign page deleted a model');

  // Reads stay open to any origin (the default): the foreign page can load the model.
  const read = await evil.evaluate(async (url) => {
    const m = await tf.loadLayersModel(url);
    return m.predict(input()).shape.join('x');
  }, `${base}/models/good/model.json`);
  if (read !== '2x2') fail(`foreign read: ${read}`);

  // Without tokens (--allow-anonymous-writes) the Origin check alone stands between a foreign page
  // and the store: TF.js's save, a no-cors simple POST and a DELETE from the foreign page store and
  // delete nothing; the allowed page saves without a token.
  const open2 = await startServe(['--allow-anonymous-writes']);
  const anonGood = await good.evaluate(async (url) => {
    try { await makeModel().save(url); return 'saved'; } catch (e) { return String(e); }
  }, `${open2}/models/good`);
  if (anonGood !== 'saved') fail(`allowed origin, anonymous writes: ${anonGood}`);
  // The same form the foreign page posts below is a valid upload from the allowed origin.
  await good.evaluate(async (url) => { await fetch(url, { method: 'POST', mode: 'no-cors', body: await makeForm() }); }, `${open2}/models/simple-ok`);
  if (await status('/models/simple-ok/model.json', open2) !== 200) fail('the no-cors form upload from the allowed origin was not stored');
  const anonEvil = await evil.evaluate(async (base) => {
    const out = {};
    const attempt = async (k, f) => { try { await f(); out[k] = 'succeeded'; } catch (e) { out[k] = String(e); } };
    await attempt('save', () => makeModel().save(`${base}/models/evil`));
    const form = await makeForm();
    await attempt('noCorsPost', () => fetch(`${base}/models/evil-simple`, { method: 'POST', mode: 'no-cors', body: form }));
    await attempt('delete', async () => {
      const r = await fetch(`${base}/models/good`, { method: 'DELETE' });
      if (!r.ok) throw new Error(`status ${r.status}`);
    });
    return out;
  }, open2);
  if (anonEvil.save === 'succeeded' || anonEvil.delete === 'succeeded') fail(`foreign origin, anonymous writes: ${JSON.stringify(anonEvil)}`);
  if (await status('/models/evil/model.json', open2) !== 404) fail('anonymous writes: a foreign page stored a model');
  if (await status('/models/evil-simple/model.json', open2) !== 404) fail('anonymous writes: a foreign no-cors POST stored a model');
  if (await status('/models/good/model.json', open2) !== 200) fail('anonymous writes: a foreign page deleted a model');

  console.log(`origins ok: foreign page refused (${Object.entries(tries).map(([k, v]) => `${k}: ${v.slice(0, 60)}`).join('; ')}); allowed page with a token saved, loaded and predicted the same`);
} finally {
  await browser.close();
  for (const c of servers) c.kill();
  allowed.server.close();
  foreign.server.close();
  await rm(profile, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
}
