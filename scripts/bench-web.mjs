// The app's own figures in headless Chromium, next to TF.js in the same browser:
//   web-extract      the built-in sample dataset (~300 PNGs) through "Use sample dataset":
//                    images/s from the first picture sent to the last feature stored
//                    (transfer to the worker, PNG decode, crop/resize, MobileNetV2, IDBFS write),
//                    and the CPU time Chromium spent per picture, by part (Linux /proc:
//                    photos.mjs cpuSeconds), with cpu_busy: that CPU over the machine's cores
//   web-first-epoch  ms from the click on Train to the first epoch's metrics event
//                    (split, trainer init, one epoch over the cached features, evaluation)
//   then ../shared/peers/browser.mjs for TF.js (fused MobileNetV2, wasm SIMD, batch 1),
//   run from build/peers (copy + `npm ci` there first).
// With --photos N, instead, phone photos (tabtrain-bench photos: N synthetic 4000x3000
// JPEGs in 3 classes, ~2.3 MB each) through the class file inputs:
//   web-photos       photos/s from the first file given to the last feature stored, and the
//                    memory of the Chromium processes (PSS): idle app, most while adding
//   web-reload       ms from page.reload() to the app being ready with those N photos, and
//                    the memory after it
// usage: node scripts/bench-web.mjs [--no-peers] [--epochs N] [--no-isolation] [--photos N] [--app DIR]
//   --no-isolation: served without COOP/COEP, so the page runs the single-threaded engine
//   (else the threaded one on every core, at most 8); "threads" in each line says which.
//   --app DIR: serve this already built app (e.g. an older version's scripts/build-web
//   output, for before/after figures) instead of building the current one.
// Prints one JSON line per figure. Needs build/wasm/tabtrain.{mjs,wasm} and models/ weights.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as h from '../tests/e2e/helpers.mjs';
import { generatePhotos, memoryMB, sampleMemory, addPhotos, cpuSeconds } from '../tests/e2e/photos.mjs';

const args = process.argv.slice(2);
const epochs = Number(args[args.indexOf('--epochs') + 1]) || 10;
const photoCount = args.includes('--photos') ? Number(args[args.indexOf('--photos') + 1]) : 0;
const appDir = args.includes('--app') ? path.resolve(args[args.indexOf('--app') + 1]) : null;
if (!appDir && (h.ENGINE_SKIP || h.REAL_WEIGHTS_SKIP)) { console.error(`bench-web: ${h.ENGINE_SKIP || h.REAL_WEIGHTS_SKIP}`); process.exit(1); }

const app = appDir ? { root: appDir, cleanup: () => {} } : h.buildApp();
const photos = photoCount ? await generatePhotos(photoCount) : null;
const srv = await h.startServer(app.root, { isolation: !args.includes('--no-isolation') });
const b = await h.launch();
const emit = (o) => console.log(JSON.stringify({ engine: 'tabtrain-wasm', where: 'chromium', browser: b.context.browser()?.version() ?? 'chromium', ...o }));
try {
  const { page } = b;
  await page.goto(srv.url);
  await h.waitForPhase(page, 'ready', 120_000);
  if (photos) {
    await new Promise((r) => setTimeout(r, 2000));
    const idle = memoryMB(b.profile);
    const mem = sampleMemory(b.profile);
    const t0 = Date.now();
    await addPhotos(page, photos.classes, 3_600_000);
    const ms = Date.now() - t0;
    const peak = mem.stop();
    const s = await h.state(page);
    const n = s.classes.reduce((a, c) => a + c.count, 0);
    emit({ bench: 'web-photos', threads: s.threads?.current, photos: n, width: 4000, height: 3000, mb: Math.round(photos.bytes / 1e6), ms,
      photos_per_s: +(n / ms * 1e3).toFixed(2), mem_idle_mb: Math.round(idle), mem_growth_peak_mb: Math.round(peak - idle), errors: s.errors.length });
    const t1 = Date.now();
    await page.reload();
    await h.waitForPhase(page, 'ready', 600_000);
    const reloadMs = Date.now() - t1;
    await new Promise((r) => setTimeout(r, 2000));
    emit({ bench: 'web-reload', photos: n, ms: reloadMs, mem_growth_mb: Math.round(memoryMB(b.profile) - idle) });
  } else {
    const total = JSON.parse(fs.readFileSync(path.join(app.root, 'sample/manifest.json'), 'utf8')).classes.reduce((a, c) => a + c.files.length, 0);

    const cpu0 = cpuSeconds(b.profile);
    const t0 = await page.evaluate(() => performance.now());
    await page.click('#use-sample');
    await page.waitForFunction((n) => window.tabtrainState.classes.reduce((a, c) => a + c.count, 0) + window.tabtrainState.errors.length >= n &&
      window.tabtrainState.pendingCommands === 0, total, { timeout: 900_000, polling: 50 });
    const s = await h.state(page);
    const extractMs = (await page.evaluate(() => performance.now())) - t0;
    const cpu1 = cpuSeconds(b.profile);
    const images = s.classes.reduce((a, c) => a + c.count, 0);
    const cpuMs = Object.keys(cpu1).map((k) => [k, (cpu1[k] - (cpu0[k] || 0)) * 1e3 / images]).sort((x, y) => y[1] - x[1]);
    const cpuAll = cpuMs.reduce((a, [, v]) => a + v, 0);
    emit({ bench: 'web-extract', threads: s.threads?.current, images, rejected: total - images, ms: Math.round(extractMs), images_per_s: +(images / extractMs * 1e3).toFixed(2), ms_per_image: +(extractMs / images).toFixed(2),
      cpu_ms_per_image: Object.fromEntries([['all', cpuAll], ...cpuMs].map(([k, v]) => [k, +v.toFixed(1)])), cpu_busy: +(cpuAll * images / extractMs / os.availableParallelism()).toFixed(2) });

    await page.fill('#settings [name=epochs]', String(epochs));
    const t1 = await page.evaluate(() => { window.__tt.trainClick = performance.now(); return window.__tt.trainClick; });
    await page.click('#train');
    await page.waitForFunction(() => window.__tt.events.some((e) => e.type === 'epoch'), null, { timeout: 300_000, polling: 10 });
    const first = await page.evaluate(() => { const e = window.__tt.events.find((x) => x.type === 'epoch'); return { at: performance.now(), e }; });
    await h.waitForPhase(page, 'trained', 600_000);
    const t2 = await page.evaluate(() => performance.now());
    const ev = await page.evaluate(() => window.__tt.events.filter((e) => e.type === 'epoch'));
    emit({ bench: 'web-first-epoch', images, train_images: ev[0].perClass ? images - ev[0].perClass.reduce((a, c) => a + c.n, 0) : null,
      ms_to_first_epoch: Math.round(first.at - t1), epochs, ms_all_epochs: Math.round(t2 - t1),
      final_val_acc: ev.at(-1).valAcc, final_train_loss: ev.at(-1).trainLoss, max_long_task_ms: Math.round(Math.max(0, ...await page.evaluate(() => window.__tt.longTasks))) });
  }
} finally {
  await b.close();
  await srv.close();
  app.cleanup();
}

if (!args.includes('--no-peers') && !photos) {
  const peers = path.join(h.ROOT, 'build/peers');
  if (!fs.existsSync(path.join(peers, 'node_modules/@tensorflow/tfjs-backend-wasm'))) {
    console.error('bench-web: build/peers not installed (cp -R ../shared/peers build/peers && cd build/peers && npm ci); TF.js skipped');
  } else {
    await new Promise((resolve) => {
      const p = spawn(process.execPath, ['browser.mjs', '--engines', 'tfjs-fused', '--batch', '1,32'], { cwd: peers, stdio: ['ignore', 'inherit', 'inherit'] });
      p.on('exit', resolve);
    });
  }
}
