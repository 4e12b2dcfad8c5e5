// Issue 6's ways of getting pictures in, in headless Chromium with the wasm engine and
// the real MobileNetV2 weights:
//   1. a real folder (pictures, a sub-folder with a sub-folder, a non-image) and then
//      plain files dropped on a class's drop zone: every picture reaches that class (the
//      counts come from the engine) and the non-image is reported;
//   2. Chromium's fake webcam (a moving test pattern): a photo taken into a class, then,
//      after a short training, a prediction from a webcam frame;
//   3. no camera (access blocked, or no camera API at all): a plain message in the
//      webcam dialog, and the app goes on working.
// Drops go through the DevTools protocol (Input.dispatchDragEvent with OS paths):
// Chromium then builds the same File and DirectoryEntry objects as for a drag from the
// file manager; a DataTransfer made in page JavaScript cannot hold directories.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as h from './helpers.mjs';
import * as f from './flows.mjs';

const PICS = process.env.QABCS_PICS || '/usr/share/qabcs/abcs/all/pics';
const skip = h.ENGINE_SKIP || h.REAL_WEIGHTS_SKIP || (!fs.existsSync(path.join(PICS, 'animals')) && `${PICS} missing (apt-get install qabcs-data)`);
const FAKE_CAMERA = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];
let app, srv, tmp;
before(async () => {
  if (skip) return;
  app = h.buildApp();
  srv = await h.startServer(app.root);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tabtrain-e2e-input-'));
});
after(async () => { await srv?.close(); app?.cleanup(); if (tmp) fs.rmSync(tmp, { recursive: true, force: true }); });

// Real photos of a qabcs topic, in a fixed order.
const photos = (topic) => fs.readdirSync(path.join(PICS, topic)).filter((f) => f.endsWith('.png')).sort().map((f) => path.join(PICS, topic, f));

async function open(b) {
  await b.page.goto(srv.url);
  await h.waitForPhase(b.page, 'ready', 120_000);
}

async function newClasses(page, names) {
  const first = (await h.state(page)).classes.length;
  for (const name of names) {
    await page.fill('#new-class-name', name);
    await page.click('#add-class');
  }
  await page.waitForFunction((n) => window.tabtrainState.classes.length === n, first + names.length);
  await page.waitForFunction(() => [...document.querySelectorAll('.class-item .webcam')].every((b) => !b.disabled));
}

const counts = (page) => page.evaluate(() => window.tabtrainState.classes.map((c) => c.count));
const waitCounts = (page, want, timeout = 20_000) => page.waitForFunction(
  (w) => JSON.stringify(window.tabtrainState.classes.map((c) => c.count)) === JSON.stringify(w) && window.tabtrainState.pendingCommands === 0,
  want, { timeout }).catch(async (e) => { throw new Error(`counts never became ${JSON.stringify(want)}: ${JSON.stringify(await h.state(page))} (${e.message})`); });

// Drags OS paths (files or directories) from "outside the browser" onto the centre of
// `target` and drops them, as the file manager would. Returns whether the zone showed
// it would take them (class "over") while they hovered.
async function dropPaths(page, target, paths) {
  await target.scrollIntoViewIfNeeded();
  const box = await target.boundingBox();
  const x = box.x + box.width / 2, y = box.y + box.height / 2;
  const cdp = await page.context().newCDPSession(page);
  try {
    const data = { items: [], files: paths, dragOperationsMask: 1 }; // 1: copy
    await cdp.send('Input.dispatchDragEvent', { type: 'dragEnter', x, y, data });
    await cdp.send('Input.dispatchDragEvent', { type: 'dragOver', x, y, data });
    const hovering = await target.evaluate((el) => el.classList.contains('over'));
    await cdp.send('Input.dispatchDragEvent', { type: 'drop', x, y, data });
    return hovering;
  } finally { await cdp.detach(); }
}

test('a dropped folder adds the pictures of it and its sub-folders to that class, a non-image is reported; plain files drop too', { skip }, async () => {
  // folder/{2 photos, .DS_Store, sub/{2 photos, notes.txt, deeper/{1 photo}}}
  const folder = path.join(tmp, 'my pictures');
  const animals = photos('animals').slice(0, 5);
  const layout = [['', animals[0]], ['', animals[1]], ['sub', animals[2]], ['sub', animals[3]], ['sub/deeper', animals[4]]];
  for (const [dir, f] of layout) {
    fs.mkdirSync(path.join(folder, dir), { recursive: true });
    fs.copyFileSync(f, path.join(folder, dir, path.basename(f)));
  }
  fs.writeFileSync(path.join(folder, 'sub', 'notes.txt'), 'shopping list, not a picture\n');
  fs.writeFileSync(path.join(folder, '.DS_Store'), 'Finder metadata, skipped without a word\n');

  const b = await h.launch();
  try {
    const { page } = b;
    await open(b);
    await newClasses(page, ['animals', 'food']);
    const zone = (i) => page.locator('.class-item').nth(i).locator('.drop-zone');

    assert.equal(await dropPaths(page, zone(0), [folder]), true, 'the drop zone takes the drag (dragover handled)');
    await waitCounts(page, [5, 0]);
    await page.waitForFunction(() => window.tabtrainState.errors.length >= 1);
    let s = await h.state(page);
    // Named by its path in the dropped folder; the hidden .DS_Store is not reported.
    assert.deepEqual(s.errors.map((e) => [e.code, e.file]), [['file', 'my pictures/sub/notes.txt']], JSON.stringify(s.errors));
    assert.match(s.errors[0].message, /is not a picture tabtrain can read \(it reads JPEG, PNG, WebP, BMP or GIF/);
    assert.equal(await zone(0).evaluate((el) => el.classList.contains('over')), false, 'highlight gone after the drop');
    assert.equal(await page.locator('#errors li').count(), 1);
    await h.screenshot(page, 'input-folder-dropped');

    // Plain files, on the other class.
    const food = photos('food').slice(0, 3);
    await dropPaths(page, zone(1), food);
    await waitCounts(page, [5, 3]);
    s = await h.state(page);
    assert.equal(s.errors.length, 1, JSON.stringify(s.errors));
    assert.equal(s.phase, 'ready');
    await h.settled(page);
    assert.deepEqual(b.consoleErrors, []);

    // The pictures were kept: after a reload the engine reports the same counts.
    await page.reload();
    await h.waitForPhase(page, 'ready', 120_000);
    assert.deepEqual(await counts(page), [5, 3]);
  } finally { await b.close(); }
});

test('fake webcam: a photo goes into a class, and after training a webcam frame is predicted', { skip }, async () => {
  const b = await h.launch({ args: FAKE_CAMERA });
  try {
    const { page, context } = b;
    // Every stream the page opens, to check the camera is switched off again.
    await context.addInitScript(() => {
      const md = navigator.mediaDevices;
      const get = md.getUserMedia.bind(md);
      window.__streams = [];
      md.getUserMedia = async (c) => { const s = await get(c); window.__streams.push(s); return s; };
    });
    await open(b);
    const N = 4;
    await f.addClasses(page, app.root, ['animals', 'food'], N);
    await page.waitForFunction(() => [...document.querySelectorAll('.class-item .webcam')].every((b) => !b.disabled));

    // A photo for the second class.
    await page.locator('.class-item').nth(1).locator('.webcam').click();
    assert.equal(await page.locator('#webcam-dialog').evaluate((d) => d.open), true);
    await page.waitForSelector('#webcam-capture:enabled', { timeout: 15_000 });
    // Take photo is enabled only once the camera delivers 640×480 frames.
    assert.deepEqual(await page.locator('#webcam-video').evaluate((v) => [v.videoWidth, v.videoHeight]), [640, 480]);
    assert.equal(await page.isVisible('#webcam-video'), true);
    await page.click('#webcam-capture');
    await waitCounts(page, [N, N + 1]); // the engine decoded the JPEG and extracted its features
    assert.equal(await page.textContent('#webcam-status'), 'Photo taken.');
    await h.screenshot(page, 'input-webcam-photo');
    await page.click('#webcam-close');
    assert.equal(await page.locator('#webcam-dialog').evaluate((d) => d.open), false);
    assert.deepEqual(await page.evaluate(() => window.__streams.flatMap((s) => s.getTracks().map((t) => t.readyState))), ['ended'], 'camera off after Done');

    await f.setTraining(page, { epochs: 2 });
    await page.click('#train');
    const trained = await h.waitForPhase(page, 'trained', 120_000);
    assert.equal(trained.epoch, 2);

    // Predict a frame of the live picture.
    await page.click('#predict-webcam');
    await page.waitForSelector('#webcam-capture:enabled', { timeout: 15_000 });
    const before = await page.evaluate(() => window.__tt.events.filter((e) => e.type === 'result' && e.probs).length);
    await page.click('#webcam-capture');
    await page.waitForFunction((n) => window.__tt.events.filter((e) => e.type === 'result' && e.probs).length > n, before, { timeout: 30_000 })
      .catch(async () => assert.fail(`no prediction after the webcam photo; status "${await page.textContent('#webcam-status')}", state ${JSON.stringify(await h.state(page))}`));
    const probs = await page.evaluate(() => window.__tt.events.filter((e) => e.type === 'result' && e.probs).at(-1).probs);
    assert.deepEqual(probs.map((p) => p.name).sort(), ['animals', 'food']);
    assert.ok(probs.every((p) => Number.isFinite(p.p) && p.p >= 0 && p.p <= 1), JSON.stringify(probs));
    assert.ok(Math.abs(probs.reduce((a, p) => a + p.p, 0) - 1) < 1e-5, JSON.stringify(probs));
    // Live: frame after frame is predicted, shown in the dialog, until unticked.
    const count = () => page.evaluate(() => window.__tt.events.filter((e) => e.type === 'result' && e.probs).length);
    const beforeLive = await count();
    await page.check('#webcam-live');
    await page.waitForFunction((n) => window.__tt.events.filter((e) => e.type === 'result' && e.probs).length >= n + 3, beforeLive, { timeout: 30_000 });
    const inDialog = await page.locator('#webcam-predictions li').allTextContents();
    assert.ok(inDialog.length === 2 && inDialog.every((t) => /^(animals|food)\d+\.\d%$/.test(t)), inDialog.join(' | '));
    await page.uncheck('#webcam-live');
    await page.waitForTimeout(500); // a prediction in flight may still land
    const stopped = await count();
    await page.waitForTimeout(1500);
    assert.equal(await count(), stopped, 'live prediction stops when unticked');
    await h.screenshot(page, 'input-webcam-live');
    await page.keyboard.press('Escape'); // Esc closes the dialog and switches the camera off too
    await page.waitForFunction(() => !document.querySelector('#webcam-dialog').open);
    // The dialog's 'close' event (a task after it closed) switches the camera off.
    await page.waitForFunction(() => window.__streams.length === 2 && window.__streams.every((s) => s.getTracks().every((t) => t.readyState === 'ended')), null, { timeout: 5000 })
      .catch(async () => assert.fail(`camera still on after Esc: ${await page.evaluate(() => JSON.stringify(window.__streams.map((s) => s.getTracks().map((t) => t.readyState))))}`));
    const shown = await page.locator('#predict-results li').allTextContents();
    assert.equal(shown.length, 2);
    assert.ok(shown.every((t) => /^(animals|food)\d+\.\d%$/.test(t)), shown.join(' | '));
    await h.screenshot(page, 'input-webcam-predicted');
    assert.equal((await h.state(page)).errors.length, 0);
    assert.deepEqual(b.consoleErrors, []);
  } finally { await b.close(); }
});

test('no camera: blocked access or no camera API gives a plain message and the app goes on', { skip }, async () => {
  // A camera exists (the fake one) but nothing grants access: Chromium denies the request.
  const b = await h.launch({ args: ['--use-fake-device-for-media-stream'] });
  try {
    const { page } = b;
    await open(b);
    await newClasses(page, ['animals']);
    await page.locator('.class-item .webcam').click();
    await page.waitForFunction(() => /blocked/.test(document.querySelector('#webcam-status').textContent), null, { timeout: 15_000 })
      .catch(async () => assert.fail(`no "blocked" message; status "${await page.textContent('#webcam-status')}"`));
    assert.match(await page.textContent('#webcam-status'), /^Camera access is blocked\. Allow the camera .* picture files instead\.$/);
    assert.equal(await page.isDisabled('#webcam-capture'), true);
    assert.equal(await page.isHidden('#webcam-video'), true, 'no empty video box');
    await h.screenshot(page, 'input-webcam-blocked');
    await page.click('#webcam-close');
    assert.equal(await page.locator('#webcam-dialog').evaluate((d) => d.open), false);
    // The page still works.
    await page.setInputFiles('input[type=file][data-class-index="0"]', photos('animals').slice(0, 2));
    await waitCounts(page, [2]);
    await h.settled(page);

    // A browser without the camera API (e.g. a page served over plain http from another machine).
    await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'mediaDevices', { get: () => undefined, configurable: true }));
    await page.reload();
    await h.waitForPhase(page, 'ready', 120_000);
    assert.equal(await page.evaluate(() => navigator.mediaDevices), undefined);
    await page.locator('.class-item .webcam').click();
    assert.match(await page.textContent('#webcam-status'), /^This browser gives the page no camera access .* picture files instead\.$/);
    assert.equal(await page.isDisabled('#webcam-capture'), true);
    await h.screenshot(page, 'input-webcam-absent');
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('#webcam-dialog').open);
    await page.setInputFiles('input[type=file][data-class-index="0"]', photos('animals').slice(2, 3));
    await waitCounts(page, [3]);
    const s = await h.state(page);
    assert.equal(s.phase, 'ready');
    assert.deepEqual(s.errors, []);
    assert.deepEqual(b.consoleErrors, []);
  } finally { await b.close(); }
});
