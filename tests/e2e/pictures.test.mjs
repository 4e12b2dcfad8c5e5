// A picture's identity is its whole file: two pictures whose files share their first
// 120 KB (BMPs with the same bottom rows; BMP stores rows bottom-up) are two pictures.
// The page accepts the second into the same class instead of calling it "the same
// picture". Skipped until the engine is built.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './helpers.mjs';

const skip = h.ENGINE_SKIP || h.REAL_WEIGHTS_SKIP;
let app, srv;
before(async () => { if (!skip) { app = h.buildApp(); srv = await h.startServer(app.root); } });
after(async () => { await srv?.close(); app?.cleanup(); });

// A 256x256 24-bit BMP: seeded noise, the top 96 rows tinted towards channel `tint`
// (0 blue, 2 red: BMP pixels are BGR).
function twinBmp(tint) {
  const W = 256, H = 256, TOP = 96, row = W * 3;
  const buf = Buffer.alloc(54 + row * H);
  buf.write('BM', 0, 'latin1');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(54, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(W, 18);
  buf.writeInt32LE(H, 22); // positive: bottom-up
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(24, 28);
  buf.writeUInt32LE(row * H, 34);
  let x = 0x2545f491;
  for (let y = 0; y < H; y++) { // y = stored row: 0 is the bottom of the picture
    for (let i = 0; i < row; i++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      let v = (x >>> 0) & 255;
      if (y >= H - TOP) v = i % 3 === tint ? 200 + (v % 56) : v % 40;
      buf[54 + y * row + i] = v;
    }
  }
  return buf;
}

test('two pictures that share their first 120 KB are both added to one class', { skip }, async () => {
  const a = twinBmp(2), b = twinBmp(0);
  let shared = 0;
  while (a[shared] === b[shared]) shared++;
  assert.ok(shared > 65536 && a.length === b.length, `shared prefix ${shared}`);
  const br = await h.openApp(srv.url);
  try {
    const { page } = br;
    await page.fill('#new-class-name', 'twins');
    await page.click('#add-class');
    await page.waitForSelector('input[type=file][data-class-index="0"]');
    await page.setInputFiles('input[type=file][data-class-index="0"]', [
      { name: 'reddish.bmp', mimeType: 'image/bmp', buffer: a },
      { name: 'bluish.bmp', mimeType: 'image/bmp', buffer: b },
    ]);
    await page.waitForFunction(() => window.tabtrainState.pendingCommands === 0 &&
      (window.tabtrainState.classes[0].count === 2 || window.tabtrainState.errors.some((e) => e.code === 'file')), null, { timeout: 60_000 });
    const s = await h.state(page);
    assert.deepEqual(s.errors.filter((e) => e.code === 'file'), [], 'the second picture was refused');
    assert.equal(s.classes[0].count, 2);
  } finally { await br.close(); }
});
