// Picture bytes, kept outside the engine's file tree. IDBFS mirrors its whole tree in
// the worker's memory and walks it on every sync, so the pictures live here instead,
// one entry per part, read only when something needs them and dropped after:
//   original  the file as the user gave it (export, "the picture as added")
//   copy      the engine's training copy (lossless PNG, short side 224..447 px): what a
//             run asks for when it computes augmented views or fine-tuning inputs
//   thumb     the engine's thumbnail (JPEG, short side 96..191 px): the page's tiles
// Where, by size, measured in a dedicated worker of headless Chromium:
//   - parts of 1 MB and more (a phone photo's original) as files of the Origin Private
//     File System, written through a sync access handle: a 3 MB photo with its copy and
//     thumbnail in 47 ms, against 98 ms as IndexedDB records (scripts/bench-storage.mjs:
//     7x faster writes and 4.5x faster reads at 4 MB);
//   - smaller parts (thumbnails, copies, small originals) as IndexedDB records, one
//     transaction per putAll (a chunk of pictures: the page's sample set went from ~35
//     to ~42 pictures/s with one commit per chunk instead of one per picture): a 60 KB
//     picture and its thumbnail in 1.6 ms, against 13 ms as two files (opening a file
//     takes round trips to the browser, whatever its size);
//   - and a record holds at most RECORD_BYTES: Chromium keeps a value over 64 KiB as a
//     blob of its own, which costs the worker (the engine's first thread) ~3 ms a put;
//     16 random 66 KB values took 32-72 ms to put and 48-98 ms to commit, as 60 KB
//     values 5-28 and 13-46, and 200 KB ones 68-121 and 79-145 whole against 16-31 and
//     51-74 in 50 KB records. So a part between the two sizes is stored as its size and
//     chunk count under its key, and its bytes in records `<key>.0`, `<key>.1`, ...
// A page that is not a secure context (http on a LAN address) has no OPFS: everything
// in IndexedDB there, same interface. Reads look in IndexedDB first, then the files (a
// profile of before the split kept every part as a file).
// The engine's records (root/dataset, in IDBFS) are the index: which ids exist.
const PARTS = ['original', 'copy', 'thumb'];
const PART_WORDS = { original: 'original file', copy: 'training copy', thumb: 'thumbnail' };
const DIR = 'pictures';
const DB = 'tabtrain-pictures';
const FILE_BYTES = 1024 * 1024; // parts this big and bigger go to OPFS files
const RECORD_BYTES = 60 * 1024; // parts bigger than this, and smaller than FILE_BYTES, in records of this size

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
    // The parts at once: opening a file is a round trip to the browser, the write itself
    // is quick. Every write has ended before a failure is thrown: split's putAll, the only
    // caller, then removes all of the pictures' parts.
    async putAll(list) {
      const done = await Promise.allSettled(list.flatMap(({ id, parts }) => PARTS.filter((p) => parts[p]).map((p) => write(fileName(id, p), parts[p]))));
      const failed = done.find((d) => d.status === 'rejected');
      if (failed) throw failed.reason;
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
      const rq = fn(t.objectStore(DIR)); // a request, or {result, error} that fn's handlers fill in
      t.oncomplete = () => (rq?.error ? reject(rq.error) : resolve(rq?.result));
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error || new Error('IndexedDB transaction aborted'));
    });
  };
  const chunked = (bytes) => bytes.byteLength > RECORD_BYTES && bytes.byteLength < FILE_BYTES;
  const putPart = (s, key, bytes) => {
    if (!chunked(bytes)) { s.put(bytes, key); return; }
    const chunks = Math.ceil(bytes.byteLength / RECORD_BYTES);
    s.put({ bytes: bytes.byteLength, chunks }, key);
    for (let k = 0; k < chunks; k++) s.put(bytes.slice(k * RECORD_BYTES, (k + 1) * RECORD_BYTES), `${key}.${k}`);
  };
  const chunksOf = (key) => IDBKeyRange.bound(`${key}.`, `${key}.\uffff`);
  return {
    kind: 'indexeddb',
    // One transaction for all the pictures: all or none, and one commit (the browser's
    // work per transaction is most of a small picture's).
    putAll: (list) => tx('readwrite', (s) => { for (const { id, parts } of list) for (const p of PARTS) if (parts[p]) putPart(s, fileName(id, p), parts[p]); }),
    // The record itself, or its chunks put back together (an ArrayBuffer); null when there
    // is none, an error when a chunk is missing or cut short.
    get: (id, part) => tx('readonly', (s) => {
      const key = fileName(id, part), out = { result: null, error: null };
      const head = s.get(key);
      head.onsuccess = () => {
        const v = head.result;
        if (!v?.chunks) { out.result = v ?? null; return; }
        const whole = new Uint8Array(v.bytes);
        for (let k = 0; k < v.chunks; k++) {
          const c = s.get(`${key}.${k}`);
          c.onsuccess = () => {
            if (c.result?.byteLength === Math.min(RECORD_BYTES, v.bytes - k * RECORD_BYTES)) whole.set(new Uint8Array(c.result), k * RECORD_BYTES);
            else out.error ||= new Error(`Picture ${id}'s ${PART_WORDS[part]} is damaged in this browser's storage (piece ${k + 1} of ${v.chunks} is ${c.result ? 'the wrong size' : 'missing'}).`);
          };
        }
        out.result = whole.buffer;
      };
      return out;
    }),
    remove: (ids) => tx('readwrite', (s) => { for (const id of ids) for (const p of PARTS) { s.delete(fileName(id, p)); s.delete(chunksOf(fileName(id, p))); } }),
    ids: async () => new Set((await tx('readonly', (s) => s.getAllKeys())).map(idOf).filter(Boolean)),
    clear: () => tx('readwrite', (s) => s.clear()),
  };
}

// Large parts as OPFS files, the rest as IndexedDB records (see the top).
function split(files, records) {
  const store = {
    kind: 'opfs+indexeddb',
    async putAll(list) {
      const big = [], small = [];
      for (const { id, parts } of list) {
        const b = {}, s = {};
        for (const p of PARTS) if (parts[p]) (parts[p].byteLength >= FILE_BYTES ? b : s)[p] = parts[p];
        big.push({ id, parts: b }), small.push({ id, parts: s });
      }
      const done = await Promise.allSettled([files.putAll(big), records.putAll(small)]);
      const failed = done.find((d) => d.status === 'rejected');
      if (failed) {
        await store.remove(list.map((x) => x.id)).catch(() => {}); // none or all of them
        throw failed.reason;
      }
    },
    get: async (id, part) => (await records.get(id, part)) ?? files.get(id, part),
    async remove(ids) { await records.remove(ids); await files.remove(ids); },
    async ids() {
      const all = await records.ids();
      for (const id of await files.ids()) all.add(id);
      return all;
    },
    async clear() { await records.clear(); await files.clear(); },
  };
  return store;
}

// The store this context can have: OPFS with sync access handles beside IndexedDB, else
// IndexedDB alone. putAll([{id, parts}]) stores pictures all or none; put(id, parts) one.
export async function openPictures() {
  const withPut = (store) => Object.assign(store, { put: (id, parts) => store.putAll([{ id, parts }]) });
  if (typeof FileSystemSyncAccessHandle === 'function' && navigator.storage?.getDirectory) {
    try { return withPut(split(await opfs(), idb())); } catch { /* e.g. a browser that refuses OPFS in this profile */ }
  }
  return withPut(idb());
}
