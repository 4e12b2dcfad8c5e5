// Profiles written before picture bytes moved out of IDBFS hold them inside the engine's
// files, and IDBFS would load every one of them into the worker's memory at start:
//   - before the project store: each picture inside its record,
//     root/dataset/img-<id>.safetensors (tensor "image");
//   - with the project store: each picture as its own file, root/pictures/<id>.
// Before the engine's tree is loaded, the owner tab moves them, one picture at a time,
// straight in IDBFS's IndexedDB: the engine (no handle, no weights needed) makes each
// picture's training copy and thumbnail, the three go to the picture store, then the
// record is replaced by one holding only the hash (the engine's project store turns
// those into project.json when it opens) or the picture file is deleted. A picture whose
// move was cut short is still where it was and is moved again next time. Classes,
// checkpoints, imports and run records are files the new layout keeps as they are; the
// old feature cache entries (computed from full-size decodes, keys the engine no longer
// asks for) are deleted. The last step marks the profile, so later starts read one key.
const LAYOUT_KEY = 'layout'; // root/layout: "2" once the profile is in this layout
const LAYOUT = '2';

const request = (rq) => new Promise((resolve, reject) => { rq.onsuccess = () => resolve(rq.result); rq.onerror = () => reject(rq.error); });
const done = (tx) => new Promise((resolve, reject) => {
  tx.oncomplete = resolve;
  tx.onerror = () => reject(tx.error);
  tx.onabort = () => reject(tx.error || new Error('IndexedDB transaction aborted'));
});

// IDBFS: the engine module's FS.filesystems.IDBFS; root: its mount point; engine: web/worker/
// engine.js (pictureParts, upgradeRecord); pictures: web/pictures.js; progress(done, total)
// while pictures move; problem(name, message) for one that cannot be moved (it stays).
export async function migrateProfile({ IDBFS, root, engine, pictures, progress, problem }) {
  const db = await new Promise((resolve, reject) => IDBFS.getDB(root, (err, d) => (err ? reject(err) : resolve(d))));
  const store = (mode) => db.transaction([IDBFS.DB_STORE_NAME], mode).objectStore(IDBFS.DB_STORE_NAME);
  const layoutKey = `${root}/${LAYOUT_KEY}`;
  const keys = await request(store('readonly').getAllKeys());
  if (keys.includes(layoutKey)) return 0;
  const records = keys.filter((k) => k.startsWith(`${root}/dataset/img-`) && k.endsWith('.safetensors'));
  const files = keys.filter((k) => /\/pictures\/\d+$/.test(k) && k.startsWith(`${root}/pictures/`));
  const total = records.length + files.length;
  let moved = 0, at = 0;
  const write = async (fn) => { const tx = db.transaction([IDBFS.DB_STORE_NAME], 'readwrite'); fn(tx.objectStore(IDBFS.DB_STORE_NAME)); await done(tx); };
  for (const key of records) {
    const entry = await request(store('readonly').get(key));
    if (entry?.contents) {
      const out = engine.upgradeRecord(entry.contents);
      if (out.error) problem(key.slice(key.lastIndexOf('/') + 1), out.error);
      else if (out.parts) {
        await pictures.put(out.id, out.parts);
        await write((s) => s.put({ timestamp: new Date(), mode: entry.mode, contents: out.record }, key));
        moved++;
      }
    }
    progress(++at, total);
  }
  for (const key of files) {
    const entry = await request(store('readonly').get(key));
    const id = Number(key.slice(key.lastIndexOf('/') + 1));
    if (entry?.contents) {
      const original = entry.contents.slice().buffer;
      const parts = engine.pictureParts(original);
      // A picture that no longer decodes moves without copy and thumbnail: nothing is lost.
      await pictures.put(id, { original, copy: parts.copy || null, thumb: parts.thumb || null });
      await write((s) => s.delete(key));
      moved++;
    }
    progress(++at, total);
  }
  await write((s) => {
    for (const k of keys) if (k.startsWith(`${root}/features/`) && k.endsWith('.feat')) s.delete(k);
    if (keys.includes(`${root}/pictures`)) s.delete(`${root}/pictures`);
    s.put({ timestamp: new Date(), mode: 0o100644, contents: new TextEncoder().encode(`${LAYOUT}\n`) }, layoutKey);
  });
  return moved;
}
