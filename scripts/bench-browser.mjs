// MobileNetV2 forward pass of the wasm build in headless Chromium, printed as
// the peers' JSON lines with "where":"chromium". The same benchmark program
// as under Node (bench/bench_mnv2.c), built as tabtrain-bench-web, runs in a
// page served on 127.0.0.1 (COOP/COEP as for the app) with the real weights
// written into its in-memory file system.
//   node scripts/bench-browser.mjs [--batch 1,32] [--model models/...safetensors] [--threads N]
//                                  [--wasm-dir DIR] [--variant NAME]
// --threads N > 1 runs the threaded build (build/wasm-mt) in the cross-origin-isolated page;
// --wasm-dir runs the tabtrain-bench-web build in DIR instead (another kernel variant),
// reported as "variant" NAME.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, startServer, launch } from '../tests/e2e/helpers.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const batch = opt('--batch', '1,32');
const model = path.resolve(ROOT, opt('--model', 'models/mobilenet_v2_1.0_224.safetensors'));
const threads = opt('--threads', '1');
const wasmDir = path.resolve(ROOT, opt('--wasm-dir', threads === '1' ? 'build/wasm' : 'build/wasm-mt'));
const variant = opt('--variant', null);
const files = ['tabtrain-bench-web.js', 'tabtrain-bench-web.wasm', ...(threads === '1' ? [] : ['tabtrain-bench-web.worker.js'])];
for (const f of [model, ...files.map((f) => path.join(wasmDir, f))])
  if (!fs.existsSync(f)) { console.error(`bench-browser: missing ${f} (scripts/build wasm wasm-mt, scripts/fetch-model)`); process.exit(1); }

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabtrain-bench-web-'));
for (const f of files) fs.copyFileSync(path.join(wasmDir, f), path.join(dir, f));
fs.copyFileSync(model, path.join(dir, 'model.safetensors'));
fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><script src="tabtrain-bench-web.js"></script>');

const server = await startServer(dir);
const browser = await launch();
try {
  await browser.page.goto(server.url);
  const lines = await browser.page.evaluate(async ([batchArg, threadsArg]) => {
    const weights = new Uint8Array(await (await fetch('model.safetensors')).arrayBuffer());
    const out = [];
    const M = await TabtrainBench({ print: (l) => out.push(l), printErr: (l) => out.push('stderr: ' + l) });
    M.FS.writeFile('/model.safetensors', weights);
    M.callMain(['mnv2', '--model', '/model.safetensors', '--batch', batchArg, '--threads', threadsArg]);
    return out;
  }, [batch, threads]);
  let ok = false;
  for (const l of lines) {
    if (!l.startsWith('{')) { console.error(l); continue; }
    console.log(variant ? JSON.stringify({ ...JSON.parse(l), variant }) : l);
    ok = true;
  }
  if (!ok) process.exitCode = 1;
} finally {
  await browser.close();
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
