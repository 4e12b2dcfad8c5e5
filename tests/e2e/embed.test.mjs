// Models that leave the app, in headless Chromium with the real weights:
//   1. the app trains three classes and predicts two pictures (a cut-out with alpha, and an
//      opaque 224x224 PNG); Export downloads the model and shows the embed snippet;
//   2. a separate minimal page, served from a folder holding only the embed module's three
//      files, the exported model.safetensors and the pictures, loads the model with the
//      module and classifies the picture bytes, an <img> and a <canvas>: the app's
//      probabilities within 1e-5; a file that is not an export is refused with a message;
//   3. Export ONNX downloads model.onnx, which ONNX Runtime (onnxruntime-node) runs on the
//      opaque picture to the app's probabilities within 1e-4;
//   4. that export, continued in PyTorch by python/tabtrain_ddp.py under torchrun (2 processes,
//      gloo), imports into a fresh app, which predicts what PyTorch computed (within 1e-4).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as h from './helpers.mjs';
import * as f from './flows.mjs';

const EMBED_FILES = ['tabtrain-embed.mjs', 'tabtrain-embed-engine.mjs', 'tabtrain-embed-engine.wasm'];
const EMBED_BUILT = fs.existsSync(path.join(h.ROOT, 'build/wasm/embed/tabtrain-embed-engine.wasm'));
const skip = h.ENGINE_SKIP || h.REAL_WEIGHTS_SKIP || (EMBED_BUILT ? false : 'embed engine not built (scripts/build wasm)');
const CLASSES = ['animals', 'food', 'instrument'];
let app, srv, work, exportedModel;
before(async () => {
  if (skip) return;
  app = h.buildApp();
  srv = await h.startServer(app.root);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tabtrain-e2e-embed-'));
});
after(async () => { await srv?.close(); app?.cleanup(); if (work) fs.rmSync(work, { recursive: true, force: true }); });

// An opaque 224x224 PNG of `src` (flattened on white, centre square, PIL bilinear) and its
// preprocessed input x/127.5 - 1 as float32 NCHW [1][3][224][224].
function squarePicture(src, png) {
  execFileSync('/usr/bin/python3', ['-c', `
import sys, numpy as np
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGBA")
im = Image.alpha_composite(Image.new("RGBA", im.size, (255, 255, 255, 255)), im).convert("RGB")
s = min(im.size); l, t = (im.width - s) // 2, (im.height - s) // 2
im = im.crop((l, t, l + s, t + s)).resize((224, 224), Image.BILINEAR)
im.save(sys.argv[2])
x = np.asarray(im, np.float32) / 127.5 - 1
x.transpose(2, 0, 1).astype("<f4").tofile(sys.argv[2] + ".f32")
`, src, png]);
  const raw = fs.readFileSync(`${png}.f32`);
  return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
}

const byName = (probs) => Object.fromEntries(probs.map((p) => [p.name ?? p.className, p.p ?? p.probability]));
function assertSameProbs(got, want, tol, what) {
  const g = byName(got), w = byName(want);
  assert.deepEqual(Object.keys(g).sort(), Object.keys(w).sort(), what);
  const worst = Math.max(...Object.keys(w).map((k) => Math.abs(g[k] - w[k])));
  assert.ok(worst <= tol, `${what}: max probability difference ${worst} > ${tol} (${JSON.stringify(got)} vs ${JSON.stringify(want)})`);
  return worst;
}

async function downloadOne(page, selector) {
  const [d] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.click(selector)]);
  return { name: d.suggestedFilename(), bytes: fs.readFileSync(await d.path()) };
}

test('an exported model runs in a minimal page through the embed module, and as ONNX in ONNX Runtime, as in the app', { skip }, async () => {
  const cutout = f.pictures(app.root, 'food')[12];
  const square = path.join(work, 'photo.png');
  const squareInput = squarePicture(f.pictures(app.root, 'animals')[12], square);

  const b = await h.openApp(srv.url);
  let appCutout, appSquare, exported, onnx, snippet;
  try {
    const { page } = b;
    await f.addClasses(page, app.root, CLASSES, 8);
    await f.setTraining(page, { epochs: 10, hidden: 16, lr: 0.01 });
    await page.click('#train');
    await h.waitForPhase(page, 'trained', 120_000);
    await h.settled(page);
    appCutout = await f.predict(page, cutout);
    appSquare = await f.predict(page, square);
    // A model that has learnt something, so that the comparisons below are not of near-uniform outputs.
    for (const probs of [appCutout, appSquare]) assert.ok(Math.max(...probs.map((p) => p.p)) > 0.6, JSON.stringify(probs));
    assert.equal(await page.isVisible('#embed-help'), false, 'no snippet before an export');
    exported = exportedModel = (await f.exportFiles(page)).weights;
    await page.waitForSelector('#embed-help[open]');
    snippet = await page.textContent('#embed-snippet');
    assert.match(snippet, /import \{ load \} from '\.\/tabtrain-embed\.mjs'/);
    assert.match(snippet, /load\('model\.safetensors'\)/);
    await h.screenshot(page, 'embed-snippet');
    onnx = await downloadOne(page, '#export-onnx');
    assert.equal(onnx.name, 'model.onnx');
    assert.deepEqual(b.consoleErrors, []);
  } finally { await b.close(); }

  // The minimal page: only the module's files, the export and the pictures.
  const site = path.join(work, 'site');
  fs.mkdirSync(site);
  for (const name of EMBED_FILES) fs.copyFileSync(path.join(app.root, 'embed', name), path.join(site, name));
  fs.writeFileSync(path.join(site, 'model.safetensors'), exported);
  fs.copyFileSync(cutout, path.join(site, 'cutout.png'));
  fs.copyFileSync(square, path.join(site, 'photo.png'));
  fs.writeFileSync(path.join(site, 'index.html'), `<!doctype html>
<meta charset="utf-8"><link rel="icon" href="data:,">
<img id="photo" src="photo.png">
<canvas id="canvas" width="224" height="224"></canvas>
<script type="module">
  import { load } from './tabtrain-embed.mjs';
  try {
    const model = await load('model.safetensors');
    const img = document.getElementById('photo');
    await img.decode();
    const canvas = document.getElementById('canvas');
    canvas.getContext('2d').drawImage(img, 0, 0);
    const bytes = async (url) => (await fetch(url)).arrayBuffer();
    let refused = '';
    try { await load(new Uint8Array([1, 2, 3])); } catch (e) { refused = e.message; }
    window.results = {
      classes: model.classes,
      cutout: await model.predict(await bytes('cutout.png')),
      square: await model.predict(await (await fetch('photo.png')).blob()),
      img: await model.predict(img),
      canvas: await model.predict(canvas),
      refused,
    };
  } catch (e) { window.results = { error: String(e) }; }
</script>
`);
  const site_srv = await h.startServer(site);
  const e = await h.launch();
  try {
    await e.page.goto(`${site_srv.url}index.html`);
    await e.page.waitForFunction(() => window.results, null, { timeout: 60_000 });
    const r = await e.page.evaluate(() => window.results);
    assert.equal(r.error, undefined, r.error);
    assert.deepEqual(r.classes, CLASSES);
    const worst = [
      assertSameProbs(r.cutout, appCutout, 1e-5, 'image bytes with alpha'),
      assertSameProbs(r.square, appSquare, 1e-5, 'a Blob'),
      assertSameProbs(r.img, appSquare, 1e-5, 'an <img>'),
      assertSameProbs(r.canvas, appSquare, 1e-5, 'a <canvas>'),
    ];
    console.log(`# embed module vs app: max probability difference ${Math.max(...worst).toExponential(2)}`);
    assert.match(r.refused, /^tabtrain: /);
    assert.deepEqual(e.consoleErrors, []);
    assert.ok(!site_srv.requests.some((l) => / 404$/.test(l)), site_srv.requests.join('\n'));
  } finally { await e.close(); await site_srv.close(); }

  // The page's ONNX export in ONNX Runtime.
  const { default: ort } = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(onnx.bytes, { intraOpNumThreads: 1 });
  const out = await session.run({ input: new ort.Tensor('float32', squareInput, [1, 3, 224, 224]) });
  const ortProbs = CLASSES.map((className, i) => ({ className, probability: out.probabilities.data[i] }));
  const d = assertSameProbs(ortProbs, appSquare, 1e-4, 'ONNX Runtime on the page\'s model.onnx');
  console.log(`# ONNX Runtime vs app: max probability difference ${d.toExponential(2)} (app: ${JSON.stringify(appSquare.map((p) => p.p))}, onnx: ${JSON.stringify(ortProbs.map((p) => p.probability))})`);
});

const TORCHRUN = '/usr/bin/torchrun';
test('a run continued in PyTorch on two processes imports into the app and predicts as PyTorch does', { skip: skip || (fs.existsSync(TORCHRUN) ? false : 'torchrun missing (python3-torch)') }, async () => {
  assert.ok(exportedModel, 'needs the first test\'s export');
  const data = path.join(work, 'ddp-data'), val = path.join(work, 'ddp-val'), out = path.join(work, 'ddp');
  for (const c of CLASSES) {
    fs.mkdirSync(path.join(data, c), { recursive: true });
    fs.mkdirSync(path.join(val, c), { recursive: true });
    for (const p of f.pictures(app.root, c).slice(0, 8)) fs.copyFileSync(p, path.join(data, c, path.basename(p)));
    for (const p of f.pictures(app.root, c).slice(13, 15)) squarePicture(p, path.join(val, c, path.basename(p)));
    for (const g of fs.readdirSync(path.join(val, c))) if (g.endsWith('.f32')) fs.rmSync(path.join(val, c, g));
  }
  fs.writeFileSync(path.join(work, 'exported.safetensors'), exportedModel);
  // --standalone: a free port of its own (other tests may run beside this one);
  // --redirects/--tee 1: Debian's torch 1.13 on Python 3.11 cannot parse torchrun's default "0".
  execFileSync(TORCHRUN, ['--standalone', '--nproc_per_node', '2', '--redirects', '1', '--tee', '1', path.join(h.ROOT, 'python/tabtrain_ddp.py'),
    '--from', path.join(work, 'exported.safetensors'), '--data', data, '--val', val, '--epochs', '4', '--batch-size', '8',
    '--lr', '0.01', '--out', path.join(out, 'model.safetensors'), '--probs-out', path.join(out, 'probs.jsonl')], { stdio: 'pipe' });
  const torch = fs.readFileSync(path.join(out, 'probs.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(torch.length, 6);

  const b = await h.openApp(srv.url);
  try {
    const { page } = b;
    await page.setInputFiles('#import', { name: 'model.safetensors', mimeType: 'application/octet-stream',
      buffer: fs.readFileSync(path.join(out, 'model.safetensors')) });
    await page.waitForFunction(() => window.__tt.events.some((e) => e.type === 'result' && 'resumable' in e) && window.tabtrainState.pendingCommands === 0);
    assert.deepEqual((await h.state(page)).classes.map((c) => c.name), CLASSES, 'the import creates its classes');
    let worst = 0;
    for (const t of torch) {
      const ours = await f.predict(page, t.path);
      worst = Math.max(worst, assertSameProbs(ours, CLASSES.map((className, i) => ({ className, probability: t.probabilities[i] })), 1e-4, t.path));
    }
    console.log(`# app (imported PyTorch DDP model) vs PyTorch: max probability difference ${worst.toExponential(2)}`);
    assert.deepEqual((await h.state(page)).errors, []);
    assert.deepEqual(b.consoleErrors, []);
  } finally { await b.close(); }
});
