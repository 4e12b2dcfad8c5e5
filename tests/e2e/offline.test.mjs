// The app on a plain static host (`python3 -m http.server`: no COOP/COEP, no special
// MIME setup), through its service worker (web/sw.js), in headless Chromium:
//   1. first visit online: weights downloaded, service worker installed; the next load is
//      cross-origin isolated although the server sends no isolation headers;
//   2. pictures added online; then offline (context.setOffline) and a reload: the app starts
//      from the cached shell and the weights in IndexedDB, trains on the stored pictures, is
//      reloaded mid-run (still offline) and resumes from its checkpoint to the end;
//   3. a new build on the server (changed shell): the page offers a reload, says it was
//      updated after it, and only the new version's cache is left.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './helpers.mjs';
import * as f from './flows.mjs';

const skip = h.ENGINE_SKIP || h.REAL_WEIGHTS_SKIP || (fs.existsSync('/usr/bin/python3') ? false : 'python3 missing');
const CLASSES = ['animals', 'food', 'instrument'];
let app, server, url;

// python3 -m http.server on a free loopback port; resolves once it listens.
function pythonServer(root) {
  const proc = spawn('/usr/bin/python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', root],
    { stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve, reject) => {
    proc.on('exit', (code) => reject(new Error(`http.server exited with ${code}`)));
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /port (\d+)/.exec(out);
      if (m) resolve({ url: `http://127.0.0.1:${m[1]}/`, close: () => new Promise((r) => { proc.once('exit', r); proc.kill(); }) });
    });
  });
}

before(async () => {
  if (skip) return;
  app = h.buildApp();
  server = await pythonServer(app.root);
  url = server.url;
});
after(async () => { await server?.close(); app?.cleanup(); });

const controlled = (page) => page.evaluate(() => !!navigator.serviceWorker.controller);

test('offline after the first visit, cross-origin isolated on a plain static host, updates announced', { skip }, async () => {
  const b = await h.launch();
  try {
    const { page, context } = b;
    await page.goto(url);
    await h.waitForPhase(page, 'ready', 120_000);
    await page.evaluate(() => navigator.serviceWorker.ready);
    assert.equal(await page.evaluate(() => crossOriginIsolated), false, 'no isolation headers from http.server on the first load');

    await page.reload();
    await h.waitForPhase(page, 'ready', 120_000);
    assert.ok(await controlled(page), 'the service worker controls the page after a reload');
    assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'isolated through the service worker');
    await f.addClasses(page, app.root, CLASSES, 4);
    await f.setTraining(page, { epochs: 1500, hidden: 64 });

    // Offline from here on.
    await context.setOffline(true);
    await page.reload();
    const s = await h.waitForPhase(page, ['ready', 'weights-error'], 120_000);
    assert.equal(s.phase, 'ready', JSON.stringify(s.errors));
    assert.equal(s.weights.source, 'cache');
    assert.deepEqual(s.classes.map((c) => [c.name, c.count]), CLASSES.map((c) => [c, 4]));
    await f.setTraining(page, { epochs: 1500, hidden: 64 });
    await page.click('#train');
    await page.waitForFunction(() => window.tabtrainState.saved?.step > 0 && window.tabtrainState.epoch < 750, null, { timeout: 120_000 });
    const saved = (await h.state(page)).saved;
    await page.reload();
    const p = await h.waitForPhase(page, ['paused', 'ready', 'trained'], 120_000);
    assert.equal(p.phase, 'paused', JSON.stringify(p));
    assert.ok(p.step >= saved.step && p.epoch < 1500, `resumed at ${p.epoch}/${p.step}, saved ${saved.epoch}/${saved.step}`);
    await page.click('#resume');
    const done = await h.waitForPhase(page, 'trained', 300_000);
    assert.equal(done.epoch, 1500);
    await h.screenshot(page, 'offline-trained');
    await context.setOffline(false);

    // A new build: another shell (style.css changed), so another version in sw.js.
    const sw = path.join(app.root, 'sw.js');
    fs.appendFileSync(path.join(app.root, 'style.css'), '\n/* next build */\n');
    fs.writeFileSync(sw, fs.readFileSync(sw, 'utf8').replace(/"version":"[0-9a-f]+"/, '"version":"0123456789abcdef"'));
    const before = await page.evaluate(() => caches.keys());
    assert.equal(before.length, 1, before.join());
    await page.reload();
    await page.waitForSelector('#update-reload:visible', { timeout: 60_000 });
    assert.match(await page.textContent('#update-text'), /new version/);
    await h.screenshot(page, 'offline-update-offered');
    await Promise.all([page.waitForEvent('load'), page.click('#update-reload')]);
    await page.waitForSelector('#update-notice:visible');
    assert.match(await page.textContent('#update-text'), /updated/);
    assert.ok(await page.locator('#update-reload').isHidden());
    await page.waitForFunction(() => caches.keys().then((k) => k.length === 1 && k[0] === 'tabtrain-shell-0123456789abcdef'));
    const r = await h.waitForPhase(page, ['trained'], 120_000);
    assert.equal(r.epoch, 1500, 'the run is kept across the update');
    assert.ok((await page.evaluate(() => fetch('style.css').then((x) => x.text()))).includes('next build'), 'the new shell is served');
    // Offline, what the network had to give (the sample pictures' manifest) fails, as it should.
    assert.deepEqual(b.consoleErrors.filter((e) => !/ERR_INTERNET_DISCONNECTED/.test(e)), []);
  } finally { await b.close(); }
});
