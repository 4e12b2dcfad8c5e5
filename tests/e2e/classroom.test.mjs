// A classroom's first minutes (issue 11): slow Wi-Fi, so pictures arrive before the base
// model; classes without pictures and classes deleted after training; every message a
// teacher can see written for people.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './helpers.mjs';
import * as f from './flows.mjs';

const skip = h.ENGINE_SKIP || h.REAL_WEIGHTS_SKIP;
let app, srv, sample;
before(async () => {
  if (skip) return;
  app = h.buildApp();
  srv = await h.startServer(app.root);
  sample = JSON.parse(fs.readFileSync(path.join(app.root, 'sample/manifest.json'), 'utf8'));
});
after(async () => { await srv?.close(); app?.cleanup(); });

// Every time #train turns on, what the page knew then (Train must wait for every picture).
const watchTrain = (page) => page.evaluate(() => {
  window.__trainEnabled = [];
  const btn = document.querySelector('#train');
  new MutationObserver(() => {
    if (!btn.disabled) window.__trainEnabled.push({ ...window.tabtrainState.intake, waiting: window.tabtrainState.waiting });
  }).observe(btn, { attributes: true, attributeFilter: ['disabled'] });
});

test('pictures added while the base model downloads are queued and read once it is there', { skip }, async () => {
  const b = await h.launch();
  try {
    const { page } = b;
    // The download hangs until the pictures are in: a slow classroom connection, made certain.
    let release;
    const gate = new Promise((r) => { release = r; });
    await b.context.route('**/models/*.safetensors', async (route) => { await gate; await route.continue(); });
    await page.goto(srv.url);
    await h.waitForPhase(page, 'weights-download');
    await watchTrain(page);
    await page.waitForFunction(() => !document.querySelector('#use-sample').disabled);
    await page.fill('#new-class-name', 'mine');
    await page.click('#add-class');
    await page.waitForSelector('input[type=file][data-class-index="0"]');
    await page.click('#use-sample');
    const mine = sample.classes[0].files.slice(0, 3).map((p) => path.join(app.root, 'sample', p));
    await page.setInputFiles('input[type=file][data-class-index="0"]', mine);
    await page.waitForFunction(() => window.tabtrainState.waiting > 0);
    let s = await h.state(page);
    assert.equal(s.phase, 'weights-download');
    assert.ok(await page.locator('#train').isDisabled());
    assert.match(await page.locator('#train-why').textContent(), /once the base model has loaded/);
    assert.match(await page.locator('#train').getAttribute('title'), /base model/);
    assert.match(await page.locator('#phase').textContent(), /pictures will be read once it is ready/);
    await h.screenshot(page, 'classroom-queued');

    release();
    const total = sample.classes.reduce((n, c) => n + c.files.length, 0) + mine.length;
    await page.waitForFunction((t) => window.tabtrainState.intake.total === t && window.tabtrainState.intake.done === t &&
      window.tabtrainState.pendingCommands === 0, total, { timeout: 240_000 })
      .catch(async (e) => { throw new Error(`${e.message}; state: ${JSON.stringify(await h.state(page)).slice(0, 1500)}`); });
    s = await h.state(page);
    assert.deepEqual(s.errors, []);
    assert.deepEqual(s.classes.map((c) => [c.name, c.count]),
      [['mine', mine.length], ...sample.classes.map((c) => [c.name, c.files.length])]);
    // The progress counted the whole batch, not a chunk of 16.
    assert.equal(await page.locator('#extract-text').textContent(), `${total} / ${total}`);
    const seen = await page.evaluate(() => window.__tt.events.filter((e) => e.type === 'progress' && e.phase === 'extracting').length);
    assert.ok(seen > 0, 'no reading progress');
    await page.waitForFunction(() => !document.querySelector('#train').disabled);
    const enabled = await page.evaluate(() => window.__trainEnabled);
    assert.ok(enabled.length >= 1);
    for (const e of enabled) assert.ok(e.done === e.total && e.waiting === 0, `Train enabled with pictures pending: ${JSON.stringify(e)}`);
    assert.ok(await page.locator('#train-why').isHidden());
    assert.deepEqual(b.consoleErrors, []);
  } finally { await b.close(); }
});
