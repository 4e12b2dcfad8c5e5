// Dependency-free static server for the tabtrain web app.
//   node scripts/serve.mjs [--port 8080] [--root build/web] [--host 127.0.0.1] [--log] [--no-isolation]
// Every response carries COOP/COEP (+ CORP) so the page is cross-origin isolated
// (SharedArrayBuffer, precise timers: the threaded engine); --no-isolation leaves them
// out, as a host that cannot set headers would (the page then runs on one thread), and .wasm is served as application/wasm so
// WebAssembly.instantiateStreaming works. --port 0 picks a free port; the first
// stdout line is always "tabtrain: serving <root> at <url>" (tests parse it).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8', '.wasm': 'application/wasm',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif',
  '.webp': 'image/webp', '.bmp': 'image/bmp', '.svg': 'image/svg+xml', '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8', '.md': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8', '.safetensors': 'application/octet-stream',
};

function parseArgs(argv) {
  const opt = { port: 8080, root: 'build/web', host: '127.0.0.1', log: false, isolation: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    if (a === '--port') opt.port = Number(val());
    else if (a === '--root') opt.root = val();
    else if (a === '--host') opt.host = val();
    else if (a === '--log') opt.log = true;
    else if (a === '--no-isolation') opt.isolation = false;
    else if (a === '-h' || a === '--help') {
      console.log('usage: serve.mjs [--port N] [--root DIR] [--host ADDR] [--log] [--no-isolation]'); process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(opt.port) || opt.port < 0 || opt.port > 65535) throw new Error('bad --port');
  return opt;
}

const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
};

const NOSNIFF = { 'X-Content-Type-Options': 'nosniff' };

function send(res, headers, status, body) {
  res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

// Maps a URL path to a file strictly inside root, or null. Decoding happens once,
// before normalisation, so "%2e%2e/" and "..%2f" cannot climb out.
function resolve(root, urlPath) {
  let rel;
  try { rel = decodeURIComponent(urlPath); } catch { return null; }
  if (rel.includes('\0')) return null;
  const full = path.resolve(root, '.' + path.posix.normalize('/' + rel));
  return full === root || full.startsWith(root + path.sep) ? full : null;
}

export function createServer(rootDir, { log = false, isolation = true } = {}) {
  const root = fs.realpathSync(rootDir);
  const headers = isolation ? ISOLATION : NOSNIFF;
  return http.createServer((req, res) => {
    const done = (status) => { if (log) console.log(`${req.method} ${req.url} ${status}`); };
    if (req.method !== 'GET' && req.method !== 'HEAD') { send(res, headers, 405, 'method not allowed\n'); return done(405); }
    const url = new URL(req.url, 'http://x');
    let file = resolve(root, url.pathname);
    if (!file) { send(res, headers, 403, 'forbidden\n'); return done(403); }
    fs.stat(file, (err, st) => {
      if (!err && st.isDirectory()) {
        file = path.join(file, 'index.html');
        try { st = fs.statSync(file); err = null; } catch (e) { err = e; }
      }
      // Symlinks may not lead outside root either.
      if (!err) { try { const real = fs.realpathSync(file); if (real !== root && !real.startsWith(root + path.sep)) err = new Error('outside'); } catch (e) { err = e; } }
      if (err || !st.isFile()) { send(res, headers, 404, 'not found\n'); return done(404); }
      res.writeHead(200, {
        ...headers,
        'Content-Type': MIME[path.extname(file).toLowerCase()] || 'application/octet-stream',
        'Content-Length': st.size,
        'Cache-Control': 'no-cache',
        'Last-Modified': st.mtime.toUTCString(),
      });
      if (req.method === 'HEAD') { res.end(); return done(200); }
      fs.createReadStream(file).on('error', () => res.destroy()).pipe(res);
      done(200);
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('serve.mjs')) {
  let opt;
  try { opt = parseArgs(process.argv.slice(2)); } catch (e) { console.error(`serve: ${e.message}`); process.exit(2); }
  if (!fs.existsSync(opt.root)) { console.error(`serve: root ${opt.root} does not exist (run scripts/build-web first)`); process.exit(1); }
  const server = createServer(opt.root, { log: opt.log, isolation: opt.isolation });
  server.on('error', (e) => { console.error(`serve: ${e.message}`); process.exit(1); });
  server.listen(opt.port, opt.host, () => {
    const { port } = server.address();
    console.log(`tabtrain: serving ${fs.realpathSync(opt.root)} at http://${opt.host}:${port}/`);
  });
}
