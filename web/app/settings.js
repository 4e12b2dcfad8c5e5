// The training settings form, built from the engine's settings table
// (tt_wasm_config_schema, docs/config.md): every setting's name, label, help, default,
// range and choices, and the presets, come from there, so this file holds none of them.
// A field's name is the setting's key, and the form reads back into the engine's own
// config JSON. The Threads setting is the page's (engine-build.js), not the engine's.
import { $ } from './state.js';
import { defaultThreads } from '../engine-build.js';

const SETTINGS_KEY = 'tabtrain.settings'; // the form, kept in this browser across reloads
const IMPORTED_KEY = 'tabtrain.imported'; // the imported model the form was last matched to
let schema = null;

const form = () => $('#settings');
const fields = (key) => [...form().querySelectorAll(`[data-setting="${key}"]`)];

// One control per setting, by its type: number (int or number), select (choice),
// checkbox (bool), a checkbox per choice (list: a comma-separated subset).
function control(s) {
  const wrap = document.createElement(s.type === 'list' ? 'fieldset' : 'label');
  wrap.title = s.help;
  wrap.dataset.row = s.key;
  const label = (text) => document.createTextNode(text);
  if (s.type === 'list') {
    const legend = document.createElement('legend');
    legend.textContent = s.label;
    wrap.append(legend);
    for (const c of s.choices) {
      const l = document.createElement('label');
      const box = Object.assign(document.createElement('input'), { type: 'checkbox', name: s.key, value: c });
      box.dataset.setting = s.key;
      l.append(box, label(` ${c}`));
      wrap.append(l);
    }
    return wrap;
  }
  let input;
  if (s.type === 'choice') {
    input = document.createElement('select');
    input.append(...s.choices.map((c) => Object.assign(document.createElement('option'), { value: c, textContent: c })));
  } else if (s.type === 'bool') {
    input = Object.assign(document.createElement('input'), { type: 'checkbox' });
    wrap.classList.add('checkbox-row');
  } else {
    input = Object.assign(document.createElement('input'), { type: 'number', min: String(s.min), max: String(s.max), step: s.type === 'int' ? '1' : 'any' });
  }
  input.name = s.key;
  input.dataset.setting = s.key;
  if (s.type === 'bool') wrap.append(input, label(` ${s.label}`));
  else wrap.append(label(`${s.label} `), input);
  return wrap;
}

// Values by key, as the engine's JSON takes them.
function setValues(values) {
  for (const s of schema.settings) {
    if (!(s.key in values)) continue;
    const v = values[s.key];
    for (const el of fields(s.key)) {
      if (s.type === 'list') el.checked = String(v).split(',').includes(el.value);
      else if (s.type === 'bool') el.checked = !!v;
      else el.value = String(v);
    }
  }
}

// The form as the engine's config. An emptied number field is left out: the engine
// then uses its default, which is what the field showed before it was emptied.
function values({ withImport }) {
  const out = {};
  for (const s of schema.settings) {
    if (s.group === 'import' && !withImport) continue;
    const els = fields(s.key);
    if (s.type === 'list') out[s.key] = els.filter((el) => el.checked).map((el) => el.value).join(',');
    else if (s.type === 'bool') out[s.key] = els[0].checked;
    else if (s.type === 'choice') out[s.key] = els[0].value;
    else if (els[0].value !== '' && Number.isFinite(Number(els[0].value))) out[s.key] = Number(els[0].value);
  }
  return out;
}

const defaults = () => Object.fromEntries(schema.settings.map((s) => [s.key, s.default]));
const presetValues = (p) => ({ ...defaults(), ...p.settings });
const same = (a, b) => Object.keys(a).every((k) => String(a[k]) === String(b[k]));

// The preset menu shows the preset the form equals, else Custom.
function showPreset() {
  const now = values({ withImport: false });
  const p = schema.presets.find((x) => same(Object.fromEntries(Object.keys(now).map((k) => [k, presetValues(x)[k]])), now));
  form().elements.preset.value = p ? p.key : 'custom';
}

function save() {
  const v = { ...values({ withImport: true }), threads: form().elements.threads.value };
  try { localStorage.setItem(SETTINGS_KEY, JSON.stringify(v)); } catch { /* storage off: settings last the visit */ }
}
function restore() {
  let v = null;
  try { v = JSON.parse(localStorage.getItem(SETTINGS_KEY)); } catch { v = null; }
  if (!v) return false;
  setValues(v);
  if (v.threads) form().elements.threads.value = v.threads;
  return true;
}
let restored = false;

// Builds the form once the worker has sent the engine's schema; before that (or with
// no engine) a line says why there is none.
export function renderSettings(s) {
  if (schema || !s) return;
  schema = s;
  const f = form();
  const menu = f.elements.preset;
  menu.replaceChildren(...schema.presets.map((p) => Object.assign(document.createElement('option'), { value: p.key, textContent: p.label, title: p.help })),
    Object.assign(document.createElement('option'), { value: 'custom', textContent: 'Custom' }));
  const place = { basic: $('#settings-basic'), advanced: $('#settings-advanced'), import: $('#settings-import') };
  for (const row of schema.settings) place[row.group]?.append(control(row));
  setValues(defaults());
  restored = restore();
  showPreset();
  $('#settings-wait').hidden = true;
  $('#settings-fields').hidden = false;
  menu.addEventListener('change', () => {
    const p = schema.presets.find((x) => x.key === menu.value);
    if (p) setValues(presetValues(p));
    save();
  });
  f.addEventListener('input', (e) => { if (e.target !== menu) showPreset(); save(); });
  f.addEventListener('change', (e) => { if (e.target !== menu) showPreset(); save(); });
}
export function settingsNote(engineStatus) {
  if (schema) return;
  $('#settings-wait').textContent = engineStatus === 'loading' ? 'The settings appear once the engine has loaded…' : 'Training settings need the engine, which is not available.';
}

// An opened project's settings (the engine's keys) into the form.
export function applySettings(v) {
  if (!schema) return;
  setValues(v);
  showPreset();
  save();
}

// What Train sends: the engine's config, and the Threads setting.
export function trainConfig(hasImport) {
  const threads = Number(form().elements.threads.value);
  return { ...values({ withImport: hasImport }), threads: Number.isFinite(threads) && threads > 0 ? threads : defaultThreads() };
}

form().elements.threads.value = defaultThreads();
// The Threads setting applies from the next run; a single-threaded engine offers none.
export function renderThreads(t) {
  if (!t) return;
  const input = form().elements.threads;
  input.disabled = !t.threaded;
  input.max = t.available;
  if (!t.threaded) input.value = 1;
  $('#threads-note').textContent = t.threaded
    ? `computing on ${t.current} ${t.current === 1 ? 'thread' : 'threads'}`
    : `one thread: ${t.reason}`;
}

// An imported model: offer to continue from it (the "import" settings), with the
// settings it needs (those of its fields that are settings: its head and fine-tuned blocks).
export function renderImported(imp) {
  const row = $('#imported-row');
  if (!schema) return;
  const importRows = schema.settings.filter((s) => s.group === 'import');
  if (!imp) { row.hidden = true; setValues(Object.fromEntries(importRows.map((s) => [s.key, false]))); return; }
  $('#imported-name').textContent = `(${imp.name}: ${imp.classes.join(', ')})`;
  // The model by what it is (its file name is not kept across reloads).
  const id = JSON.stringify([imp.kind, imp.classes, imp.hidden, imp.unfreeze]);
  if (row.hidden && row.dataset.seen !== id) { // first time this model is shown: match its head and tail
    row.dataset.seen = id;
    let known = null;
    try { known = localStorage.getItem(IMPORTED_KEY); } catch { /* kept for the visit */ }
    if (restored && known === id) { row.hidden = false; return; } // the form kept the user's choice
    try { localStorage.setItem(IMPORTED_KEY, id); } catch { /* kept for the visit */ }
    setValues({ ...Object.fromEntries(importRows.map((s) => [s.key, true])), ...Object.fromEntries(schema.settings.filter((s) => s.key in imp).map((s) => [s.key, imp[s.key]])) });
    showPreset();
    save();
  }
  row.hidden = false;
}
