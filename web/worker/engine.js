// The engine: loading the wasm module, and every call into its C API (docs/wasm-api.md)
// with the marshalling around it. The engine holds the project (classes, pictures), the
// run and its checkpoints; nothing here keeps a copy of them.
import { ERR, PROTOCOL_VERSION } from '../protocol.js';
import { pickEngineBuild, clampThreads } from '../engine-build.js';
import { state, heap, CommandError } from './context.js';
import { patchIdbfs } from './storage.js';
import { useSettingLabels } from '../messages.js';

export const ROOT = '/tabtrain'; // the IDBFS mount: the engine's project, features and checkpoints
// Return codes of the engine (src/wasm/api.h; tests/e2e/codes.test.mjs keeps them equal).
export const STEP = { DONE: 0, EPOCH: 1, FINISHED: 2, PREPARING: 3, NEED_IMAGE: 4 }; // tt_wasm_train_step
export const LOAD = { RUN: 0, MODEL: 1, NONE: 2 };                       // tt_wasm_load, tt_wasm_resume

let mod = null;      // the Emscripten module
let build = null;    // pickEngineBuild's choice
let h = 0;           // the engine handle, once the project is open
let weighted = false; // the weights are in: pictures, training and prediction work

// The module for this page (threaded when it can be), with IDBFS mounted at ROOT; null
// when this build has none or it failed (state.engine says why).
export async function loadEngine() {
  build = await pickEngineBuild(new URL('../', import.meta.url));
  if (!build) {
    state.engine = { status: 'missing', message: 'The engine (wasm/tabtrain.mjs) is not part of this build; training is unavailable.' };
    return null;
  }
  try {
    const { default: factory } = await import(build.url.href);
    // The threaded build starts its workers before it resolves: as many as the largest
    // Threads setting needs besides this thread.
    const m = await factory({ locateFile: (f) => new URL(f, build.dir).href, ttWorkers: build.maxThreads - 1 });
    state.threads = { threaded: build.threaded, available: build.maxThreads, current: 1, reason: build.reason };
    const abi = m._tt_wasm_abi_version();
    if (abi !== PROTOCOL_VERSION) throw new Error(`engine ABI ${abi}, this page needs ${PROTOCOL_VERSION}`);
    patchIdbfs(m.FS.filesystems.IDBFS);
    m.FS.mkdirTree(ROOT);
    m.FS.mount(m.FS.filesystems.IDBFS, {}, ROOT);
    state.engine = { status: 'loaded', message: '' };
    state.schema = JSON.parse(m.UTF8ToString(m._tt_wasm_config_schema())); // the page's settings form
    useSettingLabels(state.schema.settings);
    mod = m;
    heap.bytes = () => u8().length;
    return mod;
  } catch (e) {
    state.engine = { status: 'error', message: `engine failed to start: ${e.message || e}` };
    return null;
  }
}

export const fs = () => mod.FS;

// ---- marshalling --------------------------------------------------------------------------

// Views of the engine's memory. In the threaded build a pool thread may have grown it
// (pictures are decoded on every thread), and then this thread's module views still
// have the old length until Emscripten's own code next looks.
function u8() {
  const b = mod.wasmMemory?.buffer;
  return b && b !== mod.HEAPU8.buffer ? new Uint8Array(b) : mod.HEAPU8;
}
const i32 = () => new Int32Array(u8().buffer);

function malloc(n) {
  const p = mod._malloc(Math.max(n, 1));
  if (!p) throw new CommandError(ERR.ENGINE, `out of wasm memory for ${n} bytes`);
  return p;
}
function withBytes(bytes, fn) {
  const n = bytes.byteLength;
  const p = malloc(n);
  try { u8().set(new Uint8Array(bytes), p); return fn(p, n); } finally { mod._free(p); }
}
function withString(s, fn) {
  const n = mod.lengthBytesUTF8(s) + 1;
  const p = mod._malloc(n);
  try { mod.stringToUTF8(s, p, n); return fn(p); } finally { mod._free(p); }
}
// The engine's message for the last failure, as an error (status: its tt_status).
export function engineError(rc, code = ERR.ENGINE) {
  return new CommandError(code, mod.UTF8ToString(mod._tt_wasm_last_error(h)) || 'the engine failed', -rc);
}
function check(rc, code) { if (rc < 0) throw engineError(rc, code); return rc; }
function json(p) {
  if (!p) throw engineError(-1);
  return JSON.parse(mod.UTF8ToString(p));
}

// The engine's own SHA-256: crypto.subtle exists only in secure contexts, and a
// classroom may serve the app over http on a LAN address. Only a page without the
// engine (which cannot use the weights anyway) falls back to crypto.subtle.
export async function sha256Hex(bytes) {
  if (mod) return withBytes(bytes, (p, n) => mod.UTF8ToString(mod._tt_wasm_sha256_hex(p, n)));
  if (!globalThis.crypto?.subtle) return null;
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

// ---- the engine's project and model ------------------------------------------------------

// Opens the project under ROOT (migrating an older profile's files): classes work from here on.
export function openProject() {
  h = withString(ROOT, (r) => mod._tt_wasm_open(r));
  if (h <= 0) {
    state.engine = { status: 'error', message: mod.UTF8ToString(mod._tt_wasm_last_error(0)) };
    h = 0;
  }
  return h > 0;
}
export const hasProject = () => h > 0;
export const hasWeights = () => weighted;

export function requireProject() {
  if (!h) throw new CommandError(ERR.ENGINE_MISSING, state.engine.message || 'The engine is not available, so classes cannot be changed.');
}
export function requireEngine() {
  if (!weighted) throw new CommandError(ERR.ENGINE_MISSING, state.engine.message || 'engine not ready');
}

// The backbone; false (state.engine says why) when the engine refuses the bytes.
export function setWeights(bytes) {
  const rc = withBytes(bytes, (p, n) => mod._tt_wasm_set_weights(h, p, n));
  if (rc < 0) {
    state.engine = { status: 'error', message: mod.UTF8ToString(mod._tt_wasm_last_error(h)) };
    return false;
  }
  weighted = true;
  return true;
}

// Runs the engine on the Threads setting's count (results do not depend on it). The
// threads that stop hand their workers back only once this worker's event loop runs, so
// going from one count above 1 to another passes through 1 and a turn of the loop.
export async function setThreads(requested) {
  const n = clampThreads(requested, build);
  if (n === state.threads.current) return;
  if (n > 1 && state.threads.current > 1) {
    check(mod._tt_wasm_set_threads(h, 1));
    state.threads.current = 1;
    await new Promise((r) => setTimeout(r));
  }
  check(mod._tt_wasm_set_threads(h, n));
  state.threads.current = n;
}
export const maxThreads = () => build.maxThreads;

// Class commands fail for reasons a person can act on (a bad name): bad requests.
export const classCreate = (name) => withString(name, (p) => check(mod._tt_wasm_class_create(h, p), ERR.BAD_REQUEST));
export const classRename = (id, name) => withString(name, (p) => check(mod._tt_wasm_class_rename(h, id, p), ERR.BAD_REQUEST));
export const classDelete = (id) => check(mod._tt_wasm_class_delete(h, id), ERR.BAD_REQUEST);
export const importClasses = () => check(mod._tt_wasm_import_classes(h));
export const dataset = () => json(mod._tt_wasm_dataset_json(h));

// Pictures into class classId at once ({bytes, name} each; at most MAX_ADD): the engine
// decodes them and runs the backbone one picture per thread. Per picture, in order: its
// id and what the engine made of it for the picture store (its training copy, null when
// the original is as small, and its thumbnail), or the engine's refusal as an error (not
// thrown).
export const MAX_ADD = 64; // TT_WASM_MAX_ADD
export function addImages(classId, pictures) {
  const n = pictures.length;
  const all = [];
  const alloc = (size) => { const p = malloc(size); all.push(p); return p; };
  try {
    const table = alloc(n * 16); // bytes[n], lens[n], names[n], ids[n]: 4-byte words
    const at = (k, i) => (table >> 2) + k * n + i;
    for (const [i, { bytes, name }] of pictures.entries()) {
      const p = alloc(bytes.byteLength);
      u8().set(new Uint8Array(bytes), p);
      const size = mod.lengthBytesUTF8(name) + 1;
      const s = alloc(size);
      mod.stringToUTF8(name, s, size);
      const words = i32();
      words[at(0, i)] = p, words[at(1, i)] = bytes.byteLength, words[at(2, i)] = s;
    }
    check(mod._tt_wasm_add_images(h, classId, n, table, table + 4 * n, table + 8 * n, table + 12 * n));
    return pictures.map((_, i) => {
      const id = i32()[at(3, i)];
      if (id > 0) return { id, copy: part(i, 0), thumb: part(i, 1) };
      return { error: new CommandError(ERR.ENGINE, mod.UTF8ToString(mod._tt_wasm_add_error(h, i)) || 'the engine failed', -id) };
    });
  } finally { for (const p of all) mod._free(p); }
}
// Part `which` (0: training copy, 1: thumbnail) of picture i of the last add, copied out
// of the wasm heap; null when there is none.
function part(i, which) {
  const lenPtr = mod._malloc(4);
  try {
    const p = mod._tt_wasm_part(h, i, which, lenPtr);
    return p ? u8().slice(p, p + i32()[lenPtr >> 2]).buffer : null;
  } finally { mod._free(lenPtr); }
}
// A project file's checks before anything of it is stored: null, or the engine's refusal.
export function checkImage(bytes) {
  const rc = withBytes(bytes, (p, n) => mod._tt_wasm_check_image(h, p, n));
  return rc < 0 ? engineError(rc) : null;
}
export function checkCheckpoint(bytes) {
  const rc = withBytes(bytes, (p, n) => mod._tt_wasm_check_checkpoint(h, p, n));
  return rc < 0 ? engineError(rc) : null;
}
export const removeImage = (id) => check(mod._tt_wasm_remove_image(h, id));
// The picture a run waits for (STEP.NEED_IMAGE), and giving it back.
export const neededImage = () => mod._tt_wasm_needed_image(h);
export const giveImage = (id, bytes) => withBytes(bytes, (p, n) => check(mod._tt_wasm_give_image(h, id, p, n)));

// Without a handle (web/migrate.js, before the engine opens its files): what a picture's
// parts are, and what an old record becomes; byte ranges copied out of the wasm heap.
const span = ([at, len]) => (len ? u8().slice(at, at + len).buffer : null);
function handleless(fn) {
  const js = fn();
  if (!js) return { error: mod.UTF8ToString(mod._tt_wasm_last_error(0)) || 'the engine failed' };
  return JSON.parse(mod.UTF8ToString(js));
}
export function pictureParts(bytes) {
  const r = withBytes(bytes, (p, n) => handleless(() => mod._tt_wasm_picture_parts(p, n)));
  return r.error ? r : { copy: span(r.copy), thumb: span(r.thumb) };
}
export function upgradeRecord(bytes) {
  return withBytes(bytes, (p, n) => {
    const r = handleless(() => mod._tt_wasm_upgrade_record(p, n));
    if (r.error || r.current) return r;
    return { id: r.id, record: new Uint8Array(span(r.record)), parts: { original: span(r.original), copy: span(r.copy), thumb: span(r.thumb) } };
  });
}

// ---- the run -------------------------------------------------------------------------------

export const trainBegin = (config) => withString(JSON.stringify(config), (p) => check(mod._tt_wasm_train_begin(h, p)));
export const trainStep = (budgetMs) => check(mod._tt_wasm_train_step(h, budgetMs));
export const trainState = () => json(mod._tt_wasm_train_state_json(h));
export const metrics = () => json(mod._tt_wasm_metrics_json(h));
export const history = () => json(mod._tt_wasm_history_json(h));
export const resume = () => check(mod._tt_wasm_resume(h));
export const save = () => check(mod._tt_wasm_save(h));
export const load = (path) => withString(path, (p) => check(mod._tt_wasm_load(h, p)));
export const model = () => json(mod._tt_wasm_model_json(h));
export const predict = (bytes) => withBytes(bytes, (p, n) => json(mod._tt_wasm_predict(h, p, n)));
export const reset = () => check(mod._tt_wasm_reset(h));
export const exportTo = (path, sidecar, format) =>
  withString(path, (p) => withString(sidecar, (j) => withString(format, (f) => check(mod._tt_wasm_export(h, p, j, f)))));
