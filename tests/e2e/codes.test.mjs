// The worker's names for the engine's return codes (web/worker/engine.js) equal the enums
// of src/wasm/api.h (and every enum value has its name there): the worker keeps no numbers
// of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';

const root = new URL('../../', import.meta.url);
const header = fs.readFileSync(new URL('src/wasm/api.h', root), 'utf8');
const engine = fs.readFileSync(new URL('web/worker/engine.js', root), 'utf8');
// The worker's every module: web/worker.js and web/worker/*.js.
const worker = [new URL('web/worker.js', root), ...fs.readdirSync(new URL('web/worker/', root)).map((f) => new URL(`web/worker/${f}`, root))]
  .map((u) => fs.readFileSync(u, 'utf8')).join('\n');

// {STEP: {DONE: 0, ...}, LOAD: {...}} from `TT_WASM_<GROUP>_<NAME> = <n>` lines.
function headerCodes() {
  const out = {};
  for (const [, group, name, n] of header.matchAll(/TT_WASM_(STEP|LOAD)_([A-Z_]+)\s*=\s*(\d+)/g)) (out[group] ??= {})[name] = Number(n);
  return out;
}

// `const STEP = { DONE: 0, ... };` from the worker's engine module.
function workerCodes(group) {
  const m = engine.match(new RegExp(`const ${group} = \\{([^}]*)\\}`));
  assert.ok(m, `web/worker/engine.js has no const ${group}`);
  return Object.fromEntries([...m[1].matchAll(/([A-Z_]+):\s*(\d+)/g)].map(([, k, v]) => [k, Number(v)]));
}

test('worker return-code names equal src/wasm/api.h', () => {
  const want = headerCodes();
  assert.deepEqual(Object.keys(want).sort(), ['LOAD', 'STEP']);
  for (const group of Object.keys(want)) assert.deepEqual(workerCodes(group), want[group], group);
});

test('the worker compares engine return codes only by name', () => {
  const bare = [...worker.matchAll(/\brc\s*===?\s*\d/g)].map((m) => m[0]);
  assert.deepEqual(bare, []);
});
