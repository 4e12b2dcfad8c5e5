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

// The table and the matrix as the page shows them.
const tables = (page) => page.evaluate(() => ({
  perClass: [...document.querySelectorAll('#per-class tbody tr')].map((tr) => [...tr.children].map((td) => td.textContent)),
  confusion: [...document.querySelectorAll('#confusion tbody tr')].map((tr) => [...tr.children].map((td) => td.textContent)),
  note: document.querySelector('#run-classes').textContent,
}));

test('results are labelled by class id: an empty class is left out, a deleted class keeps its name', { skip }, async () => {
  const b = await h.openApp(srv.url);
  try {
    const { page } = b;
    page.on('dialog', (d) => d.accept());
    await page.fill('#new-class-name', 'EMPTY');
    await page.click('#add-class');
    await f.addClasses(page, app.root, ['animals', 'food', 'toys'], 25);
    await f.setTraining(page, { epochs: 4 });
    await page.click('#train');
    await h.waitForPhase(page, 'trained', 180_000);
    const last = await page.evaluate(() => window.__tt.events.filter((e) => e.type === 'epoch').at(-1));
    const s = await h.state(page);
    const id = Object.fromEntries(s.classes.map((c) => [c.name, c.id]));
    assert.deepEqual(last.classes, [{ id: id.animals, name: 'animals' }, { id: id.food, name: 'food' }, { id: id.toys, name: 'toys' }]);
    const acc = (name) => `${(last.perClass.find((p) => p.id === id[name]).acc * 100).toFixed(1)}%`;
    let t = await tables(page);
    assert.deepEqual(t.perClass, [['animals', '25', acc('animals')], ['food', '25', acc('food')], ['toys', '25', acc('toys')], ['EMPTY', '0', 'not in this run']]);
    assert.deepEqual(t.confusion[0], ['', 'animals', 'food', 'toys']);
    assert.deepEqual(t.confusion.slice(1).map((r) => r[0]), ['animals', 'food', 'toys']);
    // Row sums are the validation pictures of that class (rows: true class).
    for (const [i, name] of ['animals', 'food', 'toys'].entries()) {
      const n = t.confusion[i + 1].slice(1).reduce((a, v) => a + Number(v), 0);
      assert.equal(n, last.perClass.find((p) => p.id === id[name]).n, name);
    }
    assert.match(t.note, /trained on animals, food, toys\. Left out, because they had no pictures: EMPTY\./);

    // Delete "food" and rename "toys": the run's results keep their labels.
    await page.locator('.class-item').nth(2).locator('.delete').click();
    await page.waitForFunction(() => window.tabtrainState.classes.length === 3);
    const toys = page.locator('.class-item').nth(2).locator('.class-name');
    await toys.fill('games');
    await toys.press('Enter');
    await page.waitForFunction(() => window.tabtrainState.classes.some((c) => c.name === 'games'));
    await h.settled(page);
    t = await tables(page);
    assert.deepEqual(t.perClass.map((r) => r[0]), ['animals', 'food (deleted)', 'games', 'EMPTY']);
    assert.deepEqual(t.perClass[0][2], acc('animals'));
    assert.deepEqual(t.perClass[1][2], acc('food'));
    assert.deepEqual(t.perClass[2][2], acc('toys'));
    assert.deepEqual(t.confusion[0], ['', 'animals', 'food (deleted)', 'games']);
    await h.screenshot(page, 'classroom-labels');
    // After a reload the same run, the same labels.
    await page.reload();
    await h.waitForPhase(page, 'trained', 120_000);
    await page.waitForFunction(() => document.querySelectorAll('#confusion tbody tr').length === 4);
    const r = await tables(page);
    assert.deepEqual(r.perClass, t.perClass);
    assert.deepEqual(r.confusion, t.confusion);
    assert.deepEqual(b.consoleErrors, []);
  } finally { await b.close(); }
});
