// Opens the web demo in headless Chromium (playwright-core, Debian's /usr/bin/chromium), clicks
// through it, checks what it shows (and that TF.js on the same page lists the same models), and
// keeps a screenshot. Run by `cargo xtask test-all` after building the page:
//   node examples/web-demo/test/demo.mjs <screenshot.png>
// Needs MODELIO_PEER_DIR (peer/ with node_modules: playwright-core, @tensorflow/tfjs).
import { createServer } from 'node:http';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const site = path.resolve(here, '..');
const peer = process.env.MODELIO_PEER_DIR || path.resolve(here, '../../../peer');
const require = createRequire(path.join(peer, 'package.json'));
const { chromium } = require('playwright-core');
const screenshot = process.argv[2] || path.resolve(here, '../../../target/web-demo/screenshot.png');

const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
const server = createServer(async (req, res) => {
  const p = path.normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^\/+/, '');
  const file = path.join(site, p === '' ? 'index.html' : p);
  if (!file.startsWith(site)) { res.writeHead(403).end(); return; }
  try {
    const body = await readFile(file);
    res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream' }).end(body);
  } catch { res.writeHead(404).end('not found'); }
});
await new Promise(r => server.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${server.address().port}`;

const profile = await mkdtemp(path.join(tmpdir(), 'modelio-demo-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1100, height: 900 },
});
const fail = (msg) => { throw new Error(msg); };
try {
  const page = browser.pages()[0] || await browser.newPage();
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  await page.goto(origin + '/');
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30000 });

  const progressText = () => page.$eval('#progress', e => e.textContent);
  for (const store of ['localstorage', 'indexeddb', 'opfs']) {
    await page.click(`#save-${store}`);
    await page.waitForFunction(s => document.getElementById('status').textContent.startsWith(`saved ${s}://demo-model`), store);
    // The save's byte progress ends at 100%, with as many bytes as the total.
    const p = await progressText();
    const m = /^saving (\S+): (\d+) of (\d+) bytes \(100%\)$/.exec(p);
    if (!m || m[1] !== `${store}://demo-model` || m[2] !== m[3] || Number(m[2]) <= 0) fail(`save progress: ${p}`);
  }
  const urls = await page.$$eval('#models tbody tr', rows => rows.map(r => r.dataset.url));
  if (JSON.stringify(urls) !== JSON.stringify(['indexeddb://demo-model', 'localstorage://demo-model', 'opfs://demo-model'])) fail(`table lists ${urls}`);
  const bytes = await page.$$eval('#models tbody tr', rows => rows.map(r => r.cells[3].textContent));
  if (bytes.some(b => b !== String(bytes[0])) || Number(bytes[0]) <= 0) fail(`weight bytes ${bytes}`);

  await page.click('#models tbody tr[data-url="indexeddb://demo-model"] button.load');
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('loaded indexeddb://demo-model'));
  const weights = await page.$$eval('#summary tbody tr', rows => rows.map(r => [...r.cells].map(c => c.textContent)));
  // Model d: 4 layer weights and 9 optimizer weights (iter, and m/v of each layer weight).
  if (weights.length !== 13) fail(`${weights.length} weight rows`);
  if (weights[0][0] !== 'dense_d1/kernel' || weights[0][2] !== 'float32') fail(`first weight row ${weights[0]}`);

  const loadProgress = await progressText();
  if (!/^loading indexeddb:\/\/demo-model: (\d+) of \1 bytes \(100%\)$/.test(loadProgress)) fail(`load progress: ${loadProgress}`);

  // The opfs:// copy loads with the same weights, its progress reaching 100% too.
  await page.click('#models tbody tr[data-url="opfs://demo-model"] button.load');
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('loaded opfs://demo-model'));
  const fromOpfs = await page.$$eval('#summary tbody tr', rows => rows.map(r => [...r.cells].map(c => c.textContent)));
  if (JSON.stringify(fromOpfs) !== JSON.stringify(weights)) fail(`opfs:// weights differ: ${JSON.stringify(fromOpfs)}`);
  const opfsProgress = await progressText();
  if (!/^loading opfs:\/\/demo-model: (\d+) of \1 bytes \(100%\)$/.test(opfsProgress)) fail(`opfs load progress: ${opfsProgress}`);
  // The model's files are in the Origin Private File System: modelio/demo-model/model.json + shards.
  const files = await page.evaluate(async () => {
    const d = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('modelio')).getDirectoryHandle('demo-model');
    const out = []; for await (const name of d.keys()) out.push(name); return out.sort();
  });
  if (!files.includes('model.json') || !files.some(f => /^\d+-[0-9a-f]{12}\.group1-shard1of1\.bin$/.test(f))) fail(`OPFS files ${files}`);

  // TF.js on the same page sees the models modelio saved (TF.js has no opfs:// handler).
  await page.addScriptTag({ path: path.join(peer, 'node_modules/@tensorflow/tfjs/dist/tf.min.js') });
  const theirs = await page.evaluate(async () => { await tf.setBackend('cpu'); return Object.keys(await tf.io.listModels()).sort(); });
  const tfjsUrls = urls.filter(u => !u.startsWith('opfs://'));
  if (JSON.stringify(theirs) !== JSON.stringify(tfjsUrls)) fail(`tf.io.listModels() lists ${theirs}`);

  if (errors.length) fail(`page errors: ${errors}`);
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`web demo ok: ${urls.join(', ')}; ${weights.length} weights; progress "${opfsProgress}"; screenshot ${screenshot}`);
} finally {
  await browser.close();
  server.close();
  await rm(profile, { recursive: true, force: true });
}
