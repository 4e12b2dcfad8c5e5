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
  sample = h.samplePictures(app.root);
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
    const mine = f.pictures(app.root, sample.classes[0].name).slice(0, 3);
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

test('a sample file cut short: the pictures that came whole are added, the rest is reported, nothing waits', { skip }, async () => {
  const b = await h.launch();
  try {
    const { page } = b;
    const pack = fs.readFileSync(path.join(app.root, 'sample', sample.pack));
    const whole = sample.classes[0].sizes[0] + sample.classes[0].sizes[1];
    await b.context.route('**/sample/pictures.pack', (route) => route.fulfill({ status: 200, contentType: 'application/octet-stream', body: pack.subarray(0, whole + 100) }));
    await page.goto(srv.url);
    await h.waitForPhase(page, 'ready', 120_000);
    await page.click('#use-sample');
    await page.waitForFunction(() => window.tabtrainState.errors.some((e) => /sample pictures could not be loaded/.test(e.message)));
    await page.waitForFunction(() => window.tabtrainState.pendingCommands === 0 && window.tabtrainState.intake.done === window.tabtrainState.intake.total &&
      window.tabtrainState.classes.length === 4 && window.tabtrainState.classes[0].count === 2);
    const s = await h.state(page);
    assert.deepEqual(s.classes.map((c) => [c.name, c.count]), [['animals', 2], ['food', 0], ['instrument', 0], ['toys', 0]]);
    assert.equal(s.intake.total, 2);
    assert.equal(s.errors.length, 1);
    assert.match(s.errors[0].message, /could not be loaded \(the sample file ended early\)/);
    assert.ok(!(await page.locator('#use-sample').isDisabled()));

    // A message that cannot leave the page (here: it cannot be cloned) is an answered
    // failure, listed, and leaves no command waiting for ever.
    const r = await page.evaluate(async () => (await import('./app/rpc.js')).command('hello', { f: () => 1 }));
    assert.equal(r.ok, false);
    assert.match(r.error.message, /could not be sent to the worker \(DataCloneError/);
    assert.equal((await h.state(page)).pendingCommands, 0);
    assert.ok((await h.state(page)).errors.some((e) => /could not be sent to the worker/.test(e.message)));
  } finally { await b.close(); }
});

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
    // The settings, the charts and the run's position come back too.
    assert.equal(await page.locator('#settings [name=epochs]').inputValue(), '4');
    assert.equal(await page.locator('#settings [name=lr]').inputValue(), '0.003');
    assert.equal(await page.locator('#loss-chart canvas').count(), 1);
    assert.match(await page.locator('#epoch-text').textContent(), /epoch 4 of 4/);
    assert.deepEqual(b.consoleErrors, []);
  } finally { await b.close(); }
});

// What no message for people may contain: internal paths, byte dumps, engine keys and
// codes, programming-language leftovers.
const FORBIDDEN = [
  /\/tabtrain\//, /\/tmp\//, /\b(ckpt|dataset|features|wasm)\//, /\.mjs\b/,
  /\b0x[0-9a-f]+/i, /\b[0-9a-f]{2}(?: [0-9a-f]{2}){3,}\b/i, /\b[0-9a-f]{16,}\b/i, /\d{10,}/,
  /\b[a-z]+_[a-z0-9_]+\b/, /\btt_[a-z]/, /\bTT_ERR/, /\bsyncfs\b/,
  /TypeError|ReferenceError|RangeError|\bundefined\b|\bNaN\b|\[object /,
];
// Every text the page shows about state and problems, and every control's tooltip.
const shownMessages = (page) => page.evaluate(() => [
  ...window.tabtrainState.errors.map((e) => e.message),
  ...['#phase', '#train-why', '#predict-why', '#origin-notice', '#owner-text', '#engine-status', '#storage-status',
    '#weights-error-text', '#run-classes', '#extract-text', '#epoch-text', '#webcam-status', '#errors']
    .map((sel) => document.querySelector(sel)?.textContent || ''),
  ...[...document.querySelectorAll('[title]')].map((el) => el.title),
].filter(Boolean));

test('every message on the page is written for people; problems newest first, counted, clearable', { skip }, async () => {
  const b = await h.openApp(srv.url);
  try {
    const { page } = b;
    page.on('dialog', (d) => d.accept());
    await f.addClasses(page, app.root, ['animals', 'food'], 5);
    // A duplicate class name is refused.
    await page.fill('#new-class-name', 'Animals');
    await page.click('#add-class');
    await page.waitForFunction(() => window.tabtrainState.errors.some((e) => /already a class named "animals"/.test(e.message)));
    assert.equal((await h.state(page)).classes.length, 2);

    // A file of each failure class, and the same pictures again.
    const png = sample.classes[0].pictures[0].bytes;
    const bad = [
      { name: 'empty.png', mimeType: 'image/png', buffer: Buffer.alloc(0) },
      { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a picture at all\n'.repeat(20)) },
      { name: 'cut-off.png', mimeType: 'image/png', buffer: png.subarray(0, 200) },
      { name: 'photo.heic', mimeType: 'image/heic', buffer: Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypheic'), Buffer.alloc(300, 7)]) },
      { name: 'broken.webp', mimeType: 'image/webp', buffer: Buffer.concat([Buffer.from('RIFF'), Buffer.from([0xff, 0xff, 0, 0]), Buffer.from('WEBPVP8 '), Buffer.alloc(64, 1)]) },
    ];
    await page.setInputFiles('input[type=file][data-class-index="0"]', bad);
    await page.waitForFunction((n) => window.tabtrainState.errors.filter((e) => e.code === 'file').length >= n && window.tabtrainState.pendingCommands === 0, bad.length);
    await page.setInputFiles('input[type=file][data-class-index="0"]', f.pictures(app.root, 'animals').slice(0, 5));
    await page.waitForFunction(() => window.tabtrainState.errors.some((e) => /5 pictures were already in "animals"/.test(e.message)));
    let s = await h.state(page);
    assert.equal(s.errors.filter((e) => /already in/.test(e.message)).length, 1, 'one line for all the duplicates');
    const byFile = Object.fromEntries(s.errors.filter((e) => e.file).map((e) => [e.file, e.message]));
    assert.match(byFile['empty.png'], /is empty/);
    assert.match(byFile['notes.txt'], /is not a picture tabtrain can read/);
    assert.match(byFile['cut-off.png'], /damaged|could not be read/);
    assert.match(byFile['photo.heic'], /is not a picture tabtrain can read/);
    assert.ok(byFile['broken.webp']);

    // Model files that are not models: a header length of 2^64-1, and noise.
    const huge = Buffer.concat([Buffer.from([0xf3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x92]), Buffer.from('{"a":1}')]);
    for (const [name, buffer] of [['huge-header.safetensors', huge], ['noise.safetensors', Buffer.alloc(4096, 0x5a)]]) {
      const before = (await h.state(page)).errors.length;
      await page.setInputFiles('#import', { name, mimeType: 'application/octet-stream', buffer });
      await page.waitForFunction((n) => window.tabtrainState.errors.length > n, before);
    }
    s = await h.state(page);
    assert.match(s.errors.at(-1).message, /"noise\.safetensors" is not a tabtrain model or checkpoint, or it is damaged/);

    // Settings the engine refuses name the setting, not its key.
    await f.setTraining(page, { epochs: 2, copies: 99, augment: ['flip'] });
    await page.click('#train');
    await page.waitForFunction(() => window.tabtrainState.errors.some((e) => /Copies per picture/.test(e.message)));
    await f.setTraining(page, { epochs: 2 });
    await page.click('#train');
    await h.waitForPhase(page, 'trained', 120_000);
    // A failed prediction names its file.
    await page.setInputFiles('#predict-file', { name: 'not-a-photo.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    await page.waitForFunction(() => window.tabtrainState.errors.some((e) => e.file === 'not-a-photo.txt'));
    // A good one shows the picture, its name, and the top class highlighted.
    const probs = await f.predict(page, f.pictures(app.root, 'food')[9]);
    assert.equal(await page.locator('#predict-name').textContent(), path.basename(f.pictures(app.root, 'food')[9]));
    assert.ok(await page.locator('#predict-preview').isVisible());
    assert.equal(await page.locator('#predict-results li.top span').first().textContent(), f.top(probs));

    const texts = await shownMessages(page);
    assert.ok(texts.length > 15, `only ${texts.length} messages collected`);
    const offending = [];
    for (const t of texts) for (const re of FORBIDDEN) if (re.test(t)) offending.push(`${re}: ${t.slice(0, 200)}`);
    assert.deepEqual(offending, []);

    // Newest first, with a count; Clear empties the list.
    const first = await page.locator('#errors li').first().textContent();
    assert.match(first, /not-a-photo\.txt/);
    assert.equal(await page.locator('#errors-count').textContent(), ` (${(await h.state(page)).errors.length})`);
    await h.screenshot(page, 'classroom-messages');
    await page.click('#clear-errors');
    assert.equal(await page.locator('#errors li').count(), 0);
    assert.ok(await page.locator('#no-errors').isVisible());
    assert.deepEqual((await h.state(page)).errors, []);
    assert.deepEqual(b.consoleErrors, []);
  } finally { await b.close(); }
});
