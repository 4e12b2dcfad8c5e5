// Side-by-side Markdown table from benchmark JSON lines.
//   node scripts/bench-table.mjs FILE.jsonl
// For `gemm` lines: per shape (label), the median over repeats of each
// engine's GFLOP/s, tabtrain-wasm / tfjs-wasm, and tabtrain-native. Lines of
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
    e.get(r.engine).push(r.gflops);
  }
  const out = ['| shape | M×K×N | tabtrain-wasm | tfjs-wasm | ratio | tabtrain-native |',
               '|---|---|---|---|---|---|'];
  const ratios = [];
  for (const [label, { M, K, N, eng }] of by) {
    const g = (name) => (eng.has(name) ? median(eng.get(name)) : undefined);
    const ours = g('tabtrain-wasm'), tf = g('tfjs-wasm'), nat = g('tabtrain-native');
    const ratio = ours !== undefined && tf ? ours / tf : undefined;
    if (ratio !== undefined) ratios.push(ratio);
    out.push(`| ${label} | ${M}×${K}×${N} | ${fmt(ours)} | ${fmt(tf)} | ${fmt(ratio, 2)} | ${fmt(nat)} |`);
  }
  const n = Math.max(...[...by.values()].flatMap((v) => [...v.eng.values()].map((x) => x.length)));
  out.unshift(`GEMM GFLOP/s, median over ${n} run(s) of each process's median; ratio = tabtrain-wasm / tfjs-wasm`, '');
  if (ratios.length) out.push('', `ratio: min ${fmt(Math.min(...ratios), 2)}, median ${fmt(median(ratios), 2)}, max ${fmt(Math.max(...ratios), 2)}`);
  return out.join('\n');
}

const benches = [...new Set(lines.map((l) => l.bench))];
for (const b of benches) {
  const rows = lines.filter((l) => l.bench === b);
  console.log(`\n### ${b}\n`);
  if (b === 'gemm') console.log(gemmTable(rows));
  else for (const r of rows) console.log('    ' + JSON.stringify(r));
}
