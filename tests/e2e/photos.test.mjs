// A class's phone photos (issue 15): 300 synthetic 4000x3000 JPEGs, over 600 MB, made
// for the test by `tabtrain-bench photos` (nothing large is committed). Each picture is
// decoded once, at a JPEG DCT scale, into its training copy; the original, the copy
// (when it is the smaller) and a small thumbnail go to the Origin Private File System,
// not into IDBFS, whose tree lives in the worker's memory. So:
//   - the Chromium processes grow by less than 300 MB over the idle app while the
//     photos are added, and after a reload;
//   - a reload reads the index (the engine's small records), not the pictures: ready
//     in under 3 s; thumbnails come from the stored thumbnails;
//   - training with augmented copies asks for the training copies, a reload in the
//     middle of it resumes, prediction works, and every original comes back byte for
//     byte: read back by a second tab's worker (IMAGES_GET {original: true}), and in
//     the project file "Save project" writes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as h from './helpers.mjs';
import { predict, setTraining, top } from './flows.mjs';
import { PHOTOS_SKIP, generatePhotos, memoryMB, sampleMemory, addPhotos, readOriginals } from './photos.mjs';
import { PROTOCOL_VERSION } from '../../web/protocol.js';

const PER_CLASS = 100, CLASSES = 3;
// Enough epochs that the reload lands mid-run: an epoch of the 300 photos' rows takes ~0.1 s.
const EPOCHS = 300;
const skip = h.ENGINE_SKIP || h.REAL_WEIGHTS_SKIP || PHOTOS_SKIP;
let app, srv, photos, added;
before(async () => {
  if (skip) return;
  const t0 = Date.now();
  photos = await generatePhotos(CLASSES * (PER_CLASS + 1), CLASSES); // one more per class to predict
  console.log(`# ${CLASSES * (PER_CLASS + 1)} photos of 4000x3000 ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (${(photos.bytes / 1e6).toFixed(0)} MB)`);
  added = Object.fromEntries(Object.entries(photos.classes).map(([k, v]) => [k, v.slice(0, PER_CLASS)]));
  app = h.buildApp();
  srv = await h.startServer(app.root);
});
after(async () => { await srv?.close(); app?.cleanup(); });

const settle = (ms) => new Promise((r) => setTimeout(r, ms));

test(`${CLASSES * PER_CLASS} phone photos: bounded memory, reload under 3 s, train, resume, predict, originals kept`, { skip, timeout: 1_800_000 }, async () => {
  const bytes = Object.values(added).flat().reduce((a, f) => a + fs.statSync(f).size, 0);
  assert.ok(bytes >= 600e6, `${(bytes / 1e6).toFixed(0)} MB of JPEG`);
  const b = await h.launch();
  try {
    const { page, profile } = b;
    await page.goto(srv.url);
    await h.waitForPhase(page, 'ready', 120_000);
    await settle(2000);
    const idle = memoryMB(profile);

    const mem = sampleMemory(profile);
    const t0 = Date.now();
    await addPhotos(page, added);
    const seconds = (Date.now() - t0) / 1000;
    const peak = mem.stop();
    let s = await h.state(page);
    assert.deepEqual(s.errors, []);
    assert.equal(s.pictures.store, 'opfs+indexeddb');
    console.log(`# added ${CLASSES * PER_CLASS} photos (${(bytes / 1e6).toFixed(0)} MB) in ${seconds.toFixed(1)} s: ` +
      `${(CLASSES * PER_CLASS / seconds).toFixed(2)} photos/s on ${s.threads.current} thread(s); Chromium ${idle.toFixed(0)} MB idle, ` +
      `+${(peak - idle).toFixed(0)} MB at most while adding`);
    assert.ok(peak - idle < 300, `the Chromium processes grew by ${(peak - idle).toFixed(0)} MB while adding`);

    const t1 = Date.now();
    await page.reload();
    await h.waitForPhase(page, 'ready', 60_000);
    const reloadMs = Date.now() - t1;
    await settle(2000);
    const reloaded = memoryMB(profile);
    console.log(`# reload to ready: ${reloadMs} ms; Chromium +${(reloaded - idle).toFixed(0)} MB over the idle app after it`);
    assert.ok(reloadMs < 3000, `reload took ${reloadMs} ms`);
    assert.ok(reloaded - idle < 300, `the Chromium processes are ${(reloaded - idle).toFixed(0)} MB above the idle app after a reload`);
    s = await h.state(page);
    assert.deepEqual(s.classes.map((c) => c.count), [PER_CLASS, PER_CLASS, PER_CLASS]);
    // Thumbnails, lazily, from the stored ones.
    await page.evaluate(() => { const d = document.querySelector('details.pictures'); d.open = true; d.scrollIntoView(); });
    await page.waitForSelector('.thumb[data-drawn="1"]', { timeout: 30_000 });

    // Training with an augmented copy per photo: the run asks for every training copy.
    await setTraining(page, { epochs: EPOCHS, augment: ['flip'], copies: 1 });
    await page.click('#train');
    await page.waitForFunction(() => window.tabtrainState.saved?.epoch >= 1, null, { timeout: 900_000 }); // a checkpoint reached storage
    await page.reload();
    const paused = await h.waitForPhase(page, ['paused', 'trained'], 120_000);
    assert.equal(paused.phase, 'paused');
    assert.ok(paused.epoch >= 1 && paused.epoch < EPOCHS, `resumes at epoch ${paused.epoch}`);
    await page.click('#resume');
    const done = await h.waitForPhase(page, 'trained', 900_000);
    assert.equal(done.epoch, EPOCHS);
    for (const [name, files] of Object.entries(photos.classes)) assert.equal(top(await predict(page, files[PER_CLASS])), name, `a held-out photo of ${name}`);

    // Every original, byte for byte, read back by another tab's worker (read-only: this
    // tab owns the storage).
    const digests = await readOriginals(page, PROTOCOL_VERSION);
    const want = Object.fromEntries(Object.entries(added).flatMap(([name, files]) => files.map((f) => [`${name}/${path.basename(f)}`, h.sha256(fs.readFileSync(f))])));
    assert.equal(Object.keys(digests).length, CLASSES * PER_CLASS);
    assert.deepEqual(digests, want);
    // ... and in the project file, read from the picture store one picture at a time.
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 600_000 }), page.click('#project-save')]);
    const zip = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tt-photos-')), 'project.zip');
    fs.copyFileSync(await dl.path(), zip);
    const inZip = JSON.parse(execFileSync('python3', ['-c', [
      'import sys, json, hashlib, zipfile',
      'z = zipfile.ZipFile(sys.argv[1])',
      'print(json.dumps(sorted(hashlib.sha256(z.read(n)).hexdigest() for n in z.namelist() if n.startswith("images/"))))',
    ].join('\n'), zip], { maxBuffer: 1 << 24 }).toString());
    fs.rmSync(path.dirname(zip), { recursive: true, force: true });
    assert.deepEqual(inZip, Object.values(want).sort());
    assert.deepEqual((await h.state(page)).errors, []);
    await h.screenshot(page, 'photos-300');
  } finally { await b.close(); }
});
