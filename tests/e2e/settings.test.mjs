// The settings form is the engine's settings table (issue 14): every field, label,
// default, range, choice and preset comes from tt_wasm_config_schema through the worker,
// and Train sends back the engine's own config. A schema changed on its way to the page
// changes the form, so the page keeps no copy; and no script of the page names a
// setting's key or label.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './helpers.mjs';

const skip = h.ENGINE_SKIP;
let app, srv;
before(async () => {
  if (skip) return;
  app = h.buildApp();
  srv = await h.startServer(app.root);
});
after(async () => { await srv?.close(); app?.cleanup(); });

// Records every command the page sends to the worker, and (when `patch` is given)
// rewrites the schema in the worker's state events before the page sees them.
const instrument = (context, patch) => context.addInitScript((patchSource) => {
  const patchFn = patchSource ? (0, eval)(`(${patchSource})`) : null;
  window.__sent = [];
  const Base = window.Worker;
  window.Worker = class extends Base {
    postMessage(m, t) { window.__sent.push(structuredClone(m)); return super.postMessage(m, t); }
    set onmessage(fn) {
      super.onmessage = (e) => {
        const m = e.data;
        if (patchFn && m?.type === 'state' && m.state.schema) patchFn(m.state.schema);
        fn({ data: m });
      };
    }
    get onmessage() { return super.onmessage; }
  };
}, patch ? patch.toString() : null);

// What the form shows for each setting of the schema.
const formOf = (page) => page.evaluate(() => window.tabtrainState.schema.settings.map((s) => {
  const els = [...document.querySelectorAll(`#settings [name="${s.key}"]`)];
  const row = els[0]?.closest('[data-row]');
  return {
    key: s.key, n: els.length, tag: els[0]?.tagName, type: els[0]?.type, label: row?.textContent ?? '', title: row?.title ?? '',
    min: els[0]?.getAttribute('min'), max: els[0]?.getAttribute('max'),
    value: s.type === 'list' ? els.filter((e) => e.checked).map((e) => e.value).join(',') : s.type === 'bool' ? els[0]?.checked : els[0]?.value,
    options: els[0]?.tagName === 'SELECT' ? [...els[0].options].map((o) => o.value) : els.map((e) => e.value),
    advanced: !!els[0]?.closest('details'),
  };
}));

test('the form shows every setting of the engine\'s schema with its default, range and label; presets and Train follow it', { skip }, async () => {
  const b = await h.launch();
  try {
    const { page, context } = b;
    await instrument(context);
    await page.goto(srv.url);
    await page.waitForFunction(() => window.tabtrainState.schema && !document.querySelector('#settings-fields').hidden, null, { timeout: 120_000 });
    const schema = (await h.state(page)).schema;
    assert.ok(schema.settings.length >= 20, `${schema.settings.length} settings`);
    const form = await formOf(page);
    for (const [i, s] of schema.settings.entries()) {
      const f = form[i];
      assert.ok(f.n >= 1, `${s.key}: no field`);
      assert.ok(f.label.includes(s.label), `${s.key}: label "${f.label}"`);
      assert.equal(f.title, s.help, s.key);
      assert.equal(f.advanced, s.group === 'advanced', `${s.key} in group ${s.group}`);
      if (s.type === 'int' || s.type === 'number') {
        assert.equal(f.type, 'number', s.key);
        assert.equal(Number(f.min), s.min, `${s.key} min`);
        assert.equal(Number(f.max), s.max, `${s.key} max`);
        assert.equal(Number(f.value), s.default, `${s.key} default`);
      } else if (s.type === 'choice') {
        assert.deepEqual(f.options, s.choices, s.key);
        assert.equal(f.value, s.default, s.key);
      } else if (s.type === 'list') {
        assert.deepEqual(f.options, s.choices, s.key);
        assert.equal(f.value, s.default, s.key);
      } else {
        assert.equal(s.type, 'bool', s.key);
        assert.equal(f.value, s.default, s.key);
      }
    }
    // The preset menu: the schema's presets, then Custom; Recommended is the defaults.
    const menu = () => page.evaluate(() => ({ value: document.querySelector('#settings [name=preset]').value,
      options: [...document.querySelector('#settings [name=preset]').options].map((o) => [o.value, o.textContent]) }));
    assert.deepEqual(await menu(), { value: schema.presets[0].key, options: [...schema.presets.map((p) => [p.key, p.label]), ['custom', 'Custom']] });
    const best = schema.presets.find((p) => p.key === 'best');
    assert.ok(best && Object.keys(best.settings).length > 0);
    await page.selectOption('#settings [name=preset]', 'best');
    for (const [key, v] of Object.entries(best.settings)) assert.equal(Number(await page.inputValue(`#settings [name=${key}]`)), v, key);
    await page.evaluate(() => { document.querySelector('#settings details').open = true; });
    await page.fill('#settings [name=seed]', '7');
    assert.equal((await menu()).value, 'custom');
    await page.fill('#settings [name=seed]', String(schema.settings.find((s) => s.key === 'seed').default));
    assert.equal((await menu()).value, 'best', 'the form equals a preset again');
    await page.selectOption('#settings [name=preset]', schema.presets[0].key);

    // Train sends the engine's config: every setting but the import-only ones, at its default.
    // No pictures: the worker refuses; the command the page sends is what counts.
    await page.evaluate(() => { const train = document.querySelector('#train'); train.disabled = false; train.click(); });
    await page.waitForFunction(() => window.__sent.some((m) => m.type === 'train'));
    const sent = await page.evaluate(() => window.__sent.find((m) => m.type === 'train').config);
    const { threads, ...config } = sent;
    assert.ok(threads >= 1);
    assert.deepEqual(config, Object.fromEntries(schema.settings.filter((s) => s.group !== 'import').map((s) => [s.key, s.default])));
    assert.deepEqual(b.consoleErrors, []);
  } finally { await b.close(); }
});

test('a schema changed on its way to the page changes the form: defaults, ranges, labels, settings and presets', { skip }, async () => {
  const b = await h.launch();
  try {
    const { page, context } = b;
    await instrument(context, (schema) => {
      const row = (k) => schema.settings.find((s) => s.key === k);
      row('epochs').default = 7;
      row('batch_size').max = 99;
      row('lr').label = 'Step size (changed)';
      row('augment').default = 'shear';
      schema.settings = schema.settings.filter((s) => s.key !== 'momentum');
      schema.settings.push({ key: 'test_only', type: 'int', group: 'basic', label: 'A setting only this test has', help: 'test', default: 5, min: 1, max: 9 });
      schema.presets.push({ key: 'tiny', label: 'Tiny (test)', help: 'test', settings: { epochs: 2, test_only: 3 } });
    });
    await page.goto(srv.url);
    await page.waitForFunction(() => window.tabtrainState.schema && !document.querySelector('#settings-fields').hidden, null, { timeout: 120_000 });
    assert.equal(await page.inputValue('#settings [name=epochs]'), '7');
    assert.equal(await page.getAttribute('#settings [name=batch_size]', 'max'), '99');
    assert.match(await page.locator('#settings [data-row=lr]').textContent(), /Step size \(changed\)/);
    assert.deepEqual(await page.evaluate(() => [...document.querySelectorAll('#settings [name=augment]:checked')].map((e) => e.value)), ['shear']);
    assert.equal(await page.locator('#settings [name=momentum]').count(), 0);
    assert.equal(await page.inputValue('#settings [name=test_only]'), '5');
    assert.match(await page.locator('#settings [data-row=test_only]').textContent(), /A setting only this test has/);
    await page.selectOption('#settings [name=preset]', 'tiny');
    assert.equal(await page.inputValue('#settings [name=epochs]'), '2');
    assert.equal(await page.inputValue('#settings [name=test_only]'), '3');
    await page.evaluate(() => { const train = document.querySelector('#train'); train.disabled = false; train.click(); });
    await page.waitForFunction(() => window.__sent.some((m) => m.type === 'train'));
    const sent = await page.evaluate(() => window.__sent.find((m) => m.type === 'train').config);
    assert.equal(sent.epochs, 2);
    assert.equal(sent.test_only, 3);
    assert.equal(sent.augment, 'shear');
    assert.ok(!('momentum' in sent));
  } finally { await b.close(); }
});

// The page's scripts, as served.
const scripts = () => {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && e.name !== 'embed') walk(p);
      else if (e.name.endsWith('.js')) out.push(p);
    }
  };
  walk(path.join(h.ROOT, 'web'));
  return out;
};

test('no page script names a setting or its label: the engine\'s schema is the only copy', { skip }, async () => {
  const b = await h.openApp(srv.url);
  let schema;
  try { schema = (await h.state(b.page)).schema; } finally { await b.close(); }
  const files = scripts();
  assert.ok(files.some((f) => f.endsWith(path.join('app', 'settings.js'))), files.join(' '));
  const found = [];
  for (const file of files) {
    const src = fs.readFileSync(file, 'utf8');
    for (const s of schema.settings) {
      // A key as a string or a form field name, or a label, anywhere in a script.
      for (const re of [new RegExp(`['"\`]${s.key}['"\`]`), new RegExp(`name=${s.key}\\b`), new RegExp(`\\b${s.label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`)])
        if (re.test(src)) found.push(`${path.relative(h.ROOT, file)}: ${re}`);
    }
  }
  assert.deepEqual(found, []);
});
