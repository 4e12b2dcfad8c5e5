// A classroom serves the app on its LAN address. Tests may only reach loopback, so a
// hostname is mapped onto it: http://classroom.test:PORT/ is then an INSECURE origin
// (no crypto.subtle, no camera, no isolation), exactly like http://192.168.1.20:PORT/.
// The weights must still be checked (by the engine's SHA-256) and the page must say what
// is missing; served with --https (self-signed) the same name is a secure context.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as h from './helpers.mjs';

const skip = h.ENGINE_SKIP || h.REAL_WEIGHTS_SKIP;
let app, srv, tlsDir;
before(async () => {
  if (skip) return;
  app = h.buildApp();
  srv = await h.startServer(app.root);
});
after(async () => { await srv?.close(); app?.cleanup(); if (tlsDir) fs.rmSync(tlsDir, { recursive: true, force: true }); });

const mapTo = (ip) => [`--host-resolver-rules=MAP classroom.test ${ip}`];
const lanUrl = (url) => url.replace('127.0.0.1', 'classroom.test');

test('plain http on a LAN name: weights checked without crypto.subtle, the page says what is off', { skip }, async () => {
  const b = await h.launch({ args: mapTo('127.0.0.1') });
  try {
    const { page } = b;
    await page.goto(lanUrl(srv.url));
    // The conditions of the bug: not a secure context, so no crypto.subtle anywhere.
    assert.deepEqual(await page.evaluate(() => [window.isSecureContext, typeof crypto.subtle, window.crossOriginIsolated]), [false, 'undefined', false]);
    const s = await h.waitForPhase(page, 'ready', 120_000);
    assert.equal(s.weights.status, 'ready');
    assert.deepEqual(s.errors, []);
    const notice = page.locator('#origin-notice');
    assert.ok(await notice.isVisible(), 'no explanation of the insecure origin');
    const text = await notice.textContent();
    for (const word of [/webcam/, /offline/, /multi-threaded/, /--https/]) assert.match(text, word);
    assert.match(await page.locator('#storage-status').textContent(), /kept in this browser/);
    await h.screenshot(page, 'lan-http');

    // The check is real: with the cache emptied, damaged weights are refused on this origin too.
    await b.context.route('**/models/*.safetensors', async (route) => {
      const res = await route.fetch({ url: route.request().url().replace('classroom.test', '127.0.0.1') }); // fetched by Node, which has no host mapping
      const body = Buffer.from(await res.body());
      body[body.length >> 1] ^= 1;
      await route.fulfill({ response: res, body });
    });
    await page.evaluate(() => new Promise((resolve, reject) => {
      const rq = indexedDB.open('tabtrain');
      rq.onerror = () => reject(rq.error);
      rq.onsuccess = () => { const tx = rq.result.transaction('weights', 'readwrite'); tx.objectStore('weights').clear(); tx.oncomplete = () => { rq.result.close(); resolve(); }; };
    }));
    await page.reload();
    const bad = await h.waitForPhase(page, 'weights-error', 120_000);
    assert.ok(bad.errors.some((e) => e.code === 'weights-corrupt'), JSON.stringify(bad.errors));
  } finally { await b.close(); }
});

test('scripts/serve --https on a LAN address: a secure context with the self-signed certificate', { skip }, async () => {
  tlsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabtrain-tls-'));
  // 127.0.0.2 stands for the LAN address (still loopback); the certificate names it.
  const tls = await h.startServer(app.root, { args: ['--host', '127.0.0.2', '--https', '--tls-dir', tlsDir] });
  try {
    assert.match(tls.url, /^https:\/\/127\.0\.0\.2:\d+\/$/);
    assert.equal(fs.statSync(path.join(tlsDir, 'key.pem')).mode & 0o077, 0, 'private key readable by others');
    const b = await h.launch({ args: mapTo('127.0.0.2'), ignoreHTTPSErrors: true });
    try {
      const { page } = b;
      await page.goto(tls.url.replace('127.0.0.2', 'classroom.test'));
      assert.deepEqual(await page.evaluate(() => [location.protocol, window.isSecureContext, typeof crypto.subtle, window.crossOriginIsolated]), ['https:', true, 'object', true]);
      const s = await h.waitForPhase(page, 'ready', 120_000);
      assert.equal(s.weights.status, 'ready');
      assert.deepEqual(s.errors, []);
      assert.ok(await page.locator('#origin-notice').isHidden());
      assert.equal(await page.evaluate(() => typeof navigator.mediaDevices?.getUserMedia), 'function', 'no camera API on the https origin');
      // Chromium fetches no service worker script over a certificate it does not trust
      // (ignoreHTTPSErrors stands for the student who clicked through the warning), so it
      // logs that registration failed and the app runs without offline use, as the README
      // says; nothing else may be logged.
      assert.deepEqual(b.consoleErrors.filter((m) => !/^An (unknown|SSL certificate) error occurred when fetching the script\.$/.test(m)), []);
    } finally { await b.close(); }
  } finally { await tls.close(); }
});
