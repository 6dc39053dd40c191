// `cargo xtask bench browser` (BENCHMARKS.md "browser"): modelio (wasm32, this crate built with the
// `wasm-release` profile and wasm-bindgen into ./pkg) against TF.js 4.22 in ONE headless Chromium
// (Debian's /usr/bin/chromium through playwright-core), both libraries on the same page (page/).
//
//   node examples/browser-bench/bench.mjs [--runs N] [--only SUBSTRING] [--no-big] [--json FILE]
//
// Every measured operation runs on a fresh page of one persistent profile (so storage persists and
// each operation starts from a renderer without the previous one's garbage); runs alternate
// modelio / TF.js, the first library swapping every round. Per operation: the wall time in the page
// (performance.now() around the call), and memory: the renderer's peak RSS over its RSS at the start
// (Linux VmHWM, reset through /proc/PID/clear_refs), the peak JS heap over its start (CDP
// Performance.getMetrics JSHeapUsedSize, sampled every 5 ms) and the peak of ArrayBuffer backing
// stores over their start (CDP Runtime.getHeapUsage backingStorageSize, same sampling; they hold
// TF.js's weights), and modelio's wasm memory after (memory.buffer.byteLength; it never shrinks).
// A loopback server (127.0.0.1:0) serves the page, tf.min.js and the http models, their shard bytes
// synthesized from page/model.mjs (the >2 GiB model is generated per request, never stored).
//
// Needs MODELIO_PEER_DIR (peer/ with node_modules: playwright-core, @tensorflow/tfjs).
import { createServer } from 'node:http';
import { readFile, readdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { modelJson, bytesAt, totalBytes } from './page/model.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const peer = process.env.MODELIO_PEER_DIR || path.resolve(here, '../../peer');
const require = createRequire(path.join(peer, 'package.json'));
const { chromium } = require('playwright-core');
const tfjs = path.join(peer, 'node_modules/@tensorflow/tfjs/dist/tf.min.js');
const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i < 0 ? dflt : process.argv[i + 1]; };
const RUNS = Number(arg('--runs', 5));
const ONLY = arg('--only', '');
const BIG = !process.argv.includes('--no-big');
const JSON_OUT = arg('--json', '');

const MiB = 1 << 20;
// The http models the server has: name -> model.json spec (page/model.mjs).
const HTTP_MODELS = {
  m21: { bytes: 21 * MiB },
  m256: { bytes: 256 * MiB },
  // Over 2 GiB: 2.25 GiB in 576 shards of 4 MiB; weights of 12,000,000 bytes, so most straddle shards.
  big: { bytes: 2304 * MiB, weightBytes: 12_000_000 },
};
// The cases, in order (saves before the loads and copies that read them). `store` cases use
// `${store}://bench-${size}-${lib}`; `http` cases the server's model. opfs:// rows (issue 15 item 3)
// go here as { name: 'opfs 256 MiB save', op: 'save', store: 'opfs', size: 256 }, etc.
const CASES = [
  { name: 'localstorage 3 MiB save', op: 'save', store: 'localstorage', size: 3 },
  { name: 'localstorage 3 MiB load', op: 'load', store: 'localstorage', size: 3 },
  { name: 'indexeddb 21 MiB save', op: 'save', store: 'indexeddb', size: 21 },
  { name: 'indexeddb 21 MiB load', op: 'load', store: 'indexeddb', size: 21 },
  { name: 'indexeddb 21 MiB copy to indexeddb', op: 'copy', store: 'indexeddb', size: 21 },
  { name: 'indexeddb 256 MiB save', op: 'save', store: 'indexeddb', size: 256 },
  { name: 'indexeddb 256 MiB load', op: 'load', store: 'indexeddb', size: 256 },
  // TF.js has no opfs:// handler: modelio alone, set against TF.js's IndexedDB row of the same size.
  { name: 'opfs 21 MiB save', op: 'save', store: 'opfs', size: 21, libs: ['modelio'], versus: 'indexeddb 21 MiB save' },
  { name: 'opfs 21 MiB load', op: 'load', store: 'opfs', size: 21, libs: ['modelio'], versus: 'indexeddb 21 MiB load' },
  { name: 'opfs 256 MiB save', op: 'save', store: 'opfs', size: 256, libs: ['modelio'], versus: 'indexeddb 256 MiB save' },
  { name: 'opfs 256 MiB load', op: 'load', store: 'opfs', size: 256, libs: ['modelio'], versus: 'indexeddb 256 MiB load' },
  { name: 'http 21 MiB load (6 shards)', op: 'load', http: 'm21' },
  { name: 'http 256 MiB load (64 shards)', op: 'load', http: 'm256' },
].filter((c) => c.name.includes(ONLY));

// ---- the loopback server ----
const shardCache = new Map();
function shard(name, index) {
  const spec = HTTP_MODELS[name];
  const shardBytes = 4 * MiB;
  const start = index * shardBytes;
  const end = Math.min(start + shardBytes, spec.bytes);
  if (name === 'big') return bytesAt(start, end); // generated per request, never kept
  const key = `${name}/${index}`;
  if (!shardCache.has(key)) shardCache.set(key, bytesAt(start, end));
  return shardCache.get(key);
}
const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };
const server = createServer(async (req, res) => {
  const p = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  try {
    let m;
    if (p === '/blank') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>blank</title>');
    } else if (p === '/tf.min.js') {
      const body = await readFile(tfjs);
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(body);
    } else if ((m = p.match(/^\/models\/(\w+)\/model\.json$/)) && HTTP_MODELS[m[1]]) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(modelJson(HTTP_MODELS[m[1]])));
    } else if ((m = p.match(/^\/models\/(\w+)\/group1-shard(\d+)of(\d+)\.bin$/)) && HTTP_MODELS[m[1]]) {
      const body = shard(m[1], Number(m[2]) - 1);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.byteLength }).end(body);
    } else {
      const site = path.join(here, 'page');
      const file = path.join(site, path.normalize(p === '/' ? 'index.html' : p));
      if (!file.startsWith(site + path.sep)) { res.writeHead(403).end(); return; }
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream' }).end(body);
    }
  } catch { res.writeHead(404).end('not found'); }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${server.address().port}`;

// ---- the renderer's memory (Linux /proc) ----
const procs = () => readdir('/proc').then((ds) => ds.filter((d) => /^\d+$/.test(d)).map(Number));
const stat = (pid) => { try { return readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return null; } };
const ppid = (pid) => { const s = stat(pid); return s ? Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]) : -1; };
const cmdline = (pid) => { try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { return ''; } };
const status = (pid, key) => {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch { return 0; }
};
/// Our page's renderer: the largest of the renderer processes once freshPage has opened it (the
/// other, if any, holds the about:blank the page started from).
async function rendererPid() {
  const rs = await renderers();
  if (!rs.length) throw new Error('no renderer process');
  return rs.sort((a, b) => status(b, 'VmRSS') - status(a, 'VmRSS'))[0];
}

// ---- Chromium ----
const profile = await mkdtemp(path.join(tmpdir(), 'modelio-browser-bench-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-features=SpareRendererForSitePerProcess'],
});
const version = ctx.pages()[0] ? await ctx.pages()[0].evaluate(() => navigator.userAgent) : '';

/// Every renderer process descending from the Chromium this script started.
async function renderers() {
  const all = await procs();
  const ours = new Set([process.pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of all) if (!ours.has(p) && ours.has(ppid(p))) { ours.add(p); grew = true; }
  }
  return [...ours].filter((p) => cmdline(p).includes('--type=renderer') && !cmdline(p).includes('--extension-process'));
}

/// A new page in a new renderer process (the previous page closed and its process gone, so that
/// its freed memory does not hide the next operation's peak RSS).
async function freshPage() {
  for (const p of ctx.pages()) await p.close();
  for (let i = 0; (await renderers()).length > 0; i++) {
    if (i > 300) throw new Error('the previous renderer process did not exit');
    await new Promise((r) => setTimeout(r, 10));
  }
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(origin + '/');
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60000 }).catch((e) => {
    throw new Error(`page not ready: ${errors.join('; ') || e}`);
  });
  return page;
}

/// Runs `fn(arg)` in a fresh page after `setup(arg)` there, measuring wall time and memory.
async function measure(setup, fn, arg) {
  const page = await freshPage();
  if (setup) await page.evaluate(setup, arg);
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Performance.enable');
  await cdp.send('HeapProfiler.collectGarbage');
  const pid = await rendererPid();
  writeFileSync(`/proc/${pid}/clear_refs`, '5'); // resets VmHWM to the current RSS
  const rss0 = status(pid, 'VmRSS');
  const sample = async () => {
    const m = await cdp.send('Performance.getMetrics');
    const u = await cdp.send('Runtime.getHeapUsage');
    return { heap: m.metrics.find((x) => x.name === 'JSHeapUsedSize').value, backing: u.backingStorageSize ?? NaN };
  };
  const s0 = await sample();
  let peak = { ...s0 };
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const s = await sample().catch(() => null);
      if (s) peak = { heap: Math.max(peak.heap, s.heap), backing: Math.max(peak.backing, s.backing) };
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  let result;
  try {
    result = await page.evaluate(fn, arg);
  } finally {
    done = true;
    await sampler;
  }
  const s1 = await sample();
  peak = { heap: Math.max(peak.heap, s1.heap), backing: Math.max(peak.backing, s1.backing) };
  const rssPeak = status(pid, 'VmHWM');
  await cdp.detach();
  return { ...result, rss: rssPeak - rss0, heap: peak.heap - s0.heap, backing: peak.backing - s0.backing };
}

const LIBS = ['modelio', 'tfjs'];
const urlOf = (c, lib) => (c.http ? `${origin}/models/${c.http}/model.json` : `${c.store}://bench-${c.size}-${lib}`);

/// One run of case `c` for `lib`.
async function runCase(c, lib) {
  const url = urlOf(c, lib);
  const spec = { bytes: c.size * MiB };
  const clearLocal = c.store === 'localstorage'; // two 4 MiB models do not fit the origin's quota together
  if (c.op === 'save') {
    return measure(async ({ lib, spec, url, clearLocal }) => {
      if (clearLocal) localStorage.clear();
      await bench.prepare(lib, 'm', spec);
    }, ({ lib, url }) => bench.run(lib, 'save', ['m', url]), { lib, spec, url, clearLocal });
  }
  if (clearLocal) {
    // This library's model alone in localStorage, saved from a page of its own (so that the
    // measured page starts without the save's memory). Chromium passes a page's localStorage writes
    // to the browser process asynchronously, and closing the page can kill its renderer before they
    // arrive (seen here: the model lost): a second page waits until all five keys are visible to it.
    const page = await freshPage();
    await page.evaluate(async ({ lib, spec, url }) => {
      localStorage.clear();
      await bench.prepare(lib, 'm', spec);
      await bench.run(lib, 'save', ['m', url]);
    }, { lib, spec, url });
    const checker = await ctx.newPage();
    await checker.goto(origin + '/blank');
    await checker.evaluate(async ({ url }) => {
      const prefix = `tensorflowjs_models/${url.slice('localstorage://'.length)}/`;
      const keys = ['info', 'model_topology', 'weight_specs', 'weight_data', 'model_metadata'];
      for (let i = 0; keys.some((k) => localStorage.getItem(prefix + k) === null); i++) {
        if (i > 3000) throw new Error(`${url} did not reach another page's localStorage within 30 s`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }, { url });
  }
  if (c.op === 'load') return measure(null, ({ lib, url }) => bench.run(lib, 'load', [url]), { lib, url });
  if (c.op === 'copy') return measure(null, ({ lib, url }) => bench.run(lib, 'copy', [url, `${url}-copy`]), { lib, url });
  throw new Error(`unknown op ${c.op}`);
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const results = [];
try {
  for (const c of CASES) {
    const runs = { modelio: [], tfjs: [] };
    const libs = c.libs ?? LIBS;
    for (let r = 0; r < RUNS; r++) {
      for (const lib of r % 2 ? [...libs].reverse() : libs) runs[lib].push(await runCase(c, lib));
    }
    const row = { name: c.name, versus: c.versus };
    for (const lib of libs) {
      const rs = runs[lib];
      row[lib] = {
        ms: median(rs.map((x) => x.ms)), committedMs: median(rs.map((x) => x.committedMs)), bytes: rs[0].bytes, rss: median(rs.map((x) => x.rss)),
        heap: median(rs.map((x) => x.heap)), backing: median(rs.map((x) => x.backing)),
        wasmMemory: Math.max(...rs.map((x) => x.wasmMemory)), all: rs.map((x) => Math.round(x.ms)),
        // What the operation added at its peak: JS heap + ArrayBuffer backing stores (sampled) + the
        // growth of wasm memory (which never shrinks, so its growth is held to the end).
        mem: median(rs.map((x) => x.heap + x.backing + x.wasmGrowth)), wasmGrowth: median(rs.map((x) => x.wasmGrowth)),
      };
    }
    if (!row.tfjs) {
      // TF.js's figures for this row: its run of the row named `versus` (same size, another store).
      const other = results.find((x) => x.name === c.versus);
      if (other) row.tfjs = other.tfjs;
    }
    if (row.tfjs && row.modelio.bytes !== row.tfjs.bytes) throw new Error(`${c.name}: modelio moved ${row.modelio.bytes} bytes, TF.js ${row.tfjs.bytes}`);
    results.push(row);
    const t = row.tfjs ? `TF.js${c.versus ? ` (${c.versus})` : ''} ${row.tfjs.ms.toFixed(1)} ms ${JSON.stringify(row.tfjs.all)} (committed ${row.tfjs.committedMs.toFixed(1)})` : 'TF.js: no row';
    console.error(`${c.name}: modelio ${row.modelio.ms.toFixed(1)} ms ${JSON.stringify(row.modelio.all)} (committed ${row.modelio.committedMs.toFixed(1)}), ${t}`);
  }

  // Same bytes on both sides: modelio reads back what TF.js saved (and the http model), value by value.
  const checks = [];
  const wanted = [
    CASES.some((c) => c.store === 'indexeddb' && c.size === 21) && 'indexeddb://bench-21-tfjs',
    CASES.some((c) => c.http === 'm21') && `${origin}/models/m21/model.json`,
  ].filter(Boolean);
  for (const url of wanted) {
    const page = await freshPage();
    const r = await page.evaluate((url) => bench.loadCheck(url, ''), url);
    if (r.mismatches !== 0 || r.values * 4 !== r.bytes) throw new Error(`${url}: ${JSON.stringify(r)}`);
    checks.push(`${url}: ${r.values} float32 values equal to the generator's`);
  }

  // Over 2 GiB over http: modelio loads it and checks one weight; TF.js's load, then its join.
  let big = null;
  if (BIG) {
    const url = `${origin}/models/big/model.json`;
    const weight = 'w100'; // bytes 1,200,000,000..1,212,000,000: straddles shards 287-290
    const m = await measure(null, ({ url, weight }) => (async () => {
      const t0 = performance.now();
      const r = await bench.loadCheck(url, weight);
      return { ms: performance.now() - t0, ...r, wasmMemory: bench.wasmMemory() };
    })(), { url, weight });
    const t = await measure(null, (url) => bench.tfjsBig(url).then((r) => ({ ...r, wasmMemory: bench.wasmMemory() })), url);
    big = { url, bytes: totalBytes(modelJson(HTTP_MODELS.big)), modelio: m, tfjs: t };
    console.error(`big: ${JSON.stringify(big)}`);
    if (m.mismatches !== 0 || m.values !== 3_000_000 || m.bytes !== big.bytes || m.largest_buffer > 4 * MiB) throw new Error(`modelio on the big model: ${JSON.stringify(m)}`);
  }

  // ---- report ----
  const mib = (b) => (Number.isFinite(b) ? (b / MiB).toFixed(1) : 'n/a');
  const ratio = (a, b) => (b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a');
  const out = [];
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  out.push(`Chromium: ${version}; runs per row: ${RUNS} (medians); ${new Date().toISOString()}; load average at the end: ${load}`);
  out.push('');
  out.push('| operation | modelio ms (committed) | TF.js ms (committed) | time modelio/TF.js (committed) | modelio peak memory + | TF.js peak memory + | memory modelio/TF.js | modelio: JS heap + / ArrayBuffers + / wasm growth | TF.js: JS heap + / ArrayBuffers + | renderer peak RSS +, modelio / TF.js |');
  out.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const [a, b] = [r.modelio, r.tfjs];
    if (!b) continue;
    const name = r.versus ? `${r.name} (TF.js: no opfs://; its ${r.versus.replace(/ (save|load)$/, '')} figures)` : r.name;
    const committed = (x) => (x.committedMs - x.ms > 0.5 ? ` (${x.committedMs.toFixed(1)})` : '');
    const cRatio = b.committedMs - b.ms > 0.5 ? ` (${ratio(a.committedMs, b.committedMs)})` : '';
    out.push(`| ${name} | ${a.ms.toFixed(1)}${committed(a)} | ${b.ms.toFixed(1)}${committed(b)} | **${ratio(a.ms, b.ms)}**${cRatio} | ${mib(a.mem)} MiB | ${mib(b.mem)} MiB | **${ratio(a.mem, b.mem)}** | ${mib(a.heap)} / ${mib(a.backing)} / ${mib(a.wasmGrowth)} | ${mib(b.heap)} / ${mib(b.backing)} | ${mib(a.rss)} / ${mib(b.rss)} |`);
  }
  if (big) {
    out.push('');
    out.push(`Over 2 GiB (${big.bytes} bytes, 576 shards of 4 MiB) over http:`);
    out.push('');
    out.push('| library | result | time | ArrayBuffers + | wasm memory after | renderer peak RSS + |');
    out.push('|---|---|---|---|---|---|');
    const m = big.modelio;
    out.push(`| modelio | loaded ${m.bytes} bytes in ${m.buffers} buffers (largest ${m.largest_buffer}); ${m.weight} decoded, ${m.values} values equal to the generator's | ${(m.ms / 1000).toFixed(1)} s (load and decode) | ${mib(m.backing)} MiB | ${mib(m.wasmMemory)} MiB | ${mib(m.rss)} MiB |`);
    const t = big.tfjs;
    const what = t.error ? `load failed: ${t.error}` : `load: ${t.bytes} bytes in ${t.buffers} buffers; join (what its save handlers do): ${t.join}`;
    out.push(`| TF.js | ${what} | ${(t.loadMs / 1000).toFixed(1)} s (load) + ${((t.joinMs ?? 0) / 1000).toFixed(1)} s (join) | ${mib(t.backing)} MiB | | ${mib(t.rss)} MiB |`);
  }
  out.push('');
  for (const c of checks) out.push(`- ${c}`);
  console.log(out.join('\n'));
  if (JSON_OUT) await writeFile(JSON_OUT, JSON.stringify({ version, results, big, checks }, null, 1));
} finally {
  await ctx.close();
  server.close();
  await rm(profile, { recursive: true, force: true });
}
