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

const benches = [...new Set(lines.map((l) => l.bench))];
for (const b of benches) {
  const rows = lines.filter((l) => l.bench === b);
  console.log(`\n### ${b}\n`);
  if (b === 'gemm') console.log(gemmTable(rows));
  else for (const r of rows) console.log('    ' + JSON.stringify(r));
}
