// The loopback HTTP server of the browser http(s):// tests. `cargo xtask test-all` starts it
// before the wasm tests and passes its origin to them (MODELIO_TEST_HTTP_ORIGIN, read at compile
// time); it is stopped when they end. Binds 127.0.0.1 on port 0 and prints `PORT <n>` first.
//   GET  /fixtures/<path>         files of fixtures/tfjs (read-only)
//   POST /upload/<name>           a TF.js-style multipart save; the parts are kept in memory
//   GET  /uploaded/<name>/<file>  the uploaded parts, by filename
//   GET  /status/<code>           answers with that status
//   GET  /slow/<ms>               answers 200 after <ms> milliseconds (time limits)
// Every response allows any origin (the test page is served by wasm-bindgen-test-runner).
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/tfjs');
const uploads = new Map();
const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': '*', 'access-control-allow-methods': 'GET, POST, PUT, OPTIONS' };

const server = createServer(async (req, res) => {
  const send = (status, body, type = 'text/plain') => res.writeHead(status, { ...cors, 'content-type': type }).end(body);
  try {
    const url = new URL(req.url, 'http://127.0.0.1');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (req.method === 'OPTIONS') return send(204, '');
    if (req.method === 'GET' && parts[0] === 'fixtures') {
      const file = path.resolve(fixtures, ...parts.slice(1));
      if (!file.startsWith(fixtures + path.sep)) return send(403, 'forbidden');
      const body = await readFile(file).catch(() => null);
      return body ? send(200, body, file.endsWith('.json') ? 'application/json' : 'application/octet-stream') : send(404, 'no such fixture');
    }
    if ((req.method === 'POST' || req.method === 'PUT') && parts[0] === 'upload' && parts.length === 2) {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const form = await new Request('http://x/', { method: 'POST', headers: { 'content-type': req.headers['content-type'] || '' }, body: Buffer.concat(chunks) }).formData();
      const files = new Map();
      for (const [name, value] of form.entries()) {
        files.set(typeof value === 'string' ? name : value.name, Buffer.from(typeof value === 'string' ? value : await value.arrayBuffer()));
      }
      uploads.set(parts[1], files);
      return send(200, JSON.stringify({ saved: [...files.keys()] }), 'application/json');
    }
    if (req.method === 'GET' && parts[0] === 'uploaded' && parts.length === 3) {
      const body = uploads.get(parts[1])?.get(parts[2]);
      return body ? send(200, body, 'application/octet-stream') : send(404, 'not uploaded');
    }
    if (parts[0] === 'slow') return setTimeout(() => send(200, '{}', 'application/json'), Number(parts[1]) || 0);
    if (parts[0] === 'status') return send(Number(parts[1]) || 500, `status ${parts[1]} as asked`);
    send(404, 'unknown route');
  } catch (e) {
    send(500, String(e));
  }
});
server.listen(0, '127.0.0.1', () => console.log(`PORT ${server.address().port}`));
process.stdin.on('end', () => server.close(() => process.exit(0)));
process.stdin.resume();
