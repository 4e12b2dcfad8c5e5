// Where the page keeps picture bytes: IndexedDB records vs the Origin Private File System,
// measured in a dedicated worker of headless Chromium (where web/worker.js runs), with
// picture-sized values (default 40 x 4 MB, incompressible). For each store: write every
// picture (one transaction / one file each), then read each back as an ArrayBuffer.
//   IndexedDB         put(ArrayBuffer) / get        (async; works in every context)
//   OPFS sync handle  createSyncAccessHandle, write + flush / read   (secure contexts only)
//   OPFS file         getFile().arrayBuffer()        (async read, no exclusive lock)
// usage: node scripts/bench-storage.mjs [--n 40] [--mb 4]
// Prints one JSON line per store and operation; RSS of the Chromium processes is not
// measured here (tests/e2e/photos.test.mjs does that for the app).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as h from '../tests/e2e/helpers.mjs';

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? Number(args[args.indexOf(k) + 1]) : d);
const N = opt('--n', 40), MB = opt('--mb', 4);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabtrain-bench-storage-'));
fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>bench-storage</title>');
fs.writeFileSync(path.join(dir, 'bench.js'), `
const open = () => new Promise((res, rej) => { const r = indexedDB.open('bench', 1);
  r.onupgradeneeded = () => r.result.createObjectStore('p'); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
const tx = (db, mode, fn) => new Promise((res, rej) => { const t = db.transaction('p', mode); const q = fn(t.objectStore('p'));
  t.oncomplete = () => res(q?.result); t.onerror = () => rej(t.error); });
self.onmessage = async ({ data: { n, bytes } }) => {
  const pics = Array.from({ length: n }, (_, i) => { const a = new Uint8Array(bytes); for (let k = 0; k < bytes; k += 65536) crypto.getRandomValues(a.subarray(k, k + 65536)); a[0] = i; return a; });
  const out = [], time = async (store, op, fn) => { const t0 = performance.now(); for (let i = 0; i < n; i++) await fn(i); const ms = performance.now() - t0; out.push({ store, op, ms_per_picture: +(ms / n).toFixed(2), mb_per_s: +((n * bytes / 1048576) / (ms / 1000)).toFixed(1) }); };
  const db = await open();
  await time('indexeddb', 'write', (i) => tx(db, 'readwrite', (s) => s.put(pics[i].buffer, i)));
  await time('indexeddb', 'read', async (i) => { const b = await tx(db, 'readonly', (s) => s.get(i)); if (b.byteLength !== bytes) throw new Error('short'); });
  const root = await navigator.storage.getDirectory();
  await time('opfs-sync', 'write', async (i) => { const f = await root.getFileHandle('p' + i, { create: true }); const a = await f.createSyncAccessHandle(); a.truncate(0); a.write(pics[i], { at: 0 }); a.flush(); a.close(); });
  await time('opfs-sync', 'read', async (i) => { const f = await root.getFileHandle('p' + i); const a = await f.createSyncAccessHandle(); const b = new Uint8Array(a.getSize()); a.read(b, { at: 0 }); a.close(); if (b.byteLength !== bytes) throw new Error('short'); });
  await time('opfs-file', 'read', async (i) => { const f = await root.getFileHandle('p' + i); const b = await (await f.getFile()).arrayBuffer(); if (b.byteLength !== bytes) throw new Error('short'); });
  self.postMessage(out);
};`);
const srv = await h.startServer(dir);
const b = await h.launch();
try {
  await b.page.goto(`${srv.url}index.html`);
  const rows = await b.page.evaluate(([n, bytes]) => new Promise((resolve, reject) => {
    const w = new Worker('bench.js');
    w.onmessage = (e) => resolve(e.data);
    w.onerror = (e) => reject(new Error(e.message));
    w.postMessage({ n, bytes });
  }), [N, MB * 1048576]);
  for (const r of rows) console.log(JSON.stringify({ bench: 'picture-store', pictures: N, mb: MB, ...r }));
} finally {
  await b.close();
  await srv.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
