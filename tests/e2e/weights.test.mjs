// Weights: streamed download with byte progress, SHA-256 verification, IndexedDB
// cache across reloads, corrupt-download reporting with Retry, and a main thread
// that stays responsive throughout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './helpers.mjs';

let app, srv;
before(async () => { app = h.buildApp(); srv = await h.startServer(app.root); });
after(async () => { await srv?.close(); app?.cleanup(); });

const WEIGHTS_GET = /^GET \/models\/mobilenet_v2_1\.0_224\.safetensors /;
const DONE = ['engine-missing', 'ready', 'engine-error'];

test('fresh profile downloads weights with progress to 100%, reload uses the cache', async () => {
  const b = await h.launch();
  try {
    const before = srv.count(WEIGHTS_GET);
    await b.page.goto(srv.url);
    const s = await h.waitForPhase(b.page, DONE);
    assert.equal(s.weights.status, 'ready');
    assert.equal(s.weights.source, 'network');
    assert.equal(await b.page.evaluate(() => window.crossOriginIsolated), true, 'COOP/COEP headers missing');
    assert.equal(s.weights.total, app.manifest.size);
    const progress = await b.page.evaluate(() => window.__tt.events.filter((e) => e.type === 'progress' && e.phase === 'weights-download'));
    assert.ok(progress.length >= 1, 'no download progress events');
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i].done >= progress[i - 1].done, 'progress went backwards');
    const last = progress[progress.length - 1];
    assert.equal(last.total, app.manifest.size);
    assert.equal(last.done, last.total, 'progress did not reach 100%');
    assert.equal(await b.page.locator('#weights-progress').evaluate((el) => el.value), 1);
    assert.equal(srv.count(WEIGHTS_GET) - before, 1, 'expected exactly one weights fetch');
    await h.screenshot(b.page, 'weights-downloaded');

    const weightRequests = [];
    b.context.on('request', (r) => { if (r.url().endsWith('.safetensors')) weightRequests.push(r.url()); });
    await b.page.reload();
    const s2 = await h.waitForPhase(b.page, DONE);
    assert.equal(s2.weights.status, 'ready');
    assert.equal(s2.weights.source, 'cache');
    assert.deepEqual(weightRequests, [], 'browser requested the weights again');
    assert.equal(srv.count(WEIGHTS_GET) - before, 1, 'server saw a second weights fetch');
    const downloads = await b.page.evaluate(() => window.__tt.events.filter((e) => e.type === 'progress' && e.phase === 'weights-download').length);
    assert.equal(downloads, 0, 'a cached load must not report download progress');
    await h.screenshot(b.page, 'weights-cached');
    assert.deepEqual(b.consoleErrors, []);
  } finally { await b.close(); }
});

test('corrupt weights are reported and Retry recovers once the real file is served', async () => {
  const b = await h.launch();
  try {
    let served = 0;
    const corrupt = async (route) => {
      served++;
      const res = await route.fetch();
      const body = Buffer.from(await res.body());
      for (let i = 1000; i < body.length; i += 4096) body[i] ^= 0xff;
      await route.fulfill({ response: res, body });
    };
    await b.context.route('**/models/*.safetensors', corrupt);
    // The order in which the worker's messages reach the page: the reason must come before
    // the error phase, or a page (or a test) could show the phase with nothing to explain it.
    await b.context.addInitScript(() => {
      const seen = (window.workerMessages = []);
      window.Worker = class extends window.Worker {
        constructor(...args) {
          super(...args);
          this.addEventListener('message', ({ data: m }) => seen.push(m?.type === 'state' ? `state:${m.state.phase}` : `${m?.type}:${m?.code ?? ''}`));
        }
      };
    });
    await b.page.goto(srv.url);
    const s = await h.waitForPhase(b.page, 'weights-error');
    const order = await b.page.evaluate(() => window.workerMessages);
    assert.ok(order.indexOf('error:weights-corrupt') >= 0 && order.indexOf('error:weights-corrupt') < order.indexOf('state:weights-error'), `error phase before its reason: ${order.join(' ')}`);
    assert.equal(served, 1);
    assert.equal(s.weights.status, 'error');
    const err = s.errors.find((e) => e.code === 'weights-corrupt');
    assert.ok(err, `no weights-corrupt error in ${JSON.stringify(s.errors)}`);
    assert.match(err.message, /SHA-256/);
    assert.ok(await b.page.locator('#weights-retry').isVisible(), 'Retry is not offered');
    assert.match(await b.page.locator('#weights-error-text').textContent(), /damaged/);
    assert.match(await b.page.locator('#errors').textContent(), /SHA-256/);
    await h.screenshot(b.page, 'weights-corrupt');

    // Nothing corrupt may have been cached: a reload must download again (and fail again).
    await b.page.reload();
    await h.waitForPhase(b.page, 'weights-error');
    assert.equal(served, 2, 'corrupt weights were cached');

    await b.context.unroute('**/models/*.safetensors', corrupt);
    await b.page.click('#weights-retry');
    const s2 = await h.waitForPhase(b.page, DONE);
    assert.equal(s2.weights.status, 'ready');
    assert.ok(await b.page.locator('#weights-error').isHidden());
    await b.page.reload();
    const s3 = await h.waitForPhase(b.page, DONE);
    assert.equal(s3.weights.source, 'cache');
  } finally { await b.close(); }
});

test('a weights file of the wrong size is rejected before hashing', async () => {
  const b = await h.launch();
  try {
    await b.context.route('**/models/*.safetensors', async (route) => {
      const res = await route.fetch();
      await route.fulfill({ response: res, body: (await res.body()).subarray(0, 1000) });
    });
    await b.page.goto(srv.url);
    const s = await h.waitForPhase(b.page, 'weights-error');
    assert.match(s.errors.find((e) => e.code === 'weights-corrupt')?.message ?? '', /it has 1000 bytes instead of/);
  } finally { await b.close(); }
});

test('main thread has no long task over 200 ms during download and verification', async () => {
  const b = await h.launch();
  try {
    await b.page.goto(srv.url);
    await h.waitForPhase(b.page, DONE);
    // Also interact while idle: the page must answer clicks promptly.
    const t0 = Date.now();
    await b.page.click('#add-class');
    await b.page.waitForFunction(() => window.tabtrainState.classes.length === 1);
    const clickMs = Date.now() - t0;
    const tasks = await b.page.evaluate(() => window.__tt.longTasks);
    const supported = await b.page.evaluate(() => PerformanceObserver.supportedEntryTypes.includes('longtask'));
    assert.ok(supported, 'longtask entries unsupported: the measurement would be vacuous');
    assert.ok(Math.max(0, ...tasks) <= 200, `long tasks (ms): ${tasks.map(Math.round).join(', ')}`);
    assert.ok(clickMs < 2000, `add-class round trip took ${clickMs} ms`);
  } finally { await b.close(); }
});
