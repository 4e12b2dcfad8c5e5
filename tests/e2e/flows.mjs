// Page flows shared by the engine end-to-end tests: adding the sample pictures per
// class, the training settings, predicting, exporting, and reading the exported tensors.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './helpers.mjs';

// The built-in sample set's pictures of a class as files (as a user's folder would give
// them), in a fixed order: cut from the app's sample pack into a folder beside the app
// copy the first time they are asked for (an older app, built from git, has the folders).
export function pictures(root, cls) {
  const old = path.join(root, 'sample');
  const dir = fs.existsSync(path.join(old, cls)) ? old : path.join(root, '..', 'sample-files');
  if (!fs.existsSync(dir)) {
    const tmp = `${dir}.${process.pid}`;
    for (const c of h.samplePictures(root).classes) {
      fs.mkdirSync(path.join(tmp, c.name), { recursive: true });
      for (const p of c.pictures) fs.writeFileSync(path.join(tmp, p.name), p.bytes);
    }
    fs.renameSync(tmp, dir);
  }
  return fs.readdirSync(path.join(dir, cls)).sort().map((f) => path.join(dir, cls, f));
}

// Creates the classes, gives each the first n sample pictures of its name, waits for the counts.
export async function addClasses(page, root, classes, n) {
  const base = (await h.state(page)).classes.length;
  for (const [i, name] of classes.entries()) {
    await page.fill('#new-class-name', name);
    await page.click('#add-class');
    await page.waitForSelector(`input[type=file][data-class-index="${base + i}"]`);
  }
  await addPictures(page, root, classes, 0, n);
}

// Sample pictures [from, from + n) of each class's name to the class of that name.
export async function addPictures(page, root, classes, from, n) {
  const names = (await h.state(page)).classes.map((c) => c.name);
  const want = {};
  for (const name of classes) {
    const i = names.indexOf(name);
    want[name] = (await h.state(page)).classes[i].count + n;
    await page.setInputFiles(`input[type=file][data-class-index="${i}"]`, pictures(root, name).slice(from, from + n));
  }
  await page.waitForFunction((want) => window.tabtrainState.classes.every((c) => !(c.name in want) || c.count === want[c.name]) &&
    window.tabtrainState.pendingCommands === 0, want, { timeout: 120_000 });
}

// Fields not given are set to plain values (no dropout, smoothing or early stopping), so
// a test's run does not change when the app's recommended defaults do.
// threads: the Threads setting (left at its default when not given).
export async function setTraining(page, { epochs, hidden = 0, batch = 4, lr = 0.003, augment = [], copies = 2, unfreeze = 0, dropout = 0, smoothing = 0, patience = 0, threads }) {
  await page.fill('#settings [name=epochs]', String(epochs));
  if (threads !== undefined) await page.fill('#settings [name=threads]', String(threads));
  await page.fill('#settings [name=batch_size]', String(batch));
  await page.fill('#settings [name=lr]', String(lr));
  for (const a of ['flip', 'zoom', 'shear', 'brightness']) await page.setChecked(`#settings [name=augment][value=${a}]`, augment.includes(a));
  await page.fill('#settings [name=augment_views]', String(copies));
  await page.evaluate(() => { document.querySelector('#settings details').open = true; }); // "Advanced"
  await page.fill('#settings [name=hidden]', String(hidden));
  await page.fill('#settings [name=unfreeze]', String(unfreeze));
  await page.fill('#settings [name=dropout]', String(dropout));
  await page.fill('#settings [name=label_smoothing]', String(smoothing));
  await page.fill('#settings [name=patience]', String(patience));
}

// Sends one picture to #predict-file and returns the worker's answer [{classId, name, p}].
export async function predict(page, file) {
  const before = await page.evaluate(() => window.__tt.events.filter((e) => e.type === 'result' && e.probs).length);
  await page.setInputFiles('#predict-file', file);
  await page.waitForFunction((n) => window.__tt.events.filter((e) => e.type === 'result' && e.probs).length > n, before);
  return page.evaluate(() => window.__tt.events.filter((e) => e.type === 'result' && e.probs).at(-1).probs);
}
export const top = (probs) => probs.reduce((a, b) => (b.p > a.p ? b : a)).name;

// Exports through the page's button: two downloads, model.safetensors and model.json.
export async function exportFiles(page) {
  const downloads = [];
  const both = new Promise((resolve) => {
    const on = (d) => { downloads.push(d); if (downloads.length === 2) { page.off('download', on); resolve(); } };
    page.on('download', on);
  });
  await page.click('#export');
  let timer; // cleared once both came: a pending timer keeps the test file running for a minute
  await Promise.race([both, new Promise((_, no) => { timer = setTimeout(() => no(new Error(`${downloads.length} of 2 downloads`)), 60_000); })])
    .finally(() => clearTimeout(timer));
  const byName = Object.fromEntries(downloads.map((d) => [d.suggestedFilename(), d]));
  assert.deepEqual(Object.keys(byName).sort(), ['model.json', 'model.safetensors']);
  return { weights: fs.readFileSync(await byName['model.safetensors'].path()),
    json: JSON.parse(fs.readFileSync(await byName['model.json'].path(), 'utf8')) };
}

// Header (metadata apart) and data section of a safetensors file.
function parse(buf) {
  const n = Number(buf.readBigUInt64LE(0));
  const { __metadata__: meta, ...header } = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  return { header, meta, data: buf.subarray(8 + n) };
}

// Tensor names and metadata of a safetensors file.
export function tensorNames(buf) {
  const { header, meta } = parse(buf);
  return { names: Object.keys(header), meta };
}

// The tensors whose names match `pattern`, by name -> hex SHA-256 of their bytes.
export function tensorHashes(buf, pattern) {
  const { header, meta, data } = parse(buf);
  const out = {};
  for (const [name, t] of Object.entries(header)) if (pattern.test(name)) out[name] = h.sha256(data.subarray(...t.data_offsets));
  return { tensors: out, meta };
}
