// Page <-> worker protocol, shared by web/app.js and web/worker.js (see docs/protocol.md).
// Every message is a plain object {v: PROTOCOL_VERSION, type, ...}. Commands carry an
// `id` chosen by the page; the worker answers each command with exactly one RESULT of
// the same id. Events (state, progress, epoch, error) are pushed without being asked.
export const PROTOCOL_VERSION = 6;

export const CMD = Object.freeze({
  HELLO: 'hello',                 // {}                       -> result {protocol, engine}
  WEIGHTS_RETRY: 'weights.retry', // {url?}                   -> restarts weights download
  CLASS_CREATE: 'class.create',   // {name}                   -> result {classId}
  CLASS_RENAME: 'class.rename',   // {classId, name}
  CLASS_DELETE: 'class.delete',   // {classId}
  IMAGES_ADD: 'images.add',       // {classId, files:[{name, bytes:ArrayBuffer}]} (bytes transferred)
  IMAGES_REMOVE: 'images.remove', // {imageIds:[int]}
  IMAGES_LIST: 'images.list',     // {classId}                -> result {images:[{id, name}]}
  IMAGES_GET: 'images.get',       // {imageId, original?}     -> result {bytes:ArrayBuffer}: its small thumbnail (JPEG), or with original: true the picture as added
  TRAIN: 'train',                 // {config: the engine's config JSON (docs/config.md) + threads}
  PAUSE: 'pause',                 // {}
  RESUME: 'resume',               // {}
  PREDICT: 'predict',             // {bytes:ArrayBuffer}      -> result {probs:[{name, p}]}
  EXPORT: 'export',               // {format}                 -> result {name, bytes, json:{name, bytes}} ('onnx': no json)
  IMPORT: 'import',               // {name, bytes:ArrayBuffer}  -> result {resumable, model?:{kind, classes, hidden, unfreeze}}
  RESET: 'reset',                 // {}                       -> wipes dataset, features, checkpoints
  PROJECT_SAVE: 'project.save',   // {config}                 -> result {blob:Blob (.zip), pictures, checkpoint} (docs/project-file.md)
  PROJECT_OPEN: 'project.open',   // {file:File}              -> result {classes, pictures, skipped, resumed:{epoch, step, finished}|null, settings}
  TAKE_OVER: 'storage.take-over', // {}                       -> result {reload}: the owning tab stepped down; reload to own the data
});

export const EVT = Object.freeze({
  RESULT: 'result',     // {id, ok, error?:{code, message}, ...payload}
  STATE: 'state',       // {state}  full snapshot of worker-owned state
  PROGRESS: 'progress', // {phase, done, total, unit:'bytes'|'images'|'steps'|'views'} (training: unit 'views' while its features are prepared)
  EPOCH: 'epoch',       // {epoch, epochs, trainLoss, trainAcc, valLoss, valAcc, perClass, confusion}
  ERROR: 'error',       // {code, message, file?, classId?, fatal?}
});

// Values of state.phase.
export const PHASE = Object.freeze({
  STARTING: 'starting',
  MIGRATING: 'migrating',           // a profile of an older version: its pictures move out of IDBFS (state.migrating {done, total})
  WEIGHTS_DOWNLOAD: 'weights-download',
  WEIGHTS_VERIFY: 'weights-verify',
  WEIGHTS_ERROR: 'weights-error',     // download/verify failed; page offers Retry
  WEIGHTS_MISSING: 'weights-missing', // no models/manifest.json on the server
  ENGINE_MISSING: 'engine-missing',   // wasm/tabtrain.mjs not deployed: UI works, no compute
  ENGINE_ERROR: 'engine-error',       // the module exists but failed to start
  READY: 'ready',
  EXTRACTING: 'extracting',
  TRAINING: 'training',
  PAUSED: 'paused',
  TRAINED: 'trained',
});

// Stable error codes (error.code / result.error.code).
export const ERR = Object.freeze({
  PROTOCOL: 'protocol',             // wrong version or malformed message
  BAD_REQUEST: 'bad-request',       // arguments out of contract (unknown class id, empty name)
  WEIGHTS_FETCH: 'weights-fetch',   // network/HTTP failure
  WEIGHTS_CORRUPT: 'weights-corrupt', // size or SHA-256 mismatch
  ENGINE_MISSING: 'engine-missing',
  ENGINE: 'engine',                 // a C call returned a status; message is tt_last_error
  FILE: 'file',                     // one input file rejected (reason in message, name in file)
  STORAGE: 'storage',               // IndexedDB / IDBFS / quota failure
  BUSY: 'busy',                     // command not allowed in the current phase
  READ_ONLY: 'read-only',           // another tab owns the storage; this tab may only look
});

// Per-file limit enforced by the worker before any bytes reach the engine (class names
// are checked by the engine's project store, tabtrain/project.h).
export const MAX_IMAGE_BYTES = 32 * 1024 * 1024;

export function msg(type, fields = {}) {
  return { v: PROTOCOL_VERSION, type, ...fields };
}
