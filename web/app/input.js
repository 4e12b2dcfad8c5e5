// Pictures coming in: files and whole folders (picker or drop), the sample set and the
// webcam (a photo, a held burst, or live frames to predict). Everything chosen is
// counted until the worker has answered for it (page.intake), so Train waits for it.
import { CMD } from '../protocol.js';
import { $, page, intakeBusy, rerender } from './state.js';
import { command } from './rpc.js';
import { addError } from './problems.js';
import { renderIntake } from './render.js';
import { predict } from './predict.js';

const FILES_PER_MESSAGE = 16; // bounds page memory while big folders stream to the worker

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
let intakeTail = Promise.resolve();

function intakeChanged() { renderIntake(); rerender(); }

// Reserves `n` pictures in the batch before their bytes are at hand (the sample set's
// files are still being fetched); sendFiles(..., {reserved: true}) then uses the slots.
function reserveIntake(n) { page.intake.total += n; intakeChanged(); }

export function sendFiles(classId, files, { reserved = false } = {}) {
  if (!reserved) reserveIntake(files.length);
  const run = intakeTail.then(() => sendChunks(classId, files));
  intakeTail = run.catch(() => {});
  return run;
}

// The next message's files are read while the worker adds the current one's (two
// messages' worth of bytes in the page at most). `files`: File objects, or {name, bytes}
// with the bytes already read (the sample set).
async function sendChunks(classId, files) {
  const { intake } = page;
  const read = async (slice) => {
    const chunk = [];
    for (const f of slice) {
      try { chunk.push({ name: f.webkitRelativePath || f.name, bytes: f instanceof Blob ? await f.arrayBuffer() : f.bytes }); } catch (err) { addError({ code: 'file', file: f.name, message: `could not be read (${err.name || 'error'})` }); }
    }
    return chunk;
  };
  try {
    let next = read(files.slice(0, FILES_PER_MESSAGE));
    for (let i = 0; i < files.length; i += FILES_PER_MESSAGE) {
      const slice = files.slice(i, i + FILES_PER_MESSAGE);
      const chunk = await next;
      next = i + FILES_PER_MESSAGE < files.length ? read(files.slice(i + FILES_PER_MESSAGE, i + 2 * FILES_PER_MESSAGE)) : null;
      if (chunk.length) await command(CMD.IMAGES_ADD, { classId, files: chunk }, chunk.map((c) => c.bytes));
      intake.done += slice.length;
      intakeChanged();
    }
  } finally {
    if (!intakeBusy()) { intake.total = intake.done; intakeChanged(); }
  }
}

// The sample set is one file (scripts/sample-data --pack), read as a stream: one request
// instead of ~300, no Blob per picture, and the first pictures reach the engine while the
// rest is still arriving (a classroom network may take seconds for its 18 MB).
export async function useSample() {
  const btn = $('#use-sample');
  btn.dataset.loading = '1';
  btn.disabled = true;
  let reserved = 0;
  try {
    const manifest = await (await fetch('sample/manifest.json')).json();
    reserved = manifest.classes.reduce((n, c) => n + c.files.length, 0);
    reserveIntake(reserved);
    const ids = [];
    for (const cls of manifest.classes) {
      const c = page.worker.classes.find((x) => x.name === cls.name);
      const classId = c ? c.id : (await command(CMD.CLASS_CREATE, { name: cls.name })).classId;
      if (classId === undefined) return;
      ids.push(classId);
    }
    const res = await fetch(`sample/${manifest.pack}`);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const next = byteReader(res.body);
    try {
      for (const [k, cls] of manifest.classes.entries()) {
        let batch = [];
        const flush = () => {
          if (!batch.length) return;
          reserved -= batch.length;
          sendFiles(ids[k], batch, { reserved: true });
          batch = [];
        };
        try {
          for (const [j, name] of cls.files.entries()) {
            batch.push({ name, bytes: await next(cls.sizes[j]) });
            if (batch.length === FILES_PER_MESSAGE) flush();
          }
        } finally { flush(); } // a file cut short keeps the pictures that came whole
      }
    } finally { next.close(); }
  } catch (err) {
    addError({ code: 'file', message: `The sample pictures could not be loaded (${err.message || err}).` });
  } finally {
    if (reserved) { page.intake.total -= reserved; intakeChanged(); } // slots of pictures that never came
    delete btn.dataset.loading;
    rerender();
  }
}

// next(n): the stream's next n bytes as an ArrayBuffer of their own (it is transferred to
// the worker); close(): stop reading.
function byteReader(stream) {
  const reader = stream.getReader();
  let piece = new Uint8Array(0), at = 0;
  const next = async (n) => {
    const out = new Uint8Array(n);
    for (let filled = 0; filled < n;) {
      if (at === piece.length) {
        const { done, value } = await reader.read();
        if (done) throw new Error('the sample file ended early');
        piece = value, at = 0;
        continue;
      }
      const k = Math.min(n - filled, piece.length - at);
      out.set(piece.subarray(at, at + k), filled);
      filled += k, at += k;
    }
    return out.buffer;
  };
  next.close = () => reader.cancel().catch(() => {});
  return next;
}

// Adding to a class from its item in the list (classes.js draws it): the file picker,
// a drop of files or folders, the webcam.
export function attachClassInput(list) {
  const classOf = (el) => Number(el.closest('.class-item')?.dataset.classId);
  list.addEventListener('change', async (e) => {
    const file = e.target;
    if (file.type !== 'file') return;
    const files = [...file.files];
    file.value = '';
    await sendFiles(classOf(file), files);
  });
  list.addEventListener('click', (e) => {
    const btn = e.target.closest('.webcam');
    if (!btn) return;
    const id = classOf(btn);
    openWebcam((bytes) => sendFiles(id, [new File([bytes], `webcam-${Date.now()}.jpg`)]));
  });
  const zone = (e) => e.target.closest?.('.drop-zone');
  list.addEventListener('dragover', (e) => { const z = zone(e); if (z) { e.preventDefault(); z.classList.add('over'); } });
  list.addEventListener('dragleave', (e) => zone(e)?.classList.remove('over'));
  list.addEventListener('drop', async (e) => {
    const z = zone(e);
    if (!z) return;
    e.preventDefault();
    z.classList.remove('over');
    if (page.worker.engine.status !== 'loaded') { addError({ code: 'engine-missing', message: 'pictures cannot be added without the engine' }); return; }
    await sendFiles(classOf(z), await droppedFiles(e.dataTransfer));
  });
  // A drop that misses a drop zone must not make the browser open the file in place of the app.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
}

// ---- webcam ------------------------------------------------------------------------------

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
export async function openWebcam(onPhoto, { live = false } = {}) {
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
// The photo goes to its class (or to the model) without waiting for the engine to read
// it: a held button keeps its pace however slow the device is, and the pictures queue
// (input.js counts them until they are read).
async function capture() {
  const bytes = await frameBytes();
  if (!bytes) { $('#webcam-status').textContent = 'The camera is not ready yet.'; return; }
  webcamPhotos++;
  $('#webcam-status').textContent = webcamPhotos === 1 ? 'Photo taken.' : `${webcamPhotos} photos taken.`;
  webcamTarget?.(bytes);
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

export function attachWebcam() {
  const shot = $('#webcam-capture');
  shot.addEventListener('pointerdown', startBurst);
  shot.addEventListener('keydown', startBurst);
  for (const ev of ['pointerup', 'pointerleave', 'pointercancel', 'keyup', 'blur']) shot.addEventListener(ev, stopBurst);
  shot.addEventListener('click', (e) => e.preventDefault()); // the press already took the photo
  $('#webcam-close').addEventListener('click', closeWebcam);
  $('#webcam-dialog').addEventListener('close', closeWebcam); // also Esc: the camera goes off however the dialog closes
  $('#webcam-live').addEventListener('change', () => { if ($('#webcam-live').checked) liveLoop(); });
  $('#predict-webcam').addEventListener('click', () => openWebcam(predict, { live: true }));
}
