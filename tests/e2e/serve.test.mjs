// scripts/serve.mjs: isolation headers on every response, MIME types (wasm!),
// and no way out of --root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import net from 'node:net';
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

// Raw bytes on a socket: nothing a client sends may stop the server. Resolves with the
// status line's code ('' when the server closed without one).
function raw(bytes, { slowMs = 0 } = {}) {
  const u = new URL(srv.url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), '127.0.0.1');
    let got = '';
    // Cleared once answered: a pending timer would keep this test file running for 30 s.
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no answer to ${JSON.stringify(bytes.slice(0, 60))}`)); }, 30_000);
    const done = () => { clearTimeout(timer); resolve(/^HTTP\/1\.1 (\d+)/.exec(got)?.[1] || ''); };
    sock.on('data', (d) => { got += d; });
    sock.on('error', done);
    sock.on('close', done);
    sock.on('connect', async () => {
      if (!slowMs) { sock.write(bytes); return; }
      for (const ch of bytes) { if (sock.destroyed) return; sock.write(ch); await new Promise((r) => setTimeout(r, slowMs)); }
    });
  });
}
const req = (target, method = 'GET', extra = '') => `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${extra}\r\n`;

test('malformed requests get an error status and the server keeps serving', async () => {
  const cases = [
    [req('//'), /^(200|400)$/], [req('///etc/passwd'), /^(400|403|404)$/],
    [req('/%'), /^400$/], [req('/%zz'), /^400$/], [req('/%E0%A4%A'), /^400$/], [req('/a%00b'), /^(400|403)$/],
    [req('/' + 'a'.repeat(5000)), /^414$/], [req('/' + 'a/'.repeat(20000)), /^(400|414|431)$/],
    [req('/%2e%2e%2fsecret.txt'), /^(403|404)$/], [req('/%252e%252e/secret.txt'), /^404$/], [req('/..%5csecret.txt'), /^(403|404)$/],
    [req('/.%2e/.%2e/secret.txt'), /^(403|404)$/], [req('*', 'OPTIONS'), /^(400|405)$/], [req('http://evil.example/secret.txt'), /^400$/],
    [req('/', 'HEAD'), /^200$/], [req('/', 'POST', 'Content-Length: 5\r\n') + 'hello', /^405$/],
    [req('/', 'DELETE'), /^405$/], ['GARBAGE\r\n\r\n', /^(400|)$/], ['GET / HTTP/1.1\r\nBad Header\r\n\r\n', /^(400|)$/],
    ['\x00\x01\x02\r\n\r\n', /^(400|)$/],
  ];
  for (const [bytes, want] of cases) {
    const status = await raw(bytes);
    assert.match(status, want, JSON.stringify(bytes.slice(0, 80)));
    assert.equal((await get('/')).status, 200, `server down after ${JSON.stringify(bytes.slice(0, 80))}`);
  }
  assert.ok(!srv.exited(), 'serve.mjs exited');
});

test('a slow client does not hold up others', async () => {
  const slow = raw(req('/sub/m.wasm'), { slowMs: 40 }); // ~2.5 s of headers, one byte at a time
  for (let i = 0; i < 5; i++) assert.equal((await get('/')).status, 200);
  assert.equal(await slow, '200');
  assert.equal((await get('/nope')).status, 404);
});
