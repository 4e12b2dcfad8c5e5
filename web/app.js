// The page: renders worker events and turns user actions into protocol commands.
// It computes nothing; the worker (web/worker.js) owns the engine and storage.
import { PROTOCOL_VERSION, CMD, EVT, PHASE, DEFAULT_TRAIN_CONFIG, BEST_ACCURACY_CONFIG, msg } from './protocol.js';
import { defaultThreads } from './engine-build.js';

const $ = (sel) => document.querySelector(sel);
const FILES_PER_MESSAGE = 16; // bounds page memory while big folders stream to the worker
const MAX_ERRORS = 500;

// ---- worker and command round trips -------------------------------------------------------

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const pending = new Map();
let nextId = 1;

function send(type, fields = {}, transfer = []) {
  const id = nextId++;
  return new Promise((resolve) => {
    pending.set(id, resolve);
    worker.postMessage(msg(type, { id, ...fields }), transfer);
    publish();
  });
}

// Runs a command and turns a refusal into an entry in the problems list (unless the
// worker already listed it, as it does for storage failures).
async function command(type, fields, transfer) {
  const r = await send(type, fields, transfer);
  if (!r.ok && !r.error.reported) addError({ code: r.error.code, message: r.error.message });
  return r;
}

// ---- read-only state for the user and for tests -------------------------------------------

let workerState = null;
let snapshot = null;
const errors = [];
const history = []; // one epoch event per finished epoch
const intake = { total: 0, done: 0 }; // the batch of pictures being added (see sendFiles)
let intakeTail = Promise.resolve();
const intakeBusy = () => intake.done < intake.total;

function deepFreeze(o) {
  Object.values(o).forEach((v) => { if (v && typeof v === 'object') deepFreeze(v); });
  return Object.freeze(o);
}
function publish() {
  const w = workerState || { phase: PHASE.STARTING, classes: [], training: {}, engine: {}, weights: {} };
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
    intake: { done: intake.done, total: intake.total }, // pictures added and answered for, in the current batch
    waiting: w.waiting || 0, // pictures waiting for the engine (base model still loading)
    storage: w.storage ? { mode: w.storage.mode, ownerOpenedAt: w.storage.owner?.openedAt ?? null, reason: w.storage.reason ?? null } : null, // 'owner' | 'reader' (another tab owns the data)
    threads: w.threads ? { threaded: w.threads.threaded, available: w.threads.available, current: w.threads.current } : null, // engine build and thread count
    errors: errors.map((e) => ({ ...e })),
    pendingCommands: pending.size, // > 0 while a command (e.g. a save) is still in flight
  });
}
Object.defineProperty(window, 'tabtrainState', { get: () => snapshot, enumerable: true });
publish();

// ---- events ---------------------------------------------------------------------------

worker.onmessage = (e) => {
  const m = e.data;
  if (m.v !== PROTOCOL_VERSION) { addError({ code: 'protocol', message: `worker speaks protocol v${m.v}, page v${PROTOCOL_VERSION}` }); return; }
  switch (m.type) {
    case EVT.RESULT: { const resolve = pending.get(m.id); pending.delete(m.id); resolve?.(m); publish(); break; }
    case EVT.STATE: workerState = m.state; renderState(); publish(); break;
    case EVT.PROGRESS: renderProgress(m); break;
    case EVT.EPOCH: while (history.at(-1)?.epoch >= m.epoch) history.pop(); history.push(m); renderEpochs(); if (workerState) renderState(); break;
    case EVT.ERROR: addError(m); break;
    default: addError({ code: 'protocol', message: `unknown event ${m.type}` }); return;
  }
  // Every event is re-dispatched on window as a 'tabtrain' CustomEvent for embedders and tests.
  window.dispatchEvent(new CustomEvent('tabtrain', { detail: deepFreeze(structuredClone(m)) }));
};
worker.onerror = (e) => {
  addError({ code: 'worker', message: `worker failed: ${e.message || 'could not start (module workers unsupported?)'}` });
  $('#phase').textContent = 'The background worker failed; reload the page.';
  // Nothing will answer the commands in flight: fail them instead of hanging.
  for (const [id, resolve] of pending) resolve({ id, ok: false, error: { code: 'worker', message: 'worker stopped' } });
  pending.clear();
  publish();
};

// Newest first, with a count and a Clear button: the latest problem is always in view.
let errorCount = 0;
function addError({ code, message, file }) {
  errors.push({ code, message, ...(file ? { file } : {}) });
  if (errors.length > MAX_ERRORS) errors.shift();
  errorCount++;
  const li = document.createElement('li');
  li.textContent = file ? `${file}: ${message}` : message;
  $('#errors').prepend(li);
  while ($('#errors').children.length > MAX_ERRORS) $('#errors').lastChild.remove();
  renderErrorCount();
  if (code === 'weights-corrupt') $('#weights-error-text').textContent = 'The downloaded model file is damaged or is not the expected file (details under Problems). Retry, or download it from another address.';
  if (code === 'weights-fetch') $('#weights-error-text').textContent = `The model could not be downloaded: ${message}. Check the connection and retry.`;
  publish();
}

function renderErrorCount() {
  $('#no-errors').hidden = errorCount > 0;
  $('#clear-errors').hidden = errorCount === 0;
  $('#errors-count').textContent = errorCount ? ` (${errorCount})` : '';
}
function clearErrors() {
  errors.length = 0;
  errorCount = 0;
  $('#errors').replaceChildren();
  renderErrorCount();
  publish();
}

// ---- rendering --------------------------------------------------------------------------

const PHASE_TEXT = {
  [PHASE.STARTING]: 'Starting…',
  [PHASE.WEIGHTS_DOWNLOAD]: 'Downloading the base model…',
  [PHASE.WEIGHTS_VERIFY]: 'Checking the base model…',
  [PHASE.WEIGHTS_ERROR]: 'The base model could not be loaded.',
  [PHASE.WEIGHTS_MISSING]: 'This server has no base model (models/manifest.json missing).',
  [PHASE.ENGINE_MISSING]: 'Engine not built: classes can be edited, but training is unavailable.',
  [PHASE.ENGINE_ERROR]: 'The engine failed to start.',
  [PHASE.READY]: 'Ready.',
  [PHASE.EXTRACTING]: 'Reading pictures…',
  [PHASE.TRAINING]: 'Training…',
  [PHASE.PAUSED]: 'Paused.',
  [PHASE.TRAINED]: 'Trained. Try it below or export the model.',
};
const mb = (n) => `${(n / 1048576).toFixed(1)} MB`;

// What the header says: the worker's phase, unless pictures are still on their way
// (the worker is idle between two chunks of a batch, which is not "Ready").
function phaseText(s) {
  if (intakeBusy() && [PHASE.READY, PHASE.EXTRACTING, PHASE.TRAINED, PHASE.PAUSED].includes(s.phase)) return `Reading pictures… ${intake.done} of ${intake.total}`;
  if (s.waiting && [PHASE.WEIGHTS_DOWNLOAD, PHASE.WEIGHTS_VERIFY, PHASE.STARTING].includes(s.phase)) return `${PHASE_TEXT[s.phase]} ${s.waiting} pictures will be read once it is ready.`;
  if (s.phase === PHASE.TRAINED && s.imported && !s.training.epochs) return 'Model imported. Try it below, or train to continue from it.';
  if (s.phase === PHASE.PAUSED && s.training.epochs) return `Paused after epoch ${s.training.epoch} of ${s.training.epochs}. Resume continues it.`;
  return PHASE_TEXT[s.phase] || s.phase;
}

// Why a control is off, in words, beside it (and as its tooltip); '' when it is on.
const READ_ONLY_WHY = 'This tab is read-only while another tab edits the data (see the top of the page).';
function trainBlocker(s, hasEngine) {
  if (!hasEngine) return 'Training needs the engine, which is not available.';
  if (s.storage?.mode === 'reader') return READ_ONLY_WHY;
  if (s.engineWaiting) return 'Train becomes available once the base model has loaded.';
  if (intakeBusy()) return `Waiting for ${intake.total - intake.done} pictures to be read.`;
  if (s.phase === PHASE.TRAINING) return 'Training is running; pause it to change the settings.';
  if (![PHASE.READY, PHASE.TRAINED, PHASE.PAUSED].includes(s.phase)) return 'Wait until the current step has finished.';
  if (s.classes.filter((c) => c.count > 0).length < 2) return 'Add pictures to at least two classes to train.';
  return '';
}
function predictBlocker(s, hasEngine) {
  if (!hasEngine) return 'Predicting needs the engine, which is not available.';
  if (s.phase === PHASE.TRAINING) return 'Pause training to try the model.';
  if (s.phase !== PHASE.TRAINED) return 'Available once a model is trained or imported.';
  return '';
}
function explain(button, why, line) {
  button.disabled = !!why;
  button.title = why;
  const el = $(line);
  el.textContent = why;
  el.hidden = !why;
}

// Another tab owns this profile's data: say which, and offer to take over (docs/protocol.md).
const clock = (t) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
function renderOwner(st) {
  const readOnly = st?.mode === 'reader';
  document.body.classList.toggle('read-only', readOnly);
  const box = $('#owner-notice');
  box.hidden = !readOnly;
  if (!readOnly) return;
  const who = st.owner?.openedAt ? `another tab of this browser (opened at ${clock(st.owner.openedAt)})` : 'another tab of this browser';
  $('#owner-text').textContent = st.reason === 'taken-over'
    ? `At ${clock(st.since)} ${who} took over the classes and pictures; this tab saved its work and is now read-only.`
    : st.reason === 'changed'
      ? `The classes and pictures were changed by ${who}; this tab is now read-only so it cannot overwrite them.`
      : `The classes and pictures are being edited in ${who}. This tab is read-only, so the two cannot overwrite each other.`;
  $('#stay-read-only').hidden = box.dataset.dismissed === '1';
}

function renderState() {
  const s = workerState;
  renderOwner(s.storage);
  $('#phase').textContent = phaseText(s);
  document.body.dataset.phase = s.phase;
  const w = s.weights;
  if (w.status === 'ready') {
    $('#weights-progress').value = 1;
    $('#weights-text').textContent = w.source === 'cache' ? `stored on this device (${mb(w.total)})` : `downloaded (${mb(w.total)})`;
  } else if (w.status === 'verifying') $('#weights-text').textContent = 'checking…';
  else if (w.status === 'missing') $('#weights-text').textContent = 'not available on this server';
  else if (w.status === 'error') { $('#weights-progress').value = 0; $('#weights-text').textContent = 'failed'; }
  $('#weights-error').hidden = s.phase !== PHASE.WEIGHTS_ERROR;
  $('#weights-retry').disabled = false;
  const eng = $('#engine-status');
  eng.hidden = s.engine.status === 'loaded' || s.engine.status === 'loading';
  eng.textContent = s.engine.message;
  eng.classList.toggle('error', s.engine.status === 'error');
  renderThreads(s.threads);
  renderClasses(s.classes);
  const hasEngine = s.engine.status === 'loaded';
  const engineWaiting = hasEngine && [PHASE.STARTING, PHASE.WEIGHTS_DOWNLOAD, PHASE.WEIGHTS_VERIFY, PHASE.WEIGHTS_ERROR].includes(s.phase);
  $('#use-sample').disabled = !hasEngine || !$('#use-sample').dataset.available || $('#use-sample').dataset.loading === '1';
  $('#use-sample').title = !hasEngine ? 'Pictures cannot be read without the engine.' : !$('#use-sample').dataset.available ? 'This server has no sample pictures.' : '';
  explain($('#train'), trainBlocker({ ...s, engineWaiting }, hasEngine), '#train-why');
  $('#pause').disabled = s.phase !== PHASE.TRAINING;
  $('#resume').disabled = s.phase !== PHASE.PAUSED;
  $('#export').disabled = !hasEngine || ![PHASE.TRAINED, PHASE.PAUSED].includes(s.phase) || !s.training.epochs; // an import alone has no run
  $('#export-onnx').disabled = $('#export').disabled;
  const readOnly = s.storage?.mode === 'reader';
  $('#import').disabled = !hasEngine || readOnly;
  $('#project-save').disabled = !s.classes.length || s.phase === PHASE.TRAINING || s.phase === PHASE.EXTRACTING;
  $('#project-open').disabled = !hasEngine || readOnly || s.phase === PHASE.TRAINING;
  for (const el of [$('#add-class'), $('#new-class-name'), $('#reset'), $('#use-sample')]) {
    if (readOnly) { el.disabled = true; el.title = READ_ONLY_WHY; } else if (el !== $('#use-sample')) { el.disabled = false; el.title = ''; }
  }
  if (readOnly) $('#resume').disabled = true;
  explain($('#predict-file'), predictBlocker(s, hasEngine), '#predict-why');
  $('#predict-webcam').disabled = $('#predict-file').disabled;
  $('#predict-webcam').title = $('#predict-file').title;
  renderImported(s.imported);
  renderPerClass();
  // After a reload no progress event has come yet: the saved run's position.
  const t = s.training;
  const last = history.at(-1); // the saved run's last epoch (also when the data changed since)
  if (!$('#epoch-text').textContent && [PHASE.PAUSED, PHASE.TRAINED].includes(s.phase)) {
    if (t.epochs) {
      $('#epoch-progress').value = t.steps ? t.step / t.steps : 0;
      $('#epoch-text').textContent = `epoch ${t.epoch} of ${t.epochs}, step ${t.step} / ${t.steps}`;
    } else if (last) {
      $('#epoch-progress').value = last.epoch / last.epochs;
      $('#epoch-text').textContent = `epoch ${last.epoch} of ${last.epochs}`;
    }
  }
  // The space used changes with every save.
  const savedKey = JSON.stringify([s.saved, s.classes.map((c) => c.count)]);
  if (savedKey !== lastSavedKey) { lastSavedKey = savedKey; clearTimeout(storageTimer); storageTimer = setTimeout(storageStatus, 1000); }
}
let lastSavedKey = '', storageTimer = null;

// An imported model: offer to continue from it, with the settings it needs.
function renderImported(imp) {
  const row = $('#init-from-model-row');
  const f = $('#settings').elements;
  if (!imp) { row.hidden = true; f.initFromModel.checked = false; return; }
  $('#imported-name').textContent = `(${imp.name}: ${imp.classes.join(', ')})`;
  if (row.hidden && row.dataset.seen !== imp.name) { // first time this model is shown: match its head and tail
    row.dataset.seen = imp.name;
    if ($('#settings').dataset.restored === '1' && localStorage.getItem('tabtrain.imported') === imp.name) { row.hidden = false; return; }
    try { localStorage.setItem('tabtrain.imported', imp.name); } catch { /* kept for the visit */ }
    f.initFromModel.checked = true;
    f.hiddenUnits.value = imp.hidden;
    f.unfreeze.value = imp.unfreeze;
  }
  row.hidden = false;
}

// Keyed by class id and updated in place, so a rename being typed keeps its focus.
function renderClasses(classes) {
  const list = $('#class-list');
  const byId = new Map([...list.children].map((li) => [Number(li.dataset.classId), li]));
  const readOnly = workerState.storage?.mode === 'reader';
  const canAdd = workerState.engine.status === 'loaded' && !readOnly;
  classes.forEach((c, i) => {
    let li = byId.get(c.id);
    if (!li) li = classItem(c.id);
    byId.delete(c.id);
    li.querySelector('.class-index').textContent = `${i + 1}.`;
    const input = li.querySelector('.class-name');
    if (document.activeElement !== input) input.value = c.name;
    input.setAttribute('aria-label', `Name of class ${i + 1}`);
    li.querySelector('.delete').setAttribute('aria-label', `Delete class ${c.name}`);
    li.querySelector('.webcam').setAttribute('aria-label', `Webcam photos for ${c.name}`);
    li.querySelector('.file-button').setAttribute('aria-label', `Add pictures to ${c.name}`);
    li.querySelector('.class-count').textContent = `${c.count} picture${c.count === 1 ? '' : 's'}`;
    const file = li.querySelector('input[type=file]');
    file.dataset.classIndex = String(i);
    file.disabled = !canAdd;
    li.querySelector('.webcam').disabled = !canAdd;
    li.querySelector('.drop-zone').textContent = readOnly ? 'Read-only in this tab' : canAdd ? 'Drop pictures or folders here' : 'Pictures can be added once the engine is available';
    input.readOnly = readOnly;
    li.querySelector('.delete').disabled = readOnly;
    li.querySelectorAll('.thumb .remove').forEach((b) => { b.disabled = readOnly; });
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
    li.refreshPictures();
  });
  byId.forEach((li) => li.remove());
}

function classItem(id) {
  const li = document.createElement('li');
  li.className = 'class-item';
  li.dataset.classId = String(id);
  li.innerHTML = `
    <div class="row">
      <span class="class-index"></span>
      <input class="class-name" type="text" maxlength="64">
      <span class="class-count muted"></span>
      <button type="button" class="delete danger">Delete</button>
    </div>
    <div class="row">
      <label class="file-button">Add pictures <input type="file" accept="image/*" multiple></label>
      <button type="button" class="webcam secondary">Webcam</button>
    </div>
    <div class="drop-zone" tabindex="-1"></div>
    <details class="pictures"><summary>Pictures</summary><ul class="thumbs"></ul><button type="button" class="more secondary" hidden>Show more</button></details>`;
  attachPictures(li, id);
  const name = li.querySelector('.class-name');
  const rename = () => {
    const c = workerState.classes.find((x) => x.id === id);
    if (c && name.value.trim() && name.value.trim() !== c.name) command(CMD.CLASS_RENAME, { classId: id, name: name.value });
    else if (c) name.value = c.name;
  };
  name.addEventListener('change', rename);
  name.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); name.blur(); } });
  li.querySelector('.delete').addEventListener('click', () => {
    const c = workerState.classes.find((x) => x.id === id);
    if (c.count === 0 || confirm(`Delete class "${c.name}" and its ${c.count} pictures?`)) command(CMD.CLASS_DELETE, { classId: id });
  });
  const file = li.querySelector('input[type=file]');
  file.addEventListener('change', async () => { const files = [...file.files]; file.value = ''; await sendFiles(id, files); });
  li.querySelector('.webcam').addEventListener('click', () => openWebcam((bytes) => sendFiles(id, [new File([bytes], `webcam-${Date.now()}.jpg`)])));
  const zone = li.querySelector('.drop-zone');
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', async (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (workerState.engine.status !== 'loaded') { addError({ code: 'engine-missing', message: 'pictures cannot be added without the engine' }); return; }
    await sendFiles(id, await droppedFiles(e.dataTransfer));
  });
  return li;
}

// ---- pictures of a class: small thumbnails, drawn only when scrolled into view -----------

const THUMB = 72;        // px, square
const THUMB_PAGE = 48;   // tiles added per "Show more"
const thumbObserver = new IntersectionObserver((entries) => {
  for (const e of entries) if (e.isIntersecting) { thumbObserver.unobserve(e.target); drawThumb(e.target); }
}, { rootMargin: '200px' });

// The picture's bytes come from the worker (its record in IndexedDB), so thumbnails
// also show after a reload; the full-size decode is transient, only the canvas stays.
async function drawThumb(tile) {
  const r = await command(CMD.IMAGES_GET, { imageId: Number(tile.dataset.imageId) });
  if (!r.ok) return;
  try {
    const bmp = await createImageBitmap(new Blob([r.bytes]));
    const s = Math.min(bmp.width, bmp.height);
    const ctx = tile.querySelector('canvas').getContext('2d');
    ctx.drawImage(bmp, (bmp.width - s) / 2, (bmp.height - s) / 2, s, s, 0, 0, THUMB, THUMB);
    bmp.close();
    tile.dataset.drawn = '1';
  } catch { tile.classList.add('undecodable'); } // the engine decodes formats the browser may not
}

function attachPictures(li, id) {
  const panel = li.querySelector('.pictures');
  const list = panel.querySelector('.thumbs');
  const more = panel.querySelector('.more');
  let images = [], shown = 0, loadedCount = -1;
  const showMore = () => {
    for (const im of images.slice(shown, shown + THUMB_PAGE)) {
      const tile = document.createElement('li');
      tile.className = 'thumb';
      tile.dataset.imageId = String(im.id);
      tile.title = im.name;
      tile.innerHTML = `<canvas width="${THUMB}" height="${THUMB}"></canvas><button type="button" class="remove" aria-label="Remove">×</button>`;
      tile.querySelector('.remove').setAttribute('aria-label', `Remove ${im.name}`);
      tile.querySelector('.remove').addEventListener('click', () => command(CMD.IMAGES_REMOVE, { imageIds: [im.id] }));
      list.append(tile);
      thumbObserver.observe(tile);
    }
    shown = Math.min(images.length, shown + THUMB_PAGE);
    more.hidden = shown >= images.length;
  };
  const load = async () => {
    const c = workerState?.classes.find((x) => x.id === id);
    if (!panel.open || !c || c.count === loadedCount) return;
    loadedCount = c.count;
    const r = await command(CMD.IMAGES_LIST, { classId: id });
    if (!r.ok) return;
    const keep = Math.max(shown, THUMB_PAGE);
    images = r.images;
    list.replaceChildren();
    shown = 0;
    while (shown < Math.min(keep, images.length)) showMore();
    more.hidden = shown >= images.length;
  };
  panel.addEventListener('toggle', load);
  more.addEventListener('click', showMore);
  li.refreshPictures = load; // called on every state event
}

function renderProgress(m) {
  const frac = m.total ? m.done / m.total : 0;
  if (m.phase === PHASE.WEIGHTS_DOWNLOAD) {
    $('#weights-progress').value = frac;
    $('#weights-text').textContent = `${mb(m.done)} of ${mb(m.total)}`;
  } else if (m.phase === PHASE.EXTRACTING) {
    renderIntake(m.done);
  } else if (m.phase === PHASE.TRAINING && m.unit === 'views') {
    $('#epoch-progress').value = frac;
    $('#epoch-text').textContent = `preparing pictures (augmented copies, fine-tuning inputs): ${m.done} / ${m.total}`;
  } else if (m.phase === PHASE.TRAINING) {
    $('#epoch-progress').value = frac;
    $('#epoch-text').textContent = `epoch ${m.epoch} of ${m.epochs}, step ${m.done} / ${m.total}`;
  }
}

// ---- charts and tables ------------------------------------------------------------------

let charts = null;
async function renderEpochs() {
  const { default: uPlot } = await import('./vendor/uPlot.esm.js');
  const x = history.map((h) => h.epoch);
  const series = (a, b) => [{ label: 'epoch' }, { label: a, stroke: '#2456c9', width: 2 }, { label: b, stroke: '#d9822b', width: 2 }];
  const opts = (el, a, b) => ({ width: Math.max(240, el.clientWidth), height: 200, series: series(a, b), scales: { x: { time: false } }, axes: [{ incrs: [1, 2, 5, 10, 20, 50, 100] }, {}] });
  const lossData = [x, history.map((h) => h.trainLoss), history.map((h) => h.valLoss)];
  const accData = [x, history.map((h) => h.trainAcc), history.map((h) => h.valAcc)];
  if (!charts) {
    charts = {
      loss: new uPlot(opts($('#loss-chart'), 'train loss', 'validation loss'), lossData, $('#loss-chart')),
      acc: new uPlot(opts($('#acc-chart'), 'train accuracy', 'validation accuracy'), accData, $('#acc-chart')),
    };
  } else { charts.loss.setData(lossData); charts.acc.setData(accData); }
  renderPerClass();
}

// A class of a run by id: its name today, or the name the run knew if it was deleted.
function runClassName(c) {
  const now = workerState?.classes.find((x) => x.id === c.id);
  return now ? now.name : `${c.name} (deleted)`;
}

// The per-class table and the confusion matrix are labelled by the class ids the run
// reported, never by position in today's class list.
function renderPerClass() {
  const last = history[history.length - 1];
  const run = workerState?.run;
  const runClasses = last?.classes || run?.classes || [];
  const byId = new Map((last?.perClass || []).map((p) => [p.id, p]));
  const current = workerState?.classes || [];
  const rows = [
    ...runClasses.map((c) => [runClassName(c), current.find((x) => x.id === c.id)?.count ?? 0, byId.get(c.id)?.acc]),
    ...current.filter((c) => !runClasses.some((r) => r.id === c.id)).map((c) => [c.name, c.count, undefined]),
  ];
  const tbody = $('#per-class tbody');
  tbody.replaceChildren(...rows.map(([name, count, acc]) => {
    const tr = document.createElement('tr');
    const cells = [name, String(count), acc == null ? (runClasses.length ? 'not in this run' : '—') : `${(acc * 100).toFixed(1)}%`];
    for (const v of cells) { const td = document.createElement('td'); td.textContent = v; tr.append(td); }
    return tr;
  }));
  const note = $('#run-classes');
  if (run) {
    note.textContent = `This run trained on ${runClasses.map(runClassName).join(', ')}.`
      + (run.excluded?.length ? ` Left out, because they had no pictures: ${run.excluded.join(', ')}.` : '');
    note.hidden = false;
  } else note.hidden = true;
  const conf = $('#confusion tbody');
  if (!last?.confusion) { conf.replaceChildren(); return; }
  const head = document.createElement('tr');
  head.append(document.createElement('th'), ...last.classes.map((c) => { const th = document.createElement('th'); th.scope = 'col'; th.textContent = runClassName(c); return th; }));
  conf.replaceChildren(head, ...last.confusion.map((row, i) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th'); th.scope = 'row'; th.textContent = runClassName(last.classes[i]);
    tr.append(th, ...row.map((n) => { const td = document.createElement('td'); td.textContent = String(n); return td; }));
    return tr;
  }));
}

// ---- input: files, folders, webcam, sample dataset ---------------------------------------

// Files and whole folders from a drop, via the entries API (folders recurse).
const HIDDEN_FILE = /^(\.|Thumbs\.db$|desktop\.ini$)/i;
async function droppedFiles(dt) {
  const entries = [...dt.items].map((it) => it.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.length) return [...dt.files];
  const out = [];
  const walk = async (entry) => {
    if (HIDDEN_FILE.test(entry.name)) return; // .DS_Store, Thumbs.db, desktop.ini: not pictures anyone chose
    if (entry.isFile) {
      const file = await new Promise((res, rej) => entry.file(res, rej));
      // Named by its path in the dropped folder, so a rejected file can be found.
      out.push(entry.fullPath.indexOf('/', 1) > 0 ? new File([file], entry.fullPath.slice(1), { type: file.type, lastModified: file.lastModified }) : file);
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      // readEntries returns at most ~100 entries per call; loop until it returns none.
      for (;;) {
        const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const child of batch) await walk(child);
      }
    }
  };
  for (const e of entries) {
    try { await walk(e); } catch (err) { addError({ code: 'file', file: e.name, message: `could not read: ${err.message || err}` }); }
  }
  return out;
}

// ---- pictures on their way to the engine -------------------------------------------------
// Every picture is counted from the moment it is chosen until the worker has answered for
// it. Chunks go one at a time, in order, whatever class they are for, so the progress
// counts the whole batch (everything added before the queue last emptied), and Train
// waits until the batch is through.

// Reserves `n` pictures in the batch before their bytes are at hand (the sample set's
// files are still being fetched); sendFiles(..., {reserved: true}) then uses the slots.
function reserveIntake(n) { intake.total += n; renderIntake(); }

function sendFiles(classId, files, { reserved = false } = {}) {
  if (!reserved) reserveIntake(files.length);
  const run = intakeTail.then(() => sendChunks(classId, files));
  intakeTail = run.catch(() => {});
  return run;
}

async function sendChunks(classId, files) {
  try {
    for (let i = 0; i < files.length; i += FILES_PER_MESSAGE) {
      const slice = files.slice(i, i + FILES_PER_MESSAGE);
      const chunk = [];
      for (const f of slice) {
        try { chunk.push({ name: f.webkitRelativePath || f.name, bytes: await f.arrayBuffer() }); } catch (err) { addError({ code: 'file', file: f.name, message: `could not be read (${err.name || 'error'})` }); }
      }
      if (chunk.length) await command(CMD.IMAGES_ADD, { classId, files: chunk }, chunk.map((c) => c.bytes));
      intake.done += slice.length;
      renderIntake();
    }
  } finally {
    if (!intakeBusy()) { intake.total = intake.done; renderIntake(); }
  }
}

// The batch's progress; the worker reports within a chunk, the page adds the chunks before it.
function renderIntake(inChunk = 0) {
  const done = Math.min(intake.total, intake.done + inChunk);
  $('#extract-progress').value = intake.total ? done / intake.total : 0;
  $('#extract-text').textContent = intake.total ? `${done} / ${intake.total}` : '';
  if (workerState) renderState();
  publish();
}

async function useSample() {
  const btn = $('#use-sample');
  btn.dataset.loading = '1';
  btn.disabled = true;
  let reserved = 0;
  try {
    const manifest = await (await fetch('sample/manifest.json')).json();
    reserved = manifest.classes.reduce((n, c) => n + c.files.length, 0);
    reserveIntake(reserved);
    for (const cls of manifest.classes) {
      const c = workerState.classes.find((x) => x.name === cls.name);
      const classId = c ? c.id : (await command(CMD.CLASS_CREATE, { name: cls.name })).classId;
      if (classId === undefined) return;
      const files = await Promise.all(cls.files.map(async (f) => new File([await (await fetch(`sample/${f}`)).blob()], f)));
      reserved -= files.length;
      sendFiles(classId, files, { reserved: true });
    }
  } catch (err) {
    addError({ code: 'file', message: `The sample pictures could not be loaded (${err.message || err}).` });
  } finally {
    if (reserved) { intake.total -= reserved; renderIntake(); } // slots of pictures that never came
    delete btn.dataset.loading;
    renderState();
  }
}

let webcamStream = null;
let webcamTarget = null;
let webcamSession = 0; // bumped by each open and close: a camera that starts late for an old session is stopped
let webcamPhotos = 0;
// getUserMedia's failures (DOMException names) in plain words.
const WEBCAM_ERRORS = {
  NotAllowedError: 'Camera access is blocked. Allow the camera for this page (the camera icon in the address bar) and try again.',
  SecurityError: 'Camera access is blocked. Allow the camera for this page (the camera icon in the address bar) and try again.',
  NotFoundError: 'No camera was found. Connect one and try again.',
  OverconstrainedError: 'No camera was found that can take 640×480 pictures.',
  NotReadableError: 'The camera could not be started; another program may be using it.',
};
const WEBCAM_ELSE = 'You can use picture files instead.';
async function openWebcam(onPhoto, { live = false } = {}) {
  const session = ++webcamSession;
  webcamTarget = onPhoto;
  $('#webcam-live-row').hidden = !live;
  $('#webcam-live').checked = false;
  $('#webcam-predictions').replaceChildren();
  $('#webcam-predictions').hidden = !live;
  webcamPhotos = 0;
  const dlg = $('#webcam-dialog');
  const status = $('#webcam-status');
  $('#webcam-capture').disabled = true;
  $('#webcam-video').hidden = true; // no black box unless there is a picture
  status.textContent = 'Starting the camera…';
  dlg.showModal();
  // Absent outside secure contexts (http:// other than localhost) and in some embedded browsers.
  if (!navigator.mediaDevices?.getUserMedia) {
    status.textContent = `This browser gives the page no camera access (it needs an https:// or localhost address). ${WEBCAM_ELSE}`;
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
    if (session !== webcamSession || !dlg.open) { stream.getTracks().forEach((t) => t.stop()); return; } // closed meanwhile
    webcamStream = stream;
    const v = $('#webcam-video');
    // Take photo is enabled once frames have a size (capture draws videoWidth × videoHeight).
    v.addEventListener('loadedmetadata', () => {
      if (webcamStream !== stream) return;
      v.hidden = false;
      status.textContent = '';
      $('#webcam-capture').disabled = false;
      $('#webcam-live').disabled = false;
    }, { once: true });
    v.srcObject = stream;
  } catch (err) {
    if (session !== webcamSession) return;
    status.textContent = `${WEBCAM_ERRORS[err.name] || `The camera could not be started (${err.message || err.name}).`} ${WEBCAM_ELSE}`;
  }
}
function closeWebcam() {
  stopBurst();
  webcamSession++;
  webcamStream?.getTracks().forEach((t) => t.stop());
  webcamStream = null;
  $('#webcam-video').srcObject = null;
  $('#webcam-capture').disabled = true;
  $('#webcam-live').disabled = true;
  $('#webcam-dialog').close();
}
// The current frame as JPEG bytes, or null while the camera has no picture.
async function frameBytes() {
  const v = $('#webcam-video');
  if (!webcamStream || !v.videoWidth) return null;
  const canvas = new OffscreenCanvas(v.videoWidth, v.videoHeight);
  canvas.getContext('2d').drawImage(v, 0, 0);
  return (await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.9 })).arrayBuffer();
}
async function capture() {
  const bytes = await frameBytes();
  if (!bytes) { $('#webcam-status').textContent = 'The camera is not ready yet.'; return; }
  webcamPhotos++;
  $('#webcam-status').textContent = webcamPhotos === 1 ? 'Photo taken.' : `${webcamPhotos} photos taken.`;
  await webcamTarget?.(bytes);
}
// Live: predict frame after frame (the next as soon as the previous answer is in, at
// most ~3 per second) until unticked or the dialog closes.
async function liveLoop() {
  const session = webcamSession;
  while (session === webcamSession && $('#webcam-live').checked) {
    const t0 = performance.now();
    const bytes = await frameBytes();
    if (bytes) await predict(bytes);
    await new Promise((r) => setTimeout(r, Math.max(0, 300 - (performance.now() - t0))));
  }
}

// Shown under "Try it" (with the picture and its name) and, while the webcam dialog
// predicts, inside it. The top class is highlighted.
async function predict(bytes, name = 'webcam frame') {
  const preview = name === 'webcam frame' ? null : URL.createObjectURL(new Blob([bytes]));
  const r = await send(CMD.PREDICT, { bytes }, [bytes]);
  if (!r.ok) { addError({ code: r.error.code, file: name, message: r.error.message }); if (preview) URL.revokeObjectURL(preview); return; }
  if (preview) {
    const img = $('#predict-preview');
    if (img.src) URL.revokeObjectURL(img.src);
    img.src = preview;
    img.alt = `The picture being predicted: ${name}`;
    $('#predict-name').textContent = name;
    $('#predict-picture').hidden = false;
  }
  const rows = () => r.probs.sort((a, b) => b.p - a.p).map(({ name, p }, i) => {
    const li = document.createElement('li');
    if (i === 0) { li.classList.add('top'); li.setAttribute('aria-label', `Most likely: ${name}, ${(p * 100).toFixed(1)}%`); }
    const label = document.createElement('span'); label.textContent = name;
    const bar = document.createElement('progress'); bar.max = 1; bar.value = p;
    const pct = document.createElement('span'); pct.textContent = `${(p * 100).toFixed(1)}%`;
    li.append(label, bar, pct);
    return li;
  });
  $('#predict-results').replaceChildren(...rows());
  if (!$('#webcam-predictions').hidden) $('#webcam-predictions').replaceChildren(...rows());
}

// ---- settings and controls ----------------------------------------------------------------

$('#settings').elements.threads.value = defaultThreads();
// The Threads setting applies from the next run; a single-threaded engine offers none.
function renderThreads(t) {
  if (!t) return;
  const input = $('#settings').elements.threads;
  input.disabled = !t.threaded;
  input.max = t.available;
  if (!t.threaded) input.value = 1;
  $('#threads-note').textContent = t.threaded
    ? `computing on ${t.current} ${t.current === 1 ? 'thread' : 'threads'}`
    : `one thread: ${t.reason}`;
}
// The settings form is kept in this browser, so a reload does not reset it.
const SETTINGS_KEY = 'tabtrain.settings';
function saveSettings() {
  const f = $('#settings').elements;
  const v = {};
  for (const el of f) if (el.name) v[el.name] = el.type === 'checkbox' ? el.checked : el.value;
  try { localStorage.setItem(SETTINGS_KEY, JSON.stringify(v)); } catch { /* storage off: settings last the visit */ }
}
function restoreSettings() {
  let v = null;
  try { v = JSON.parse(localStorage.getItem(SETTINGS_KEY)); } catch { v = null; }
  if (!v) return;
  for (const el of $('#settings').elements) {
    if (!el.name || !(el.name in v)) continue;
    if (el.type === 'checkbox') el.checked = !!v[el.name]; else el.value = v[el.name];
  }
  $('#settings').dataset.restored = '1';
}
// The form shows DEFAULT_TRAIN_CONFIG (or a preset) field by field.
const PRESETS = { recommended: DEFAULT_TRAIN_CONFIG, best: BEST_ACCURACY_CONFIG };
function applyPreset(c) {
  const f = $('#settings').elements;
  for (const k of ['batchSize', 'epochs', 'learningRate', 'augmentViews', 'unfreeze', 'backboneLr', 'hiddenUnits', 'dropout', 'labelSmoothing', 'patience', 'seed']) f[k].value = String(c[k]);
  for (const [k, on] of Object.entries(c.augment)) f[k].checked = on;
}
// An opened project's settings (the engine's keys, docs/config.md) into the form.
function applyEngineSettings(s) {
  const c = trainConfig();
  const keys = { batch_size: 'batchSize', epochs: 'epochs', lr: 'learningRate', augment_views: 'augmentViews', unfreeze: 'unfreeze', backbone_lr: 'backboneLr', hidden: 'hiddenUnits', dropout: 'dropout', label_smoothing: 'labelSmoothing', patience: 'patience', seed: 'seed' };
  for (const [k, field] of Object.entries(keys)) if (typeof s[k] === 'number') c[field] = s[k];
  if (typeof s.augment === 'string') for (const k of Object.keys(c.augment)) c.augment[k] = s.augment.split(',').includes(k);
  applyPreset(c);
  $('#settings').elements.preset.value = 'custom';
  saveSettings();
}
applyPreset(DEFAULT_TRAIN_CONFIG);
restoreSettings();
$('#settings').elements.preset.addEventListener('change', (e) => { if (PRESETS[e.target.value]) { applyPreset(PRESETS[e.target.value]); saveSettings(); } });
$('#settings').addEventListener('input', (e) => { if (e.target.name !== 'preset') $('#settings').elements.preset.value = 'custom'; });
$('#settings').addEventListener('change', saveSettings);
$('#settings').addEventListener('input', saveSettings);

function trainConfig() {
  const f = $('#settings').elements;
  const num = (name, def) => { const v = Number(f[name].value); return Number.isFinite(v) && f[name].value !== '' ? v : def; };
  const d = DEFAULT_TRAIN_CONFIG;
  return {
    ...d,
    batchSize: num('batchSize', d.batchSize), epochs: num('epochs', d.epochs), learningRate: num('learningRate', d.learningRate),
    augment: { flip: f.flip.checked, zoom: f.zoom.checked, shear: f.shear.checked, brightness: f.brightness.checked },
    augmentViews: num('augmentViews', d.augmentViews), initFromModel: !!workerState?.imported && f.initFromModel.checked,
    unfreeze: num('unfreeze', d.unfreeze), hiddenUnits: num('hiddenUnits', d.hiddenUnits), seed: num('seed', d.seed),
    backboneLr: num('backboneLr', d.backboneLr), dropout: num('dropout', d.dropout), labelSmoothing: num('labelSmoothing', d.labelSmoothing),
    patience: num('patience', d.patience),
    threads: num('threads', defaultThreads()),
  };
}

function download(name, bytes) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes]));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

$('#add-class-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = $('#new-class-name');
  const name = input.value.trim() || `Class ${(workerState?.classes.length || 0) + 1}`;
  input.value = '';
  await command(CMD.CLASS_CREATE, { name });
});
$('#use-sample').addEventListener('click', useSample);
$('#take-over').addEventListener('click', async () => {
  $('#take-over').disabled = true;
  $('#owner-text').textContent = 'Asking the other tab to save its work and hand over…';
  const r = await command(CMD.TAKE_OVER);
  if (r.ok && r.reload) location.reload();
  else $('#take-over').disabled = false;
});
$('#stay-read-only').addEventListener('click', () => { $('#owner-notice').dataset.dismissed = '1'; $('#stay-read-only').hidden = true; });
$('#weights-retry').addEventListener('click', async () => {
  $('#weights-retry').disabled = true;
  const url = $('#weights-url').value.trim();
  await command(CMD.WEIGHTS_RETRY, url ? { url } : {});
  $('#weights-retry').disabled = false;
});
$('#train').addEventListener('click', async () => {
  // A paused run is discarded by a new one: ask first.
  if (workerState?.phase === PHASE.PAUSED && !confirm('Start a new training run? The paused run will be discarded (Resume continues it instead).')) return;
  history.length = 0;
  const r = await command(CMD.TRAIN, { config: trainConfig() });
  if (r.ok) $('#pause').focus(); // Train turns off: keep the keyboard focus on the control that now matters
});
$('#pause').addEventListener('click', () => command(CMD.PAUSE));
$('#resume').addEventListener('click', () => command(CMD.RESUME));
$('#export').addEventListener('click', async () => {
  const r = await command(CMD.EXPORT, { format: 'safetensors' });
  if (r.ok) { download(r.name, r.bytes); download(r.json.name, r.json.bytes); showEmbedSnippet(r.name); }
});
// After an export: how to run that file in one's own page with the embed module (web/embed).
function showEmbedSnippet(model) {
  const help = $('#embed-help');
  if (!help.dataset.available) return;
  const names = (workerState?.classes ?? []).map((c) => c.name).join(', ');
  $('#embed-snippet').textContent = `<img id="photo" src="photo.jpg">
<script type="module">
  import { load } from './tabtrain-embed.mjs';
  const model = await load('${model}');
  const result = await model.predict(document.getElementById('photo')); // or a <canvas>, a <video>, a File
  console.log(result); // [{ className, probability }, ...]${names ? ` for ${names}` : ''}
</script>`;
  help.hidden = false;
  help.open = true;
}
$('#embed-copy').addEventListener('click', () => navigator.clipboard?.writeText($('#embed-snippet').textContent));
$('#export-onnx').addEventListener('click', async () => {
  const r = await command(CMD.EXPORT, { format: 'onnx' });
  if (r.ok) download(r.name, r.bytes);
});
$('#import').addEventListener('change', async (e) => {
  const f = e.target.files[0];
  e.target.value = '';
  if (f) { const bytes = await f.arrayBuffer(); await command(CMD.IMPORT, { name: f.name, bytes }, [bytes]); }
});
// Project files (docs/project-file.md): the worker writes and checks them; an opened
// project replaces this one only once the whole file has been checked.
$('#project-save').addEventListener('click', async () => {
  const r = await command(CMD.PROJECT_SAVE, { config: trainConfig() });
  if (r.ok) download('tabtrain-project.zip', r.blob);
});
$('#project-open').addEventListener('change', async (e) => {
  const f = e.target.files[0];
  e.target.value = '';
  if (!f || (workerState?.classes.length && !confirm(`Open "${f.name}"? It replaces the classes, pictures and training here (save this project first to keep them).`))) return;
  history.length = 0;
  charts?.loss.setData([[], [], []]);
  charts?.acc.setData([[], [], []]);
  const r = await command(CMD.PROJECT_OPEN, { file: f });
  if (r.ok) applyEngineSettings(r.settings);
});
// The confirmation says what will happen, and it happens: training is paused first.
$('#reset').addEventListener('click', async () => {
  const training = workerState?.phase === PHASE.TRAINING;
  if (!confirm(training ? 'Stop training and delete all classes, pictures and training?' : 'Delete all classes, pictures and training?')) return;
  if (training) {
    await command(CMD.PAUSE);
    await new Promise((resolve) => { const t = setInterval(() => { if (workerState.phase !== PHASE.TRAINING) { clearInterval(t); resolve(); } }, 50); });
  }
  history.length = 0;
  await command(CMD.RESET);
  charts?.loss.setData([[], [], []]);
  charts?.acc.setData([[], [], []]);
  renderPerClass();
});
$('#clear-errors').addEventListener('click', clearErrors);
$('#predict-file').addEventListener('change', async (e) => {
  const f = e.target.files[0];
  e.target.value = '';
  if (f) await predict(await f.arrayBuffer(), f.name);
});
$('#predict-webcam').addEventListener('click', () => openWebcam(predict, { live: true }));
$('#webcam-live').addEventListener('change', () => { if ($('#webcam-live').checked) liveLoop(); });
// A drop that misses a drop zone must not make the browser open the file in place of the app.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => e.preventDefault());
// Hold to record: while the button is held (pointer or Space/Enter), a burst of frames
// (about 5 per second) goes to the class, as in Teachable Machine. A click takes one.
const BURST_MS = 200;
let burst = null;
function startBurst(e) {
  if (burst || $('#webcam-capture').disabled || (e.type === 'keydown' && (e.repeat || ![' ', 'Enter'].includes(e.key)))) return;
  e.preventDefault();
  const b = burst = { taken: 0, timer: null };
  // The button may be released while a frame is being captured: this burst then ends
  // after that frame (stopBurst has cleared `burst`), never a newer burst's timer.
  const tick = async () => {
    if (burst !== b) return;
    await capture();
    b.taken++;
    if (burst === b) b.timer = setTimeout(tick, BURST_MS);
  };
  tick();
}
function stopBurst() { if (burst) { clearTimeout(burst.timer); burst = null; } }
const shot = $('#webcam-capture');
shot.addEventListener('pointerdown', startBurst);
shot.addEventListener('keydown', startBurst);
for (const ev of ['pointerup', 'pointerleave', 'pointercancel', 'keyup', 'blur']) shot.addEventListener(ev, stopBurst);
shot.addEventListener('click', (e) => e.preventDefault()); // the press already took the photo
$('#webcam-close').addEventListener('click', closeWebcam);
$('#webcam-dialog').addEventListener('close', closeWebcam); // also Esc: the camera goes off however the dialog closes

// ---- storage status ---------------------------------------------------------------------

// A plain-http address other than localhost (a classroom server on the LAN) is not a
// secure context: the browser withholds the camera, service workers (offline use) and
// cross-origin isolation (threads). Say so once, and how the server can fix it.
function originNotice() {
  if (window.isSecureContext) return;
  const el = $('#origin-notice');
  el.textContent = `This page was opened over plain http at ${location.host}, which the browser does not treat as secure, `
    + 'so it turns off the webcam (add picture files instead), offline use and multi-threaded training. Everything else works. '
    + 'To get them, the person running the server can start it with --https and share the https:// address.';
  el.hidden = false;
}
originNotice();

async function storageStatus() {
  const el = $('#storage-status');
  if (!window.isSecureContext) { el.textContent = 'Storage: pictures and training are kept in this browser; on a plain-http address it cannot tell how much space is left.'; return; }
  if (!navigator.storage?.estimate) { el.textContent = 'Storage: not available here (private window?) — nothing will be kept after closing the tab.'; return; }
  let persisted = 'unknown';
  try { persisted = (await navigator.storage.persist()) ? 'kept until you clear it' : 'may be cleared by the browser when space is low'; } catch (err) { persisted = `persistence request failed (${err.message})`; }
  try {
    const { usage = 0, quota = 0 } = await navigator.storage.estimate();
    el.textContent = `Storage: ${persisted}; using ${mb(usage)} of ${mb(quota)} available.`;
    if (quota && quota < 100 * 1048576) el.textContent += ' Very little space — this may be a private window; the model may not be saved.';
  } catch (err) { el.textContent = `Storage: ${persisted}; quota unknown (${err.message}).`; }
}
storageStatus();
fetch('embed/tabtrain-embed-engine.wasm', { method: 'HEAD' }).then((r) => { if (r.ok) $('#embed-help').dataset.available = '1'; }, () => {});
fetch('sample/manifest.json', { method: 'HEAD' }).then((r) => { if (r.ok) $('#use-sample').dataset.available = '1'; if (workerState) renderState(); }, () => {});

// ---- offline and updates (web/sw.js) ----------------------------------------------------
// The service worker keeps the app working offline and sends COOP/COEP on any host. A new
// build installs beside the running one; the page offers a reload, and says so after it.
function updateNotice(text, offerReload) {
  $('#update-text').textContent = text;
  $('#update-reload').hidden = !offerReload;
  $('#update-notice').hidden = false;
}
if (sessionStorage.getItem('tabtrain-updated')) {
  sessionStorage.removeItem('tabtrain-updated');
  updateNotice('tabtrain was updated to its newest version.', false);
}
if ('serviceWorker' in navigator) {
  const sw = navigator.serviceWorker;
  const hadController = !!sw.controller;
  let waiting = null;
  const offer = (w) => { waiting = w; updateNotice('A new version of tabtrain is ready. Your classes, pictures and training are kept.', true); };
  $('#update-reload').addEventListener('click', () => waiting?.postMessage('skip-waiting'));
  sw.addEventListener('controllerchange', () => {
    if (!hadController) return; // the first worker of this site: nothing changed for the page
    sessionStorage.setItem('tabtrain-updated', '1');
    location.reload();
  });
  sw.register('sw.js').then((reg) => {
    if (reg.waiting && sw.controller) offer(reg.waiting);
    reg.addEventListener('updatefound', () => {
      const w = reg.installing;
      w?.addEventListener('statechange', () => { if (w.state === 'installed' && sw.controller) offer(w); });
    });
  }, (err) => console.warn(`Offline use is not available: ${err.message}`));
}
