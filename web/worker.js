// The one dedicated worker: owns the wasm engine instance, the IDBFS mount and the
// weights cache. It marshals page commands into engine calls and engine results into
// events; it computes nothing itself and keeps no copy of the project or the run: the
// engine holds them (docs/protocol.md, docs/wasm-api.md). Its parts, in web/worker/:
//   context.js   the state the page is shown, and the ways to talk to the page
//   storage.js   IndexedDB, the IDBFS sync queue, which tab may write
//   weights.js   the base model's download, cache and check
//   engine.js    the engine's C API and its marshalling
//   training.js  the training loop, checkpoints made durable, resuming after a reload
//   project.js   project files: Save project / Open project (.zip)
// and in web/: pictures.js (the picture store), migrate.js (older profiles' pictures).
import { PROTOCOL_VERSION, CMD, EVT, PHASE, ERR, MAX_IMAGE_BYTES } from './protocol.js';
import { humane, pictureProblem, modelProblem } from './messages.js';
import { state, session, stores, post, postState, setPhase, fail, CommandError, PROGRESS_INTERVAL_MS, tick } from './worker/context.js';
import { claimStorage, requireOwner, takeOver, loadFiles, syncFiles, storageMessage } from './worker/storage.js';
import { openPictures } from './pictures.js';
import { migrateProfile } from './migrate.js';
import { ensureWeights } from './worker/weights.js';
import * as engine from './worker/engine.js';
import { LOAD } from './worker/engine.js';
import { trainLoop, startTraining, adoptRun, resumeAtStart } from './worker/training.js';
import { saveProject, openProject } from './worker/project.js';

const IMPORTED_PATH = `${engine.ROOT}/ckpt/imported.safetensors`; // the last imported model, kept across visits

// The engine's classes and their picture counts, as the page shows them.
function refreshClasses() {
  state.classes = engine.hasProject() ? engine.dataset().classes.map(({ id, name, count }) => ({ id, name, count })) : [];
}

function findClass(id) {
  const c = state.classes.find((x) => x.id === id);
  if (!c) throw new CommandError(ERR.BAD_REQUEST, `no class with id ${id}`);
  return c;
}
function notWhileTraining() {
  if (state.phase === PHASE.TRAINING) throw new CommandError(ERR.BUSY, 'pause training first');
}

// ---- startup ---------------------------------------------------------------------------

// The project comes first: class commands work while the weights are still downloading.
async function openStore() {
  await claimStorage();
  const mod = await engine.loadEngine();
  try {
    stores.pictures = await openPictures();
    state.pictures = { store: stores.pictures.kind };
    if (mod && state.storage.mode === 'owner') await migrate(mod);
  } catch (e) {
    fail(ERR.STORAGE, `the picture store could not be opened: ${storageMessage(e)}`);
  }
  if (mod) {
    try {
      await loadFiles(mod.FS);
      if (engine.openProject()) {
        refreshClasses();
        // An older profile's files were migrated in memory: the owner keeps them.
        if (state.storage.mode === 'owner') await syncFiles().catch(() => {});
      }
    } catch (e) {
      fail(ERR.STORAGE, `could not load saved classes: ${e.message || e}`);
    }
  }
  postState();
}

// Pictures of an older profile leave IDBFS before it is loaded (web/migrate.js).
async function migrate(mod) {
  await migrateProfile({
    IDBFS: mod.FS.filesystems.IDBFS, root: engine.ROOT, engine, pictures: stores.pictures,
    progress: (done, total) => {
      state.migrating = { done, total };
      if (state.phase !== PHASE.MIGRATING) setPhase(PHASE.MIGRATING);
      post(EVT.PROGRESS, { phase: PHASE.MIGRATING, done, total, unit: 'images' });
    },
    problem: (file, message) => fail(ERR.FILE, `could not be moved to the new storage (${message}); it stays where it was.`, { file }),
  });
  if (state.migrating) { state.migrating = null; setPhase(PHASE.STARTING); }
}

// Picture files whose record never reached storage (the tab closed in between) or whose
// picture is gone; run after start-up, off the path to ready.
async function sweepPictures() {
  if (!engine.hasProject() || !stores.pictures || state.storage.mode !== 'owner') return;
  const known = new Set(engine.dataset().images.map((im) => im.id));
  const stray = [...await stores.pictures.ids()].filter((id) => !known.has(id));
  if (stray.length) await stores.pictures.remove(stray);
}

// Pictures added while the base model is still downloading wait here (the page sends
// them one chunk at a time, so at most a chunk's bytes are held) instead of being
// refused: on slow classroom Wi-Fi that is the first thing people do.
let engineSettled;
const engineSettledPromise = new Promise((resolve) => { engineSettled = resolve; });

async function bringUp(weightsUrl) {
  const bytes = await ensureWeights(weightsUrl);
  if (!bytes) {
    if (state.phase !== PHASE.WEIGHTS_ERROR) engineSettled(); // a failed download may still be retried
    return;
  }
  let phase = state.engine.status === 'missing' ? PHASE.ENGINE_MISSING : PHASE.ENGINE_ERROR;
  if (engine.hasProject() && !engine.hasWeights()) {
    try { phase = await startEngine(bytes); } catch (e) { state.engine = { status: 'error', message: e.message }; }
  } else if (engine.hasWeights()) phase = PHASE.READY;
  setPhase(phase);
  engineSettled();
  sweepPictures().catch((e) => fail(ERR.STORAGE, storageMessage(e)));
}

async function startEngine(bytes) {
  if (!engine.setWeights(bytes)) return PHASE.ENGINE_ERROR;
  // From 1 thread (where the engine starts), so nothing to wait for.
  engine.setThreads(engine.maxThreads()).catch(() => { state.threads.reason = 'the browser could not start more threads'; });
  refreshClasses();
  // An imported model first (it may start the next run), then the run of an earlier visit.
  if (engine.fs().analyzePath(IMPORTED_PATH).exists) {
    try { loadImported(); } catch (e) { fail(e.code, `The model imported on an earlier visit could not be opened again: it ${modelProblem(e.status, e.message)}`); }
  }
  return resumeAtStart();
}

// Loads IMPORTED_PATH into the engine: a checkpoint of this project (its run is
// restored), or a model that predicts and can start the next run.
function loadImported() {
  const rc = engine.load(IMPORTED_PATH);
  if (rc === LOAD.MODEL) state.imported = { ...engine.model(), name: state.imported?.name || 'imported model' };
  return rc;
}

// ---- commands --------------------------------------------------------------------------

// Allowed during training too: the run trains on its own copy of the features, and
// new images join the next run.
async function addImages({ classId, files }) {
  requireOwner();
  findClass(classId);
  session.writes++;
  try { return await addImagesChecked(classId, files); } finally { session.writes--; }
}
async function addImagesChecked(classId, files) {
  if (!engine.hasWeights() && engine.hasProject()) {
    state.waiting += files.length;
    postState();
    try { await engineSettledPromise; } finally { state.waiting -= files.length; }
    findClass(classId); // deleted meanwhile?
  }
  const phaseBefore = state.phase;
  const showPhase = engine.hasWeights() && phaseBefore !== PHASE.TRAINING;
  if (showPhase) setPhase(PHASE.EXTRACTING);
  try { return await addImagesTo(classId, files); } finally { if (showPhase) setPhase(state.phase === PHASE.EXTRACTING ? phaseBefore : state.phase); }
}

// Pictures go to the engine a few at a time: two per thread (it decodes them and runs
// the backbone one picture per thread), at most CHUNK_BYTES of files, so a class of
// phone photos does not sit in the engine's memory at once.
const CHUNK_BYTES = 48 * 1024 * 1024;
async function addImagesTo(classId, files) {
  let added = 0, duplicates = 0, done = 0, last = 0;
  const total = files.length;
  const reject = (name, reason) => fail(ERR.FILE, reason, { file: name, classId });
  const progress = () => {
    const now = performance.now();
    if (now - last >= PROGRESS_INTERVAL_MS || done === total) {
      last = now;
      post(EVT.PROGRESS, { phase: PHASE.EXTRACTING, done, total, unit: 'images' });
    }
  };
  const perChunk = Math.min(engine.MAX_ADD, 2 * state.threads.current);
  for (let i = 0; i < total;) {
    const chunk = [];
    for (let bytes = 0; i < total && chunk.length < perChunk; i++) {
      const f = files[i];
      const size = f.bytes?.byteLength || 0;
      if (chunk.length && bytes + size > CHUNK_BYTES) break;
      if (!size) reject(f.name, 'is empty (0 bytes), so there is no picture in it.');
      else if (size > MAX_IMAGE_BYTES) reject(f.name, `is larger than ${MAX_IMAGE_BYTES >> 20} MB; pictures that big cannot be read here.`);
      else if (!engine.hasWeights()) reject(f.name, engine.hasProject() ? 'not added: the engine could not start (see above)' : 'not added: this copy of the app has no engine, so pictures cannot be read');
      else { chunk.push(f); bytes += size; continue; }
      done++;
    }
    // A refusal of the whole chunk (its class deleted meanwhile, no memory) is each of its
    // pictures': those added before it stay, and are synced below.
    let results;
    try { results = chunk.length ? engine.addImages(classId, chunk) : []; } catch (e) { results = chunk.map(() => ({ error: e })); }
    const stored = await storePictures(results, chunk.map((f) => f.bytes));
    for (const [k, r] of stored.entries()) {
      if (r.id) added++;
      else if (/already in this class/.test(r.error.message)) duplicates++;
      else reject(chunk[k].name, r.error.code === ERR.STORAGE ? r.error.message : pictureProblem(r.error.status, r.error.message));
    }
    done += chunk.length;
    progress();
    if (engine.hasWeights()) await tick(); // let pause/other commands in
  }
  // One line for all of them: adding the sample set twice must not bury the list.
  if (duplicates) fail(ERR.FILE, `${duplicates} picture${duplicates === 1 ? ' was' : 's were'} already in "${findClass(classId).name}" and ${duplicates === 1 ? 'was' : 'were'} skipped.`, { classId });
  if (added) { refreshClasses(); postState(); await syncFiles(); }
  return { added, rejected: total - added };
}

// Pictures the engine added (their records, features, training copies and thumbnails):
// the originals and those two into the picture store, in one transaction, before the
// records are synced, or those pictures are not added at all: {id} or {error} each, for
// each of `results` (the engine's refusals pass through).
async function storePictures(results, originals) {
  const added = results.flatMap((r, k) => (r.id ? [{ id: r.id, parts: { original: originals[k], copy: r.copy, thumb: r.thumb } }] : []));
  if (!added.length) return results;
  try {
    if (!stores.pictures) throw new Error('the picture store is not available');
    await stores.pictures.putAll(added);
  } catch (e) {
    for (const { id } of added) engine.removeImage(id);
    const error = new CommandError(ERR.STORAGE, `not added: ${storageMessage(e)}`);
    return results.map((r) => (r.id ? { error } : r));
  }
  return results.map((r) => (r.id ? { id: r.id } : r));
}

// The export of `tabtrain export` (docs/export.md): backbone + head, and its JSON sidecar;
// with format 'onnx', the same classifier as one ONNX model (`export --format onnx`).
async function exportModel({ format = 'safetensors' }) {
  engine.requireEngine();
  const FS = engine.fs();
  const name = `model.${format}`, path = `/tmp/${name}`, json = '/tmp/model.json';
  try {
    engine.exportTo(path, json, format);
    const bytes = FS.readFile(path).slice().buffer;
    if (format === 'onnx') return { name, bytes };
    return { name, bytes, json: { name: 'model.json', bytes: FS.readFile(json).slice().buffer } };
  } finally {
    for (const p of [path, json]) if (FS.analyzePath(p).exists) FS.unlink(p);
  }
}

// A checkpoint of this project continues its run (paused); any other model file is
// imported: it predicts, its classes are created here when missing (so pictures can be
// added to them), and the next run may start from its weights.
// The file is kept in IDBFS, so the import survives a reload.
async function importModel({ name, bytes }) {
  requireOwner();
  engine.requireEngine();
  notWhileTraining();
  const FS = engine.fs();
  const tmp = `${IMPORTED_PATH}.new`;
  FS.writeFile(tmp, new Uint8Array(bytes));
  const previous = state.imported;
  let rc;
  try {
    FS.rename(tmp, IMPORTED_PATH);
    state.imported = { name };
    rc = loadImported();
  } catch (e) {
    state.imported = previous;
    if (FS.analyzePath(tmp).exists) FS.unlink(tmp);
    if (FS.analyzePath(IMPORTED_PATH).exists) FS.unlink(IMPORTED_PATH);
    throw e.status ? new CommandError(e.code, `"${name}" ${modelProblem(e.status, e.message)}`, e.status) : e;
  }
  let finished = true;
  if (rc === LOAD.RUN) {
    FS.unlink(IMPORTED_PATH); // it is the run's checkpoint now
    state.imported = previous;
    finished = await adoptRun();
  } else {
    engine.importClasses();
    refreshClasses();
    state.run = null;
    await syncFiles();
  }
  setPhase(finished ? PHASE.TRAINED : PHASE.PAUSED);
  return rc === LOAD.RUN ? { resumable: true } : { resumable: false, model: state.imported };
}

// Class commands: the engine checks the name (not empty, not too long, not another
// class's) and says why in words for people.
async function classCommand(fn) {
  requireOwner();
  engine.requireProject();
  const out = fn();
  refreshClasses();
  postState();
  await syncFiles();
  return out;
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
  [CMD.CLASS_CREATE]: ({ name }) => classCommand(() => ({ classId: engine.classCreate(String(name ?? '')) })),
  [CMD.CLASS_RENAME]: ({ classId, name }) => classCommand(() => { findClass(classId); engine.classRename(classId, String(name ?? '')); return {}; }),
  [CMD.CLASS_DELETE]: async ({ classId }) => {
    let gone = [];
    await classCommand(() => {
      findClass(classId);
      notWhileTraining();
      gone = engine.dataset().images.filter((im) => im.class === classId).map((im) => im.id);
      engine.classDelete(classId);
      return {};
    });
    await stores.pictures?.remove(gone); // after the records: a crash in between leaves strays, swept at start
    return {};
  },
  [CMD.IMAGES_ADD]: (m) => addImages(m),
  [CMD.IMAGES_REMOVE]: async ({ imageIds }) => {
    requireOwner();
    engine.requireEngine();
    notWhileTraining();
    for (const id of imageIds) engine.removeImage(id);
    refreshClasses();
    postState();
    await syncFiles();
    await stores.pictures?.remove(imageIds); // after the records: a crash in between leaves strays, swept at start
    return {};
  },
  [CMD.IMAGES_LIST]: ({ classId }) => {
    engine.requireProject();
    findClass(classId);
    return { images: engine.dataset().images.filter((im) => im.class === classId).map(({ id, name }) => ({ id, name })) };
  },
  // The small stored thumbnail by default; {original: true}: the picture as it was added.
  [CMD.IMAGES_GET]: async ({ imageId, original = false }) => {
    if (!stores.pictures) throw new CommandError(ERR.STORAGE, 'the picture store is not available');
    const bytes = await stores.pictures.get(imageId, original ? 'original' : 'thumb');
    if (!bytes) throw new CommandError(ERR.BAD_REQUEST, `no picture with id ${imageId} on this device`);
    return { bytes };
  },
  [CMD.TRAIN]: async ({ config }) => {
    requireOwner();
    engine.requireEngine();
    notWhileTraining();
    const { threads, ...settings } = config; // the engine's config JSON (docs/config.md), and the page's thread count
    await engine.setThreads(threads);
    startTraining(settings);
    trainLoop().catch((e) => { fail(e.code || ERR.ENGINE, e.message); setPhase(PHASE.READY); });
    return {};
  },
  [CMD.PAUSE]: () => {
    if (state.phase !== PHASE.TRAINING) throw new CommandError(ERR.BUSY, 'not training');
    session.paused = true;
    return {};
  },
  [CMD.RESUME]: () => {
    requireOwner();
    engine.requireEngine();
    if (state.phase !== PHASE.PAUSED) throw new CommandError(ERR.BUSY, 'not paused');
    session.paused = false;
    setPhase(PHASE.TRAINING);
    trainLoop().catch((e) => { fail(e.code || ERR.ENGINE, e.message); setPhase(PHASE.READY); });
    return {};
  },
  [CMD.PREDICT]: ({ bytes }) => {
    engine.requireEngine();
    const r = engine.predict(bytes);
    return { probs: r.classes.map((c, i) => ({ classId: c.id, name: c.name, p: r.probs[i] })) };
  },
  [CMD.EXPORT]: exportModel,
  [CMD.IMPORT]: importModel,
  [CMD.RESET]: async () => {
    requireOwner();
    notWhileTraining();
    await resetProject();
    return {};
  },
  [CMD.PROJECT_SAVE]: ({ config }) => saveProject({ settings: (({ threads, ...settings }) => settings)(config), app: `tabtrain (protocol ${PROTOCOL_VERSION})` }, projectStorage),
  [CMD.PROJECT_OPEN]: ({ file }) => { requireOwner(); return openProject({ file }, projectStorage); },
};

// Where project files (worker/project.js) read and add pictures: as the page's own commands do.
const projectStorage = {
  readPicture: async (id) => {
    const bytes = await stores.pictures?.get(id, 'original');
    if (!bytes) throw new CommandError(ERR.STORAGE, `picture ${id} is not on this device any more`);
    return new Uint8Array(bytes);
  },
  addPicture: async (classId, bytes, name) => {
    const [r] = await storePictures(engine.addImages(classId, [{ bytes, name }]), [bytes]);
    return r;
  },
  resetProject,
  refreshClasses,
};

// Forgets the project, the run and an imported model, here and in storage.
async function resetProject() {
  if (engine.hasProject()) engine.reset();
  await stores.pictures?.clear();
  refreshClasses();
  state.training = { epoch: 0, epochs: 0, step: 0, steps: 0, trainLoss: null, valAcc: null };
  state.saved = null;
  state.imported = null;
  state.preparing = null;
  state.run = null;
  if (engine.hasWeights()) state.phase = PHASE.READY;
  postState();
  await syncFiles();
}

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
