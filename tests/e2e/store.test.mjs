// The picture store (web/pictures.js) where the app's worker runs it, in a dedicated
// worker of headless Chromium: parts of 1 MB and more as OPFS files, smaller ones as
// IndexedDB records (those over 60 KiB in pieces of 60 KiB); a profile of before the split (every part an OPFS file) reads on;
// ids, removal and clearing see both places.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as h from './helpers.mjs';

let dir, srv;
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabtrain-e2e-store-'));
  fs.copyFileSync(path.join(h.ROOT, 'web/pictures.js'), path.join(dir, 'pictures.js'));
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>store</title>');
  // Runs `steps` (a function's source) on the store and answers with what it returns.
  fs.writeFileSync(path.join(dir, 'worker.js'), `
import { openPictures } from './pictures.js';
self.onmessage = async ({ data }) => {
  try {
    const store = await openPictures();
    const root = await navigator.storage.getDirectory();
    const files = async () => { const out = []; try { for await (const n of (await root.getDirectoryHandle('pictures')).keys()) out.push(n); } catch {} return out.sort(); };
    // The store's database as it is, beside the store: its keys, and a record taken away.
    const pictureDb = (mode, fn) => new Promise((res, rej) => { const r = indexedDB.open('tabtrain-pictures', 1);
      r.onupgradeneeded = () => r.result.createObjectStore('pictures');
      r.onsuccess = () => { const t = r.result.transaction('pictures', mode); const q = fn(t.objectStore('pictures'));
        t.oncomplete = () => { res(q.result); r.result.close(); }; t.onerror = () => rej(t.error); };
      r.onerror = () => rej(r.error); });
    const records = async () => (await pictureDb('readonly', (s) => s.getAllKeys())).sort();
    const dropRecord = (key) => pictureDb('readwrite', (s) => s.delete(key));
    const oldFile = async (name, bytes) => { const d = await root.getDirectoryHandle('pictures', { create: true }); const a = await (await d.getFileHandle(name, { create: true })).createSyncAccessHandle(); a.write(bytes, { at: 0 }); a.flush(); a.close(); };
    const steps = new Function('store', 'files', 'records', 'oldFile', 'dropRecord', 'return (' + data + ')(store, files, records, oldFile, dropRecord);');
    self.postMessage({ ok: await steps(store, files, records, oldFile, dropRecord) });
  } catch (e) { self.postMessage({ error: String(e && e.stack || e) }); }
};`);
  srv = await h.startServer(dir);
});
after(async () => { await srv?.close(); fs.rmSync(dir, { recursive: true, force: true }); });

async function inWorker(page, steps) {
  const r = await page.evaluate((src) => new Promise((resolve) => {
    const w = new Worker('worker.js', { type: 'module' });
    w.onmessage = (e) => { resolve(e.data); w.terminate(); };
    w.onerror = (e) => resolve({ error: e.message });
    w.postMessage(src);
  }), steps.toString());
  if (r.error) throw new Error(r.error);
  return r.ok;
}

test('picture store: big parts as OPFS files, small ones as IndexedDB records (in pieces over 60 KiB), an older all-files profile reads on', async () => {
  const b = await h.launch();
  try {
    await b.page.goto(`${srv.url}index.html`);
    const got = await inWorker(b.page, async (store, files, records, oldFile, dropRecord) => {
      const bytes = (n, seed) => { const a = new Uint8Array(n); for (let i = 0; i < n; i++) a[i] = (i * 31 + seed) & 255; return a; };
      const same = (x, y) => x && x.byteLength === y.byteLength && new Uint8Array(x).every((v, i) => v === y[i]);
      // A picture of the old layout: every part a file.
      await oldFile('3.original', bytes(5000, 3));
      await oldFile('3.thumb', bytes(700, 4));
      // A phone photo (big original, small copy and thumbnail) and a small picture.
      const photo = { original: bytes(2 * 1024 * 1024 + 5, 1), copy: bytes(300_000, 2), thumb: bytes(6000, 5) };
      await store.put(7, photo);
      await store.put(8, { original: bytes(60_000, 6), thumb: bytes(4000, 7) });
      const out = { kind: store.kind, files: await files(), records: await records() };
      out.readBack = (await Promise.all([
        store.get(7, 'original').then((x) => same(x, photo.original)),
        store.get(7, 'copy').then((x) => same(x, photo.copy)),
        store.get(7, 'thumb').then((x) => same(x, photo.thumb)),
        store.get(8, 'original').then((x) => same(x, bytes(60_000, 6))),
        store.get(3, 'original').then((x) => same(x, bytes(5000, 3))),
        store.get(3, 'thumb').then((x) => same(x, bytes(700, 4))),
      ]));
      out.missing = [await store.get(8, 'copy'), await store.get(9, 'original')];
      // A piece of a part gone (a damaged profile): that part is an error, not wrong bytes.
      await store.put(14, { original: bytes(130_000, 16) });
      out.pieces = (await records()).filter((k) => k.startsWith('14.'));
      await dropRecord('14.original.1');
      out.damaged = await store.get(14, 'original').then(() => 'read', (e) => String(e.message || e));
      await store.remove([14]);
      out.ids = [...await store.ids()].sort();
      await store.remove([7, 3]);
      out.afterRemove = { files: await files(), records: await records(), ids: [...await store.ids()] };
      // A part that cannot be written (a function cannot be stored) leaves none of that picture behind.
      out.failed = await store.put(9, { original: bytes(2 * 1024 * 1024, 9), thumb: Object.assign(() => 0, { byteLength: 10 }) }).then(() => 'stored', (e) => e.name || 'error');
      out.afterFailure = { files: await files(), records: await records() };
      // Pictures stored together go all or none: one part that cannot be written keeps
      // every one of them out, whichever store the others' parts were for.
      out.batchFailed = await store.putAll([
        { id: 10, parts: { original: bytes(2 * 1024 * 1024, 10), thumb: bytes(500, 1) } },
        { id: 11, parts: { original: bytes(3000, 11), thumb: Object.assign(() => 0, { byteLength: 10 }) } },
      ]).then(() => 'stored', (e) => e.name || 'error');
      out.afterBatchFailure = { files: await files(), records: await records() };
      await store.putAll([{ id: 12, parts: { original: bytes(3000, 12), thumb: bytes(300, 13) } }, { id: 13, parts: { original: bytes(2 * 1024 * 1024, 14), copy: bytes(9000, 15) } }]);
      out.batch = { files: await files(), records: await records(), back: await Promise.all([store.get(12, 'thumb').then((x) => same(x, bytes(300, 13))), store.get(13, 'original').then((x) => same(x, bytes(2 * 1024 * 1024, 14)))]) };
      await store.clear();
      out.afterClear = { files: await files(), records: await records(), ids: [...await store.ids()] };
      return out;
    });
    assert.equal(got.kind, 'opfs+indexeddb');
    assert.deepEqual(got.files, ['3.original', '3.thumb', '7.original']);
    assert.deepEqual(got.records, ['7.copy', '7.copy.0', '7.copy.1', '7.copy.2', '7.copy.3', '7.copy.4', '7.thumb', '8.original', '8.thumb']);
    assert.deepEqual(got.readBack, [true, true, true, true, true, true]);
    assert.deepEqual(got.missing, [null, null]);
    assert.deepEqual(got.pieces, ['14.original', '14.original.0', '14.original.1', '14.original.2']);
    assert.match(got.damaged, /^Picture 14's original file is damaged in this browser's storage \(piece 2 of 3 is missing\)\.$/);
    assert.deepEqual(got.ids, [3, 7, 8]);
    assert.deepEqual(got.afterRemove, { files: [], records: ['8.original', '8.thumb'], ids: [8] });
    assert.notEqual(got.failed, 'stored');
    assert.deepEqual(got.afterFailure, { files: [], records: ['8.original', '8.thumb'] });
    assert.notEqual(got.batchFailed, 'stored');
    assert.deepEqual(got.afterBatchFailure, { files: [], records: ['8.original', '8.thumb'] });
    assert.deepEqual(got.batch, { files: ['13.original'], records: ['12.original', '12.thumb', '13.copy', '8.original', '8.thumb'], back: [true, true] });
    assert.deepEqual(got.afterClear, { files: [], records: [], ids: [] });
  } finally { await b.close(); }
});
