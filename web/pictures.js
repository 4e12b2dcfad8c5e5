// Picture bytes, kept outside the engine's file tree. IDBFS mirrors its whole tree in
// the worker's memory and walks it on every sync, so the pictures live here instead,
// one file per part, read only when something needs them and dropped after:
//   original  the file as the user gave it (export, "the picture as added")
//   copy      the engine's training copy (lossless PNG, short side 224..447 px): what a
//             run asks for when it computes augmented views or fine-tuning inputs
//   thumb     the engine's thumbnail (JPEG, short side 96..191 px): the page's tiles
// Where: the Origin Private File System, written through a sync access handle (this runs
// in the worker); measured in Chromium (scripts/bench-storage.mjs, 4 MB pictures) it
// writes 7x and reads 4.5x faster than IndexedDB records. A page that is not a secure
// context (http on a LAN address) has no OPFS: IndexedDB records there, same interface.
// The engine's records (root/dataset, in IDBFS) are the index: which ids exist.
const PARTS = ['original', 'copy', 'thumb'];
const DIR = 'pictures';
const DB = 'tabtrain-pictures';

const fileName = (id, part) => `${id}.${part}`;
const idOf = (name) => { const m = /^(\d+)\.(original|copy|thumb)$/.exec(name); return m ? Number(m[1]) : 0; };

async function opfs() {
  const root = await navigator.storage.getDirectory();
  let dir = await root.getDirectoryHandle(DIR, { create: true });
  const write = async (name, bytes) => {
    const fh = await dir.getFileHandle(name, { create: true });
    const h = await fh.createSyncAccessHandle();
    try {
      h.truncate(0);
      const data = new Uint8Array(bytes);
      if (h.write(data, { at: 0 }) !== data.byteLength) throw new Error(`short write of ${name}`);
      h.flush();
    } finally { h.close(); }
  };
  const remove = (name) => dir.removeEntry(name).catch((e) => { if (e.name !== 'NotFoundError') throw e; });
  return {
    kind: 'opfs',
    async put(id, parts) {
      try {
        for (const p of PARTS) if (parts[p]) await write(fileName(id, p), parts[p]);
      } catch (e) {
        for (const p of PARTS) await remove(fileName(id, p)).catch(() => {}); // none or all of them
        throw e;
      }
    },
    async get(id, part) {
      try {
        return await (await (await dir.getFileHandle(fileName(id, part))).getFile()).arrayBuffer();
      } catch (e) { if (e.name === 'NotFoundError') return null; throw e; }
    },
    async remove(ids) { for (const id of ids) for (const p of PARTS) await remove(fileName(id, p)); },
    async ids() {
      const out = new Set();
      for await (const name of dir.keys()) { const id = idOf(name); if (id) out.add(id); }
      return out;
    },
    async clear() {
      await root.removeEntry(DIR, { recursive: true }).catch((e) => { if (e.name !== 'NotFoundError') throw e; });
      dir = await root.getDirectoryHandle(DIR, { create: true });
    },
  };
}

function idb() {
  const open = new Promise((resolve, reject) => {
    const rq = indexedDB.open(DB, 1);
    rq.onupgradeneeded = () => rq.result.createObjectStore(DIR);
    rq.onsuccess = () => resolve(rq.result);
    rq.onerror = () => reject(rq.error || new Error('indexedDB.open failed'));
  });
  const tx = async (mode, fn) => {
    const d = await open;
    return new Promise((resolve, reject) => {
      const t = d.transaction(DIR, mode);
      const rq = fn(t.objectStore(DIR));
      t.oncomplete = () => resolve(rq?.result);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error || new Error('IndexedDB transaction aborted'));
    });
  };
  return {
    kind: 'indexeddb',
    put: (id, parts) => tx('readwrite', (s) => { for (const p of PARTS) if (parts[p]) s.put(parts[p], fileName(id, p)); }), // one transaction: all or none
    get: async (id, part) => (await tx('readonly', (s) => s.get(fileName(id, part)))) ?? null,
    remove: (ids) => tx('readwrite', (s) => { for (const id of ids) for (const p of PARTS) s.delete(fileName(id, p)); }),
    ids: async () => new Set((await tx('readonly', (s) => s.getAllKeys())).map(idOf).filter(Boolean)),
    clear: () => tx('readwrite', (s) => s.clear()),
  };
}

// The store this context can have: OPFS with sync access handles, else IndexedDB.
export async function openPictures() {
  if (typeof FileSystemSyncAccessHandle === 'function' && navigator.storage?.getDirectory) {
    try { return await opfs(); } catch { /* e.g. a browser that refuses OPFS in this profile */ }
  }
  return idb();
}
