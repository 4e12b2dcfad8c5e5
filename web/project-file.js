// Project files (docs/project-file.md): one .zip with project.json, every picture as
// given under images/<class folder>/<file>, and the run's checkpoints under checkpoints/
// in the layout of `tabtrain train --ckpt-dir` (latest, ckpt-*.safetensors, best.safetensors).
// The same folder, unzipped, is what the command line trains and resumes.
//
// The zip format is fflate's (vendor/fflate.js, from npm): its streaming Zip writer and
// Inflate decoder, 8 kB of well-tested code with no dependencies. fflate's readers take
// the whole archive in memory (unzipSync) or scan local headers in a stream (Unzip), which
// cannot tell where a stored entry written with a data descriptor ends and checks no CRC;
// a project of phone photos can be larger than an ArrayBuffer may be. So this module reads
// the central directory itself (the 46-byte records zip files end with) and takes each
// entry from the File by slice: the archive is never in memory, one picture at a time is.
//
// Nothing here touches storage: the worker validates a whole file with validateProject
// (names, sizes, zip-bomb limits, version, every picture decoded, every checkpoint
// verified, through the callbacks it passes) before it changes anything, then imports the
// entries one at a time with readEntry.
import { Zip, ZipPassThrough, ZipDeflate, Inflate, strToU8, strFromU8 } from './vendor/fflate.js';

export const PROJECT_FORMAT = 'tabtrain-project-file';
export const PROJECT_VERSION = 1;
export const MANIFEST = 'project.json';
export const CKPT_DIR = 'checkpoints';

// What a project file may hold; past any of these it is refused before anything is read.
export const LIMITS = Object.freeze({
  entries: 50000,
  picture: 32 * 1024 * 1024,     // MAX_IMAGE_BYTES of protocol.js: the largest picture the page adds
  manifest: 16 * 1024 * 1024,
  checkpoint: 1024 * 1024 * 1024,
  total: 0xffffffff - 1,        // no zip64: fflate's writer has none, so neither has the reader
  ratio: 100,                   // expanded/compressed, for an entry that expands past 1 MB
  classNameChars: 64,           // TT_CLASS_NAME_MAX
});

export class ProjectFileError extends Error {
  constructor(message) { super(message); this.name = 'ProjectFileError'; }
}
const bad = (msg) => { throw new ProjectFileError(msg); };

// ---- CRC-32 (zlib's polynomial), to check what each entry decompresses to ----------------

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();
export function crc32(bytes, crc = 0) {
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 255] ^ (c >>> 8);
  return ~c >>> 0;
}

// ---- names --------------------------------------------------------------------------------

// A file or folder name that unzips to the same name on Linux, macOS and Windows and that
// the CLI's folder scan sees (it skips names starting with '.').
export function safeName(name, fallback) {
  let s = String(name ?? '').normalize('NFC').replace(/[\u0000-\u001f\u007f/\\:*?"<>|]/g, '_').trim();
  s = s.replace(/^\.+/, '').replace(/[. ]+$/, '');
  if (/^(con|prn|aux|nul|com\d|lpt\d)(\.|$)/i.test(s)) s = `_${s}`;
  if (new TextEncoder().encode(s).length > 200) s = [...s].slice(0, 100).join('');
  return s || fallback;
}

// name, or "stem (2).ext", "stem (3).ext" … : the first not in `taken` (lower case; the
// Windows and macOS file systems ignore case).
function uniqueName(name, taken) {
  let out = name;
  const dot = name.lastIndexOf('.');
  const stem = dot > 0 ? name.slice(0, dot) : name, ext = dot > 0 ? name.slice(dot) : '';
  for (let k = 2; taken.has(out.toLowerCase()); k++) out = `${stem} (${k})${ext}`;
  taken.add(out.toLowerCase());
  return out;
}

// The zip paths of a project's classes and pictures. classes: [{name}], in label order;
// images: [{classIndex, name}], in project order. Returns folder per class and path per image.
export function layoutPaths(classes, images) {
  const folders = new Set();
  const folder = classes.map((c, i) => uniqueName(safeName(c.name, `class-${i + 1}`), folders));
  const taken = folder.map(() => new Set());
  const path = images.map((im, i) => {
    const file = uniqueName(safeName(im.name, `picture-${i + 1}`), taken[im.classIndex]);
    return `images/${folder[im.classIndex]}/${file}`;
  });
  return { folder, path };
}

// ---- writing ------------------------------------------------------------------------------

// Writes the project as a zip, one entry at a time, to sink(chunk) (awaited, so the
// caller may write each chunk to storage before the next picture is read).
//   manifest      project.json's object (makeManifest)
//   files         [{path, size?, read: async () => Uint8Array}] in the order they go in:
//                 pictures (stored: JPEG/PNG/WebP do not compress) and checkpoint files
// Each file's bytes are read when its turn comes and dropped after, so at most one
// picture is in memory. There is no zip64 (LIMITS.total): the sizes given are checked
// before anything is read, and the bytes written as they go.
export async function writeProject(manifest, files, sink) {
  const json = strToU8(JSON.stringify(manifest, null, 1));
  const overhead = (f) => 30 + 16 + 46 + 2 * strToU8(f.path).length; // local header, descriptor, directory record
  const tooBig = (n) => bad(`This project is ${(n / 2 ** 30).toFixed(1)} GB; a project file can hold up to 4 GB. Remove some pictures (or export the model instead).`);
  let total = json.length + 22;
  for (const f of files) total += (f.size ?? 0) + overhead(f);
  if (total > LIMITS.total) tooBig(total);
  let chunks = [], failed = null, written = 0;
  const zip = new Zip((err, chunk) => { if (err) failed = err; else chunks.push(chunk); });
  const flush = async () => {
    if (failed) throw failed;
    const out = chunks;
    chunks = [];
    for (const c of out) { written += c.length; await sink(c); }
  };
  const manifestEntry = new ZipDeflate(MANIFEST, { level: 6 });
  zip.add(manifestEntry);
  manifestEntry.push(json, true);
  await flush();
  for (const f of files) {
    const bytes = await f.read();
    if (f.size !== undefined && bytes.length !== f.size) bad(`${f.path} changed while the project was being saved; save it again.`);
    if (written + bytes.length + overhead(f) > LIMITS.total) tooBig(written + bytes.length);
    const entry = new ZipPassThrough(f.path); // counts the size and CRC as it passes
    zip.add(entry);
    entry.push(bytes, true);
    await flush();
  }
  zip.end();
  await flush();
}

// project.json (docs/project-file.md). classes: [{name}]; images: [{classIndex, name, size}]
// in project order; settings: the config JSON; run: {epoch, step, finished} of the
// checkpoint, or null; ckpt: {latest, best} file names in checkpoints/ (null when absent).
export function makeManifest({ classes, images, settings, run = null, ckpt = null, app = '' }) {
  const { folder, path } = layoutPaths(classes, images);
  return {
    format: PROJECT_FORMAT,
    version: PROJECT_VERSION,
    app,
    classes: classes.map((c, i) => ({ name: c.name, folder: folder[i] })),
    images: images.map((im, i) => ({ path: path[i], class: im.classIndex, name: im.name, size: im.size })),
    settings: settings ?? {},
    run: run && ckpt?.latest ? { ...run, checkpoint: `${CKPT_DIR}/${ckpt.latest}`, best: ckpt.best ? `${CKPT_DIR}/${ckpt.best}` : null } : null,
  };
}

// ---- reading: the central directory --------------------------------------------------------

const u16 = (v, o) => v.getUint16(o, true), u32 = (v, o) => v.getUint32(o, true);
const slice = async (file, start, end) => new Uint8Array(await file.slice(start, end).arrayBuffer());

// The entries of a zip File/Blob: [{name, method, flags, crc, csize, size, offset}].
// Only the directory is read (at most 64 kB of comment + the records).
export async function readDirectory(file) {
  const n = file.size;
  if (n < 22) bad('This is not a project file: it is not a zip file.');
  const tailLen = Math.min(n, 22 + 0xffff);
  const tail = await slice(file, n - tailLen, n);
  const tv = new DataView(tail.buffer);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) if (u32(tv, i) === 0x06054b50) { eocd = i; break; }
  if (eocd < 0) bad('This is not a project file: it is not a zip file (or it is cut short).');
  const count = u16(tv, eocd + 10), cdSize = u32(tv, eocd + 12), cdOffset = u32(tv, eocd + 16);
  if (u16(tv, eocd + 4) || u16(tv, eocd + 6) || count !== u16(tv, eocd + 8)) bad('This zip file is split into parts; a project file is one file.');
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) bad('This zip file uses the zip64 extension (files over 4 GB), which project files do not use.');
  if (count > LIMITS.entries) bad(`This zip file has ${count} entries; a project file may have up to ${LIMITS.entries}.`);
  if (cdOffset + cdSize > n - tailLen + eocd) bad('This zip file is damaged: its table of contents points past its end.');
  const cd = await slice(file, cdOffset, cdOffset + cdSize);
  const v = new DataView(cd.buffer);
  const entries = [];
  for (let i = 0, p = 0; i < count; i++) {
    if (p + 46 > cd.length || u32(v, p) !== 0x02014b50) bad('This zip file is damaged: its table of contents is cut or overwritten.');
    const flags = u16(v, p + 8), nameLen = u16(v, p + 28), extraLen = u16(v, p + 30), commentLen = u16(v, p + 32);
    if (p + 46 + nameLen > cd.length) bad('This zip file is damaged: its table of contents is cut.');
    const raw = cd.subarray(p + 46, p + 46 + nameLen);
    // UTF-8 when flagged, and in practice also when not (Info-ZIP on Linux); else Latin-1.
    let name;
    try { name = new TextDecoder('utf-8', { fatal: true }).decode(raw); }
    catch { if (flags & 0x800) bad('This zip file has an entry whose name is not valid text.'); name = strFromU8(raw, true); }
    entries.push({ name, flags, method: u16(v, p + 10), crc: u32(v, p + 16), csize: u32(v, p + 20), size: u32(v, p + 24), offset: u32(v, p + 42) });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

// Why a name may not be unpacked, or null: absolute paths, '..', backslashes, drive
// letters, control characters (a zip may say anything; an unzip tool would write there).
export function unsafePath(name) {
  if (!name) return 'an empty name';
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'a control character in its name';
  if (name.includes('\\')) return 'a backslash in its path';
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) return 'an absolute path';
  if (name.split('/').some((s) => s === '..')) return 'a ".." in its path (it would be written outside the folder)';
  return null;
}

// ---- reading: one entry ---------------------------------------------------------------------

// The bytes of one entry, decompressed, at most `limit` of them, with their CRC checked.
export async function readEntry(file, e, limit = LIMITS.checkpoint) {
  if (e.size > limit) bad(`${e.name} is ${e.size} bytes; at most ${limit} are allowed there.`);
  const head = await slice(file, e.offset, e.offset + 30);
  const hv = new DataView(head.buffer);
  if (head.length < 30 || u32(hv, 0) !== 0x04034b50) bad(`This zip file is damaged: ${e.name} is not where its table of contents says.`);
  const start = e.offset + 30 + u16(hv, 26) + u16(hv, 28);
  if (start + e.csize > file.size) bad(`This zip file is damaged: ${e.name} is cut short.`);
  const packed = await slice(file, start, start + e.csize);
  let out;
  if (e.method === 0) out = packed;
  else {
    // Streaming, so a bomb stops at the size the directory claimed, not at whatever it expands to.
    out = new Uint8Array(e.size);
    let at = 0, over = false;
    const inf = new Inflate((chunk) => {
      if (at + chunk.length > e.size) { over = true; return; }
      out.set(chunk, at);
      at += chunk.length;
    });
    try {
      for (let i = 0; i < packed.length && !over; i += 16384) inf.push(packed.subarray(i, i + 16384), i + 16384 >= packed.length);
    } catch { bad(`This zip file is damaged: ${e.name} does not decompress.`); }
    if (over || at !== e.size) bad(`This zip file is damaged or built to mislead: ${e.name} does not expand to the size it states.`);
  }
  if (out.length !== e.size || crc32(out) !== e.crc) bad(`This zip file is damaged: ${e.name} does not match its checksum.`);
  return out;
}

// ---- validation -----------------------------------------------------------------------------

const isObj = (x) => x && typeof x === 'object' && !Array.isArray(x);

// Checks a project file completely and says what it holds; throws ProjectFileError with a
// message for people at the first problem. Nothing is stored. Callbacks (the engine's):
//   checkPicture(bytes, path)      throws (message) when the picture does not decode
//   checkCheckpoint(bytes, path)   throws when a checkpoint does not verify
//   progress(done, total)          optional
// Returns {manifest, entries (by name), pictures: [{path, name, classIndex, entry}],
// checkpoints: [{path, file, entry}]} for the import.
export async function validateProject(file, { checkPicture, checkCheckpoint, progress = () => {} }) {
  const list = await readDirectory(file);
  const entries = new Map();
  let total = 0;
  const ranges = [];
  for (const e of list) {
    const why = unsafePath(e.name);
    if (why) bad(`This project file is refused: an entry has ${why} ("${e.name.slice(0, 80)}").`);
    if (entries.has(e.name.toLowerCase())) bad(`This project file is refused: "${e.name}" is in it twice.`);
    entries.set(e.name.toLowerCase(), e);
    if (e.name.endsWith('/')) continue;
    if (e.flags & 1) bad(`${e.name} is encrypted; project files are not.`);
    if (e.method !== 0 && e.method !== 8) bad(`${e.name} is compressed with a method tabtrain does not read (${e.method}); use deflate or none.`);
    if (e.method === 0 && e.csize !== e.size) bad(`This zip file is damaged: ${e.name} is stored with two sizes.`);
    if (e.size > 1 << 20 && e.size > LIMITS.ratio * e.csize) bad(`This project file is refused: ${e.name} would expand ${Math.round(e.size / Math.max(1, e.csize))} times (a zip bomb?).`);
    total += e.size;
    if (total > LIMITS.total) bad('This project file is refused: it would expand to more than 4 GB (a zip bomb?).');
    ranges.push([e.offset, e.offset + 30 + e.csize, e.name]);
  }
  // Entries that share bytes are the other kind of bomb (one deflate stream, many names).
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++)
    if (ranges[i][0] < ranges[i - 1][1]) bad(`This project file is refused: ${ranges[i][2]} overlaps ${ranges[i - 1][2]} (a zip bomb?).`);

  const me = entries.get(MANIFEST);
  if (!me) bad('This zip file is not a tabtrain project: it has no project.json.');
  let m;
  try { m = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await readEntry(file, me, LIMITS.manifest))); }
  catch (e) { if (e instanceof ProjectFileError) throw e; bad('This project file is damaged: project.json is not valid JSON.'); }
  if (!isObj(m) || m.format !== PROJECT_FORMAT) bad('This zip file is not a tabtrain project: project.json is of another program.');
  if (!Number.isInteger(m.version) || m.version < 1) bad('This project file is damaged: project.json has no valid version.');
  if (m.version > PROJECT_VERSION) bad(`This project was saved by a newer tabtrain (project file version ${m.version}); this one reads version ${PROJECT_VERSION}. Update the app to open it.`);
  if (!Array.isArray(m.classes) || !Array.isArray(m.images) || (m.settings !== undefined && !isObj(m.settings)))
    bad('This project file is damaged: project.json lacks its list of classes or pictures.');
  const seen = new Set();
  m.classes.forEach((c, i) => {
    const name = isObj(c) && typeof c.name === 'string' ? c.name.trim() : '';
    if (!name || [...name].length > LIMITS.classNameChars) bad(`This project file is damaged: class ${i + 1} has no usable name.`);
    if (seen.has(name.toLowerCase())) bad(`This project file is damaged: two classes are called "${name}".`);
    seen.add(name.toLowerCase());
    if (typeof c.folder !== 'string' || !c.folder || c.folder.includes('/') || unsafePath(c.folder) || c.folder === '.')
      bad(`This project file is damaged: class "${name}" has no usable folder.`);
  });
  if (m.classes.length < 1) bad('This project file has no classes.');
  const missing = [];
  const pictures = m.images.map((im, i) => {
    if (!isObj(im) || typeof im.path !== 'string' || !Number.isInteger(im.class) || im.class < 0 || im.class >= m.classes.length)
      bad(`This project file is damaged: picture ${i + 1} in project.json has no path or class.`);
    if (!im.path.startsWith('images/') || unsafePath(im.path)) bad(`This project file is refused: picture path "${im.path.slice(0, 80)}" is not under images/.`);
    // The folder is the class for the command line: both must read the same label.
    const folder = m.classes[im.class].folder;
    if (!im.path.startsWith(`images/${folder}/`) || im.path.slice(8 + folder.length).includes('/'))
      bad(`This project file is damaged: picture "${im.path.slice(0, 80)}" is not in the folder of its class (images/${folder}/).`);
    const e = entries.get(im.path.toLowerCase());
    if (!e || e.name.endsWith('/')) missing.push(im.path);
    const name = typeof im.name === 'string' && im.name ? im.name : im.path.slice(im.path.lastIndexOf('/') + 1);
    return { path: im.path, name, classIndex: im.class, entry: e };
  });
  const ckpts = [];
  if (m.run !== null && m.run !== undefined) {
    if (!isObj(m.run) || typeof m.run.checkpoint !== 'string') bad('This project file is damaged: its run has no checkpoint.');
    for (const p of [m.run.checkpoint, m.run.best].filter((x) => typeof x === 'string')) {
      if (!p.startsWith(`${CKPT_DIR}/`) || p.slice(CKPT_DIR.length + 1).includes('/') || unsafePath(p)) bad(`This project file is refused: checkpoint path "${p.slice(0, 80)}" is not in ${CKPT_DIR}/.`);
      const e = entries.get(p.toLowerCase());
      if (!e) missing.push(p);
      ckpts.push({ path: p, file: p.slice(CKPT_DIR.length + 1), entry: e });
    }
  }
  if (missing.length)
    bad(`This project file is incomplete: ${missing.length} part${missing.length === 1 ? ' is' : 's are'} missing (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''}).`);

  const totalWork = pictures.length + ckpts.length;
  let done = 0;
  for (const p of pictures) {
    const bytes = await readEntry(file, p.entry, LIMITS.picture);
    try { await checkPicture(bytes, p.path); } catch (e) { bad(`This project file is refused: the picture ${p.path} ${e.message || e}`); }
    progress(++done, totalWork);
  }
  for (const c of ckpts) {
    const bytes = await readEntry(file, c.entry, LIMITS.checkpoint);
    try { await checkCheckpoint(bytes, c.path); } catch (e) { bad(`This project file is refused: its checkpoint ${c.path} ${e.message || e}`); }
    progress(++done, totalWork);
  }
  return { manifest: m, entries, pictures, checkpoints: ckpts };
}
