// What every part of the worker shares: the state it shows the page (a mirror of the
// engine's project and run, plus this worker's own session: phase, weights download,
// storage ownership, threads) and the ways to talk to the page.
import { EVT, PHASE, msg } from '../protocol.js';
import { humane } from '../messages.js';

export const state = {
  phase: PHASE.STARTING,
  engine: { status: 'loading', message: '' },
  weights: { status: 'none', source: '', bytes: 0, total: 0, sha256: '' },
  classes: [],          // [{id, name, count}]: the engine's project, as tt_wasm_dataset_json gave it last
  training: { epoch: 0, epochs: 0, step: 0, steps: 0, trainLoss: null, valAcc: null },
  saved: null,          // {epoch, step} of the newest checkpoint that reached IndexedDB
  imported: null,       // {name, kind, classes, hidden, unfreeze} of the imported model
  preparing: null,      // {done, total} while a run computes its augmented views / tail inputs
  waiting: 0,           // pictures added before the engine was up, waiting for it
  run: null,            // the run the engine holds: {classes:[{id, name}] it trains on, excluded:[names]}
  storage: { mode: 'starting', owner: null, since: null }, // 'owner' | 'reader'; owner: {openedAt} of the tab that owns it
  threads: { threaded: false, available: 1, current: 1, reason: '' }, // the engine build (engine-build.js)
  pictures: null,       // {store: 'opfs' | 'indexeddb'}: where picture bytes are kept (web/pictures.js)
  migrating: null,      // {done, total} while an older profile's pictures move out of IDBFS
};

// Progress events go out at most this often (ms): enough for a smooth bar, few messages.
export const PROGRESS_INTERVAL_MS = 100;

// A turn of the event loop, so commands from the page (pause, another class) and the
// storage's callbacks get in between the engine's slices. (A message to ourselves skips
// setTimeout's 4 ms, but with it no checkpoint reached IndexedDB during training in
// tests/e2e/engine.test.mjs.)
export const tick = () => new Promise((r) => setTimeout(r));

export class CommandError extends Error {
  constructor(code, message, status = 0) { super(message); this.code = code; this.status = status; } // status: the engine's tt_status
}

// The engine's memory in bytes, once there is an engine (engine.js sets it).
export const heap = { bytes: () => 0 };

export const post = (type, fields, transfer) => self.postMessage(msg(type, fields), transfer || []);
export function postState() {
  const bytes = heap.bytes();
  if (bytes) state.memory = { wasmHeap: bytes }; // grows, never shrinks: the high-water mark
  post(EVT.STATE, { state: structuredClone(state) });
}
export const setPhase = (p) => { state.phase = p; postState(); };
export const fail = (code, message, extra = {}) => post(EVT.ERROR, { code, message: humane(message), ...extra });

// The worker's session, not the project's: whether the training loop should stop, and
// how many picture additions are being written (stepping down waits for them).
export const session = { paused: false, writes: 0 };

// The picture store (web/pictures.js) once open: every picture's original, training copy
// and thumbnail, outside the engine's files (which IDBFS mirrors in memory).
export const stores = { pictures: null };
