// The one dedicated worker: owns the wasm engine instance, the IDBFS mount and the
// weights cache. It marshals page commands into engine calls and engine results into
// events; it computes nothing itself (docs/protocol.md, docs/wasm-api.md).
import { PROTOCOL_VERSION, CMD, EVT, PHASE, ERR, MAX_IMAGE_BYTES, MAX_CLASS_NAME, msg } from './protocol.js';
import { humane, pictureProblem, modelProblem, useSettingLabels } from './messages.js';
import { pickEngineBuild, clampThreads } from './engine-build.js';

const ROOT = '/tabtrain';                       // IDBFS mount point
const CLASSES_PATH = `${ROOT}/dataset/classes.json`;
const CKPT_PATH = `${ROOT}/ckpt/latest.safetensors`;
const IMPORTED_PATH = `${ROOT}/ckpt/imported.safetensors`; // the last imported model, kept across visits
const RUN_PATH = `${ROOT}/ckpt/run.json`;       // the page's record of that run: its classes, settings, epoch metrics
const MANIFEST_URL = new URL('./models/manifest.json', import.meta.url);
const DB_NAME = 'tabtrain';                     // weights cache + engine-less file store
const PROGRESS_INTERVAL_MS = 100;
const TRAIN_SLICE_MS = 100;                   // engine time per train_step call: bounds pause latency
const CHECKPOINT_INTERVAL_MS = 2000;          // at most one checkpoint per this, at an epoch end
// Return codes of the engine (src/wasm/api.h; tests/e2e/codes.test.mjs keeps them equal).
const STEP = { DONE: 0, EPOCH: 1, FINISHED: 2, PREPARING: 3 };   // tt_wasm_train_step
const LOAD = { RUN: 0, MODEL: 1 };                                 // tt_wasm_load

const state = {
  phase: PHASE.STARTING,
  engine: { status: 'loading', message: '' },
  weights: { status: 'none', source: '', bytes: 0, total: 0, sha256: '' },
  classes: [],          // [{id, name, count}]
  nextClassId: 1,
  training: { epoch: 0, epochs: 0, step: 0, steps: 0, trainLoss: null, valAcc: null },
  saved: null,          // {epoch, step} of the newest checkpoint that reached IndexedDB
  imported: null,       // {name, kind, classes, hidden, unfreeze} of the imported model
  preparing: null,      // {done, total} while a run computes its augmented views / tail inputs
  waiting: 0,           // pictures added before the engine was up, waiting for it
  run: null,            // the last run: {classes:[{id, name}] it trained on, excluded:[names], config}
  storage: { mode: 'starting', owner: null, since: null }, // 'owner' | 'reader'; owner: {openedAt} of the tab that owns it
  threads: { threaded: false, available: 1, current: 1, reason: '' }, // the engine build (engine-build.js)
};
let runHistory = [];    // its epoch events, saved beside each checkpoint and replayed after a reload
let engineBuild = null; // pickEngineBuild's choice
let engine = null;      // {mod, h} once tt_wasm_create succeeded
let store = null;       // file store: IDBFS through the engine, or IndexedDB without it
let weightsBytes = null;
let paused = false;

const post = (type, fields, transfer) => self.postMessage(msg(type, fields), transfer || []);
const postState = () => {
  if (engine) state.memory = { wasmHeap: engine.mod.HEAPU8.length }; // grows, never shrinks: the high-water mark
  post(EVT.STATE, { state: structuredClone(state) });
};
const setPhase = (p) => { state.phase = p; postState(); };
const fail = (code, message, extra = {}) => post(EVT.ERROR, { code, message: humane(message), ...extra });

class CommandError extends Error {
  constructor(code, message, status = 0) { super(message); this.code = code; this.status = status; } // status: the engine's tt_status
}

// ---- one IndexedDB for the weights cache and the engine-less file store ------------------

function openDb() {
  return new Promise((resolve, reject) => {
    const rq = indexedDB.open(DB_NAME, 2);
    rq.onupgradeneeded = () => {
      for (const name of ['weights', 'files', 'owner']) if (!rq.result.objectStoreNames.contains(name)) rq.result.createObjectStore(name);
    };
    rq.onsuccess = () => resolve(rq.result);
    rq.onerror = () => reject(rq.error || new Error('indexedDB.open failed (private mode?)'));
    rq.onblocked = () => reject(new Error('IndexedDB blocked by another tab'));
  });
}
let dbPromise = null;
const db = () => (dbPromise ||= openDb());

async function idb(storeName, mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const tx = d.transaction(storeName, mode);
    const rq = fn(tx.objectStore(storeName));
    tx.oncomplete = () => resolve(rq?.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('IndexedDB transaction aborted'));
  });
}

// ---- serialized persistence ------------------------------------------------------------
// Every write to durable storage goes through this queue: a job runs only after the
// previous one settled, so at most one IDBFS syncfs is in flight and a sync never
// starts while a write it should include is half done. A failed job is reported and
// does not stall the jobs behind it.
let queueTail = Promise.resolve();
// A failed job is reported here, once, in plain words; its caller gets the same words,
// marked as reported, so a command that waited for it does not list it a second time.
function enqueue(job) {
  const run = queueTail.then(job).catch((e) => {
    fail(ERR.STORAGE, storageMessage(e));
    if (e instanceof CommandError) throw e; // a refusal (read-only tab): the command says it too, as its own
    const err = new CommandError(ERR.STORAGE, storageMessage(e));
    err.reported = true;
    throw err;
  });
  queueTail = run.catch(() => {});
  return run;
}

// Plain words for the two failures users actually meet; IndexedDB keeps the previous
// copy of every file whose write failed, so nothing older is lost.
function storageMessage(e) {
  if (e?.code === ERR.READ_ONLY) return e.message;
  const what = `${e?.name || ''} ${e?.message || e?.code || e}`;
  if (/quota/i.test(what) || e?.code === 22) return 'Storage is full (this site\'s quota is used up): the newest progress was not saved; the previous save is kept. Free some space or export the model.';
  if (/indexeddb|not allowed|security|invalidstate|unknownerror/i.test(what)) return `Saving is not available in this window (private browsing?): ${what.trim()}. Work continues but will not survive a reload.`;
  return `storage: ${what.trim()}`;
}

// Emscripten 3.1.6's IDBFS.reconcile never calls back when a commit fails: a quota
// error aborts the transaction, which it does not listen to (and its onerror reads
// `this.error` inside an arrow function), so the sync and every job queued behind it
// would hang. The same algorithm, with abort and error reported once.
function patchIdbfs(IDBFS) {
  IDBFS.reconcile = (src, dst, callback) => {
    const changed = (k) => !dst.entries[k] || src.entries[k].timestamp.getTime() !== dst.entries[k].timestamp.getTime();
    const create = Object.keys(src.entries).filter(changed);
    const remove = Object.keys(dst.entries).filter((k) => !src.entries[k]);
    if (!create.length && !remove.length) { callback(null); return; }
    let settled = false;
    const finish = (err) => { if (!settled) { settled = true; callback(err); } };
    const tx = (src.type === 'remote' ? src.db : dst.db).transaction([IDBFS.DB_STORE_NAME], 'readwrite');
    const store = tx.objectStore(IDBFS.DB_STORE_NAME);
    const done = (err) => { if (err) { finish(err); try { tx.abort(); } catch { /* already finished */ } } };
    tx.onerror = (e) => { e.preventDefault(); finish(tx.error || new Error('IndexedDB write failed')); };
    tx.onabort = () => finish(tx.error || new Error('IndexedDB transaction aborted'));
    tx.oncomplete = () => finish(null);
    for (const path of create.sort()) {
      if (dst.type === 'local') IDBFS.loadRemoteEntry(store, path, (err, entry) => (err ? done(err) : IDBFS.storeLocalEntry(path, entry, done)));
      else IDBFS.loadLocalEntry(path, (err, entry) => (err ? done(err) : IDBFS.storeRemoteEntry(store, path, entry, done)));
    }
    for (const path of remove.sort().reverse()) {
      if (dst.type === 'local') IDBFS.removeLocalEntry(path, done); else IDBFS.removeRemoteEntry(store, path, done);
    }
  };
}

// File store over the engine's IDBFS mount: writes land in MEMFS, syncfs(false) makes
// them durable.
function idbfsStore(FS) {
  const syncfs = (populate) => new Promise((resolve, reject) =>
    FS.syncfs(populate, (err) => (err ? reject(err instanceof Error ? err : new Error(`syncfs: ${err.message || err.code || err}`)) : resolve())));
  return {
    kind: 'idbfs',
    load: () => enqueue(() => syncfs(true)),
    read(path) { try { return FS.readFile(path); } catch { return null; } },
    write: (path, bytes) => enqueue(async () => {
      await mayWrite();
      FS.mkdirTree(path.slice(0, path.lastIndexOf('/')));
      FS.writeFile(path, bytes);
      return syncfs(false);
    }),
    sync: () => enqueue(async () => { await mayWrite(); return syncfs(false); }),
  };
}

// Without an engine there is no Emscripten FS; the same paths are kept in IndexedDB so
// the class list still persists. Reads come from the copy loaded at start.
function idbStore() {
  const files = new Map();
  return {
    kind: 'indexeddb',
    load: () => enqueue(async () => {
      const d = await db();
      await new Promise((resolve, reject) => {
        const tx = d.transaction('files', 'readonly');
        const cur = tx.objectStore('files').openCursor();
        cur.onsuccess = () => { const c = cur.result; if (c) { files.set(c.key, c.value); c.continue(); } };
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
      });
    }),
    read: (path) => files.get(path) || null,
    write: (path, bytes) => enqueue(async () => {
      await mayWrite();
      await idb('files', 'readwrite', (s) => s.put(bytes, path));
      files.set(path, bytes);
    }),
    sync: () => enqueue(() => {}),
  };
}

// ---- one writer per profile -------------------------------------------------------------
// Each tab has its own worker with its own in-memory copy of the files, and an IDBFS
// syncfs writes its whole tree (deleting what it does not know): two writers destroy
// each other's work. So one tab owns the storage (a Web Lock held for the tab's life);
// the others open read-only, say which tab owns it, and may ask to take over: the owner
// saves, steps down to read-only and lets go; the taker reloads and reads the newest
// files. Every write also checks a generation number first, so a tab that lost
// ownership unnoticed (no Web Locks on an insecure origin) never writes a stale tree.
const OWNER_LOCK = 'tabtrain-storage-owner';
const TAKE_OVER_TIMEOUT_MS = 20_000;
const RELOAD_GRACE_MS = 1500;
const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('tabtrain-storage') : null;
const TAB = { id: Math.random().toString(36).slice(2, 10), openedAt: Date.now() };
let releaseOwnership = null; // lets go of the Web Lock
let generation = 0;          // ours, while we own the storage
let writesInFlight = 0;      // pictures being added: stepping down waits for them

// Resolves true once this tab holds the lock (`wait`: queue for it), false if another has it.
function claimLock(wait) {
  if (!navigator.locks) return new Promise((resolve) => {
    // No Web Locks (insecure origin): an owner that answers on the channel wins.
    if (!channel) { resolve(true); return; }
    let answered = false;
    const on = (e) => { if (e.data?.type === 'owner') answered = true; };
    channel.addEventListener('message', on);
    channel.postMessage({ type: 'who' });
    setTimeout(() => { channel.removeEventListener('message', on); resolve(!answered); }, 300);
  });
  // Not waiting still allows a moment: on a reload the previous page's worker may not
  // have let go yet.
  const signal = wait ? undefined : AbortSignal.timeout(RELOAD_GRACE_MS);
  return new Promise((resolve) => {
    navigator.locks.request(OWNER_LOCK, { signal }, () => {
      resolve(true);
      return new Promise((r) => { releaseOwnership = r; }); // held until we step down
    }).catch(() => resolve(false));
  });
}

const readGeneration = async () => (await idb('owner', 'readonly', (s) => s.get('generation')))?.value || 0;

async function becomeOwner() {
  generation = (await readGeneration()) + 1;
  await idb('owner', 'readwrite', (s) => s.put({ value: generation, tab: TAB.id, openedAt: TAB.openedAt }, 'generation'));
  state.storage = { mode: 'owner', owner: null, since: Date.now() };
  channel?.postMessage({ type: 'owner', openedAt: TAB.openedAt });
}

function readOnlyError() {
  return new CommandError(ERR.READ_ONLY, 'This tab is read-only: another tab of this browser is editing the classes and pictures. Use "Take over" to edit here.');
}
function requireOwner() { if (state.storage.mode !== 'owner') throw readOnlyError(); }

// Checked inside the storage queue, right before anything is written.
async function mayWrite() {
  requireOwner();
  const now = await readGeneration();
  if (now !== generation) { // another tab owns it now: whatever this one holds is stale
    leaveOwnership(null, 'changed');
    throw readOnlyError();
  }
}

// The owner lets go: training pauses (and saves), pictures being added finish, every
// queued save reaches IndexedDB, then the lock is released and this tab is read-only.
async function stepDown(by, reason = 'taken-over') {
  if (state.storage.mode !== 'owner') return;
  if (state.phase === PHASE.TRAINING) paused = true;
  while (state.phase === PHASE.TRAINING || writesInFlight > 0) await new Promise((r) => setTimeout(r, 50));
  await queueTail;
  leaveOwnership(by, reason);
}
function leaveOwnership(by, reason) {
  state.storage = { mode: 'reader', owner: by, since: Date.now(), reason };
  releaseOwnership?.();
  releaseOwnership = null;
  postState();
  channel?.postMessage({ type: 'stepped-down', tab: TAB.id });
}

channel?.addEventListener('message', (e) => {
  const m = e.data || {};
  if (m.type === 'who' && state.storage.mode === 'owner') channel.postMessage({ type: 'owner', openedAt: TAB.openedAt });
  else if (m.type === 'owner' && state.storage.mode !== 'owner') { state.storage = { ...state.storage, owner: { openedAt: m.openedAt } }; postState(); }
  else if (m.type === 'take-over' && state.storage.mode === 'owner') stepDown({ openedAt: m.openedAt }).catch((err) => fail(ERR.STORAGE, storageMessage(err)));
});

// A read-only tab asks the owner to step down and waits for the lock; the page then
// reloads, so this tab starts from the files the owner saved last.
async function takeOver() {
  if (state.storage.mode === 'owner') return { reload: false };
  const stepped = new Promise((resolve) => {
    const on = (e) => { if (e.data?.type === 'stepped-down') { channel.removeEventListener('message', on); resolve(true); } };
    channel?.addEventListener('message', on);
  });
  channel?.postMessage({ type: 'take-over', openedAt: TAB.openedAt });
  const got = navigator.locks ? claimLock(true) : stepped;
  const timeout = new Promise((resolve) => setTimeout(() => resolve(false), TAKE_OVER_TIMEOUT_MS));
  if (!(await Promise.race([got, timeout]))) throw new CommandError(ERR.BUSY, 'The other tab did not hand over the data. Close it, then reload this tab.');
  return { reload: true };
}

// ---- engine ---------------------------------------------------------------------------

async function loadEngine() {
  const build = await pickEngineBuild(import.meta.url);
  if (!build) {
    state.engine = { status: 'missing', message: 'The engine (wasm/tabtrain.mjs) is not part of this build; classes can be edited, training is unavailable.' };
    return null;
  }
  try {
    const { default: factory } = await import(build.url.href);
    // The threaded build starts its workers before it resolves: as many as the largest
    // Threads setting needs besides this thread.
    const mod = await factory({ locateFile: (f) => new URL(f, build.dir).href, ttWorkers: build.maxThreads - 1 });
    engineBuild = build;
    state.threads = { threaded: build.threaded, available: build.maxThreads, current: 1, reason: build.reason };
    const abi = mod._tt_wasm_abi_version();
    if (abi !== PROTOCOL_VERSION) throw new Error(`engine ABI ${abi}, this page needs ${PROTOCOL_VERSION}`);
    patchIdbfs(mod.FS.filesystems.IDBFS);
    mod.FS.mkdirTree(ROOT);
    mod.FS.mount(mod.FS.filesystems.IDBFS, {}, ROOT);
    state.engine = { status: 'loaded', message: '' };
    state.schema = JSON.parse(mod.UTF8ToString(mod._tt_wasm_config_schema())); // the page's settings form
    useSettingLabels(state.schema.settings);
    return mod;
  } catch (e) {
    state.engine = { status: 'error', message: `engine failed to start: ${e.message || e}` };
    return null;
  }
}

// Marshalling helpers over the C API in docs/wasm-api.md.
function withBytes(mod, bytes, fn) {
  const n = bytes.byteLength;
  const p = mod._malloc(Math.max(n, 1));
  if (!p) throw new CommandError(ERR.ENGINE, `out of wasm memory for ${n} bytes`);
  try { mod.HEAPU8.set(new Uint8Array(bytes), p); return fn(p, n); } finally { mod._free(p); }
}
function withString(mod, s, fn) {
  const n = mod.lengthBytesUTF8(s) + 1;
  const p = mod._malloc(n);
  try { mod.stringToUTF8(s, p, n); return fn(p); } finally { mod._free(p); }
}
function engineError(rc) {
  const { mod, h } = engine;
  return new CommandError(ERR.ENGINE, mod.UTF8ToString(mod._tt_wasm_last_error(h)) || 'the engine failed', -rc);
}
function check(rc) { if (rc < 0) throw engineError(rc); return rc; }
function jsonCall(fn) {
  const p = fn();
  if (!p) throw engineError(-1);
  return JSON.parse(engine.mod.UTF8ToString(p));
}
function requireEngine() {
  if (!engine) throw new CommandError(ERR.ENGINE_MISSING, state.engine.message || 'engine not ready');
}

function startEngine(mod) {
  for (const d of ['dataset', 'features', 'ckpt']) mod.FS.mkdirTree(`${ROOT}/${d}`);
  const h = withBytes(mod, weightsBytes, (p, n) => withString(mod, ROOT, (r) => mod._tt_wasm_create(p, n, r)));
  weightsBytes = null; // the engine keeps its own copy (tails and exports need the file)
  if (h <= 0) {
    state.engine = { status: 'error', message: mod.UTF8ToString(mod._tt_wasm_last_error(0)) };
    return PHASE.ENGINE_ERROR;
  }
  engine = { mod, h };
  // From 1 thread (where the engine starts), so nothing to wait for.
  setThreads(engineBuild.maxThreads).catch(() => { state.threads.reason = 'the browser could not start more threads'; });
  pushClassesToEngine();
  refreshCounts();
  // An imported model first (it may start the next run), then the run of an earlier visit.
  if (mod.FS.analyzePath(IMPORTED_PATH).exists) {
    try { loadImported(); } catch (e) { fail(e.code, `The model imported on an earlier visit could not be opened again: it ${modelProblem(e.status, e.message)}`); }
  }
  if (!mod.FS.analyzePath(CKPT_PATH).exists) return state.imported ? PHASE.TRAINED : PHASE.READY;
  try {
    withString(mod, CKPT_PATH, (p) => check(mod._tt_wasm_load(h, p)));
  } catch (e) {
    fail(e.code, 'The saved training could not be restored (the saved copy is damaged or from another version). Your classes and pictures are kept; train again.');
    return PHASE.READY;
  }
  const t = jsonCall(() => mod._tt_wasm_train_state_json(h));
  Object.assign(state.training, trainingFields(t));
  state.saved = { epoch: t.epoch, step: t.step };
  restoreRun();
  return t.finished ? PHASE.TRAINED : PHASE.PAUSED;
}

// Loads IMPORTED_PATH into the engine: 0 = a checkpoint of this dataset (its run is
// restored), 1 = a model that predicts and can start the next run.
function loadImported() {
  const { mod, h } = engine;
  const rc = withString(mod, IMPORTED_PATH, (p) => check(mod._tt_wasm_load(h, p)));
  if (rc === LOAD.MODEL) state.imported = { ...jsonCall(() => mod._tt_wasm_model_json(h)), name: state.imported?.name || 'imported model' };
  return rc;
}

// The record of the checkpoint's run; its epochs are replayed as events, so the charts
// and tables come back with it.
function restoreRun() {
  const bytes = store.read(RUN_PATH);
  if (!bytes) return;
  try {
    const r = JSON.parse(new TextDecoder().decode(bytes));
    state.run = { classes: r.classes, excluded: r.excluded, config: r.config };
    runHistory = r.history; // written in the same sync as the checkpoint
    for (const e of runHistory) post(EVT.EPOCH, e);
  } catch { state.run = null; runHistory = []; } // a damaged record only loses the charts
}
function saveRun(mod) {
  if (!state.run) return;
  const json = JSON.stringify({ version: 1, ...state.run, history: runHistory });
  mod.FS.writeFile(RUN_PATH, new TextEncoder().encode(json));
}

// An epoch's metrics as the page shows them: every array labelled by class id (a class
// without pictures is not in the run; one deleted since keeps the name the run knew).
function epochEvent(m) {
  return {
    epoch: m.epoch, epochs: m.epochs, trainLoss: m.train_loss, trainAcc: m.train_acc, valLoss: m.val_loss, valAcc: m.val_acc,
    classes: m.class_ids.map((id, i) => ({ id, name: m.class_names[i] })),
    perClass: m.class_ids.map((id, i) => ({ id, acc: m.per_class_acc[i], n: m.val_counts[i] })), confusion: m.confusion,
  };
}

const trainingFields = (t) => ({ epoch: t.epoch, epochs: t.epochs, step: t.step, steps: t.steps, trainLoss: t.train_loss, valAcc: t.val_acc });

// Runs the engine on the Threads setting's count (results do not depend on it). The
// threads that stop hand their workers back only once this worker's event loop runs, so
// going from one count above 1 to another passes through 1 and a turn of the loop.
async function setThreads(requested) {
  const n = clampThreads(requested, engineBuild);
  if (n === state.threads.current) return;
  if (n > 1 && state.threads.current > 1) {
    check(engine.mod._tt_wasm_set_threads(engine.h, 1));
    state.threads.current = 1;
    await new Promise((r) => setTimeout(r));
  }
  check(engine.mod._tt_wasm_set_threads(engine.h, n));
  state.threads.current = n;
}

function pushClassesToEngine() {
  if (!engine) return;
  const json = JSON.stringify(state.classes.map(({ id, name }) => ({ id, name })));
  withString(engine.mod, json, (p) => check(engine.mod._tt_wasm_set_classes(engine.h, p)));
}

function refreshCounts() {
  if (!engine) return;
  const ds = jsonCall(() => engine.mod._tt_wasm_dataset_json(engine.h));
  const counts = new Map(ds.classes.map((c) => [c.id, c.count]));
  for (const c of state.classes) c.count = counts.get(c.id) || 0;
}

// ---- weights: manifest, IndexedDB cache, streamed download, verification -----------------

// The engine's own SHA-256 (docs/wasm-api.md): crypto.subtle exists only in secure
// contexts, and a classroom may serve the app over http on a LAN address. Only a page
// without the engine (which cannot use the weights anyway) falls back to crypto.subtle.
async function sha256Hex(bytes) {
  const mod = engineModule;
  if (mod) return withBytes(mod, bytes, (p, n) => mod.UTF8ToString(mod._tt_wasm_sha256_hex(p, n)));
  if (!globalThis.crypto?.subtle) return null;
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function verify(bytes, manifest) {
  setPhase(PHASE.WEIGHTS_VERIFY);
  if (bytes.byteLength !== manifest.size) return `it has ${bytes.byteLength} bytes instead of ${manifest.size}`;
  const got = await sha256Hex(bytes);
  if (got === null) return null; // no engine and no crypto.subtle: nothing could use or check them
  return got === manifest.sha256 ? null : 'its SHA-256 checksum is not the expected one';
}

async function download(url, manifest) {
  state.weights = { status: 'downloading', source: 'network', bytes: 0, total: manifest.size, sha256: manifest.sha256 };
  setPhase(PHASE.WEIGHTS_DOWNLOAD);
  const res = await fetch(url, { cache: 'no-store' });
  if (!res.ok || !res.body) throw new CommandError(ERR.WEIGHTS_FETCH, `the server answered ${res.status} ${res.statusText || ''} for the model file`.trim());
  // Preallocated to the manifest size: no re-copying, and an oversize body is caught early.
  const buf = new Uint8Array(manifest.size);
  const reader = res.body.getReader();
  let got = 0, last = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (got + value.byteLength > buf.byteLength) {
      await reader.cancel();
      throw new CommandError(ERR.WEIGHTS_CORRUPT, `weights larger than the expected ${manifest.size} bytes`);
    }
    buf.set(value, got);
    got += value.byteLength;
    const now = performance.now();
    if (now - last >= PROGRESS_INTERVAL_MS) {
      last = now;
      state.weights.bytes = got;
      post(EVT.PROGRESS, { phase: PHASE.WEIGHTS_DOWNLOAD, done: got, total: manifest.size, unit: 'bytes' });
    }
  }
  state.weights.bytes = got;
  post(EVT.PROGRESS, { phase: PHASE.WEIGHTS_DOWNLOAD, done: got, total: manifest.size, unit: 'bytes' });
  return got === buf.byteLength ? buf.buffer : buf.buffer.slice(0, got);
}

async function ensureWeights(url) {
  let manifest;
  try {
    const r = await fetch(MANIFEST_URL, { cache: 'no-store' });
    if (r.status === 404) { state.weights.status = 'missing'; setPhase(PHASE.WEIGHTS_MISSING); return false; }
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    manifest = await r.json();
  } catch (e) {
    // Offline: fall back to whatever weights the cache holds.
    manifest = null;
    const cached = await idb('weights', 'readonly', (s) => s.get('current')).catch(() => null);
    if (cached) manifest = cached.manifest;
    else { state.weights.status = 'error'; setPhase(PHASE.WEIGHTS_ERROR); fail(ERR.WEIGHTS_FETCH, `models/manifest.json: ${e.message}`); return false; }
  }
  const cached = await idb('weights', 'readonly', (s) => s.get('current')).catch(() => null);
  if (cached && cached.manifest.sha256 === manifest.sha256) {
    state.weights = { status: 'verifying', source: 'cache', bytes: cached.bytes.byteLength, total: manifest.size, sha256: manifest.sha256 };
    const bad = await verify(cached.bytes, manifest);
    if (!bad) { weightsBytes = cached.bytes; state.weights.status = 'ready'; return true; }
    fail(ERR.WEIGHTS_CORRUPT, `The copy of the base model stored on this device is damaged (${bad}); downloading it again.`);
  }
  try {
    const src = url || new URL(manifest.file, MANIFEST_URL).href;
    const bytes = await download(src, manifest);
    state.weights.status = 'verifying';
    const bad = await verify(bytes, manifest);
    if (bad) throw new CommandError(ERR.WEIGHTS_CORRUPT, `The downloaded base model is damaged or not the expected file: ${bad}.`);
    weightsBytes = bytes;
    state.weights.status = 'ready';
  } catch (e) {
    state.weights.status = 'error';
    setPhase(PHASE.WEIGHTS_ERROR);
    fail(e.code || ERR.WEIGHTS_FETCH, e.message || String(e), { retry: true });
    return false;
  }
  try {
    await idb('weights', 'readwrite', (s) => s.put({ manifest, bytes: weightsBytes, savedAt: Date.now() }, 'current'));
  } catch (e) {
    // Still usable this session; only the next visit pays the download again.
    fail(ERR.STORAGE, `weights not cached (${e.name === 'QuotaExceededError' ? 'storage quota exceeded' : e.message}); they will be downloaded again next visit`);
  }
  return true;
}

// ---- startup ---------------------------------------------------------------------------

let engineModule = null;

// The store (and so the class list) comes first: class commands work while the
// weights are still downloading.
async function openStore() {
  try {
    if (await claimLock(false)) await becomeOwner();
    else { state.storage = { mode: 'reader', owner: state.storage.owner, since: Date.now(), reason: 'opened' }; channel?.postMessage({ type: 'who' }); }
  } catch (e) {
    state.storage = { mode: 'owner', owner: null, since: Date.now() }; // no IndexedDB: nothing to share
  }
  engineModule = await loadEngine();
  store = engineModule ? idbfsStore(engineModule.FS) : idbStore();
  try {
    await store.load();
    const saved = store.read(CLASSES_PATH);
    if (saved) {
      const j = JSON.parse(new TextDecoder().decode(saved));
      state.classes = j.classes.map((c) => ({ id: c.id, name: c.name, count: 0 }));
      state.nextClassId = j.nextId;
    }
  } catch (e) {
    fail(ERR.STORAGE, `could not load saved classes: ${e.message || e}`);
  }
  postState();
}

async function bringUp(weightsUrl) {
  if (!(await ensureWeights(weightsUrl))) {
    if (state.phase !== PHASE.WEIGHTS_ERROR) engineSettled(); // a failed download may still be retried
    return;
  }
  let phase = state.engine.status === 'missing' ? PHASE.ENGINE_MISSING : PHASE.ENGINE_ERROR;
  if (engineModule && !engine) {
    try { phase = startEngine(engineModule); } catch (e) { state.engine = { status: 'error', message: e.message }; }
  } else if (engine) phase = PHASE.READY;
  setPhase(phase);
  engineSettled();
}

// Pictures added while the base model is still downloading wait here (the page sends
// them one chunk at a time, so at most a chunk's bytes are held) instead of being
// refused: on slow classroom Wi-Fi that is the first thing people do.
let engineSettled;
const engineSettledPromise = new Promise((resolve) => { engineSettled = resolve; });

// ---- commands --------------------------------------------------------------------------

function saveClasses() {
  const json = JSON.stringify({ version: 1, nextId: state.nextClassId, classes: state.classes.map(({ id, name }) => ({ id, name })) });
  return store.write(CLASSES_PATH, new TextEncoder().encode(json));
}

// A valid name for class `selfId` (0: a new class): not empty, not too long, and not the
// name of another class (case aside), or results and exports could not tell them apart.
function className(name, selfId = 0) {
  const n = String(name ?? '').trim();
  if (!n) throw new CommandError(ERR.BAD_REQUEST, 'A class needs a name.');
  if (n.length > MAX_CLASS_NAME) throw new CommandError(ERR.BAD_REQUEST, `Class names can have at most ${MAX_CLASS_NAME} characters; this one is longer than ${MAX_CLASS_NAME}.`);
  const same = state.classes.find((c) => c.id !== selfId && c.name.toLocaleLowerCase() === n.toLocaleLowerCase());
  if (same) throw new CommandError(ERR.BAD_REQUEST, `There is already a class named "${same.name}"; choose another name.`);
  return n;
}
function findClass(id) {
  const c = state.classes.find((x) => x.id === id);
  if (!c) throw new CommandError(ERR.BAD_REQUEST, `no class with id ${id}`);
  return c;
}
function notWhileTraining() {
  if (state.phase === PHASE.TRAINING) throw new CommandError(ERR.BUSY, 'pause training first');
}

// Allowed during training too: the run trains on its own copy of the features, and
// new images join the next run.
async function addImages({ classId, files }) {
  requireOwner();
  findClass(classId);
  writesInFlight++;
  try { return await addImagesChecked(classId, files); } finally { writesInFlight--; }
}
async function addImagesChecked(classId, files) {
  if (!engine && engineModule) {
    state.waiting += files.length;
    postState();
    try { await engineSettledPromise; } finally { state.waiting -= files.length; }
    findClass(classId); // deleted meanwhile?
  }
  const phaseBefore = state.phase;
  const showPhase = engine && phaseBefore !== PHASE.TRAINING;
  if (showPhase) setPhase(PHASE.EXTRACTING);
  try { return await addImagesTo(classId, files); } finally { if (showPhase) setPhase(state.phase === PHASE.EXTRACTING ? phaseBefore : state.phase); }
}

async function addImagesTo(classId, files) {
  let added = 0, duplicates = 0;
  const total = files.length;
  let last = 0;
  for (let i = 0; i < total; i++) {
    const { name, bytes } = files[i];
    const reject = (reason) => fail(ERR.FILE, reason, { file: name, classId });
    if (!bytes || bytes.byteLength === 0) reject('is empty (0 bytes), so there is no picture in it.');
    else if (bytes.byteLength > MAX_IMAGE_BYTES) reject(`is larger than ${MAX_IMAGE_BYTES >> 20} MB; pictures that big cannot be read here.`);
    else if (!engine) reject(engineModule ? 'not added: the engine could not start (see above)' : 'not added: this copy of the app has no engine, so pictures cannot be read');
    else {
      const rc = withBytes(engine.mod, bytes, (p, n) => withString(engine.mod, name, (s) => engine.mod._tt_wasm_add_image(engine.h, classId, p, n, s)));
      if (rc >= 0) added++;
      else {
        const e = engineError(rc);
        if (/already in this class/.test(e.message)) duplicates++;
        else reject(pictureProblem(e.status, e.message));
      }
    }
    const now = performance.now();
    if (now - last >= PROGRESS_INTERVAL_MS || i === total - 1) {
      last = now;
      post(EVT.PROGRESS, { phase: PHASE.EXTRACTING, done: i + 1, total, unit: 'images' });
    }
    if (engine && i % 8 === 7) await new Promise((r) => setTimeout(r)); // let pause/other commands in
  }
  // One line for all of them: adding the sample set twice must not bury the list.
  if (duplicates) fail(ERR.FILE, `${duplicates} picture${duplicates === 1 ? ' was' : 's were'} already in "${findClass(classId).name}" and ${duplicates === 1 ? 'was' : 'were'} skipped.`, { classId });
  if (added) { refreshCounts(); postState(); await store.sync(); }
  return { added, rejected: total - added };
}

// Slices of engine time with the message loop in between (pause, predict and state
// requests get through). Epoch ends report metrics and, at most every
// CHECKPOINT_INTERVAL_MS, save a checkpoint; the end of the run and a pause always do.
async function trainLoop() {
  const { mod, h } = engine;
  let lastProgress = 0, lastSave = performance.now();
  while (!paused) {
    const rc = check(mod._tt_wasm_train_step(h, TRAIN_SLICE_MS));
    const s = jsonCall(() => mod._tt_wasm_train_state_json(h));
    Object.assign(state.training, trainingFields(s));
    const now = performance.now();
    // The run is still computing its augmented views / tail inputs.
    state.preparing = rc === STEP.PREPARING ? { done: s.prepared, total: s.to_prepare } : null;
    if (now - lastProgress >= PROGRESS_INTERVAL_MS || rc === STEP.FINISHED || (rc === STEP.DONE && s.step === 0)) {
      lastProgress = now;
      if (rc === STEP.PREPARING || s.step === 0) post(EVT.PROGRESS, { phase: PHASE.TRAINING, done: s.prepared, total: s.to_prepare, unit: 'views' });
      else post(EVT.PROGRESS, { phase: PHASE.TRAINING, done: s.step, total: s.steps, unit: 'steps', epoch: s.epoch, epochs: s.epochs });
    }
    if (rc === STEP.EPOCH || rc === STEP.FINISHED) {
      const e = epochEvent(jsonCall(() => mod._tt_wasm_metrics_json(h)));
      runHistory = [...runHistory.filter((x) => x.epoch < e.epoch), e];
      if (state.run) state.run.classes = e.classes;
      post(EVT.EPOCH, e);
      postState();
      if (rc === STEP.EPOCH && now - lastSave >= CHECKPOINT_INTERVAL_MS) { lastSave = now; checkpoint(); }
    }
    if (rc === STEP.FINISHED) { await checkpoint(); setPhase(PHASE.TRAINED); return; }
    await new Promise((r) => setTimeout(r));
  }
  // Paused while the features were being prepared: nothing to save yet (they are cached).
  if (!state.preparing) await checkpoint();
  setPhase(PHASE.PAUSED);
}

// The engine writes the checkpoint atomically (tmp + rename) inside one synchronous
// call, so the sync that follows, queued behind any sync in flight, only ever sees a
// complete file: the previous one or this one.
function checkpoint() {
  const { mod, h } = engine;
  withString(mod, CKPT_PATH, (p) => check(mod._tt_wasm_save(h, p)));
  saveRun(mod);
  const { epoch, step } = state.training;
  // A failed sync is reported by the queue; `saved` keeps naming the last good one.
  return store.sync().then(() => { state.saved = { epoch, step }; postState(); }, () => {});
}

// The export of `tabtrain export` (docs/export.md): backbone + head, and its JSON sidecar;
// with format 'onnx', the same classifier as one ONNX model (`export --format onnx`).
async function exportModel({ format = 'safetensors' }) {
  requireEngine();
  const { mod, h } = engine;
  const name = `model.${format}`, path = `/tmp/${name}`, json = '/tmp/model.json';
  try {
    withString(mod, path, (p) => withString(mod, json, (j) => withString(mod, format, (f) => check(mod._tt_wasm_export(h, p, j, f)))));
    const bytes = mod.FS.readFile(path).slice().buffer;
    if (format === 'onnx') return { name, bytes };
    return { name, bytes, json: { name: 'model.json', bytes: mod.FS.readFile(json).slice().buffer } };
  } finally {
    for (const p of [path, json]) if (mod.FS.analyzePath(p).exists) mod.FS.unlink(p);
  }
}

// A checkpoint of this dataset continues its run (paused); any other model file is
// imported: it predicts, its classes are created here when missing (so pictures can be
// added to them), and the next run may start from its weights.
// The file is kept in IDBFS, so the import survives a reload.
async function importModel({ name, bytes }) {
  requireOwner();
  requireEngine();
  notWhileTraining();
  const { mod } = engine;
  const tmp = `${IMPORTED_PATH}.new`;
  mod.FS.writeFile(tmp, new Uint8Array(bytes));
  const previous = state.imported;
  let rc;
  try {
    mod.FS.rename(tmp, IMPORTED_PATH);
    state.imported = { name };
    rc = loadImported();
  } catch (e) {
    state.imported = previous;
    if (mod.FS.analyzePath(tmp).exists) mod.FS.unlink(tmp);
    if (mod.FS.analyzePath(IMPORTED_PATH).exists) mod.FS.unlink(IMPORTED_PATH);
    throw e.status ? new CommandError(e.code, `"${name}" ${modelProblem(e.status, e.message)}`, e.status) : e;
  }
  const t = jsonCall(() => mod._tt_wasm_train_state_json(engine.h));
  Object.assign(state.training, trainingFields(t));
  if (rc === LOAD.RUN) {
    mod.FS.unlink(IMPORTED_PATH); // it is the run's checkpoint now
    state.imported = previous;
    await checkpoint();
  } else {
    const have = new Set(state.classes.map((c) => c.name));
    for (const n of state.imported.classes) if (!have.has(n)) state.classes.push({ id: state.nextClassId++, name: className(n), count: 0 });
    pushClassesToEngine();
    await saveClasses();
  }
  setPhase(rc === LOAD.RUN && !t.finished ? PHASE.PAUSED : PHASE.TRAINED);
  return rc === LOAD.RUN ? { resumable: true } : { resumable: false, model: state.imported };
}

const handlers = {
  [CMD.HELLO]: () => ({ protocol: PROTOCOL_VERSION, engine: state.engine.status }),
  [CMD.WEIGHTS_RETRY]: async ({ url }) => {
    if (state.phase !== PHASE.WEIGHTS_ERROR && state.phase !== PHASE.WEIGHTS_MISSING) throw new CommandError(ERR.BUSY, 'weights are not in an error state');
    started = bringUp(url);
    await started;
    return { phase: state.phase };
  },
  [CMD.TAKE_OVER]: takeOver,
  [CMD.CLASS_CREATE]: async ({ name }) => {
    requireOwner();
    const c = { id: state.nextClassId++, name: className(name), count: 0 };
    state.classes.push(c);
    pushClassesToEngine();
    postState();
    await saveClasses();
    return { classId: c.id };
  },
  [CMD.CLASS_RENAME]: async ({ classId, name }) => {
    requireOwner();
    findClass(classId).name = className(name, classId);
    pushClassesToEngine();
    postState();
    await saveClasses();
    return {};
  },
  [CMD.CLASS_DELETE]: async ({ classId }) => {
    requireOwner();
    findClass(classId);
    notWhileTraining();
    state.classes = state.classes.filter((c) => c.id !== classId);
    pushClassesToEngine();
    postState();
    await saveClasses();
    return {};
  },
  [CMD.IMAGES_ADD]: (m) => addImages(m),
  [CMD.IMAGES_REMOVE]: async ({ imageIds }) => {
    requireOwner();
    requireEngine();
    notWhileTraining();
    for (const id of imageIds) check(engine.mod._tt_wasm_remove_image(engine.h, id));
    refreshCounts();
    postState();
    await store.sync();
    return {};
  },
  [CMD.IMAGES_LIST]: ({ classId }) => {
    requireEngine();
    findClass(classId);
    const ds = jsonCall(() => engine.mod._tt_wasm_dataset_json(engine.h));
    return { images: ds.images.filter((im) => im.class === classId).map(({ id, name }) => ({ id, name })) };
  },
  [CMD.IMAGES_GET]: ({ imageId }) => {
    requireEngine();
    const { mod, h } = engine;
    const lenPtr = mod._malloc(4);
    try {
      const p = mod._tt_wasm_image(h, imageId, lenPtr);
      if (!p) throw engineError(-1);
      return { bytes: mod.HEAPU8.slice(p, p + mod.HEAP32[lenPtr >> 2]).buffer };
    } finally { mod._free(lenPtr); }
  },
  [CMD.TRAIN]: async ({ config }) => {
    requireOwner();
    requireEngine();
    notWhileTraining();
    const used = state.classes.filter((c) => c.count > 0);
    if (used.length < 2) throw new CommandError(ERR.BAD_REQUEST, 'Add pictures to at least two classes to train.');
    const { threads, ...settings } = config; // the engine's config JSON (docs/config.md), and the page's thread count
    await setThreads(threads);
    withString(engine.mod, JSON.stringify(settings), (p) => check(engine.mod._tt_wasm_train_begin(engine.h, p)));
    // The engine trains on the classes with pictures, in list order: recorded here so the
    // results stay labelled when classes are renamed or deleted later.
    state.run = { classes: used.map(({ id, name }) => ({ id, name })), excluded: state.classes.filter((c) => !c.count).map((c) => c.name), config: settings };
    runHistory = [];
    paused = false;
    setPhase(PHASE.TRAINING);
    trainLoop().catch((e) => { fail(e.code || ERR.ENGINE, e.message); setPhase(PHASE.READY); });
    return {};
  },
  [CMD.PAUSE]: () => {
    if (state.phase !== PHASE.TRAINING) throw new CommandError(ERR.BUSY, 'not training');
    paused = true;
    return {};
  },
  [CMD.RESUME]: () => {
    requireOwner();
    requireEngine();
    if (state.phase !== PHASE.PAUSED) throw new CommandError(ERR.BUSY, 'not paused');
    paused = false;
    setPhase(PHASE.TRAINING);
    trainLoop().catch((e) => { fail(e.code || ERR.ENGINE, e.message); setPhase(PHASE.READY); });
    return {};
  },
  [CMD.PREDICT]: ({ bytes }) => {
    requireEngine();
    const r = withBytes(engine.mod, bytes, (p, n) => jsonCall(() => engine.mod._tt_wasm_predict(engine.h, p, n)));
    return { probs: r.classes.map((c, i) => ({ classId: c.id, name: c.name, p: r.probs[i] })) };
  },
  [CMD.EXPORT]: exportModel,
  [CMD.IMPORT]: importModel,
  [CMD.RESET]: async () => {
    requireOwner();
    notWhileTraining();
    if (engine) check(engine.mod._tt_wasm_reset(engine.h));
    state.classes = [];
    state.nextClassId = 1;
    state.training = { epoch: 0, epochs: 0, step: 0, steps: 0, trainLoss: null, valAcc: null };
    state.saved = null;
    state.imported = null;
    state.preparing = null;
    state.run = null;
    runHistory = [];
    if (engine) state.phase = PHASE.READY;
    postState();
    await saveClasses();
    return {};
  },
};

self.onmessage = async (e) => {
  const m = e.data;
  if (!m || typeof m !== 'object' || m.v !== PROTOCOL_VERSION) {
    fail(ERR.PROTOCOL, `expected protocol v${PROTOCOL_VERSION}, got ${m && m.v}`);
    if (m && m.id !== undefined) post(EVT.RESULT, { id: m.id, ok: false, error: { code: ERR.PROTOCOL, message: 'protocol version mismatch' } });
    return;
  }
  const handler = handlers[m.type];
  try {
    if (!handler) throw new CommandError(ERR.PROTOCOL, `unknown command ${m.type}`);
    await (m.type === CMD.WEIGHTS_RETRY ? started : storeReady);
    const out = (await handler(m)) || {};
    post(EVT.RESULT, { id: m.id, ok: true, ...out }, [out.bytes, out.json?.bytes].filter((x) => x instanceof ArrayBuffer));
  } catch (err) {
    post(EVT.RESULT, { id: m.id, ok: false, error: { code: err.code || ERR.ENGINE, message: humane(err.message || String(err)), reported: !!err.reported } });
  }
};

const storeReady = openStore();
let started = storeReady.then(() => bringUp()).catch((e) => fail(ERR.STORAGE, e.message || String(e)));
