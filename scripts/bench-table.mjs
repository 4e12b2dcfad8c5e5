// Side-by-side Markdown table from benchmark JSON lines.
//   node scripts/bench-table.mjs FILE.jsonl
// For `gemm` lines: per shape (label), each engine's GFLOP/s as the median
// over repeats of each process's median, with the best sample of all repeats
// in parentheses (on a shared, noisy machine the best is the steadier
// figure), the tabtrain-wasm / tfjs-wasm ratios of both, and tabtrain-native. Lines of
// other benches are listed as they come until they get a table of their own.
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) { console.error('usage: node scripts/bench-table.mjs FILE.jsonl'); process.exit(2); }
const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('{'))
  .map((l) => JSON.parse(l));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (x, d = 1) => (x === undefined ? '' : x.toFixed(d));

function gemmTable(rows) {
  const by = new Map(); // label -> engine -> {gflops[], M, K, N}
  for (const r of rows) {
    if (r.op !== 'matMul') continue;
    if (!by.has(r.label)) by.set(r.label, { M: r.M, K: r.K, N: r.N, eng: new Map() });
    const e = by.get(r.label).eng;
    if (!e.has(r.engine)) e.set(r.engine, []);
    e.get(r.engine).push([r.gflops, r.best_gflops]);
  }
  const out = ['| shape | M×K×N | tabtrain-wasm | tfjs-wasm | ratio (best) | tabtrain-native |',
               '|---|---|---|---|---|---|'];
  const ratios = [], bestRatios = [];
  for (const [label, { M, K, N, eng }] of by) {
    const g = (name) => (eng.has(name)
      ? [median(eng.get(name).map((x) => x[0])), Math.max(...eng.get(name).map((x) => x[1]))]
      : [undefined, undefined]);
    const cell = ([med, best]) => (med === undefined ? '' : `${fmt(med)} (${fmt(best)})`);
    const ours = g('tabtrain-wasm'), tf = g('tfjs-wasm'), nat = g('tabtrain-native');
    let ratio = '';
    if (ours[0] !== undefined && tf[0]) {
      ratios.push(ours[0] / tf[0]);
      bestRatios.push(ours[1] / tf[1]);
      ratio = `${fmt(ours[0] / tf[0], 2)} (${fmt(ours[1] / tf[1], 2)})`;
    }
    out.push(`| ${label} | ${M}×${K}×${N} | ${cell(ours)} | ${cell(tf)} | ${ratio} | ${cell(nat)} |`);
  }
  const n = Math.max(...[...by.values()].flatMap((v) => [...v.eng.values()].map((x) => x.length)));
  out.unshift(`GEMM GFLOP/s: median over ${n} run(s) of each process's median (best sample); ratio = tabtrain-wasm / tfjs-wasm`, '');
  const summary = (xs) => `min ${fmt(Math.min(...xs), 2)}, median ${fmt(median(xs), 2)}, max ${fmt(Math.max(...xs), 2)}`;
  if (ratios.length) out.push('', `ratio of medians: ${summary(ratios)}; ratio of bests: ${summary(bestRatios)}`);
  return out.join('\n');
}

// MobileNetV2: ms/image per (where, engine, batch), median over repeats (min).
function mnv2Table(rows) {
  const by = new Map();
  for (const r of rows) {
    const key = `${r.where ?? 'node'}|${r.engine}${r.impl && r.impl !== 'fused' ? ' ' + r.impl : ''}|${r.threads ?? 1}|${r.batch}`;
    if (!by.has(key)) by.set(key, []);
    by.get(key).push(r.ms_per_image);
  }
  const tf = new Map();
  for (const [k, v] of by) {
    const [where, engine, threads, batch] = k.split('|');
    if (engine === 'tfjs-wasm' && threads === '1') tf.set(`${where}|${batch}`, median(v));
  }
  const out = ['| where | engine | threads | batch | ms/image median (min) | runs | vs tfjs-wasm (time ratio) | vs 1 thread (time ratio) |',
               '|---|---|---|---|---|---|---|---|'];
  for (const [k, v] of [...by].sort()) {
    const [where, engine, threads, batch] = k.split('|');
    const t = tf.get(`${where}|${batch}`), one = by.get(`${where}|${engine}|1|${batch}`);
    out.push(`| ${where} | ${engine} | ${threads} | ${batch} | ${fmt(median(v), 2)} (${fmt(Math.min(...v), 2)}) | ${v.length} | ${t ? fmt(median(v) / t, 2) : ''} | ${one ? fmt(median(v) / median(one), 2) : ''} |`);
  }
  return out.join('\n');
}

// Any bench run at several thread counts: `metric` (a time) per (where, engine, what)
// and thread count, median over repeats (min), and its ratio to 1 thread.
function threadsTable(rows, metric, what) {
  const by = new Map();
  for (const r of rows) {
    if (r[metric] === undefined) continue;
    const key = `${r.where ?? 'node'}|${r.engine}|${what(r)}`;
    if (!by.has(key)) by.set(key, new Map());
    const t = by.get(key);
    if (!t.has(r.threads ?? 1)) t.set(r.threads ?? 1, []);
    t.get(r.threads ?? 1).push(r[metric]);
  }
  const out = [`| where | engine | case | threads | ${metric} median (min) | runs | vs 1 thread (time ratio) |`,
               '|---|---|---|---|---|---|---|'];
  for (const [k, t] of by) {
    const [where, engine, c] = k.split('|');
    const one = t.get(1);
    for (const [n, v] of [...t].sort((a, b) => a[0] - b[0]))
      out.push(`| ${where} | ${engine} | ${c} | ${n} | ${fmt(median(v), 2)} (${fmt(Math.min(...v), 2)}) | ${v.length} | ${one ? fmt(median(v) / median(one), 2) : ''} |`);
  }
  return out.join('\n');
}

function headTable(rows) {
  const by = new Map();
  for (const r of rows) {
    const perStep = r.warm_ms_per_step ?? (r.warm_total_ms && r.steps ? r.warm_total_ms / r.steps : undefined)
      ?? (r.warm_total_ms ? r.warm_total_ms / 320 : undefined);
    const key = `${r.where ?? 'node'}|${r.engine}`;
    if (!by.has(key)) by.set(key, []);
    by.get(key).push(perStep);
  }
  const out = ['| where | engine | warm ms/step median (min) | runs |', '|---|---|---|---|'];
  for (const [k, v] of by) {
    const [where, engine] = k.split('|');
    out.push(`| ${where} | ${engine} | ${fmt(median(v), 4)} (${fmt(Math.min(...v), 4)}) | ${v.length} |`);
  }
  return out.join('\n');
}

const benches = [...new Set(lines.map((l) => l.bench))];
for (const b of benches) {
  const rows = lines.filter((l) => l.bench === b);
  console.log(`\n### ${b}\n`);
  const threaded = rows.some((r) => (r.threads ?? 1) > 1);
  if (b === 'gemm') {
    console.log(gemmTable(rows.filter((r) => (r.threads ?? 1) === 1)));
    if (threaded) console.log('\n' + threadsTable(rows.filter((r) => r.op === 'matMul'), 'ms', (r) => r.label));
  } else if (b === 'tune_step') console.log(threadsTable(rows, 'ms_per_step', (r) => `unfreeze ${r.unfreeze}, batch ${r.batch}`));
  else if (b === 'web-extract') console.log(threadsTable(rows, 'ms_per_image', (r) => `${r.images} sample pictures`));
  else if (b === 'mnv2') console.log(mnv2Table(rows));
  else if (b === 'head_train') console.log(headTable(rows));
  else for (const r of rows) console.log('    ' + JSON.stringify(r));
}
