// A profile written by the app before pictures left IDBFS opens in this build and is
// migrated on first start (web/migrate.js), with a progress line: the same classes and
// pictures (every original byte for byte), the imported model, the run's checkpoint
// (restored: it predicts as before), thumbnails, and training goes on; IDBFS keeps only
// the project's index. Two older versions wrote such profiles, each IDBFS holding every
// picture in the worker's memory:
//   - engine ABI 3, before the project store: every picture inside its record;
//   - engine ABI 4, the project store: project.json and every picture as pictures/<id>.
// An old app is that version's own code, built from git into build/e2e/old-<commit> (its
// engine at -O1 -DNDEBUG, quicker to compile than a release build) and kept there for
// the next run; both apps are served on one origin, in turn, to one browser profile.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './helpers.mjs';
import { exportFiles, pictures, predict, setTraining } from './flows.mjs';
import { PHOTOS_SKIP, generatePhotos, readOriginals } from './photos.mjs';
import { PROTOCOL_VERSION } from '../../web/protocol.js';

const OLDS = [
  { commit: 'c90af89c51e5d9f82058717253686937930babec', protocol: 3, what: 'before the project store (pictures inside the records)' },
  { commit: 'efe083a831a9ba0963b1b945360e2a4f4ccb8b3e', protocol: 4, what: 'of the project store (pictures as IDBFS files)' },
];
const CLASSES = ['animals', 'food', 'instrument'];
const PER_CLASS = 3, EPOCHS = 3;

// The settings form of the ABI 3 app, before the page built it from the engine's schema.
async function setTrainingBeforeSchema(page, { epochs, augment = [], copies = 2 }) {
  await page.fill('#settings [name=epochs]', String(epochs));
  await page.fill('#settings [name=batchSize]', '4');
  await page.fill('#settings [name=learningRate]', '0.003');
  for (const a of ['flip', 'zoom', 'shear', 'brightness']) await page.setChecked(`#settings [name=${a}]`, augment.includes(a));
  await page.fill('#settings [name=augmentViews]', String(copies));
  await page.evaluate(() => { document.querySelector('#settings details').open = true; }); // "Advanced"
  for (const [name, v] of [['hiddenUnits', 0], ['unfreeze', 0], ['dropout', 0], ['labelSmoothing', 0], ['patience', 0]]) await page.fill(`#settings [name=${name}]`, String(v));
}

// Train in the old app until its run reaches `epochs`: its phase may still read "trained"
// from the run before for a moment after the click (the old page sets it on the worker's
// answer), so the phase alone does not say this run has finished.
async function trainOld(page, epochs) {
  await page.click('#train');
  await page.waitForFunction((n) => window.tabtrainState.phase === 'trained' && window.tabtrainState.epoch === n, epochs, { timeout: 300_000 });
}

function commitMissing(commit) {
  try { execFileSync('git', ['-C', h.ROOT, 'cat-file', '-e', `${commit}^{commit}`], { stdio: 'ignore' }); return false; } catch { return `commit ${commit.slice(0, 7)} not in this clone (shallow?)`; }
}
const skip = h.ENGINE_SKIP || h.REAL_WEIGHTS_SKIP || PHOTOS_SKIP ||
  (!fs.existsSync(path.join(h.ROOT, 'build/deps/wasm/lib/libjpeg.a')) && 'build/deps/wasm missing (scripts/setup)');

// The old version's web app: its sources from git, its engine built with Emscripten at -O1
// against the same decoder builds, assembled by its own scripts/build-web.
function oldApp(OLD) {
  const dir = path.join(h.ROOT, 'build/e2e', `old-${OLD.slice(0, 12)}`);
  const web = path.join(dir, 'web');
  if (fs.existsSync(path.join(web, 'wasm/tabtrain.wasm'))) return web;
  const src = path.join(dir, 'src');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(src, { recursive: true });
  execFileSync('bash', ['-c', `git -C "${h.ROOT}" archive ${OLD} | tar -x -C "${src}"`]);
  const env = { ...process.env, NODE_PATH: process.env.NODE_PATH || '/usr/share/nodejs' };
  const deps = path.join(h.ROOT, 'build/deps');
  execFileSync('emcmake', ['cmake', '-S', src, '-B', path.join(dir, 'build'), '-DCMAKE_BUILD_TYPE=None', '-DCMAKE_C_FLAGS=-O1 -DNDEBUG', '-DTT_WASM_THREADS=OFF',
    '-DTT_BUILD_TESTS=OFF', `-DTT_WASM_DEPS=${deps}/wasm`, `-DTT_PROTOBUF_C_SOURCE=${deps}/protobuf-c`, `-DTT_CMOCKA_SOURCE=${deps}/cmocka`], { env, stdio: 'pipe' });
  execFileSync('cmake', ['--build', path.join(dir, 'build'), '-j', '2', '--target', 'tabtrain_wasm'], { env, stdio: 'pipe' });
  fs.symlinkSync(path.join(h.ROOT, 'node_modules'), path.join(src, 'node_modules'));
  execFileSync('bash', [path.join(src, 'scripts/build-web'), '--out', web, '--weights', path.join(h.ROOT, 'models', h.WEIGHTS_NAME)], {
    env: { ...env, TT_WASM_DIR: path.join(dir, 'build/engine'), TT_WASM_MT_DIR: path.join(dir, 'none'), TT_EMBED_DIR: path.join(dir, 'none') }, stdio: 'pipe' });
  return web;
}

let app, photos;
before(async () => {
  if (skip) return;
  app = h.buildApp();
  photos = await generatePhotos(2, 2);
});
after(() => app?.cleanup());

for (const { commit: OLD, protocol, what } of OLDS) test(`a profile ${what} migrates on first start: nothing lost, run resumes`, { skip: skip || commitMissing(OLD), timeout: 1_800_000 }, async () => {
  const t0 = Date.now();
  const oldRoot = oldApp(OLD);
  console.log(`# the old app (${OLD.slice(0, 7)}) is built (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  const srvOld = await h.startServer(oldRoot, { isolation: false });
  const port = new URL(srvOld.url).port;
  let srvNew;
  const b = await h.launch({ serviceWorkers: 'block' }); // the old shell must not be served from a cache
  try {
    const { page } = b;
    // 1. The old version: 11 pictures (two of them 12-megapixel photos), an imported
    //    model, a finished run with augmented views (its checkpoint is restored after the
    //    migration by recomputing the views whose cache entries the migration dropped).
    await page.goto(srvOld.url);
    await h.waitForPhase(page, 'ready', 300_000);
    const add = (name, files) => page.setInputFiles(`input[type=file][data-class-index="${CLASSES.indexOf(name)}"]`, files);
    for (const name of CLASSES) {
      await page.fill('#new-class-name', name);
      await page.click('#add-class');
      await page.waitForSelector(`input[type=file][data-class-index="${CLASSES.indexOf(name)}"]`);
      await add(name, pictures(oldRoot, name).slice(0, PER_CLASS));
    }
    const big = [photos.classes.class1[0], photos.classes.class2[0]];
    for (const [i, f] of big.entries()) await add(CLASSES[i], f);
    await page.waitForFunction(() => window.tabtrainState.classes.map((c) => c.count).join() === '4,4,3' && window.tabtrainState.pendingCommands === 0, null, { timeout: 600_000 });
    const setOld = protocol === 3 ? setTrainingBeforeSchema : setTraining;
    await setOld(page, { epochs: 1 });
    await trainOld(page, 1);
    const exported = await exportFiles(page);
    const file = path.join(path.dirname(oldRoot), 'model.safetensors');
    fs.writeFileSync(file, exported.weights);
    await page.setInputFiles('#import', file);
    await page.waitForFunction(() => window.tabtrainState.imported && window.tabtrainState.pendingCommands === 0, null, { timeout: 60_000 });
    await setOld(page, { epochs: EPOCHS, augment: ['flip'], copies: 1 });
    await trainOld(page, EPOCHS);
    await h.settled(page);
    const was = await h.state(page);
    assert.equal(was.protocol, protocol, 'the profile is written by the old version');
    const probe = pictures(oldRoot, 'food')[PER_CLASS + 1];
    const probsBefore = await predict(page, probe);

    // 2. This version on the same origin and profile: migration, then everything as it was.
    await srvOld.close();
    srvNew = await h.startServer(app.root, { isolation: false, args: ['--port', port] });
    await page.reload();
    const s = await h.waitForPhase(page, 'trained', 300_000);
    assert.equal(s.protocol, PROTOCOL_VERSION);
    const progress = await page.evaluate(() => window.__tt.events.filter((e) => e.type === 'progress' && e.phase === 'migrating').map((e) => [e.done, e.total]));
    assert.deepEqual(progress.at(-1), [11, 11], `migration progress ${JSON.stringify(progress)}`);
    assert.deepEqual(s.errors, []);
    assert.equal(s.pictures.store, 'opfs+indexeddb');
    assert.deepEqual(s.classes.map((c) => [c.name, c.count]), was.classes.map((c) => [c.name, c.count]));
    // (its file name is not kept across reloads, in the old version neither: "imported model")
    assert.deepEqual({ ...s.imported, name: null }, { ...was.imported, name: null });
    assert.equal(was.epoch, EPOCHS);
    assert.equal(s.epoch, EPOCHS);
    assert.deepEqual(s.saved, was.saved);
    const probsAfter = await predict(page, probe);
    for (const [i, p] of probsBefore.entries()) assert.ok(Math.abs(probsAfter[i].p - p.p) < 1e-5, `${p.name}: ${probsAfter[i].p} vs ${p.p}`);
    // IDBFS keeps the index only: project.json, no record, no picture, the layout mark.
    const idbfs = await page.evaluate(() => new Promise((resolve, reject) => {
      const rq = indexedDB.open('/tabtrain');
      rq.onerror = () => reject(rq.error);
      rq.onsuccess = () => {
        const store = rq.result.transaction('FILE_DATA').objectStore('FILE_DATA');
        const keys = store.getAllKeys(), values = store.getAll();
        values.onsuccess = () => resolve(Object.fromEntries(keys.result.map((k, i) => [k, values.result[i].contents?.byteLength ?? -1])));
      };
    }));
    const pictureKeys = Object.keys(idbfs).filter((k) => /\/dataset\/img-\d+\.safetensors$|\/pictures\/\d+$/.test(k));
    assert.deepEqual(pictureKeys, []);
    assert.ok(idbfs['/tabtrain/project.json'] > 0 && idbfs['/tabtrain/project.json'] < 200 * 11, `project.json of ${idbfs['/tabtrain/project.json']} bytes`);
    assert.ok('/tabtrain/layout' in idbfs);
    const want = {};
    for (const name of CLASSES) for (const f of pictures(oldRoot, name).slice(0, PER_CLASS)) want[`${name}/${path.basename(f)}`] = h.sha256(fs.readFileSync(f));
    for (const [i, f] of big.entries()) want[`${CLASSES[i]}/${path.basename(f)}`] = h.sha256(fs.readFileSync(f));
    assert.deepEqual(await readOriginals(page, PROTOCOL_VERSION), want);
    await page.evaluate(() => { const d = document.querySelector('details.pictures'); d.open = true; d.scrollIntoView(); });
    await page.waitForSelector('.thumb[data-drawn="1"]', { timeout: 30_000 });

    // 3. A second start reads the mark and moves nothing; training goes on (augmented
    //    views from the stored copies and originals).
    await page.reload();
    await h.waitForPhase(page, 'trained', 120_000);
    assert.deepEqual(await page.evaluate(() => window.__tt.events.filter((e) => e.type === 'progress' && e.phase === 'migrating').length), 0);
    await setTraining(page, { epochs: 2, augment: ['flip', 'zoom'], copies: 1 });
    await page.click('#train');
    await page.waitForFunction(() => window.tabtrainState.phase === 'trained' &&
      window.__tt.events.some((e) => e.type === 'epoch' && e.epochs === 2 && e.epoch === 2), null, { timeout: 300_000 });
    assert.equal((await h.state(page)).epoch, 2);
    assert.deepEqual((await h.state(page)).errors, []);
    await h.screenshot(page, 'migrated-profile');
  } finally {
    await b.close();
    await srvOld.close();
    await srvNew?.close();
  }
});
