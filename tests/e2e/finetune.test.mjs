// Augmentation, fine-tuning (unfreeze) and continuing an imported model, in the browser,
// with the real MobileNetV2 weights in headless Chromium:
//   1. a run with flip/zoom/brightness copies and the last block unfrozen prepares its
//      rows with progress, trains, and a reload in the middle resumes to the very
//      weights of an uninterrupted run — head and fine-tuned block, bit for bit; the
//      export carries the fine-tuned block under the backbone's name;
//   2. that export, imported in a fresh profile, creates its classes and sets the
//      settings it needs; new pictures are added and training continues from it
//      (with a vanishing learning rate it predicts what the import predicted).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './helpers.mjs';
import * as f from './flows.mjs';

const skip = h.ENGINE_SKIP || h.REAL_WEIGHTS_SKIP;
const CLASSES = ['animals', 'food', 'instrument'];
const PER_CLASS = 6;
const EPOCHS = 60;
const SETTINGS = { epochs: EPOCHS, augment: ['flip', 'zoom', 'brightness'], copies: 1, unfreeze: 1 };
// The trained head and the fine-tuned part of the backbone (block 16 and the 1x1 head conv).
const TRAINED = /^(head\.(hidden|logits)\.|block16\.|head\.(weight|bias)$)/;
let app, srv, whole;
before(async () => { if (!skip) { app = h.buildApp(); srv = await h.startServer(app.root); } });
after(async () => { await srv?.close(); app?.cleanup(); });

async function train(interrupt) {
  const b = await h.openApp(srv.url);
  try {
    const { page } = b;
    await f.addClasses(page, app.root, CLASSES, PER_CLASS);
    await f.setTraining(page, SETTINGS);
    await page.click('#train');
    let resumedAt = null, savedBefore = null;
    if (interrupt) {
      await page.waitForFunction((e) => window.tabtrainState.saved?.step > 0 && window.tabtrainState.epoch < e / 2, EPOCHS, { timeout: 120_000 });
      savedBefore = (await h.state(page)).saved;
      await page.reload();
      resumedAt = await h.waitForPhase(page, ['paused', 'ready', 'trained'], 120_000);
      assert.equal(resumedAt.phase, 'paused', JSON.stringify(resumedAt));
      await page.click('#resume');
    }
    const s = await h.waitForPhase(page, 'trained', 300_000);
    assert.equal(s.epoch, EPOCHS);
    const prep = await page.evaluate(() => window.__tt.events.filter((e) => e.type === 'progress' && e.unit === 'views'));
    const ex = await f.exportFiles(page);
    const probe = f.pictures(app.root, 'food')[PER_CLASS + 1];
    return { s, prep, ex, resumedAt, savedBefore, probe: await f.predict(page, probe), probeFile: probe };
  } finally { await b.close(); }
}

test('augmented copies and an unfrozen block: prepared with progress, resumed after a reload bit for bit', { skip }, async () => {
  whole = await train(false);
  // 18 pictures, 3 held for validation: 15 x (plain + 1 copy) + 3 rows to prepare.
  assert.ok(whole.prep.length >= 1, 'no preparation progress');
  assert.equal(whole.prep.at(-1).total, 15 * 2 + 3, JSON.stringify(whole.prep.at(-1)));
  const trained = f.tensorHashes(whole.ex.weights, TRAINED).tensors;
  const original = f.tensorHashes(fs.readFileSync(path.join(h.ROOT, 'models', h.WEIGHTS_NAME)), /^(block16\.|head\.(weight|bias)$)/).tensors;
  assert.ok(Object.keys(original).length >= 8, Object.keys(original).join());
  for (const [name, hash] of Object.entries(original)) assert.notEqual(trained[name], hash, `${name} was not fine-tuned`);
  assert.equal(JSON.parse(f.tensorNames(whole.ex.weights).meta['tabtrain.head']).unfreeze, 1);

  const resumed = await train(true);
  // Resumed from the checkpoint the page was told of before the reload, or a newer one.
  const at = resumed.resumedAt;
  assert.ok(at.epoch >= resumed.savedBefore.epoch && at.saved?.step >= resumed.savedBefore.step && at.epoch < EPOCHS,
    JSON.stringify({ before: resumed.savedBefore, epoch: at.epoch, saved: at.saved, errors: at.errors, storage: at.storage }));
  assert.deepEqual(f.tensorHashes(resumed.ex.weights, TRAINED).tensors, trained);
  assert.deepEqual(resumed.probe, whole.probe);
});

test('an imported export creates its classes and training continues from it', { skip }, async () => {
  assert.ok(whole, 'needs the first test\'s export');
  const b = await h.openApp(srv.url);
  try {
    const { page } = b;
    await page.setInputFiles('#import', { name: 'model.safetensors', mimeType: 'application/octet-stream', buffer: whole.ex.weights });
    await page.waitForFunction(() => window.tabtrainState.imported && window.tabtrainState.pendingCommands === 0);
    const s = await h.state(page);
    assert.deepEqual(s.classes.map((c) => c.name), CLASSES);
    assert.deepEqual(s.imported.classes, CLASSES);
    assert.equal(s.imported.unfreeze, 1);
    assert.equal(s.phase, 'trained');
    // The import predicts as the browser that trained it did.
    const imported = await f.predict(page, whole.probeFile);
    for (const [i, p] of imported.entries()) assert.ok(Math.abs(p.p - whole.probe[i].p) < 1e-4, `${JSON.stringify(imported)} vs ${JSON.stringify(whole.probe)}`);
    assert.ok(await page.isChecked('#settings [name=init_from_model]'));
    assert.equal(await page.inputValue('#settings [name=unfreeze]'), '1');
    await h.screenshot(page, 'finetune-imported');

    // New pictures, then one epoch at a vanishing learning rate from the import.
    await f.addPictures(page, app.root, CLASSES, PER_CLASS + 2, 3);
    await f.setTraining(page, { ...SETTINGS, epochs: 1, lr: 0.000000001 }); // this browser's form has the app's defaults
    await page.setChecked('#settings [name=init_from_model]', true);
    await page.click('#train');
    await h.waitForPhase(page, 'trained', 120_000);
    const continued = await f.predict(page, whole.probeFile);
    for (const [i, p] of continued.entries()) assert.ok(Math.abs(p.p - whole.probe[i].p) < 1e-3, `${JSON.stringify(continued)} vs ${JSON.stringify(whole.probe)}`);
    // From scratch, the same run predicts otherwise: the import is what carried over.
    await page.setChecked('#settings [name=init_from_model]', false);
    await page.click('#train');
    await h.waitForPhase(page, 'trained', 120_000);
    const scratch = await f.predict(page, whole.probeFile);
    assert.ok(scratch.some((p, i) => Math.abs(p.p - whole.probe[i].p) > 0.05), JSON.stringify(scratch));
    assert.deepEqual(b.consoleErrors, []);
  } finally { await b.close(); }
});

test('a class shows its pictures as thumbnails (also after a reload) and one can be removed', { skip }, async () => {
  const b = await h.openApp(srv.url);
  try {
    const { page } = b;
    await f.addClasses(page, app.root, ['animals'], 3);
    const tiles = '.class-item[data-class-id] .pictures .thumb';
    const drawn = async (n) => {
      await page.waitForFunction(({ sel, n }) => {
        const t = [...document.querySelectorAll(sel)];
        return t.length === n && t.every((x) => x.dataset.drawn === '1');
      }, { sel: tiles, n });
      // Real pixels, not an empty canvas: the painted (non-transparent) pixels of each.
      return page.$$eval(`${tiles} canvas`, (cs) => cs.map((c) => c.getContext('2d').getImageData(0, 0, c.width, c.height).data
        .filter((v, i) => i % 4 === 3 && v > 0).length));
    };
    await page.click('.pictures summary');
    for (const n of await drawn(3)) assert.ok(n > 500, `blank thumbnail (${n} pixels painted)`);
    await h.screenshot(page, 'pictures-thumbnails');
    const victim = await page.getAttribute(`${tiles} >> nth=1`, 'data-image-id');
    await page.click(`${tiles} >> nth=1 >> .remove`);
    await page.waitForFunction(() => window.tabtrainState.classes[0].count === 2 && window.tabtrainState.pendingCommands === 0);
    await drawn(2);
    assert.ok(!(await page.$$eval(tiles, (t) => t.map((x) => x.dataset.imageId))).includes(victim));

    await page.reload();
    await h.waitForPhase(page, 'ready', 120_000);
    assert.equal((await h.state(page)).classes[0].count, 2);
    await page.click('.pictures summary');
    for (const n of await drawn(2)) assert.ok(n > 500, `blank thumbnail after reload (${n} pixels painted)`);
    assert.deepEqual(b.consoleErrors, []);
  } finally { await b.close(); }
});
