// The training loop: engine time in slices with the message loop in between (pause,
// predict and state requests get through), the run's state mirrored for the page, and
// every checkpoint the engine writes (its policy: rotation, best, latest, a time
// interval) made durable. A reload continues from the engine's checkpoints.
import { ERR, EVT, PHASE } from '../protocol.js';
import { resumeNote } from '../messages.js';
import { state, session, stores, post, postState, setPhase, fail, CommandError, PROGRESS_INTERVAL_MS, tick } from './context.js';
import { syncFiles } from './storage.js';
import * as engine from './engine.js';
import { STEP, LOAD } from './engine.js';

const TRAIN_SLICE_MS = 100; // engine time per train_step call: bounds pause latency

// An epoch's metrics as the page shows them: every array labelled by class id (a class
// without pictures is not in the run; one deleted since keeps the name the run knew).
function epochEvent(m) {
  return {
    epoch: m.epoch, epochs: m.epochs, trainLoss: m.train_loss, trainAcc: m.train_acc, valLoss: m.val_loss, valAcc: m.val_acc,
    classes: m.class_ids.map((id, i) => ({ id, name: m.class_names[i] })),
    perClass: m.class_ids.map((id, i) => ({ id, acc: m.per_class_acc[i], n: m.val_counts[i] })), confusion: m.confusion,
  };
}

// The engine's training state into the page's: position, the run's classes, and which
// classes it left out for having no pictures.
function mirror(s) {
  Object.assign(state.training, { epoch: s.epoch, epochs: s.epochs, step: s.step, steps: s.steps, trainLoss: s.train_loss, valAcc: s.val_acc });
  const ids = new Set(s.run_classes.map((c) => c.id));
  state.run = s.run_classes.length
    ? { classes: s.run_classes, excluded: state.classes.filter((c) => !ids.has(c.id) && !c.count).map((c) => c.name) }
    : null;
}

// The engine wrote a checkpoint (s.saved moved): one sync makes it durable, and only
// then does the page hear of it. A failed sync is reported by the storage queue and
// `saved` keeps naming the last good one.
let requested = null, pending = Promise.resolve();
function persist(s) {
  const at = s.saved;
  if (!at || (requested && at.epoch === requested.epoch && at.step === requested.step)) return pending;
  requested = at;
  pending = syncFiles().then(() => { state.saved = at; postState(); }, () => {});
  return pending;
}

// Replays the run's finished epochs as events, so the charts and tables come back.
function replayHistory() {
  for (const m of engine.history()) post(EVT.EPOCH, epochEvent(m));
}

// The run asks for a picture it has no cached views of: its training copy from the
// picture store (the original of a picture kept without one gives the same features).
async function giveNeeded() {
  const id = engine.neededImage();
  const bytes = (await stores.pictures?.get(id, 'copy')) || (await stores.pictures?.get(id, 'original'));
  if (!bytes) throw new CommandError(ERR.STORAGE, `Picture ${id} of this run is not on this device any more; train again.`);
  engine.giveImage(id, bytes);
}

// Computes a run's rows before its first step, in slices, with progress (in views).
async function prepare() {
  let rc, last = 0;
  while ((rc = engine.trainStep(TRAIN_SLICE_MS)) === STEP.PREPARING || rc === STEP.NEED_IMAGE) {
    if (rc === STEP.NEED_IMAGE) { await giveNeeded(); continue; }
    const s = engine.trainState();
    state.preparing = { done: s.prepared, total: s.to_prepare };
    const now = performance.now();
    if (now - last >= PROGRESS_INTERVAL_MS) {
      last = now;
      post(EVT.PROGRESS, { phase: PHASE.TRAINING, done: s.prepared, total: s.to_prepare, unit: 'views' });
    }
    await tick();
  }
  state.preparing = null;
  return rc;
}

export async function trainLoop() {
  let lastProgress = 0;
  while (!session.paused) {
    const rc = engine.trainStep(TRAIN_SLICE_MS);
    if (rc === STEP.NEED_IMAGE) await giveNeeded();
    const preparing = rc === STEP.PREPARING || rc === STEP.NEED_IMAGE;
    const s = engine.trainState();
    mirror(s);
    const now = performance.now();
    // The run is still computing its augmented views / tail inputs.
    state.preparing = preparing ? { done: s.prepared, total: s.to_prepare } : null;
    if (now - lastProgress >= PROGRESS_INTERVAL_MS || rc === STEP.FINISHED || (rc === STEP.DONE && s.step === 0)) {
      lastProgress = now;
      if (preparing || s.step === 0) post(EVT.PROGRESS, { phase: PHASE.TRAINING, done: s.prepared, total: s.to_prepare, unit: 'views' });
      else post(EVT.PROGRESS, { phase: PHASE.TRAINING, done: s.step, total: s.steps, unit: 'steps', epoch: s.epoch, epochs: s.epochs });
    }
    if (rc === STEP.EPOCH || rc === STEP.FINISHED) {
      post(EVT.EPOCH, epochEvent(engine.metrics()));
      postState();
    }
    persist(s);
    if (rc === STEP.FINISHED) { await persist(s); setPhase(PHASE.TRAINED); return; }
    await tick();
  }
  // Paused while the features were being prepared: nothing to save yet (they are cached).
  if (!state.preparing) {
    engine.save();
    await persist(engine.trainState());
  }
  setPhase(PHASE.PAUSED);
}

export function startTraining(config) {
  engine.trainBegin(config);
  requested = null;
  session.paused = false;
  mirror(engine.trainState());
  setPhase(PHASE.TRAINING);
}

// After engine.load() restored a run (an imported checkpoint of this project): its rows,
// then a checkpoint of it in the run's directory, made durable.
export async function adoptRun() {
  await prepare();
  const s = engine.trainState();
  mirror(s);
  replayHistory();
  engine.save();
  await persist(engine.trainState());
  return s.finished;
}

// The run of an earlier visit from the engine's checkpoints (the newest valid one, said
// in plain words when a damaged newer one was passed over); the phase to show.
export async function resumeAtStart() {
  let rc;
  try {
    rc = engine.resume();
    if (rc === LOAD.RUN) await prepare();
  } catch (e) {
    fail(e.code, 'The saved training could not be restored (the saved copy is damaged or from another version). Your classes and pictures are kept; train again.');
    return PHASE.READY;
  }
  if (rc === LOAD.NONE) return state.imported ? PHASE.TRAINED : PHASE.READY;
  const s = engine.trainState();
  mirror(s);
  state.saved = s.saved;
  requested = s.saved;
  // The single checkpoint file of an older profile became the directory's: the owner keeps that.
  if (state.storage.mode === 'owner') await syncFiles().catch(() => {});
  replayHistory(); // also when its pictures changed since (LOAD.MODEL): the run's charts and tables stay
  if (rc === LOAD.MODEL) return PHASE.TRAINED; // it predicts
  if (s.note) fail(ERR.STORAGE, resumeNote(s.saved));
  return s.finished ? PHASE.TRAINED : PHASE.PAUSED;
}
