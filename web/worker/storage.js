// Durable storage: one IndexedDB for the weights cache and the owner's generation, the
// engine's files in IDBFS (synced one sync at a time), and which tab may write them.
import { ERR, PHASE } from '../protocol.js';
import { state, session, CommandError, postState, fail } from './context.js';

const DB_NAME = 'tabtrain';

function openDb() {
  return new Promise((resolve, reject) => {
    const rq = indexedDB.open(DB_NAME, 2);
    rq.onupgradeneeded = () => {
      // 'files' held the class list of a page without an engine, before the project store
      // moved into the engine; it stays so that profiles keep this schema version.
      for (const name of ['weights', 'files', 'owner']) if (!rq.result.objectStoreNames.contains(name)) rq.result.createObjectStore(name);
    };
    rq.onsuccess = () => resolve(rq.result);
    rq.onerror = () => reject(rq.error || new Error('indexedDB.open failed (private mode?)'));
    rq.onblocked = () => reject(new Error('IndexedDB blocked by another tab'));
  });
}
let dbPromise = null;
const db = () => (dbPromise ||= openDb());

export async function idb(storeName, mode, fn) {
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
export const drained = () => queueTail;
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
export function storageMessage(e) {
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
// And its getRemoteSet walks every key of the database with a cursor, a round trip to
// the browser per key, on every sync: 20-40 ms a sync once the sample set is in, while
// the engine waits. While this tab owns the storage it is the only writer (it reloads to
// become one, and checks the generation before each write), so the set is read once,
// by the load, and from then on kept as reconcile changes it; any failure reads it again.
let remoteSet = null;
export function patchIdbfs(IDBFS) {
  const walk = IDBFS.getRemoteSet;
  IDBFS.getRemoteSet = (mount, callback) => {
    if (remoteSet?.mountpoint === mount.mountpoint) { callback(null, remoteSet.set); return; }
    walk(mount, (err, set) => {
      remoteSet = err ? null : { mountpoint: mount.mountpoint, set };
      callback(err, set);
    });
  };
  IDBFS.reconcile = (src, dst, callback) => {
    const changed = (k) => !dst.entries[k] || src.entries[k].timestamp.getTime() !== dst.entries[k].timestamp.getTime();
    const create = Object.keys(src.entries).filter(changed);
    const remove = Object.keys(dst.entries).filter((k) => !src.entries[k]);
    if (!create.length && !remove.length) { callback(null); return; }
    let settled = false;
    const finish = (err) => {
      if (settled) return;
      settled = true;
      if (err) remoteSet = null;
      else if (dst.type === 'remote') {
        for (const k of create) dst.entries[k] = { timestamp: src.entries[k].timestamp };
        for (const k of remove) delete dst.entries[k];
      }
      callback(err);
    };
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

// The engine's files over its IDBFS mount: the engine writes them in MEMFS (each
// file whole, by tmp + rename), syncfs(false) makes them durable.
let fsOf = null;
const syncfs = (populate) => new Promise((resolve, reject) =>
  fsOf.syncfs(populate, (err) => (err ? reject(err instanceof Error ? err : new Error(`syncfs: ${err.message || err.code || err}`)) : resolve())));
// Reads what IndexedDB holds into the engine's file tree (before the engine opens it).
export function loadFiles(FS) {
  fsOf = FS;
  remoteSet = null; // written before the load (web/migrate.js): read it whole
  return enqueue(() => syncfs(true));
}
// Makes every file the engine wrote durable, after the syncs before it.
export const syncFiles = () => enqueue(async () => { if (!fsOf) return; await mayWrite(); await syncfs(false); });

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

// Owner or reader, decided once at start.
export async function claimStorage() {
  try {
    if (await claimLock(false)) await becomeOwner();
    else { state.storage = { mode: 'reader', owner: state.storage.owner, since: Date.now(), reason: 'opened' }; channel?.postMessage({ type: 'who' }); }
  } catch (e) {
    state.storage = { mode: 'owner', owner: null, since: Date.now() }; // no IndexedDB: nothing to share
  }
}

function readOnlyError() {
  return new CommandError(ERR.READ_ONLY, 'This tab is read-only: another tab of this browser is editing the classes and pictures. Use "Take over" to edit here.');
}
export function requireOwner() { if (state.storage.mode !== 'owner') throw readOnlyError(); }

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
  if (state.phase === PHASE.TRAINING) session.paused = true;
  while (state.phase === PHASE.TRAINING || session.writes > 0) await new Promise((r) => setTimeout(r, 50));
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
export async function takeOver() {
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
