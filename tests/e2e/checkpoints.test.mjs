// The browser keeps its training the way `tabtrain train --ckpt-dir` does (the engine's
// checkpoint policy, tabtrain/ckpt.h): rotation, best, latest, and a damaged newest
// checkpoint passed over for the one before it. And a profile written before the
// project store and the checkpoint policy (the class list in classes.json, one record
// per picture, one checkpoint file) opens with its classes, pictures and run.
//   1. train, pause, flip one byte of the newest checkpoint in IndexedDB, reload: the
//      run continues from the checkpoint before it, the page says so in plain words,
//      and training runs to its end;
//   2. a run of this build rewritten into the old layout in IndexedDB: after a reload the
//      classes, counts, pictures (byte for byte) and the paused run are there, and the
//      migrated files are what IndexedDB holds from then on.
// Skipped until the engine is built and the real weights exist.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as h from './helpers.mjs';
import * as f from './flows.mjs';

const skip = h.ENGINE_SKIP || h.REAL_WEIGHTS_SKIP;
const CLASSES = ['animals', 'food', 'instrument'];
let app, srv;
before(async () => { if (!skip) { app = h.buildApp(); srv = await h.startServer(app.root); } });
after(async () => { await srv?.close(); app?.cleanup(); });

// The engine's files in IndexedDB (IDBFS: database "/tabtrain", store FILE_DATA, keyed by
// path), edited by `edit` in a page of the same origin that runs no worker. `edit` gets
// {keys, get(key), put(key, entry), del(key)}, and for the picture store outside IDBFS
// (web/pictures.js: IndexedDB records and OPFS files) picture(id) (the original's bytes, or null) and
// clearPictures(); its result is returned. What that page
// logs (the favicon it lacks) is not the app's: it is dropped from b.consoleErrors.
async function editFiles(b, edit, arg) {
  const { page } = b;
  const logged = b.consoleErrors.length;
  await page.goto(new URL('models/manifest.json', srv.url).href);
  const out = await page.evaluate(async ({ src, arg }) => {
    const db = await new Promise((res, rej) => { const r = indexedDB.open('/tabtrain'); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
    const run = (mode, fn) => new Promise((res, rej) => {
      const tx = db.transaction('FILE_DATA', mode);
      const r = fn(tx.objectStore('FILE_DATA'));
      tx.oncomplete = () => res(r?.result);
      tx.onerror = () => rej(tx.error);
    });
    // The page's own picture store: in a window (no sync access handles) its IndexedDB records.
    const pictureRecords = await (await import(new URL('../pictures.js', location.href))).openPictures();
    const files = {
      keys: await run('readonly', (s) => s.getAllKeys()),
      get: (k) => run('readonly', (s) => s.get(k)),
      put: (k, v) => run('readwrite', (s) => s.put(v, k)),
      del: (k) => run('readwrite', (s) => s.delete(k)),
      // An IndexedDB record (a small part), else an OPFS file.
      picture: async (id) => {
        const record = await pictureRecords.get(id, 'original');
        if (record) return new Uint8Array(record);
        try {
          const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('pictures');
          return new Uint8Array(await (await (await dir.getFileHandle(`${id}.original`)).getFile()).arrayBuffer());
        } catch { return null; }
      },
      clearPictures: async () => {
        await pictureRecords.clear();
        await (await navigator.storage.getDirectory()).removeEntry('pictures', { recursive: true }).catch(() => {});
      },
    };
    const out = await new Function('files', 'arg', `return (${src})(files, arg);`)(files, arg);
    db.close();
    return out;
  }, { src: edit.toString(), arg });
  b.consoleErrors.splice(logged);
  return out;
}

const stepOf = (name) => Number(/-s(\d+)\.safetensors$/.exec(name)[1]);

test('a damaged newest checkpoint: the reload continues from the one before and says so', { skip }, async () => {
  const EPOCHS = 1500;
  const b = await h.openApp(srv.url);
  try {
    const { page } = b;
    await f.addClasses(page, app.root, CLASSES, 6);
    await f.setTraining(page, { epochs: EPOCHS, hidden: 32 });
    await page.click('#train');
    // One checkpoint by the engine's 2 s interval, one more when paused.
    await page.waitForFunction(() => window.tabtrainState.saved?.step > 0, null, { timeout: 120_000 });
    await page.click('#pause');
    const paused = await h.waitForPhase(page, 'paused', 60_000);
    await page.waitForFunction((s) => window.tabtrainState.saved?.step === s, paused.step);
    await h.settled(page);

    const files = await editFiles(b, async (files) => {
      const latest = new TextDecoder().decode((await files.get('/tabtrain/ckpt/latest')).contents).trim();
      const entry = await files.get(`/tabtrain/ckpt/${latest}`);
      entry.contents[entry.contents.length >> 1] ^= 0x40;
      await files.put(`/tabtrain/ckpt/${latest}`, entry);
      return { latest, ckpts: files.keys.filter((k) => /\/ckpt\/ckpt-/.test(k)).map((k) => k.split('/').pop()), best: files.keys.includes('/tabtrain/ckpt/best.safetensors') };
    });
    const steps = files.ckpts.map(stepOf).sort((x, y) => y - x);
    assert.equal(stepOf(files.latest), paused.step, 'latest names the pause checkpoint');
    assert.equal(steps[0], paused.step);
    assert.ok(steps.length >= 2 && steps.length <= 3, `checkpoints kept: ${files.ckpts}`);
    assert.ok(files.best, 'best.safetensors is kept');

    await page.goto(srv.url);
    const r = await h.waitForPhase(page, ['paused', 'trained', 'ready'], 120_000);
    assert.equal(r.phase, 'paused', JSON.stringify(r));
    assert.equal(r.step, steps[1], 'continued from the checkpoint before the damaged one');
    const note = r.errors.find((e) => /damaged/.test(e.message));
    assert.ok(note, JSON.stringify(r.errors));
    assert.match(note.message, /^The newest saved copy of the training was damaged, so training continues from the copy saved before it \(\d+ epochs? done\)\./);
    await h.screenshot(page, 'checkpoints-fallback');
    await page.click('#resume');
    const done = await h.waitForPhase(page, 'trained', 300_000);
    assert.equal(done.epoch, EPOCHS);
    await h.settled(page);

    // The damaged file is gone or rewritten: the next visit has nothing to pass over.
    await page.reload();
    const again = await h.waitForPhase(page, ['trained', 'paused', 'ready'], 120_000);
    assert.equal(again.phase, 'trained');
    assert.equal(again.epoch, EPOCHS);
    assert.deepEqual(again.errors.filter((e) => /damaged/.test(e.message)), []);
    assert.deepEqual(b.consoleErrors, []);
  } finally { await b.close(); }
});

// CRC-32 (zlib polynomial), as tabtrain's safetensors files carry one per tensor.
function crc32(bytes) {
  let c = ~0;
  for (const x of bytes) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return (~c >>> 0).toString(16).padStart(8, '0');
}

// The engine's image record of before the project store: one safetensors file per
// picture, tensor "image" = its bytes, metadata kind/image_id/class_id/name.
function oldRecord(id, classId, name, bytes) {
  const header = JSON.stringify({
    __metadata__: { 'tabtrain.format_version': '1', [`tabtrain.crc32.image`]: crc32(bytes), 'tabtrain.kind': 'image',
      'tabtrain.image_id': String(id), 'tabtrain.class_id': String(classId), 'tabtrain.name': name },
    image: { dtype: 'U8', shape: [bytes.length], data_offsets: [0, bytes.length] },
  });
  const hdr = Buffer.from(header + ' '.repeat((8 - (Buffer.byteLength(header) % 8)) % 8));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hdr.length));
  return Buffer.concat([len, hdr, bytes]);
}

test('a profile of before the project store keeps its classes, pictures and run', { skip }, async () => {
  const b = await h.openApp(srv.url);
  try {
    const { page } = b;
    const names = CLASSES.slice(0, 2);
    await f.addClasses(page, app.root, names, 5);
    await f.setTraining(page, { epochs: 3000, hidden: 16 });
    await page.click('#train');
    await page.waitForFunction(() => window.tabtrainState.epoch >= 3, null, { timeout: 120_000 });
    await page.click('#pause');
    const paused = await h.waitForPhase(page, 'paused', 60_000);
    await page.waitForFunction((s) => window.tabtrainState.saved?.step === s, paused.step);
    await h.settled(page);

    // This build's files: the project index, and the pictures from the picture store.
    const now = await editFiles(b, async (files) => {
      const text = (k) => new TextDecoder().decode(k.contents);
      const project = JSON.parse(text(await files.get('/tabtrain/project.json')));
      const pictures = {};
      for (const im of project.images) pictures[im.id] = Array.from(await files.picture(im.id));
      return { project, pictures, latest: text(await files.get('/tabtrain/ckpt/latest')).trim() };
    });
    assert.equal(now.project.images.length, 10);
    // ... rewritten as the build before the project store kept them.
    const records = now.project.images.map((im) => ({
      path: `/tabtrain/dataset/img-${String(im.id).padStart(8, '0')}.safetensors`,
      bytes: Array.from(oldRecord(im.id, im.class_id, im.name, Buffer.from(now.pictures[im.id]))),
    }));
    const classesJson = JSON.stringify({ version: 1, nextId: now.project.next_class_id, classes: now.project.classes });
    await editFiles(b, async (files, { records, classesJson, latest }) => {
      const file = (bytes) => ({ timestamp: new Date(), mode: 0o100644, contents: new Uint8Array(bytes) });
      await files.put('/tabtrain/dataset', { timestamp: new Date(), mode: 0o40755 });
      for (const r of records) await files.put(r.path, file(r.bytes));
      await files.put('/tabtrain/dataset/classes.json', file(new TextEncoder().encode(classesJson)));
      const ckpt = await files.get(`/tabtrain/ckpt/${latest}`);
      await files.put('/tabtrain/ckpt/latest.safetensors', ckpt);
      for (const k of files.keys)
        if (k === '/tabtrain/project.json' || k === '/tabtrain/layout' || k.startsWith('/tabtrain/pictures') || /\/ckpt\/(latest|best\.safetensors|ckpt-)/.test(k)) await files.del(k);
      await files.clearPictures(); // that build kept them in the records
    }, { records, classesJson, latest: now.latest });

    await page.goto(srv.url);
    const r = await h.waitForPhase(page, ['paused', 'trained', 'ready'], 120_000);
    assert.equal(r.phase, 'paused', JSON.stringify(r));
    assert.deepEqual(r.classes.map((c) => [c.name, c.count]), names.map((n) => [n, 5]));
    assert.equal(r.step, paused.step, 'the run continues where it was paused');
    assert.deepEqual(r.errors, []);
    await h.settled(page);

    // IndexedDB now holds the migrated layout, the picture store every picture's bytes as added.
    const after = await editFiles(b, async (files) => {
      const project = JSON.parse(new TextDecoder().decode((await files.get('/tabtrain/project.json')).contents));
      const sums = {}; // "class/name" -> SHA-256 of the stored bytes
      const cls = Object.fromEntries(project.classes.map((c) => [c.id, c.name]));
      for (const im of project.images) {
        const d = new Uint8Array(await crypto.subtle.digest('SHA-256', await files.picture(im.id)));
        sums[`${cls[im.class_id]}/${im.name}`] = Array.from(d, (x) => x.toString(16).padStart(2, '0')).join('');
      }
      return { sums, old: files.keys.filter((k) => /\/dataset\/|latest\.safetensors/.test(k)), latest: files.keys.includes('/tabtrain/ckpt/latest') };
    });
    assert.deepEqual(after.old, []);
    assert.ok(after.latest, 'the single checkpoint file became the directory\'s');
    for (const name of names)
      for (const file of f.pictures(app.root, name).slice(0, 5)) {
        const key = `${name}/${file.split('/').pop()}`;
        assert.equal(after.sums[key], h.sha256(fs.readFileSync(file)), key);
      }

    await page.goto(srv.url);
    await h.waitForPhase(page, 'paused', 120_000);
    await page.click('#resume');
    await page.waitForFunction((s) => window.tabtrainState.step > s, paused.step);
    assert.deepEqual(b.consoleErrors, []);
  } finally { await b.close(); }
});
