// Hostile pictures among good ones (issue 10), in headless Chromium with the wasm
// engine and the real MobileNetV2 weights: the JPEG whose Huffman tables overflowed
// stb_image 2.27 (../shared/fuzz-repro/image-jpeg-dht-overflow-1.jpg) and a 40 M-pixel
// JPEG over the page's 16 M limit arrive in one batch with good pictures. The problems
// list names both files with a reason people can read; the good pictures of the same
// batch are added, training runs to its end and a prediction works.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './helpers.mjs';
import * as f from './flows.mjs';

const REPRO = path.join(process.env.TT_SHARED_DIR || path.join(h.ROOT, '../shared'), 'fuzz-repro');
const DHT = path.join(REPRO, 'image-jpeg-dht-overflow-1.jpg'), HUGE = path.join(REPRO, 'slow-jpeg-6324x6324.jpg');
const skip = h.ENGINE_SKIP || h.REAL_WEIGHTS_SKIP || (!fs.existsSync(DHT) && `${DHT} missing`);
const CLASSES = ['animals', 'food'];
let app, srv;
before(async () => { if (!skip) { app = h.buildApp(); srv = await h.startServer(app.root); } });
after(async () => { await srv?.close(); app?.cleanup(); });

test('a JPEG that overflowed the old decoder and a 40 M-pixel one are named in the problems list; the rest goes on', { skip }, async () => {
  const b = await h.openApp(srv.url);
  try {
    const { page } = b;
    await f.addClasses(page, app.root, CLASSES, 4);
    const good = f.pictures(app.root, CLASSES[0]).slice(4, 6);
    const file = (p, name = path.basename(p), mimeType = 'image/png') => ({ name, mimeType, buffer: fs.readFileSync(p) });
    await page.setInputFiles('input[type=file][data-class-index="0"]', [
      file(good[0]),
      file(DHT, 'image-jpeg-dht-overflow-1.jpg', 'image/jpeg'),
      file(HUGE, 'huge.jpg', 'image/jpeg'),
      file(good[1]),
    ]);
    await page.waitForFunction(() => window.tabtrainState.errors.filter((e) => e.code === 'file').length === 2 &&
      window.tabtrainState.pendingCommands === 0, null, { timeout: 60_000 });
    let s = await h.state(page);
    const errs = Object.fromEntries(s.errors.filter((e) => e.code === 'file').map((e) => [e.file, e.message]));
    assert.deepEqual(Object.keys(errs).sort(), ['huge.jpg', 'image-jpeg-dht-overflow-1.jpg'], JSON.stringify(s.errors));
    assert.match(errs['image-jpeg-dht-overflow-1.jpg'], /JPEG: malformed Huffman table/);
    assert.match(errs['huge.jpg'], /6324x6324 \(40\.0 megapixels\) exceeds the limit of 16\.0 megapixels/);
    const shown = await page.locator('#errors li').allTextContents();
    assert.ok(shown.some((t) => t.includes('image-jpeg-dht-overflow-1.jpg')) && shown.some((t) => t.includes('huge.jpg')), shown.join(' | '));
    assert.deepEqual(s.classes.map((c) => c.count), [6, 4], 'the good pictures of the same batch were added');
    await h.screenshot(page, 'untrusted-pictures');

    await f.setTraining(page, { epochs: 3 });
    await page.click('#train');
    s = await h.waitForPhase(page, 'trained', 120_000);
    assert.equal(s.epoch, 3);
    const probs = await f.predict(page, f.pictures(app.root, CLASSES[1])[8]);
    assert.equal(probs.length, 2);
    assert.deepEqual(b.consoleErrors, []);
  } finally { await b.close(); }
});
