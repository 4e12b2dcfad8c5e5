// Drawing what the page knows (state.js): the phase line, the base model, which
// controls are on and why not, progress bars, the charts, the per-class table and the
// confusion matrix. Nothing here sends a command that changes anything.
import { PHASE } from '../protocol.js';
import { $, page, intakeBusy } from './state.js';
import { renderClasses } from './classes.js';
import { renderSettings, settingsNote, renderThreads, renderImported } from './settings.js';
import { scheduleStorageStatus } from './status.js';

const PHASE_TEXT = {
  [PHASE.STARTING]: 'Starting…',
  [PHASE.MIGRATING]: 'Moving the pictures to the new storage (once)…',
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
export const mb = (n) => `${(n / 1048576).toFixed(1)} MB`;

// What the header says: the worker's phase, unless pictures are still on their way
// (the worker is idle between two chunks of a batch, which is not "Ready").
function phaseText(s) {
  const { intake } = page;
  if (s.phase === PHASE.MIGRATING && s.migrating) return `${PHASE_TEXT[s.phase]} ${s.migrating.done} of ${s.migrating.total}`;
  if (intakeBusy() && [PHASE.READY, PHASE.EXTRACTING, PHASE.TRAINED, PHASE.PAUSED].includes(s.phase)) return `Reading pictures… ${intake.done} of ${intake.total}`;
  if (s.waiting && [PHASE.WEIGHTS_DOWNLOAD, PHASE.WEIGHTS_VERIFY, PHASE.STARTING].includes(s.phase)) return `${PHASE_TEXT[s.phase]} ${s.waiting} pictures will be read once it is ready.`;
  if (s.phase === PHASE.TRAINED && s.imported && !s.training.epochs) return 'Model imported. Try it below, or train to continue from it.';
  if (s.phase === PHASE.PAUSED && s.training.epochs) return `Paused after epoch ${s.training.epoch} of ${s.training.epochs}. Resume continues it.`;
  return PHASE_TEXT[s.phase] || s.phase;
}

// Why a control is off, in words, beside it (and as its tooltip); '' when it is on.
export const READ_ONLY_WHY = 'This tab is read-only while another tab edits the data (see the top of the page).';
function trainBlocker(s, hasEngine, engineWaiting) {
  if (!hasEngine) return 'Training needs the engine, which is not available.';
  if (s.storage?.mode === 'reader') return READ_ONLY_WHY;
  if (engineWaiting) return 'Train becomes available once the base model has loaded.';
  if (intakeBusy()) return `Waiting for ${page.intake.total - page.intake.done} pictures to be read.`;
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
function exportBlocker(s, hasEngine) {
  if (!hasEngine) return 'Exporting needs the engine, which is not available.';
  if (s.phase === PHASE.TRAINING) return 'Pause training to export the model.';
  if (![PHASE.TRAINED, PHASE.PAUSED].includes(s.phase)) return 'Available once a model is trained.';
  if (!s.training.epochs) return 'An imported model is already a file you have; train to export a new one.';
  return '';
}
function explain(button, why, line) {
  button.disabled = !!why;
  button.title = why;
  if (!line) return;
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

export function renderState() {
  const s = page.worker;
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
  renderSettings(s.schema);
  settingsNote(s.engine.status);
  renderThreads(s.threads);
  renderClasses(s.classes);
  const hasEngine = s.engine.status === 'loaded';
  const engineWaiting = hasEngine && [PHASE.STARTING, PHASE.WEIGHTS_DOWNLOAD, PHASE.WEIGHTS_VERIFY, PHASE.WEIGHTS_ERROR].includes(s.phase);
  const sample = $('#use-sample');
  sample.disabled = !hasEngine || !sample.dataset.available || sample.dataset.loading === '1';
  sample.title = !hasEngine ? 'Pictures cannot be read without the engine.' : !sample.dataset.available ? 'This server has no sample pictures.' : sample.dataset.loading === '1' ? 'The sample pictures are being added.' : '';
  explain($('#train'), trainBlocker(s, hasEngine, engineWaiting), '#train-why');
  explain($('#pause'), s.phase === PHASE.TRAINING ? '' : 'Nothing is training.');
  explain($('#resume'), s.phase === PHASE.PAUSED ? '' : 'Nothing is paused.');
  explain($('#export'), exportBlocker(s, hasEngine));
  explain($('#export-onnx'), $('#export').title);
  const readOnly = s.storage?.mode === 'reader';
  $('#import').disabled = !hasEngine || readOnly;
  $('#project-save').disabled = !s.classes.length || s.phase === PHASE.TRAINING || s.phase === PHASE.EXTRACTING;
  $('#project-open').disabled = !hasEngine || readOnly || s.phase === PHASE.TRAINING;
  for (const el of [$('#add-class'), $('#new-class-name'), $('#reset'), sample]) {
    if (readOnly) { el.disabled = true; el.title = READ_ONLY_WHY; } else if (el !== sample) { el.disabled = false; el.title = ''; }
  }
  if (readOnly) explain($('#resume'), READ_ONLY_WHY);
  explain($('#predict-file'), predictBlocker(s, hasEngine), '#predict-why');
  $('#predict-webcam').disabled = $('#predict-file').disabled;
  $('#predict-webcam').title = $('#predict-file').title;
  renderImported(s.imported);
  renderPerClass();
  // After a reload no progress event has come yet: the saved run's position.
  const t = s.training;
  const last = page.history.at(-1); // the saved run's last epoch (also when the data changed since)
  if (!$('#epoch-text').textContent && [PHASE.PAUSED, PHASE.TRAINED].includes(s.phase)) {
    if (t.epochs) {
      $('#epoch-progress').value = t.steps ? t.step / t.steps : 0;
      $('#epoch-text').textContent = `epoch ${t.epoch} of ${t.epochs}, step ${t.step} / ${t.steps}`;
    } else if (last) {
      $('#epoch-progress').value = last.epoch / last.epochs;
      $('#epoch-text').textContent = `epoch ${last.epoch} of ${last.epochs}`;
    }
  }
  scheduleStorageStatus(JSON.stringify([s.saved, s.classes.map((c) => c.count)])); // the space used changes with every save
}

// The batch's progress; the worker reports within a chunk, the page adds the chunks before it.
export function renderIntake(inChunk = 0) {
  const { intake } = page;
  const done = Math.min(intake.total, intake.done + inChunk);
  $('#extract-progress').value = intake.total ? done / intake.total : 0;
  $('#extract-text').textContent = intake.total ? `${done} / ${intake.total}` : '';
}

export function renderProgress(m) {
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
export async function renderEpochs() {
  const { default: uPlot } = await import('../vendor/uPlot.esm.js');
  const { history } = page;
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
export function clearCharts() {
  charts?.loss.setData([[], [], []]);
  charts?.acc.setData([[], [], []]);
  $('#epoch-progress').value = 0;
  $('#epoch-text').textContent = '';
  renderPerClass();
}

// A class of a run by id: its name today, or the name the run knew if it was deleted.
function runClassName(c) {
  const now = page.worker?.classes.find((x) => x.id === c.id);
  return now ? now.name : `${c.name} (deleted)`;
}

// The per-class table and the confusion matrix are labelled by the class ids the run
// reported, never by position in today's class list.
export function renderPerClass() {
  const last = page.history.at(-1);
  const run = page.worker?.run;
  const runClasses = last?.classes || run?.classes || [];
  const byId = new Map((last?.perClass || []).map((p) => [p.id, p]));
  const current = page.worker?.classes || [];
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
