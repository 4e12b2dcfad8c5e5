// The app's service worker (registered by app.js):
//  - offline after the first visit: the shell (page, worker, engine builds, embed module,
//    vendored libraries, weights manifest) is cached under its build version. The weights
//    themselves (14 MB) are not cached here: the worker keeps them in IndexedDB.
//  - a new build is a new version: its files are cached beside the old ones while the page
//    runs; the page offers a reload, which switches to the new worker, and the old cache
//    is deleted when that worker activates (app.js shows "updated" afterwards);
//  - every response it serves carries COOP/COEP, so the page is cross-origin isolated (and
//    may run threads) on a static host that sends no such headers.
// scripts/build-web replaces the SHELL line with the build's version (a hash of the shell
// files) and their list; unbuilt (web/ served as is), it caches and intercepts nothing.
const SHELL = { version: 'unbuilt', files: [] };
const CACHE = `tabtrain-shell-${SHELL.version}`;
const PREFIX = 'tabtrain-shell-';
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
const scoped = (f) => new URL(f, self.registration.scope).href;
const SHELL_URLS = new Set(SHELL.files.map(scoped));

self.addEventListener('install', (e) => {
  // 'reload': straight from the server, never an older copy from the HTTP cache.
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL.files.map((f) => new Request(scoped(f), { cache: 'reload' })))));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k.startsWith(PREFIX) && k !== CACHE).map((k) => caches.delete(k)))));
});

// The page's "Reload to update" button.
self.addEventListener('message', (e) => { if (e.data === 'skip-waiting') self.skipWaiting(); });

function withIsolation(res, head) {
  const headers = new Headers(res.headers);
  for (const [k, v] of Object.entries(ISOLATION)) headers.set(k, v);
  return new Response(head ? null : res.body, { status: res.status, statusText: res.statusText, headers });
}

// Only the shell is answered here; anything else (weights, sample pictures, other sites)
// goes to the network as if there were no service worker.
self.addEventListener('fetch', (e) => {
  const req = e.request;
  if (req.method !== 'GET' && req.method !== 'HEAD') return;
  const url = new URL(req.url);
  url.search = '', url.hash = '';
  const key = req.mode === 'navigate' && url.href === self.registration.scope ? scoped('index.html') : url.href;
  if (!SHELL_URLS.has(key)) return;
  e.respondWith((async () => {
    const cached = await caches.match(key, { cacheName: CACHE });
    const res = cached || await fetch(key);
    return withIsolation(res, req.method === 'HEAD');
  })());
});
