// Phone-sized photos for the big-picture test and benchmark, and the memory of the
// Chromium processes behind a profile.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import * as h from './helpers.mjs';

export const BENCH = path.join(h.ROOT, 'build/native/tabtrain-bench');
export const PHOTOS_SKIP = fs.existsSync(BENCH) ? false : 'build/native/tabtrain-bench missing (scripts/build native)';

// `n` synthetic 4000x3000 JPEGs in `classes` classes (tabtrain-bench photos: ~2.3 MB
// each, every one different), written by two processes (the machine's two cores) into
// build/e2e/photos-<n>/class<k>/; kept there for the next run (they are the same bytes
// every time). Returns {dir, classes: {name: [paths]}, bytes}.
export async function generatePhotos(n, classes = 3) {
  const dir = path.join(h.ROOT, 'build/e2e', `photos-${n}x${classes}`);
  const done = path.join(dir, 'DONE');
  if (!fs.existsSync(done)) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const half = Math.ceil(n / 2);
    await Promise.all([[0, half], [half, n - half]].map(([first, count]) =>
      promisify(execFile)(BENCH, ['photos', '--out', dir, '--n', String(count), '--first', String(first), '--classes', String(classes)])));
    fs.writeFileSync(done, `${n}\n`);
  }
  const out = {};
  let bytes = 0;
  for (let k = 1; k <= classes; k++) {
    const files = fs.readdirSync(path.join(dir, `class${k}`)).sort().map((f) => path.join(dir, `class${k}`, f));
    out[`class${k}`] = files;
    for (const f of files) bytes += fs.statSync(f).size;
  }
  return { dir, classes: out, bytes };
}

// A /proc/.../stat file: the command name, and the fields after it (fields[0] is the
// state, [1] the parent pid, [11] and [12] user and system CPU in clock ticks).
function readStat(file) {
  const stat = fs.readFileSync(file, 'utf8');
  return { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), fields: stat.slice(stat.lastIndexOf(')') + 2).split(' ') };
}

// The Chromium processes of the profile, pid -> {ppid, cmd}: the browser process (the one
// started with its --user-data-dir) and every process below it (renderers, GPU, network,
// storage), read from /proc.
function profileProcesses(profile) {
  const procs = new Map();
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const ppid = Number(readStat(`/proc/${pid}/stat`).fields[1]);
      procs.set(Number(pid), { ppid, cmd: fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') });
    } catch { /* gone meanwhile */ }
  }
  const mine = new Map([...procs].filter(([, p]) => p.cmd.includes(`--user-data-dir=${profile}`) && !p.cmd.includes('--type=')));
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, p] of procs) if (!mine.has(pid) && mine.has(p.ppid)) { mine.set(pid, p); grew = true; }
  }
  return mine;
}

// Proportional set size (MB) of the profile's Chromium processes. PSS counts shared
// pages once.
export function memoryMB(profile) {
  let kb = 0;
  for (const pid of profileProcesses(profile).keys()) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch { /* gone meanwhile */ }
  }
  return kb / 1024;
}

// CPU seconds used so far by the profile's Chromium processes, by part: `engine` (the
// renderer's dedicated workers: the app's worker and the engine's threads), `page` (the
// renderer's main thread), `renderer` (its other threads), and each other process by its
// type (`browser`, `network`, `gpu`, ...). Threads that ended are not counted: take the
// difference of two readings around work whose threads outlive it.
const CLOCK_TICKS = 100; // USER_HZ, 100 on Linux
export function cpuSeconds(profile) {
  const out = {};
  for (const [pid, p] of profileProcesses(profile)) {
    const type = /--utility-sub-type=network\./.test(p.cmd) ? 'network' : /--type=([a-z-]+)/.exec(p.cmd)?.[1].replace('-process', '') ?? 'browser';
    let tids = [];
    try { tids = fs.readdirSync(`/proc/${pid}/task`); } catch { continue; }
    for (const tid of tids) {
      try {
        const { name, fields: f } = readStat(`/proc/${pid}/task/${tid}/stat`);
        const part = type !== 'renderer' ? type : name.startsWith('DedicatedWorker') ? 'engine' : Number(tid) === pid ? 'page' : 'renderer';
        out[part] = (out[part] || 0) + (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
      } catch { /* gone meanwhile */ }
    }
  }
  return out;
}

// Samples memoryMB every `ms` until stop() is called; stop() returns the largest.
export function sampleMemory(profile, ms = 500) {
  let peak = memoryMB(profile);
  const t = setInterval(() => { peak = Math.max(peak, memoryMB(profile)); }, ms);
  return { stop: () => { clearInterval(t); return Math.max(peak, memoryMB(profile)); } };
}

// Adds every class's photos through its file input (paths: Chromium reads the files
// from disk as the page asks, as it does for a user's folder) and waits for the counts.
export async function addPhotos(page, classes, timeout = 900_000) {
  const names = Object.keys(classes);
  for (const [i, name] of names.entries()) {
    await page.fill('#new-class-name', name);
    await page.click('#add-class');
    await page.waitForSelector(`input[type=file][data-class-index="${i}"]`);
  }
  for (const [i, name] of names.entries()) await page.setInputFiles(`input[type=file][data-class-index="${i}"]`, classes[name]);
  const want = names.map((n) => classes[n].length);
  await page.waitForFunction((w) => window.tabtrainState.classes.every((c, i) => c.count === w[i]) && window.tabtrainState.pendingCommands === 0,
    want, { timeout, polling: 250 });
}

// SHA-256 of every picture as it was added, {"<class>/<name>": hex}, read back through a
// second worker of the app in this page (another tab's, read-only: the page's worker owns
// the storage): IMAGES_GET {original: true} of every image of every class.
export function readOriginals(page, protocolVersion) {
  return page.evaluate(async (v) => {
    const w = new Worker(new URL('worker.js', location.href), { type: 'module' });
    let id = 0, ready;
    const waiting = new Map();
    const up = new Promise((r) => { ready = r; });
    w.onmessage = ({ data: m }) => {
      if (m.type === 'state' && ['ready', 'trained', 'paused'].includes(m.state.phase)) ready(m.state);
      if (m.type === 'result') { waiting.get(m.id)?.(m); waiting.delete(m.id); }
    };
    const call = (type, f) => new Promise((r) => { waiting.set(++id, r); w.postMessage({ v, type, id, ...f }); });
    const st = await up;
    const out = {};
    for (const c of st.classes) {
      for (const im of (await call('images.list', { classId: c.id })).images) {
        const r = await call('images.get', { imageId: im.id, original: true });
        if (!r.ok) throw new Error(`image ${im.id}: ${r.error.message}`);
        const d = new Uint8Array(await crypto.subtle.digest('SHA-256', r.bytes));
        out[`${c.name}/${im.name}`] = Array.from(d, (x) => x.toString(16).padStart(2, '0')).join('');
      }
    }
    w.terminate();
    return out;
  }, protocolVersion);
}
