// Dependency-free static server for the tabtrain web app.
//   node scripts/serve.mjs [--port 8080] [--root build/web] [--host 127.0.0.1] [--log]
//                          [--no-isolation] [--https [--tls-dir build/tls]]
// --https serves a self-signed certificate for --host, made once by openssl and kept
// in --tls-dir (never in git): a LAN address over plain http is not a secure context,
// so browsers there turn off the webcam, service workers and cross-origin isolation.
// Every response carries COOP/COEP (+ CORP) so the page is cross-origin isolated
// (SharedArrayBuffer, precise timers: the threaded engine); --no-isolation leaves them
// out, as a host that cannot set headers would (the page then runs on one thread), and .wasm is served as application/wasm so
// WebAssembly.instantiateStreaming works. --port 0 picks a free port; the first
// stdout line is always "tabtrain: serving <root> at <url>" (tests parse it).
import http from 'node:http';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import crypto from 'node:crypto';
import path from 'node:path';

const MAX_TARGET = 4096;            // longer request targets get 414
const HEADERS_TIMEOUT_MS = 20_000;  // a client has this long to send its headers
const REQUEST_TIMEOUT_MS = 60_000;

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
  const opt = { port: 8080, root: 'build/web', host: '127.0.0.1', log: false, isolation: true, https: false,
    tlsDir: path.join(path.dirname(fileURLToPath(import.meta.url)), '../build/tls') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    if (a === '--port') opt.port = Number(val());
    else if (a === '--root') opt.root = val();
    else if (a === '--host') opt.host = val();
    else if (a === '--log') opt.log = true;
    else if (a === '--no-isolation') opt.isolation = false;
    else if (a === '--https') opt.https = true;
    else if (a === '--tls-dir') opt.tlsDir = val();
    else if (a === '-h' || a === '--help') {
      console.log('usage: serve.mjs [--port N] [--root DIR] [--host ADDR] [--log] [--no-isolation] [--https [--tls-dir DIR]]'); process.exit(0);
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

// The path of a request target as sent ("/a/b%20c?q" -> "/a/b%20c"), or null when it is
// not one: only origin-form targets name files here. No URL parser: `new URL("//", base)`
// throws, and one request must never be able to stop the server.
function targetPath(target) {
  if (typeof target !== 'string' || target[0] !== '/' || target.length > MAX_TARGET) return null;
  const end = target.search(/[?#]/);
  return end < 0 ? target : target.slice(0, end);
}

// Maps a URL path to a file strictly inside root, or null. Decoding happens once,
// before normalisation, so "%2e%2e/" and "..%2f" cannot climb out.
function resolve(root, rel) {
  if (rel.includes('\0')) return null;
  const full = path.resolve(root, '.' + path.posix.normalize('/' + rel));
  return full === root || full.startsWith(root + path.sep) ? full : null;
}

function decodePath(p) { try { return decodeURIComponent(p); } catch { return null; } }

// The file a GET/HEAD names, or an HTTP status explaining why there is none.
function lookup(root, target) {
  const raw = targetPath(target);
  if (raw === null) return { status: target?.length > MAX_TARGET ? 414 : 400 };
  const rel = decodePath(raw);
  if (rel === null) return { status: 400 };
  let file = resolve(root, rel);
  if (!file) return { status: 403 };
  let st;
  try {
    st = fs.statSync(file);
    if (st.isDirectory()) { file = path.join(file, 'index.html'); st = fs.statSync(file); }
    // Symlinks may not lead outside root either.
    const real = fs.realpathSync(file);
    if (real !== root && !real.startsWith(root + path.sep)) return { status: 404 };
  } catch { return { status: 404 }; }
  return st.isFile() ? { file, st } : { status: 404 };
}

const REASON = { 400: 'bad request\n', 403: 'forbidden\n', 404: 'not found\n', 405: 'method not allowed\n', 414: 'path too long\n', 500: 'server error\n' };

function handle(root, headers, req, res, done) {
  if (req.method !== 'GET' && req.method !== 'HEAD') { send(res, headers, 405, REASON[405]); return done(405); }
  const { status, file, st } = lookup(root, req.url);
  if (status) { send(res, headers, status, REASON[status]); return done(status); }
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
}

// Every request runs inside error handling: whatever it sends, the answer is a status
// (400 for a target that is not a path, 500 for a bug) and the server keeps serving.
export function createServer(rootDir, { log = false, tls = null, isolation = true } = {}) {
  const root = fs.realpathSync(rootDir);
  const headers = isolation ? ISOLATION : NOSNIFF;
  const onRequest = (req, res) => {
    const done = (status) => { if (log) console.log(`${req.method} ${JSON.stringify(req.url).slice(1, -1).slice(0, 200)} ${status}`); };
    res.on('error', () => res.destroy());
    try { handle(root, headers, req, res, done); } catch (e) {
      console.error(`serve: ${req.method} failed: ${e.message}`);
      if (!res.headersSent) { send(res, headers, 500, REASON[500]); done(500); } else res.destroy();
    }
  };
  const server = tls ? https.createServer(tls, onRequest) : http.createServer(onRequest);
  // A client that sends its headers slowly (or never) is dropped after this.
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  // Unparsable requests (bad request line, headers over Node's limit): answer 400 and
  // close that socket only.
  server.on('clientError', (err, socket) => {
    if (log) console.log(`- (unparsable: ${err.code || err.message}) 400`);
    if (socket.writable && !socket.destroyed) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  return server;
}

// A self-signed certificate naming `host` (and localhost), generated by openssl on
// first use and reused while it still names that host. The key stays in `dir` (0700).
export function selfSignedCert(dir, host) {
  const key = path.join(dir, 'key.pem'), cert = path.join(dir, 'cert.pem'), names = path.join(dir, 'names.txt');
  const isIp = /^[\d.]+$|:/.test(host);
  const san = [...new Set([isIp ? `IP:${host}` : `DNS:${host}`, 'DNS:localhost', 'IP:127.0.0.1'])].join(',');
  if (![key, cert, names].every((f) => fs.existsSync(f)) || fs.readFileSync(names, 'utf8') !== san) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '825', '-subj', `/CN=tabtrain classroom ${host}`, '-addext', `subjectAltName=${san}`],
    { stdio: ['ignore', 'ignore', 'pipe'] });
    fs.chmodSync(key, 0o600);
    fs.writeFileSync(names, san);
  }
  const pem = fs.readFileSync(cert);
  const fingerprint = new crypto.X509Certificate(pem).fingerprint256;
  return { key: fs.readFileSync(key), cert: pem, fingerprint };
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('serve.mjs')) {
  let opt;
  try { opt = parseArgs(process.argv.slice(2)); } catch (e) { console.error(`serve: ${e.message}`); process.exit(2); }
  if (!fs.existsSync(opt.root)) { console.error(`serve: root ${opt.root} does not exist (run scripts/build-web first)`); process.exit(1); }
  let tls = null;
  if (opt.https) {
    try { tls = selfSignedCert(opt.tlsDir, opt.host); } catch (e) {
      console.error(`serve: could not make a certificate with openssl (apt-get install openssl): ${e.stderr?.toString().trim() || e.message}`);
      process.exit(1);
    }
  }
  const server = createServer(opt.root, { log: opt.log, tls, isolation: opt.isolation });
  server.on('error', (e) => { console.error(`serve: ${e.message}`); process.exit(1); });
  server.listen(opt.port, opt.host, () => {
    const { port } = server.address();
    const host = opt.host.includes(':') ? `[${opt.host}]` : opt.host;
    console.log(`tabtrain: serving ${fs.realpathSync(opt.root)} at ${tls ? 'https' : 'http'}://${host}:${port}/`);
    if (tls) {
      console.log(`tabtrain: self-signed certificate (SHA-256 fingerprint ${tls.fingerprint}); each browser asks once to accept it`);
    } else if (!/^(127\.|::1$|localhost$)/.test(opt.host)) {
      console.log('tabtrain: plain http on a network address is not a secure context: browsers there have no webcam, offline use or threads; add --https');
    }
  });
}
