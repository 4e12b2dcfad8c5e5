// Shared setup for the browser end-to-end tests (node --test tests/e2e/).
// Each test file builds the app into its own temporary directory with
// scripts/build-web (so tests always run the current sources), serves it with
// scripts/serve.mjs on a free port, and drives Debian's Chromium through
// playwright-core with a fresh persistent profile (IndexedDB survives reloads).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ARTIFACTS = path.join(ROOT, 'test-artifacts');
export const CHROMIUM = process.env.TT_CHROMIUM || '/usr/bin/chromium';
export const WEIGHTS_NAME = 'mobilenet_v2_1.0_224.safetensors';
const REAL_WEIGHTS = path.join(ROOT, 'models', WEIGHTS_NAME);

// Same lookup as scripts/build-web (TT_WASM_DIR, default build/wasm/engine).
const WASM_DIR = path.resolve(ROOT, process.env.TT_WASM_DIR || 'build/wasm/engine');
export const ENGINE_BUILT = fs.existsSync(path.join(WASM_DIR, 'tabtrain.mjs')) &&
  fs.existsSync(path.join(WASM_DIR, 'tabtrain.wasm'));
export const ENGINE_SKIP = ENGINE_BUILT ? false
  : `engine not built: ${path.relative(ROOT, WASM_DIR)}/tabtrain.{mjs,wasm} missing (run scripts/build wasm)`;
export const REAL_WEIGHTS_SKIP = fs.existsSync(REAL_WEIGHTS) ? false
  : `real weights missing: models/${WEIGHTS_NAME} (run scripts/fetch-model)`;

// A valid safetensors file of MobileNetV2's size (~14 MB), deterministic bytes, for the
// download/cache tests while the real weights are absent. The engine is never fed it.
export function fixtureWeights() {
  const file = path.join(ROOT, 'build/e2e', `fixture-${WEIGHTS_NAME}`);
  if (fs.existsSync(file)) return file;
  const n = 3_500_000;
  const header = Buffer.from(JSON.stringify({
    __metadata__: { purpose: 'tabtrain e2e fixture, not a model' },
    fixture: { dtype: 'F32', shape: [n], data_offsets: [0, 4 * n] },
  }));
  const pad = (8 - (header.length % 8)) % 8;
  const hdr = Buffer.concat([header, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hdr.length));
  const data = Buffer.alloc(4 * n);
  let x = 0x9e3779b9;
  for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; data.writeUInt32LE(x >>> 0, 4 * i); }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.${process.pid}`, Buffer.concat([len, hdr, data])); // test files may run in parallel
  fs.renameSync(`${file}.${process.pid}`, file);
  return file;
}

// What scripts/build-web reads: a change to any of these files is a new build.
const WASM_MT_DIR = path.resolve(ROOT, process.env.TT_WASM_MT_DIR || 'build/wasm-mt/engine');
const EMBED_DIR = path.resolve(ROOT, process.env.TT_EMBED_DIR || 'build/wasm/embed');
function buildInputsKey(weights) {
  const hash = crypto.createHash('sha256');
  const add = (p) => {
    let st;
    try { st = fs.statSync(p); } catch { hash.update(`${p}\0-\0`); return; }
    if (st.isDirectory()) for (const e of fs.readdirSync(p).sort()) add(path.join(p, e));
    else hash.update(`${p}\0${st.size}\0${st.mtimeMs}\0`);
  };
  for (const p of ['web', 'scripts/build-web', 'scripts/sample-data', 'package-lock.json']) add(path.join(ROOT, p));
  for (const p of [WASM_DIR, WASM_MT_DIR, EMBED_DIR, weights]) add(p);
  return hash.digest('hex').slice(0, 16);
}

// Builds the app (scripts/build-web, so tests always run the current sources) and gives
// each caller its own copy in a fresh temp dir: returns {dir, root, manifest}, removed by
// cleanup(). A build takes ~9 s (it copies the sample pictures and hashes the weights), so
// one is kept per set of inputs in build/e2e/ and shared by the test files; each copies it,
// since tests change their copy (offline.test rewrites sw.js).
export function buildApp({ weights = fs.existsSync(REAL_WEIGHTS) ? REAL_WEIGHTS : fixtureWeights() } = {}) {
  const cacheRoot = path.join(ROOT, 'build/e2e');
  const key = buildInputsKey(weights);
  const built = path.join(cacheRoot, `web-${key}`);
  if (!fs.existsSync(built)) {
    // Built aside and renamed into place: test files running at the same time never see half
    // a build, and the first rename wins.
    const mine = `${built}.${process.pid}`;
    execFileSync('bash', [path.join(ROOT, 'scripts/build-web'), '--out', mine, '--weights', weights], { stdio: 'pipe' });
    try { fs.renameSync(mine, built); } catch { fs.rmSync(mine, { recursive: true, force: true }); }
    // Builds of older sources, unused for a day, go (the app with fixture weights and the one
    // with the real weights are both in use during a run).
    for (const e of fs.readdirSync(cacheRoot)) {
      const p = path.join(cacheRoot, e);
      if (/^web-[0-9a-f]{16}$/.test(e) && Date.now() - fs.statSync(p).mtimeMs > 86_400_000) fs.rmSync(p, { recursive: true, force: true });
    }
  }
  const now = new Date();
  fs.utimesSync(built, now, now);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabtrain-e2e-web-'));
  const out = path.join(dir, 'web');
  fs.cpSync(built, out, { recursive: true });
  const manifest = JSON.parse(fs.readFileSync(path.join(out, 'models/manifest.json'), 'utf8'));
  return { dir, root: out, manifest, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

// The built app's sample set (scripts/sample-data --pack): its manifest, and every class's
// pictures as {name, bytes} cut from the pack by the manifest's sizes.
export function samplePictures(root) {
  const m = JSON.parse(fs.readFileSync(path.join(root, 'sample/manifest.json'), 'utf8'));
  const pack = fs.readFileSync(path.join(root, 'sample', m.pack));
  let at = 0;
  for (const c of m.classes) c.pictures = c.files.map((f, i) => ({ name: f, bytes: pack.subarray(at, at += c.sizes[i]) }));
  return { ...m, unread: pack.length - at };
}

// Starts scripts/serve.mjs on a free port. `requests` is its access log ("GET /path 200").
// isolation: false serves without COOP/COEP (the page then runs the single-threaded engine);
// `args`: more serve.mjs flags (--host, --https).
export async function startServer(root, { isolation = true, args: extra = [] } = {}) {
  const args = [path.join(ROOT, 'scripts/serve.mjs'), '--root', root, '--port', '0', '--log', ...(isolation ? [] : ['--no-isolation']), ...extra];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const requests = [];
  let buf = '', exited = false;
  proc.on('exit', () => { exited = true; });
  const url = await new Promise((resolve, reject) => {
    proc.on('exit', (code) => reject(new Error(`serve.mjs exited with ${code}`)));
    proc.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i); buf = buf.slice(i + 1);
        const m = /serving .* at (http\S+)/.exec(line);
        if (m) resolve(m[1]); else requests.push(line);
      }
    });
  });
  return {
    url,
    requests,
    count: (re) => requests.filter((l) => re.test(l)).length,
    exited: () => exited,
    close: () => new Promise((r) => { if (exited) r(); else { proc.once('exit', r); proc.kill(); } }),
  };
}

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// A persistent profile in a fresh temp dir; pages record console errors, page errors
// and every 'tabtrain' event into window.__tt (see web/app.js). `args`: extra Chromium
// flags (e.g. the fake webcam's); `ignoreHTTPSErrors` accepts serve.mjs --https's self-signed certificate.
// serviceWorkers: 'block' keeps web/sw.js out (it would make the page cross-origin
// isolated from the second load on, whatever the server sends).
export async function launch({ args = [], ignoreHTTPSErrors = false, serviceWorkers = 'allow' } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tabtrain-e2e-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...args], viewport: { width: 1280, height: 900 }, ignoreHTTPSErrors,
    serviceWorkers,
  });
  await context.addInitScript(() => {
    window.__tt = { events: [], longTasks: [] };
    window.addEventListener('tabtrain', (e) => window.__tt.events.push(e.detail));
    try {
      new PerformanceObserver((list) => { for (const t of list.getEntries()) window.__tt.longTasks.push(t.duration); })
        .observe({ type: 'longtask', buffered: true });
    } catch { /* not supported: longTasks stays empty and the test says so */ }
  });
  const consoleErrors = [];
  const watch = (page) => {
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  const page = context.pages()[0] || await context.newPage();
  return {
    context, page, consoleErrors, profile,
    close: async () => { await context.close(); fs.rmSync(profile, { recursive: true, force: true }); },
  };
}

// A fresh profile on the app at `url`, once the engine is ready (the caller closes it).
export async function openApp(url, opts) {
  const b = await launch(opts);
  try {
    await b.page.goto(url);
    await waitForPhase(b.page, 'ready', 120_000);
    return b;
  } catch (e) { await b.close(); throw e; }
}

export const state = (page) => page.evaluate(() => window.tabtrainState);

export async function waitForPhase(page, phases, timeout = 30_000) {
  const want = [].concat(phases);
  try {
    await page.waitForFunction((w) => w.includes(window.tabtrainState?.phase), want, { timeout });
  } catch (e) {
    const s = await state(page).catch(() => null);
    throw new Error(`phase never became ${want.join('|')}; state: ${JSON.stringify(s)}`);
  }
  return state(page);
}

// Waits until no command round trip is in flight (saves have reached storage).
export const settled = (page) => page.waitForFunction(() => window.tabtrainState?.pendingCommands === 0);

export async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

export function sha256(buf) { return crypto.createHash('sha256').update(buf).digest('hex'); }
