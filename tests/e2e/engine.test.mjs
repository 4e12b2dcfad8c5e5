// Flows that need the wasm engine: sample dataset -> features -> training with
// epoch metrics -> pause/resume -> predict -> export, and the dataset surviving a
// reload (checkpoint restore). Skipped (with the reason) until build/wasm/tabtrain.{mjs,wasm} exists and
// the real MobileNetV2 weights have been fetched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './helpers.mjs';

const skip = h.ENGINE_SKIP || h.REAL_WEIGHTS_SKIP;
let app, srv;
before(async () => { if (!skip) { app = h.buildApp(); srv = await h.startServer(app.root); } });
after(async () => { await srv?.close(); app?.cleanup(); });

test('engine starts and the page reports ready', { skip }, async () => {
  const b = await h.launch();
  try {
    await b.page.goto(srv.url);
    const s = await h.waitForPhase(b.page, ['ready', 'engine-error'], 60_000);
    assert.equal(s.engine, 'loaded', JSON.stringify(s));
    assert.equal(s.phase, 'ready');
  } finally { await b.close(); }
});

test('sample dataset trains for 2 epochs, pauses, resumes, predicts and exports', { skip }, async () => {
  const b = await h.launch();
  try {
    const { page } = b;
    await page.goto(srv.url);
    await h.waitForPhase(page, 'ready', 60_000);
    await page.click('#use-sample');
    await page.waitForFunction(() => window.tabtrainState.classes.length === 4 &&
      window.tabtrainState.classes.reduce((a, c) => a + c.count, 0) >= 290 && window.tabtrainState.pendingCommands === 0, null, { timeout: 600_000 });
    const counts = (await h.state(page)).classes.map((c) => c.count);
    assert.ok(counts.every((n) => n >= 60), `per-class counts ${counts}`);
    await h.screenshot(page, 'engine-sample-loaded');

    await page.fill('#settings [name=epochs]', '2');
    await page.click('#train');
    const s = await h.waitForPhase(page, 'trained', 600_000);
    const epochs = await page.evaluate(() => window.__tt.events.filter((e) => e.type === 'epoch'));
    assert.equal(epochs.length, 2);
    assert.ok(Number.isFinite(epochs[1].trainLoss) && epochs[1].trainLoss < epochs[0].trainLoss * 1.5);
    assert.equal(epochs[1].confusion.length, 4);
    assert.ok(s.valAcc > 0.25, `validation accuracy ${s.valAcc} is not above chance`);
    assert.equal(await page.locator('#confusion tr').count(), 5);
    await h.screenshot(page, 'engine-trained');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
    assert.match(download.suggestedFilename(), /\.safetensors$/);
    await page.setInputFiles('#predict-file', `${app.root}/sample/animals/bear.png`);
    await page.waitForSelector('#predict-results li');
    assert.equal(await page.locator('#predict-results li').count(), 4);
    await h.screenshot(page, 'engine-predicted');

    // A long run is paused, resumed and paused again; the checkpoint restores it after a reload.
    await page.fill('#settings [name=epochs]', '500');
    await page.click('#train');
    await h.waitForPhase(page, 'training');
    await page.click('#pause');
    const p1 = await h.waitForPhase(page, 'paused', 120_000);
    assert.ok(p1.epoch < 500);
    await page.click('#resume');
    await h.waitForPhase(page, 'training');
    await page.click('#pause');
    const p2 = await h.waitForPhase(page, 'paused', 120_000);
    assert.ok(p2.step >= p1.step);
    await h.settled(page);
    await page.reload();
    const r = await h.waitForPhase(page, 'paused', 60_000);
    assert.equal(r.step, p2.step);
    assert.ok(r.classes.reduce((a, c) => a + c.count, 0) >= 290);
  } finally { await b.close(); }
});

test('undecodable files are listed with a reason', { skip }, async () => {
  const b = await h.launch();
  try {
    const { page } = b;
    await page.goto(srv.url);
    await h.waitForPhase(page, 'ready', 60_000);
    await page.click('#add-class');
    await page.waitForSelector('input[type=file][data-class-index="0"]');
    await page.setInputFiles('input[type=file][data-class-index="0"]', [
      { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image') },
      { name: 'empty.png', mimeType: 'image/png', buffer: Buffer.alloc(0) },
    ]);
    await page.waitForFunction(() => window.tabtrainState.errors.filter((e) => e.code === 'file').length === 2);
    const errs = (await h.state(page)).errors.filter((e) => e.code === 'file');
    assert.deepEqual(errs.map((e) => e.file).sort(), ['empty.png', 'notes.txt']);
    assert.equal((await h.state(page)).classes[0].count, 0);
  } finally { await b.close(); }
});
