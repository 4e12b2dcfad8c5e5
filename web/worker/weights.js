// The base model's weights: the manifest, the IndexedDB cache, a streamed download
// with progress, and the SHA-256 check.
import { ERR, EVT, PHASE } from '../protocol.js';
import { state, post, setPhase, fail, CommandError, PROGRESS_INTERVAL_MS } from './context.js';
import { idb } from './storage.js';
import { sha256Hex } from './engine.js';

const MANIFEST_URL = new URL('../models/manifest.json', import.meta.url);

// The reason first, then the phase: a page that sees the error phase has the error to show with it.
function failed(code, message, extra) {
  state.weights.status = 'error';
  fail(code, message, extra);
  setPhase(PHASE.WEIGHTS_ERROR);
  return null;
}

async function verify(bytes, manifest) {
  setPhase(PHASE.WEIGHTS_VERIFY);
  if (bytes.byteLength !== manifest.size) return `it has ${bytes.byteLength} bytes instead of ${manifest.size}`;
  const got = await sha256Hex(bytes);
  if (got === null) return null; // no engine and no crypto.subtle: nothing could use or check them
  return got === manifest.sha256 ? null : 'its SHA-256 checksum is not the expected one';
}

async function download(url, manifest) {
  state.weights = { status: 'downloading', source: 'network', bytes: 0, total: manifest.size, sha256: manifest.sha256 };
  setPhase(PHASE.WEIGHTS_DOWNLOAD);
  const res = await fetch(url, { cache: 'no-store' });
  if (!res.ok || !res.body) throw new CommandError(ERR.WEIGHTS_FETCH, `the server answered ${res.status} ${res.statusText || ''} for the model file`.trim());
  // Preallocated to the manifest size: no re-copying, and an oversize body is caught early.
  const buf = new Uint8Array(manifest.size);
  const reader = res.body.getReader();
  let got = 0, last = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (got + value.byteLength > buf.byteLength) {
      await reader.cancel();
      throw new CommandError(ERR.WEIGHTS_CORRUPT, `weights larger than the expected ${manifest.size} bytes`);
    }
    buf.set(value, got);
    got += value.byteLength;
    const now = performance.now();
    if (now - last >= PROGRESS_INTERVAL_MS) {
      last = now;
      state.weights.bytes = got;
      post(EVT.PROGRESS, { phase: PHASE.WEIGHTS_DOWNLOAD, done: got, total: manifest.size, unit: 'bytes' });
    }
  }
  state.weights.bytes = got;
  post(EVT.PROGRESS, { phase: PHASE.WEIGHTS_DOWNLOAD, done: got, total: manifest.size, unit: 'bytes' });
  return got === buf.byteLength ? buf.buffer : buf.buffer.slice(0, got);
}

// The verified weights' bytes, from the cache or the network (`url` overrides the
// manifest's file); null after saying why there are none.
export async function ensureWeights(url) {
  let manifest;
  try {
    const r = await fetch(MANIFEST_URL, { cache: 'no-store' });
    if (r.status === 404) { state.weights.status = 'missing'; setPhase(PHASE.WEIGHTS_MISSING); return null; }
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    manifest = await r.json();
  } catch (e) {
    // Offline: fall back to whatever weights the cache holds.
    manifest = null;
    const cached = await idb('weights', 'readonly', (s) => s.get('current')).catch(() => null);
    if (cached) manifest = cached.manifest;
    else return failed(ERR.WEIGHTS_FETCH, `models/manifest.json: ${e.message}`);
  }
  const cached = await idb('weights', 'readonly', (s) => s.get('current')).catch(() => null);
  if (cached && cached.manifest.sha256 === manifest.sha256) {
    state.weights = { status: 'verifying', source: 'cache', bytes: cached.bytes.byteLength, total: manifest.size, sha256: manifest.sha256 };
    const bad = await verify(cached.bytes, manifest);
    if (!bad) { state.weights.status = 'ready'; return cached.bytes; }
    fail(ERR.WEIGHTS_CORRUPT, `The copy of the base model stored on this device is damaged (${bad}); downloading it again.`);
  }
  let bytes;
  try {
    const src = url || new URL(manifest.file, MANIFEST_URL).href;
    bytes = await download(src, manifest);
    state.weights.status = 'verifying';
    const bad = await verify(bytes, manifest);
    if (bad) throw new CommandError(ERR.WEIGHTS_CORRUPT, `The downloaded base model is damaged or not the expected file: ${bad}.`);
    state.weights.status = 'ready';
  } catch (e) {
    return failed(e.code || ERR.WEIGHTS_FETCH, e.message || String(e), { retry: true });
  }
  try {
    await idb('weights', 'readwrite', (s) => s.put({ manifest, bytes, savedAt: Date.now() }, 'current'));
  } catch (e) {
    // Still usable this session; only the next visit pays the download again.
    fail(ERR.STORAGE, `weights not cached (${e.name === 'QuotaExceededError' ? 'storage quota exceeded' : e.message}); they will be downloaded again next visit`);
  }
  return bytes;
}
