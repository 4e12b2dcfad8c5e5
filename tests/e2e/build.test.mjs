// scripts/build-web output: weights manifest matches the file, the sample dataset
// manifest matches the files on disk, the chart library is vendored (no CDN).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './helpers.mjs';

let app;
before(() => { app = h.buildApp(); });
after(() => app?.cleanup());

test('weights manifest holds the size and SHA-256 of the served file', () => {
  const file = path.join(app.root, 'models', app.manifest.file);
  assert.equal(app.manifest.file, h.WEIGHTS_NAME);
  const bytes = fs.readFileSync(file);
  assert.equal(app.manifest.size, bytes.length);
  assert.equal(app.manifest.sha256, h.sha256(bytes));
});

test('sample dataset: 4 classes, ~300 PNGs, one pack holding every listed file and nothing else', { skip: fs.existsSync('/usr/share/qabcs/abcs/all/pics') ? false : 'qabcs-data not installed' }, () => {
  const m = h.samplePictures(app.root);
  assert.deepEqual(m.classes.map((c) => c.name), ['animals', 'food', 'instrument', 'toys']);
  const total = m.classes.reduce((a, c) => a + c.files.length, 0);
  assert.ok(total >= 250 && total <= 350, `total ${total}`);
  assert.equal(m.unread, 0, 'the pack is longer than its pictures');
  for (const c of m.classes) {
    assert.ok(c.files.length >= 50, `${c.name}: ${c.files.length}`);
    assert.equal(c.sizes.length, c.files.length, c.name);
    for (const { name, bytes } of c.pictures) {
      assert.ok(name.startsWith(`${c.name}/`) && name.endsWith('.png'), name);
      assert.equal(bytes.subarray(1, 4).toString(), 'PNG', name);
      assert.equal(bytes.subarray(-8, -4).toString(), 'IEND', `${name}: not a whole PNG`);
    }
  }
  assert.deepEqual(fs.readdirSync(path.join(app.root, 'sample')).sort(), ['COPYRIGHT', 'manifest.json', m.pack].sort());
});

test('page assets are local: no http(s) URLs in html/js/css', () => {
  for (const f of ['index.html', 'app.js', 'worker.js', 'protocol.js', 'style.css']) {
    const text = fs.readFileSync(path.join(app.root, f), 'utf8');
    assert.doesNotMatch(text, /(src|href)=["']https?:|import[^;]*["']https?:/, f);
  }
  assert.ok(fs.existsSync(path.join(app.root, 'vendor/uPlot.esm.js')));
  assert.equal(fs.existsSync(path.join(app.root, 'wasm/tabtrain.mjs')), h.ENGINE_BUILT);
});
