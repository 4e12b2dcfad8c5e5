// web/project-file.js under Node: the zip it writes (read back by it and by Python's
// zipfile), and every kind of bad project file refused with its message before any
// picture is handed on. The engine's checks (a picture decodes, a checkpoint verifies)
// are callbacks here; tests/e2e/project.test.mjs runs them for real in the page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync, strToU8 } from 'fflate';
import { web } from './load.mjs';

const pf = await web('project-file.js');
const { writeProject, makeManifest, validateProject, readEntry, readDirectory, crc32, LIMITS, PROJECT_VERSION } = pf;

// Stand-ins for pictures: a PNG signature and bytes that differ per picture.
const picture = (i, n = 300 + i) => {
  const b = new Uint8Array(n);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  for (let k = 8; k < n; k++) b[k] = (k * 31 + i * 17) & 255;
  return b;
};
const checks = {
  checkPicture: (bytes) => { if (bytes[0] !== 0x89 || bytes[1] !== 0x50) throw new Error('is not a picture tabtrain can read.'); },
  checkCheckpoint: (bytes) => { if (!strFrom(bytes).startsWith('CKPT')) throw new Error('is damaged.'); },
};
const strFrom = (b) => new TextDecoder().decode(b);

const CLASSES = [{ name: 'Cats' }, { name: 'dogs/wolves' }, { name: '..' }];
const IMAGES = [
  { classIndex: 0, name: 'tom.jpg' }, { classIndex: 1, name: 'rex.png' }, { classIndex: 0, name: 'TOM.jpg' },
  { classIndex: 2, name: '../../etc/passwd' }, { classIndex: 1, name: '.hidden.png' }, { classIndex: 0, name: 'tom.jpg' },
].map((im, i) => ({ ...im, size: picture(i).length }));
const CKPT = strToU8('CKPT checkpoint bytes');
const BEST = strToU8('CKPT best bytes');

// A project with 3 classes and a run, as the worker saves it; reads counted.
async function saveProject({ images = IMAGES, reads } = {}) {
  const manifest = makeManifest({
    classes: CLASSES, images, settings: { epochs: 5, lr: 0.001 }, app: 'tabtrain test',
    run: { epoch: 2, step: 14, finished: false }, ckpt: { latest: 'ckpt-e0002-s000014.safetensors', best: 'best.safetensors' },
  });
  const files = images.map((im, i) => ({ path: manifest.images[i].path, size: im.size, read: async () => { reads?.push(i); return picture(i); } }));
  const latestLine = strToU8('ckpt-e0002-s000014.safetensors\n');
  // Sizes are optional (the worker knows them only once it reads the bytes).
  files.push({ path: 'checkpoints/ckpt-e0002-s000014.safetensors', read: async () => CKPT });
  files.push({ path: 'checkpoints/best.safetensors', size: BEST.length, read: async () => BEST });
  files.push({ path: 'checkpoints/latest', read: async () => latestLine });
  const chunks = [];
  await writeProject(manifest, files, async (c) => { chunks.push(c); reads?.push('sink'); });
  return { manifest, blob: new Blob(chunks) };
}

test('a saved project reads back: manifest, safe unique paths, every picture and checkpoint', async () => {
  const { manifest, blob } = await saveProject();
  assert.equal(manifest.version, PROJECT_VERSION);
  assert.deepEqual(manifest.classes.map((c) => c.folder), ['Cats', 'dogs_wolves', 'class-3']);
  assert.deepEqual(manifest.images.map((im) => im.path), [
    'images/Cats/tom.jpg', 'images/dogs_wolves/rex.png', 'images/Cats/TOM (2).jpg',
    'images/class-3/_.._etc_passwd', 'images/dogs_wolves/hidden.png', 'images/Cats/tom (3).jpg',
  ]);
  assert.deepEqual(manifest.images.map((im) => im.name), IMAGES.map((im) => im.name)); // names as given
  assert.equal(manifest.run.checkpoint, 'checkpoints/ckpt-e0002-s000014.safetensors');
  const seen = [];
  const got = await validateProject(blob, { ...checks, checkPicture: (b, p) => { seen.push(p); checks.checkPicture(b); } });
  assert.deepEqual(seen, manifest.images.map((im) => im.path));
  assert.deepEqual(got.manifest, manifest);
  for (const [i, p] of got.pictures.entries()) {
    assert.equal(p.classIndex, IMAGES[i].classIndex);
    assert.deepEqual(await readEntry(blob, p.entry), picture(i));
  }
  assert.deepEqual(got.checkpoints.map((c) => c.file), ['ckpt-e0002-s000014.safetensors', 'best.safetensors']);
  assert.deepEqual(await readEntry(blob, got.checkpoints[0].entry), CKPT);
});

test('another zip tool unpacks it into the folder the CLI reads (Python zipfile, CRCs tested)', async () => {
  const { blob, manifest } = await saveProject();
  const dir = mkdtempSync(join(tmpdir(), 'tt-project-'));
  try {
    writeFileSync(join(dir, 'p.zip'), Buffer.from(await blob.arrayBuffer()));
    execFileSync('python3', ['-c', 'import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nz.extractall(sys.argv[2])', join(dir, 'p.zip'), join(dir, 'out')]);
    assert.deepEqual(readdirSync(join(dir, 'out')).sort(), ['checkpoints', 'images', 'project.json']);
    assert.deepEqual(readdirSync(join(dir, 'out/images')).sort(), ['Cats', 'class-3', 'dogs_wolves']);
    assert.deepEqual(readdirSync(join(dir, 'out/checkpoints')).sort(), ['best.safetensors', 'ckpt-e0002-s000014.safetensors', 'latest']);
    for (const [i, im] of manifest.images.entries()) assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'out', im.path))), picture(i));
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'out/project.json'), 'utf8')), manifest);
    // …and a zip that Python writes (deflated, sizes in the local headers) opens here.
    execFileSync('python3', ['-c', 'import os, sys, zipfile\nos.chdir(sys.argv[1])\nz = zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED)\nfor r, ds, fs in sorted(os.walk(".")):\n  for f in sorted(fs): z.write(os.path.join(r, f)[2:])\nz.close()', join(dir, 'out'), join(dir, 'py.zip')]);
    const py = new Blob([readFileSync(join(dir, 'py.zip'))]);
    const got = await validateProject(py, checks);
    assert.equal(got.pictures.length, IMAGES.length);
    assert.equal((await readDirectory(py)).find((e) => e.name === 'project.json').method, 8);
    for (const [i, p] of got.pictures.entries()) assert.deepEqual(await readEntry(py, p.entry), picture(i));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('streaming: each picture is read only after the previous one went to the sink', async () => {
  const reads = [];
  await saveProject({ reads });
  // read 0, sink…, read 1, sink…: never two reads without a sink between them.
  for (let i = 1; i < reads.length; i++) if (typeof reads[i] === 'number') assert.equal(reads[i - 1], 'sink', `read ${reads[i]} came before picture ${reads[i] - 1} was written`);
  assert.equal(reads.filter((r) => typeof r === 'number').length, IMAGES.length);
});

test('a project over 4 GB is refused before any picture is read', async () => {
  const big = Array.from({ length: 3 }, () => ({ classIndex: 0, name: 'huge.jpg', size: 1.5 * 2 ** 30 }));
  const reads = [];
  await assert.rejects(saveProject({ images: big, reads }), /4\.5 GB; a project file can hold up to 4 GB/);
  assert.deepEqual(reads, []);
});

// ---- bad files --------------------------------------------------------------------------------

const manifestOf = (over = {}) => ({
  format: 'tabtrain-project-file', version: 1, classes: [{ name: 'a', folder: 'a' }, { name: 'b', folder: 'b' }],
  images: [{ path: 'images/a/1.png', class: 0, name: '1.png' }, { path: 'images/b/2.png', class: 1, name: '2.png' }],
  settings: {}, run: null, ...over,
});
const zipOf = (files, level = 0) => new Blob([zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, [typeof v === 'string' ? strToU8(v) : v, { level }]])))]);
const goodFiles = (over = {}) => ({ 'project.json': JSON.stringify(manifestOf(over)), 'images/a/1.png': picture(1), 'images/b/2.png': picture(2) });
// Validation must stop before the engine sees any picture of a refused file.
async function refused(blob, re) {
  const handed = [];
  await assert.rejects(validateProject(blob, { ...checks, checkPicture: (b, p) => { handed.push(p); checks.checkPicture(b); } }), (e) => {
    assert.equal(e.name, 'ProjectFileError');
    assert.match(e.message, re);
    return true;
  });
  return handed;
}

test('the good base file of the bad-file tests is accepted', async () => {
  const got = await validateProject(zipOf(goodFiles()), checks);
  assert.equal(got.pictures.length, 2);
});

test('not a zip: a picture, random bytes, an empty file, a cut zip', async () => {
  assert.deepEqual(await refused(new Blob([picture(0, 5000)]), /not a project file: it is not a zip file/), []);
  await refused(new Blob([]), /not a zip file/);
  const whole = new Uint8Array(await zipOf(goodFiles()).arrayBuffer());
  await refused(new Blob([whole.subarray(0, whole.length - 30)]), /not a zip file \(or it is cut short\)/);
});

test('a zip that is not a project: no project.json, another format, bad JSON', async () => {
  await refused(zipOf({ 'images/a/1.png': picture(1) }), /not a tabtrain project: it has no project\.json/);
  await refused(zipOf({ ...goodFiles(), 'project.json': JSON.stringify({ format: 'other', version: 1 }) }), /project\.json is of another program/);
  await refused(zipOf({ ...goodFiles(), 'project.json': '{"format": "tabtrain-project-file",' }), /project\.json is not valid JSON/);
});

test('wrong version: a newer project file asks for a newer app; a version that is no number is damage', async () => {
  assert.deepEqual(await refused(zipOf(goodFiles({ version: 2 })), /saved by a newer tabtrain \(project file version 2\); this one reads version 1/), []);
  await refused(zipOf(goodFiles({ version: '1' })), /no valid version/);
  await refused(zipOf(goodFiles({ version: 0 })), /no valid version/);
});

test('missing parts: a listed picture or checkpoint that is not in the zip; no class or picture list', async () => {
  const files = goodFiles();
  delete files['images/b/2.png'];
  assert.deepEqual(await refused(zipOf(files), /incomplete: 1 part is missing \(images\/b\/2\.png\)/), []);
  const run = { epoch: 1, step: 3, checkpoint: 'checkpoints/ckpt-e0001-s000003.safetensors', best: 'checkpoints/best.safetensors' };
  await refused(zipOf({ ...goodFiles({ run }), 'checkpoints/best.safetensors': 'CKPT' }), /1 part is missing \(checkpoints\/ckpt-e0001-s000003\.safetensors\)/);
  await refused(zipOf({ ...goodFiles(), 'project.json': JSON.stringify({ ...manifestOf(), images: undefined }) }), /lacks its list of classes or pictures/);
  await refused(zipOf(goodFiles({ classes: [] })), /lacks its list|has no classes|no class/);
  await refused(zipOf(goodFiles({ images: [{ path: 'images/a/1.png', class: 5 }] })), /picture 1 in project\.json has no path or class/);
  await refused(zipOf(goodFiles({ classes: [{ name: 'a', folder: 'a' }, { name: 'A', folder: 'b' }] })), /two classes are called "A"/);
  await refused(zipOf(goodFiles({ classes: [{ name: 'a', folder: 'a' }, { name: 'b', folder: '..' }] })), /class "b" has no usable folder/);
  await refused(zipOf(goodFiles({ images: [{ path: 'images/a/1.png', class: 1 }] })), /picture "images\/a\/1\.png" is not in the folder of its class \(images\/b\/\)/);
});

test('a picture that does not decode, a checkpoint that does not verify: named, and the rest not handed on', async () => {
  const files = { ...goodFiles(), 'images/a/1.png': strToU8('this is text, not a picture') };
  const handed = await refused(zipOf(files), /the picture images\/a\/1\.png is not a picture tabtrain can read/);
  assert.deepEqual(handed, ['images/a/1.png']);
  const run = { epoch: 1, step: 3, checkpoint: 'checkpoints/c.safetensors' };
  await refused(zipOf({ ...goodFiles({ run }), 'checkpoints/c.safetensors': 'garbage' }), /its checkpoint checkpoints\/c\.safetensors is damaged/);
});

test('a damaged entry: a flipped byte fails its CRC', async () => {
  const whole = new Uint8Array(await zipOf(goodFiles()).arrayBuffer());
  const at = whole.findIndex((_, i) => whole[i] === 0x89 && whole[i + 1] === 0x50 && whole[i + 2] === 0x4e); // first stored PNG
  whole[at + 100] ^= 1;
  await refused(new Blob([whole]), /images\/a\/1\.png does not match its checksum/);
});

test('zip bombs: a high ratio, a directory that understates the size, entries sharing bytes, too many entries', async () => {
  const zeros = new Uint8Array(2 << 20);
  assert.deepEqual(await refused(zipOf({ ...goodFiles(), 'images/a/1.png': zeros }, 9), /images\/a\/1\.png would expand \d+ times \(a zip bomb\?\)/), []);
  // The directory says 400 bytes; the stream inflates to 2 MB: stopped at 400.
  const z = new Uint8Array(await zipOf({ 'project.json': JSON.stringify(manifestOf()), 'images/a/1.png': zeros, 'images/b/2.png': picture(2) }, 9).arrayBuffer());
  const v = new DataView(z.buffer);
  for (let p = z.length - 22; p > 0; p--) if (v.getUint32(p, true) === 0x02014b50 && new TextDecoder().decode(z.subarray(p + 46, p + 46 + 14)) === 'images/a/1.png') v.setUint32(p + 24, 400, true);
  await refused(new Blob([z]), /images\/a\/1\.png does not expand to the size it states/);
  // Two names for the same bytes (the overlapping-entry bomb).
  const o = new Uint8Array(await zipOf(goodFiles()).arrayBuffer());
  const ov = new DataView(o.buffer);
  const cds = [];
  for (let p = 0; p + 4 < o.length; p++) if (ov.getUint32(p, true) === 0x02014b50) cds.push(p);
  ov.setUint32(cds[2] + 42, ov.getUint32(cds[1] + 42, true), true);
  await refused(new Blob([o]), /overlaps .* \(a zip bomb\?\)/);
  // A directory that claims more entries than a project may have is refused before it is read.
  const m = new Uint8Array(await zipOf(goodFiles()).arrayBuffer());
  const mv = new DataView(m.buffer);
  mv.setUint16(m.length - 22 + 8, LIMITS.entries + 1, true), mv.setUint16(m.length - 22 + 10, LIMITS.entries + 1, true);
  await refused(new Blob([m]), new RegExp(`has ${LIMITS.entries + 1} entries; a project file may have up to ${LIMITS.entries}`));
});

test('paths that would leave the folder: ../, absolute, backslash, drive letter; a picture outside images/', async () => {
  for (const name of ['../evil.png', 'images/a/../../evil.png', '/etc/passwd', 'images\\a\\1.png', 'C:/x.png'])
    assert.deepEqual(await refused(zipOf({ ...goodFiles(), [name]: picture(3) }), /refused: an entry has (a "\.\." in its path|an absolute path|a backslash in its path)/), [], name);
  await refused(zipOf(goodFiles({ images: [{ path: 'checkpoints/x.png', class: 0 }] })), /picture path "checkpoints\/x\.png" is not under images\//);
  const run = { epoch: 1, step: 1, checkpoint: 'images/a/1.png' };
  await refused(zipOf(goodFiles({ run })), /checkpoint path "images\/a\/1\.png" is not in checkpoints\//);
});

test('crc32 is zlib\'s', () => {
  assert.equal(crc32(strToU8('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});
