// What the page shows when something fails, in words for people (issue 11): the engine's
// messages (tt_last_error) are written for developers and name internal paths, JSON keys
// and bytes. One message per failure class, keyed by the engine's tt_status; `humane`
// is the last line of defence for every message the worker sends.

// tabtrain/status.h, in order.
export const STATUS = Object.freeze({ INVALID_ARG: 1, NOMEM: 2, IO: 3, FORMAT: 4, CORRUPT: 5, SHAPE: 6, UNSUPPORTED: 7, LIMIT: 8, VERSION: 9, MISMATCH: 10, NOT_FOUND: 11 });

const FORMATS = 'JPEG, PNG, WebP, BMP or GIF';

// A picture the engine refused (shown after its file name): the class of failure in
// plain words, then the engine's reason when it is one a person can use.
export function pictureProblem(status, raw = '') {
  if (/already in this class/.test(raw)) return 'is already in this class (the same picture), so it was skipped.';
  const detail = humane(raw);
  const why = detail && !/^not an? /i.test(detail) && detail.length < 160 ? ` (${detail})` : '';
  if (/megapixels/i.test(raw) || status === STATUS.LIMIT) return `is too large to read here${why}.`;
  switch (status) {
    case STATUS.FORMAT: case STATUS.UNSUPPORTED:
      return /^not an? /i.test(detail) ? `is not a picture tabtrain can read (it reads ${FORMATS} files).` : `could not be read${why}.`;
    case STATUS.CORRUPT: return `is damaged or incomplete, so it cannot be read${why}.`;
    case STATUS.NOMEM: return 'could not be read: this tab ran out of memory. Try fewer or smaller pictures.';
    case STATUS.IO: return 'could not be saved on this device (storage problem).';
    default: return `could not be read as a picture${why}.`;
  }
}

// A model or checkpoint file the user imported.
export function modelProblem(status, raw = '') {
  switch (status) {
    case STATUS.VERSION: return 'was made by a newer version of tabtrain; update this app to open it.';
    case STATUS.MISMATCH:
      return /hidden units|backbone blocks|none of the imported/.test(raw) ? humane(raw) : 'was trained on another base model, so it cannot be used with this one.';
    case STATUS.NOMEM: return 'is too large to open in this tab.';
    default: return 'is not a tabtrain model or checkpoint, or it is damaged.';
  }
}

// Engine setting keys as the settings form names them: the labels of the engine's
// settings table (tt_wasm_config_schema), set once the engine has loaded.
let SETTING = {};
export function useSettingLabels(settings) {
  SETTING = Object.fromEntries(settings.map((s) => [s.key, s.label]));
}

// Rewrites what a developer would write into what a person can act on: internal paths
// become what they hold, keys become setting names, byte dumps and huge numbers go.
export function humane(text) {
  return String(text ?? '')
    .replace(/"?\/tabtrain\/ckpt\/[^\s"',;)]*"?/g, 'the saved training')
    .replace(/"?\/tabtrain\/(dataset|pictures)\/[^\s"',;)]*"?/g, 'a saved picture')
    .replace(/"?\/tabtrain\/features\/[^\s"',;)]*"?/g, 'the picture cache')
    .replace(/"?\/(tabtrain|tmp)\/[^\s"',;)]*"?/g, 'a file of this app')
    .replace(/\s*\((first bytes|bytes)[^)]*\)/gi, '')
    .replace(/\b0x[0-9a-f]+\b/gi, '')
    .replace(/\b(sha256:)?[0-9a-f]{16,}\b/gi, '')
    .replace(/\b\d{10,}\b/g, 'a huge number')
    .replace(/^([a-z]+(?:_[a-z]+)*)(?= must be | needs |: )/, (m, key) => (SETTING[key] ? `"${SETTING[key]}"` : m))
    .replace(/"?\b([a-z]+(?:_[a-z]+)+)\b"?/g, (m, key) => (SETTING[key] ? `"${SETTING[key]}"` : key.replace(/_/g, ' ')))
    .replace(/\b(TypeError|RangeError|ReferenceError): /g, '')
    .replace(/\s{2,}/g, ' ')
    .trim();
}

// After a reload the newest saved copy of the training failed its check (a damaged
// file); training goes on from `at` = {epoch, step}, the copy before it.
export function resumeNote(at) {
  const where = at ? ` (${at.epoch} epoch${at.epoch === 1 ? '' : 's'} done)` : '';
  return `The newest saved copy of the training was damaged, so training continues from the copy saved before it${where}. Nothing else was lost.`;
}
