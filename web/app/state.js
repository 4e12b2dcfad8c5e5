// What the page knows, in one place: the worker's last state snapshot, the epochs of the
// run on screen, the pictures on their way to the engine and the problems list. The
// modules beside this one read it; `publish` turns it into window.tabtrainState, the
// read-only view for users and tests (docs/protocol.md).
import { PROTOCOL_VERSION, PHASE } from '../protocol.js';

export const $ = (sel) => document.querySelector(sel);

export const page = {
  worker: null,     // the worker's last STATE snapshot
  history: [],      // one epoch event per finished epoch of the run on screen
  intake: { total: 0, done: 0 }, // the batch of pictures being added (input.js)
  errors: [],       // the problems list, oldest first (problems.js)
  pending: () => 0, // commands in flight (rpc.js)
};
export const intakeBusy = () => page.intake.done < page.intake.total;

// Everything that shows state redraws through this one function (app.js sets it), so
// a module that changes what the page knows never needs to know who draws it.
let redraw = () => {};
export function onRedraw(fn) { redraw = fn; }
export function rerender() { if (page.worker) redraw(); publish(); }

let snapshot = null;
function deepFreeze(o) {
  Object.values(o).forEach((v) => { if (v && typeof v === 'object') deepFreeze(v); });
  return Object.freeze(o);
}
export { deepFreeze };

export function publish() {
  const w = page.worker || { phase: PHASE.STARTING, classes: [], training: {}, engine: {}, weights: {} };
  snapshot = deepFreeze({
    protocol: PROTOCOL_VERSION,
    phase: w.phase,
    engine: w.engine.status || 'loading',
    weights: { status: w.weights.status, source: w.weights.source, bytes: w.weights.bytes, total: w.weights.total },
    classes: w.classes.map((c) => ({ id: c.id, name: c.name, count: c.count })),
    epoch: w.training.epoch || 0,
    step: w.training.step || 0,
    trainLoss: w.training.trainLoss ?? null,
    valAcc: w.training.valAcc ?? null,
    saved: w.saved ? { epoch: w.saved.epoch, step: w.saved.step } : null, // newest checkpoint in IndexedDB
    imported: w.imported ? { name: w.imported.name, classes: [...w.imported.classes], hidden: w.imported.hidden, unfreeze: w.imported.unfreeze } : null,
    memory: w.memory ? { wasmHeap: w.memory.wasmHeap } : null, // engine heap bytes (high-water mark)
    preparing: w.preparing ? { done: w.preparing.done, total: w.preparing.total } : null, // a run computing augmented views / tail inputs
    intake: { done: page.intake.done, total: page.intake.total }, // pictures added and answered for, in the current batch
    waiting: w.waiting || 0, // pictures waiting for the engine (base model still loading)
    storage: w.storage ? { mode: w.storage.mode, ownerOpenedAt: w.storage.owner?.openedAt ?? null, reason: w.storage.reason ?? null } : null, // 'owner' | 'reader' (another tab owns the data)
    threads: w.threads ? { threaded: w.threads.threaded, available: w.threads.available, current: w.threads.current } : null, // engine build and thread count
    pictures: w.pictures ? { store: w.pictures.store } : null, // where picture bytes are kept: 'opfs' | 'indexeddb'
    migrating: w.migrating ? { done: w.migrating.done, total: w.migrating.total } : null, // an older profile's pictures moving out of IDBFS
    schema: w.schema ?? null, // the engine's settings table (tt_wasm_config_schema), which the settings form is built from
    errors: page.errors.map((e) => ({ ...e })),
    pendingCommands: page.pending(), // > 0 while a command (e.g. a save) is still in flight
  });
}
Object.defineProperty(window, 'tabtrainState', { get: () => snapshot, enumerable: true });
publish();
