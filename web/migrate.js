// A profile written before pictures moved out of IDBFS (engine ABI < 4) holds each
// picture inside its record, root/dataset/img-<id>.safetensors, and IDBFS would load
// every one of them into memory at start. Before the engine's tree is loaded, the owner
// tab moves them, one record at a time, straight in IDBFS's IndexedDB: the engine splits
// each record (tt_wasm_upgrade_record: no weights needed) into the original, a record of
// the new layout, the training copy and the thumbnail; the three pictures go to the
// picture store, then the small record replaces the old one. A record whose move was cut
// short is still the old one and is moved again next time. Classes, checkpoints, imports
// and run records are files the new layout keeps as they are; the old feature cache
// entries (computed from full-size decodes, keys the engine no longer asks for) are
// deleted. The last step marks the profile, so later starts read one key.
const LAYOUT_KEY = 'layout';   // root/layout: "2" once the profile is in this layout
const LAYOUT = '2';

const request = (rq) => new Promise((resolve, reject) => { rq.onsuccess = () => resolve(rq.result); rq.onerror = () => reject(rq.error); });
const done = (tx) => new Promise((resolve, reject) => {
  tx.oncomplete = resolve;
  tx.onerror = () => reject(tx.error);
  tx.onabort = () => reject(tx.error || new Error('IndexedDB transaction aborted'));
});

// mod: the engine module (its FS.filesystems.IDBFS and the upgrade call); root: the IDBFS
// mount point; pictures: web/pictures.js; progress(done, total) while records move;
// problem(name, message) for a record that cannot be moved (it stays as it was).
export async function migrateProfile({ mod, root, pictures, progress, problem }) {
  const IDBFS = mod.FS.filesystems.IDBFS;
  const db = await new Promise((resolve, reject) => IDBFS.getDB(root, (err, d) => (err ? reject(err) : resolve(d))));
  const store = (mode) => db.transaction([IDBFS.DB_STORE_NAME], mode).objectStore(IDBFS.DB_STORE_NAME);
  const layoutKey = `${root}/${LAYOUT_KEY}`;
  const keys = await request(store('readonly').getAllKeys());
  if (keys.includes(layoutKey)) return 0;
  const records = keys.filter((k) => k.startsWith(`${root}/dataset/img-`) && k.endsWith('.safetensors'));
  let moved = 0;
  for (let i = 0; i < records.length; i++) {
    const key = records[i];
    const entry = await request(store('readonly').get(key));
    if (entry?.contents) {
      const out = upgrade(mod, entry.contents);
      if (out.error) problem(key.slice(key.lastIndexOf('/') + 1), out.error);
      else if (out.parts) {
        await pictures.put(out.id, out.parts);
        const tx = db.transaction([IDBFS.DB_STORE_NAME], 'readwrite');
        tx.objectStore(IDBFS.DB_STORE_NAME).put({ timestamp: new Date(), mode: entry.mode, contents: out.record }, key);
        await done(tx);
        moved++;
      }
    }
    progress(i + 1, records.length);
  }
  const tx = db.transaction([IDBFS.DB_STORE_NAME], 'readwrite');
  const s = tx.objectStore(IDBFS.DB_STORE_NAME);
  for (const k of keys) if (k.startsWith(`${root}/features/`) && k.endsWith('.feat')) s.delete(k);
  s.put({ timestamp: new Date(), mode: 0o100644, contents: new TextEncoder().encode(`${LAYOUT}\n`) }, layoutKey);
  await done(tx);
  return moved;
}

// One record through the engine; the byte ranges it names are copied out of its heap.
function upgrade(mod, contents) {
  const n = contents.byteLength;
  const p = mod._malloc(Math.max(n, 1));
  if (!p) return { error: `out of wasm memory for ${n} bytes` };
  try {
    mod.HEAPU8.set(contents, p);
    const js = mod._tt_wasm_upgrade_record(p, n);
    if (!js) return { error: mod.UTF8ToString(mod._tt_wasm_last_error(0)) || 'the record could not be read' };
    const r = JSON.parse(mod.UTF8ToString(js));
    if (r.current) return { id: r.id };
    const take = ([at, len]) => (len ? mod.HEAPU8.slice(at, at + len) : null);
    return { id: r.id, record: take(r.record), parts: { original: take(r.original).buffer, copy: take(r.copy)?.buffer, thumb: take(r.thumb).buffer } };
  } finally { mod._free(p); }
}
