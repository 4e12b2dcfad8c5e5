// Which engine build the worker loads, and on how many threads it computes.
//
// Two builds of the same C sources sit side by side (scripts/build-web):
//   wasm-mt/tabtrain.mjs  threads (Emscripten pthreads over a SharedArrayBuffer)
//   wasm/tabtrain.mjs     one thread
// Shared memory exists only on a cross-origin-isolated page (scripts/serve sends
// COOP/COEP), so the threaded build is chosen only then, and only when this server has
// it; otherwise the single-threaded one runs. Results are the same bits either way.

export const MAX_THREADS = 8;

// The thread count a page offers by default: every core the browser reports, at most 8.
export function defaultThreads(cores = globalThis.navigator?.hardwareConcurrency) {
  return Math.max(1, Math.min(MAX_THREADS, Math.floor(cores) || 1));
}

async function exists(url) {
  try { return (await fetch(url, { method: 'HEAD' })).ok; } catch { return false; }
}

// {url, dir, threaded, maxThreads, reason} of the build to load, or null when neither is
// on the server. `reason` says in words why a single-threaded build runs.
export async function pickEngineBuild(base) {
  const threadedUrl = new URL('./wasm-mt/tabtrain.mjs', base);
  const singleUrl = new URL('./wasm/tabtrain.mjs', base);
  const isolated = globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
  if (isolated && await exists(threadedUrl))
    return { url: threadedUrl, dir: new URL('./wasm-mt/', base), threaded: true, maxThreads: defaultThreads(), reason: '' };
  if (!await exists(singleUrl)) return null;
  const reason = isolated ? 'this server has no threaded engine'
    : 'the page is not cross-origin isolated, so the browser allows no shared memory';
  return { url: singleUrl, dir: new URL('./wasm/', base), threaded: false, maxThreads: 1, reason };
}

// The count to run on for a requested one (the page's Threads setting).
export function clampThreads(requested, build) {
  const n = Math.floor(Number(requested)) || build.maxThreads;
  return Math.max(1, Math.min(build.maxThreads, n));
}
