// Project files (docs/project-file.md): "Save project" writes the engine's classes, every
// picture as added, the page's settings and the run's checkpoints into one zip; "Open
// project" checks a zip completely (web/project-file.js, with the engine decoding each
// picture and verifying each checkpoint) and only then replaces this profile's project
// with it, and continues its run where it was saved.
import { ERR, EVT, PHASE } from '../protocol.js';
import { writeProject, makeManifest, validateProject, readEntry, ProjectFileError, CKPT_DIR, MANIFEST } from '../project-file.js';
import { pictureProblem, modelProblem } from '../messages.js';
import { state, post, postState, setPhase, CommandError, PROGRESS_INTERVAL_MS, tick } from './context.js';
import { syncFiles } from './storage.js';
import * as engine from './engine.js';
import { resumeAtStart } from './training.js';

const CKPT = `${engine.ROOT}/ckpt`; // the run's checkpoint directory (tt_ckpt_dir)

// Shown as the pictures' intake: first the check, then the import.
function progress(unit) {
  let last = 0;
  return (done, total) => {
    const now = performance.now();
    if (now - last < PROGRESS_INTERVAL_MS && done !== total) return;
    last = now;
    post(EVT.PROGRESS, { phase: PHASE.EXTRACTING, done, total, unit });
  };
}

// The run's newest checkpoint and best file in CKPT (names), or null.
function checkpointFiles() {
  const FS = engine.fs();
  if (!FS.analyzePath(`${CKPT}/latest`).exists) return null;
  const latest = new TextDecoder().decode(FS.readFile(`${CKPT}/latest`)).trim();
  if (!/^ckpt-[\w-]+\.safetensors$/.test(latest) || !FS.analyzePath(`${CKPT}/${latest}`).exists) return null;
  return { latest, best: FS.analyzePath(`${CKPT}/best.safetensors`).exists ? 'best.safetensors' : null };
}

// The worker's picture storage, the one place this module meets it (the worker passes it):
//   readPicture(id) -> Promise<Uint8Array>   a picture as added (the picture store's original)
//   addPicture(classId, bytes, name)     the worker's own adding -> {id} or {error}

// settings: the page's form as the engine's config JSON (docs/config.md). Returns a Blob:
// each entry's zip bytes become a Blob part as soon as they are written, so the worker
// holds at most one picture, and the browser keeps the parts (on disk when large).
export async function saveProject({ settings, app }, { readPicture }) {
  engine.requireProject();
  if (state.phase === PHASE.TRAINING) throw new CommandError(ERR.BUSY, 'pause training first: a project is saved with its run paused');
  const { classes, images } = engine.dataset();
  const index = new Map(classes.map((c, i) => [c.id, i]));
  const s = engine.hasWeights() ? engine.trainState() : null;
  const ckpt = s?.saved ? checkpointFiles() : null;
  const manifest = makeManifest({
    classes: classes.map((c) => ({ name: c.name })),
    images: images.map((im) => ({ classIndex: index.get(im.class), name: im.name })),
    settings, app,
    run: ckpt ? { epoch: s.saved.epoch, step: s.saved.step, finished: !!s.finished } : null,
    ckpt,
  });
  const FS = engine.fs();
  const files = images.map((im, i) => ({ path: manifest.images[i].path, read: async () => readPicture(im.id) }));
  if (ckpt) {
    for (const f of [ckpt.latest, ckpt.best].filter(Boolean)) files.push({ path: `${CKPT_DIR}/${f}`, read: async () => FS.readFile(`${CKPT}/${f}`) });
    files.push({ path: `${CKPT_DIR}/latest`, read: async () => new TextEncoder().encode(`${ckpt.latest}\n`) });
  }
  const parts = [];
  await writeProject(manifest, files, async (chunk) => { parts.push(new Blob([chunk])); });
  return { blob: new Blob(parts, { type: 'application/zip' }), pictures: images.length, checkpoint: manifest.run };
}

// Checks the file whole, then replaces the project with it. storage: addPicture (above),
// resetProject (the worker's reset: engine, stored files, page state), refreshClasses.
export async function openProject({ file }, storage) {
  engine.requireEngine();
  if (state.phase === PHASE.TRAINING) throw new CommandError(ERR.BUSY, 'pause training first');
  const before = state.phase;
  setPhase(PHASE.EXTRACTING);
  try { return await openChecked(file, storage); } catch (e) {
    if (state.phase === PHASE.EXTRACTING) setPhase(before);
    throw e;
  }
}

async function openChecked(file, { resetProject, refreshClasses, addPicture }) {
  let plan;
  try {
    plan = await validateProject(file, {
      checkPicture: (bytes) => { const e = engine.checkImage(bytes); if (e) throw new Error(pictureProblem(e.status, e.message)); },
      checkCheckpoint: (bytes) => { const e = engine.checkCheckpoint(bytes); if (e) throw new Error(modelProblem(e.status, e.message)); },
      progress: progress('checked'),
    });
  } catch (e) {
    if (e instanceof ProjectFileError) throw new CommandError(ERR.FILE, `"${file.name}": ${e.message}`);
    throw e;
  }
  // Valid: from here on the stored project is replaced.
  await resetProject();
  const m = plan.manifest;
  const ids = m.classes.map((c) => engine.classCreate(c.name.trim()));
  const report = progress('images');
  let skipped = 0;
  for (const [i, p] of plan.pictures.entries()) {
    const r = await addPicture(ids[p.classIndex], await readEntry(file, p.entry), p.name);
    if (!r.id) skipped++; // the same picture twice in a class: the file was made by hand
    report(i + 1, plan.pictures.length);
    if (i % 8 === 7) await tick();
  }
  const FS = engine.fs();
  if (plan.checkpoints.length) {
    FS.mkdirTree(CKPT);
    for (const c of plan.checkpoints) FS.writeFile(`${CKPT}/${c.file}`, await readEntry(file, c.entry));
    FS.writeFile(`${CKPT}/latest`, `${plan.checkpoints[0].file}\n`);
  }
  refreshClasses();
  postState();
  await syncFiles();
  let resumed = null;
  setPhase(plan.checkpoints.length ? await resumeAtStart() : PHASE.READY);
  const s = engine.trainState();
  if (s.saved && state.phase !== PHASE.READY) resumed = { epoch: s.saved.epoch, step: s.saved.step, finished: s.finished };
  return { classes: m.classes.length, pictures: plan.pictures.length - skipped, skipped, resumed, settings: m.settings ?? {}, manifest: MANIFEST };
}
