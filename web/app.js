// The page: renders worker events and turns user actions into protocol commands.
// It computes nothing; the worker (web/worker.js) owns the engine and storage.
//   app/state.js     what the page knows; window.tabtrainState
//   app/rpc.js       command round trips with the worker
//   app/render.js    phase, controls and why they are off, progress, charts, tables
//   app/classes.js   the class list and its thumbnails
//   app/settings.js  the settings form, built from the engine's schema
//   app/input.js     files, folders, the sample set, the webcam
//   app/predict.js   "Try it"
//   app/problems.js  the Problems list
//   app/status.js    storage, insecure origins, offline use and updates
// This file wires the controls to commands.
import { CMD, EVT, PHASE } from './protocol.js';
import { $, page, onRedraw, rerender } from './app/state.js';
import { command, listen } from './app/rpc.js';
import { addError, clearErrors } from './app/problems.js';
import { renderState, renderProgress, renderEpochs, renderPerClass, clearCharts } from './app/render.js';
import { trainConfig, applySettings } from './app/settings.js';
import { useSample, attachClassInput, attachWebcam } from './app/input.js';
import { predict } from './app/predict.js';
import { originNotice, storageStatus, offline } from './app/status.js';

onRedraw(renderState);
listen((m) => {
  switch (m.type) {
    case EVT.STATE: page.worker = m.state; rerender(); return true;
    case EVT.PROGRESS: renderProgress(m); return true;
    case EVT.EPOCH: {
      const { history } = page;
      while (history.at(-1)?.epoch >= m.epoch) history.pop();
      history.push(m);
      renderEpochs();
      if (page.worker) renderState();
      return true;
    }
    case EVT.ERROR: addError(m); return true;
    default: return false;
  }
}, () => { $('#phase').textContent = 'The background worker failed; reload the page.'; });

function download(name, bytes) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes]));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

// Resolves once the worker is out of `phase`.
const leaves = (phase) => new Promise((resolve) => {
  const t = setInterval(() => { if (page.worker.phase !== phase) { clearInterval(t); resolve(); } }, 50);
});

$('#add-class-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = $('#new-class-name');
  const name = input.value.trim() || `Class ${(page.worker?.classes.length || 0) + 1}`;
  input.value = '';
  await command(CMD.CLASS_CREATE, { name });
});
$('#use-sample').addEventListener('click', useSample);
attachClassInput($('#class-list'));
attachWebcam();
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
  if (page.worker?.phase === PHASE.PAUSED && !confirm('Start a new training run? The paused run will be discarded (Resume continues it instead).')) return;
  page.history.length = 0;
  const r = await command(CMD.TRAIN, { config: trainConfig(!!page.worker?.imported) });
  if (r.ok) $('#pause').focus(); // Train turns off: keep the keyboard focus on the control that now matters
});
$('#pause').addEventListener('click', async () => {
  const r = await command(CMD.PAUSE);
  if (r.ok) { await leaves(PHASE.TRAINING); $('#resume').focus(); } // Pause turns off: focus moves to Resume
});
$('#resume').addEventListener('click', async () => {
  const r = await command(CMD.RESUME);
  if (r.ok) $('#pause').focus();
});
$('#export').addEventListener('click', async () => {
  const r = await command(CMD.EXPORT, { format: 'safetensors' });
  if (r.ok) { download(r.name, r.bytes); download(r.json.name, r.json.bytes); showEmbedSnippet(r.name); }
});
// After an export: how to run that file in one's own page with the embed module (web/embed).
function showEmbedSnippet(model) {
  const help = $('#embed-help');
  if (!help.dataset.available) return;
  const names = (page.worker?.classes ?? []).map((c) => c.name).join(', ');
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
  const r = await command(CMD.PROJECT_SAVE, { config: trainConfig(!!page.worker?.imported) });
  if (r.ok) download('tabtrain-project.zip', r.blob);
});
$('#project-open').addEventListener('change', async (e) => {
  const f = e.target.files[0];
  e.target.value = '';
  if (!f || (page.worker?.classes.length && !confirm(`Open "${f.name}"? It replaces the classes, pictures and training here (save this project first to keep them).`))) return;
  page.history.length = 0;
  clearCharts();
  const r = await command(CMD.PROJECT_OPEN, { file: f });
  if (r.ok) applySettings(r.settings);
});
// The confirmation says what will happen, and it happens: training is paused first.
$('#reset').addEventListener('click', async () => {
  const training = page.worker?.phase === PHASE.TRAINING;
  if (!confirm(training ? 'Stop training and delete all classes, pictures and training?' : 'Delete all classes, pictures and training?')) return;
  if (training) {
    await command(CMD.PAUSE);
    await leaves(PHASE.TRAINING);
  }
  page.history.length = 0;
  await command(CMD.RESET);
  clearCharts();
});
$('#clear-errors').addEventListener('click', clearErrors);
$('#predict-file').addEventListener('change', async (e) => {
  const f = e.target.files[0];
  e.target.value = '';
  if (f) await predict(await f.arrayBuffer(), f.name);
});

originNotice();
storageStatus();
fetch('embed/tabtrain-embed-engine.wasm', { method: 'HEAD' }).then((r) => { if (r.ok) $('#embed-help').dataset.available = '1'; }, () => {});
fetch('sample/manifest.json', { method: 'HEAD' }).then((r) => { if (r.ok) $('#use-sample').dataset.available = '1'; rerender(); }, () => {});
offline();
renderPerClass();
