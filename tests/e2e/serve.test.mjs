// scripts/serve.mjs: isolation headers on every response, MIME types (wasm!),
// and no way out of --root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { startServer } from './helpers.mjs';

let dir, srv;
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabtrain-serve-'));
  fs.mkdirSync(path.join(dir, 'root/sub'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'root/index.html'), '<!doctype html>hi');
  fs.writeFileSync(path.join(dir, 'root/sub/m.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d]));
  fs.writeFileSync(path.join(dir, 'root/app.mjs'), 'export {}');
  fs.writeFileSync(path.join(dir, 'secret.txt'), 'secret');
  fs.symlinkSync(path.join(dir, 'secret.txt'), path.join(dir, 'root/link.txt'));
  srv = await startServer(path.join(dir, 'root'));
});
after(async () => { await srv?.close(); fs.rmSync(dir, { recursive: true, force: true }); });

// Raw request: fetch() would normalise "..", hiding what the server does with it.
function get(rawPath, method = 'GET') {
  const u = new URL(srv.url);
  return new Promise((resolve, reject) => {
    const rq = http.request({ host: u.hostname, port: u.port, path: rawPath, method }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    rq.on('error', reject);
    rq.end();
  });
}

test('prints its URL on 127.0.0.1', () => assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+\/$/));

test('MIME types and isolation headers on every response, errors included', async () => {
  const cases = [['/', 200, 'text/html'], ['/sub/m.wasm', 200, 'application/wasm'], ['/app.mjs', 200, 'text/javascript'], ['/nope', 404, 'text/plain']];
  for (const [p, status, type] of cases) {
    const r = await get(p);
    assert.equal(r.status, status, p);
    assert.ok(r.headers['content-type'].startsWith(type), `${p}: ${r.headers['content-type']}`);
    assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin', p);
    assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp', p);
    assert.equal(r.headers['cross-origin-resource-policy'], 'same-origin', p);
  }
  const head = await get('/sub/m.wasm', 'HEAD');
  assert.equal(head.headers['content-length'], '4');
  assert.equal(head.body, '');
  assert.equal((await get('/', 'POST')).status, 405);
});

test('no path leaves the root', async () => {
  for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/sub/../../secret.txt', '/link.txt', '/%00', '/%E0%A4%A']) {
    const r = await get(p);
    assert.notEqual(r.status, 200, p);
    assert.ok(!r.body.includes('secret'), p);
  }
});
