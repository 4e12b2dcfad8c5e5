// Class list: add, rename, delete through the page; the read-only state mirrors
// the worker, and the list survives a reload because the worker persisted it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './helpers.mjs';

let app, srv;
before(async () => { app = h.buildApp(); srv = await h.startServer(app.root); });
after(async () => { await srv?.close(); app?.cleanup(); });

const names = (s) => s.classes.map((c) => c.name);

test('add, rename and delete classes; state reflects it and survives a reload', async () => {
  const b = await h.launch();
  try {
    const { page } = b;
    await page.goto(srv.url);
    await page.waitForFunction(() => window.tabtrainState?.phase !== 'starting');
    for (const n of ['cats', 'dogs', 'birds']) {
      await page.fill('#new-class-name', n);
      await page.click('#add-class');
    }
    await page.waitForFunction(() => window.tabtrainState.classes.length === 3);
    assert.deepEqual(names(await h.state(page)), ['cats', 'dogs', 'birds']);
    // Every class gets its own file input, indexed by position.
    assert.deepEqual(await page.locator('input[type=file][data-class-index]').evaluateAll((els) => els.map((e) => e.dataset.classIndex)), ['0', '1', '2']);

    const second = page.locator('.class-item').nth(1).locator('.class-name');
    await second.fill('puppies');
    await second.press('Enter');
    await page.waitForFunction(() => window.tabtrainState.classes[1]?.name === 'puppies');

    await page.locator('.class-item').nth(0).locator('.delete').click();
    await page.waitForFunction(() => window.tabtrainState.classes.length === 2);
    await h.settled(page);
    const s = await h.state(page);
    assert.deepEqual(names(s), ['puppies', 'birds']);
    assert.ok(s.classes.every((c) => c.count === 0));
    await h.screenshot(page, 'classes-edited');
    if (!h.ENGINE_BUILT) {
      // Without the engine, image inputs are off and the reason is on screen.
      await h.waitForPhase(page, 'engine-missing');
      assert.match(await page.locator('#engine-status').textContent(), /not part of this build/);
      assert.ok(await page.locator('#use-sample').isDisabled());
      assert.ok(await page.locator('#train').isDisabled());
      assert.deepEqual(await page.locator('.class-item input[type=file]').evaluateAll((els) => els.map((e) => e.disabled)), [true, true]);
    }

    // The state is a read-only view.
    const mutated = await page.evaluate(() => {
      const st = window.tabtrainState;
      try { st.classes.push({ name: 'x', count: 0 }); } catch {}
      try { st.phase = 'hacked'; } catch {}
      try { window.tabtrainState = {}; } catch {}
      return [window.tabtrainState.classes.length, window.tabtrainState.phase === 'hacked', Object.isFrozen(window.tabtrainState)];
    });
    assert.deepEqual(mutated, [2, false, true]);

    await page.reload();
    await page.waitForFunction(() => window.tabtrainState?.classes.length === 2, null, { timeout: 15_000 });
    const after = await h.state(page);
    assert.deepEqual(names(after), ['puppies', 'birds']);
    assert.equal(await page.locator('.class-item').count(), 2);
    assert.equal(await page.locator('.class-item').nth(0).locator('.class-name').inputValue(), 'puppies');

    // Ids keep increasing after a reload: a new class never reuses a deleted id.
    await page.click('#add-class');
    await page.waitForFunction(() => window.tabtrainState.classes.length === 3);
    const ids = (await h.state(page)).classes.map((c) => c.id);
    assert.equal(new Set(ids).size, 3);
    assert.ok(ids[2] > Math.max(ids[0], ids[1]));
    assert.equal((await h.state(page)).classes[2].name, 'Class 3');

    // Narrow screens: one column, nothing wider than the viewport.
    await page.setViewportSize({ width: 390, height: 844 });
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'horizontal overflow at 390 px');
    await h.screenshot(page, 'classes-mobile');
    assert.deepEqual(b.consoleErrors, []);
  } finally { await b.close(); }
});

test('bad class commands are refused with a reason', async () => {
  const b = await h.launch();
  try {
    const { page } = b;
    await page.goto(srv.url);
    await page.waitForFunction(() => window.tabtrainState?.phase !== 'starting');
    await page.click('#add-class');
    await page.waitForFunction(() => window.tabtrainState.classes.length === 1);
    const name = page.locator('.class-item').nth(0).locator('.class-name');
    await name.evaluate((el) => { el.value = 'y'.repeat(80); el.dispatchEvent(new Event('change')); });
    await page.waitForFunction(() => window.tabtrainState.errors.some((e) => e.code === 'bad-request'));
    const s = await h.state(page);
    assert.match(s.errors.find((e) => e.code === 'bad-request').message, /longer than 64/);
    assert.equal(s.classes[0].name, 'Class 1');
  } finally { await b.close(); }
});
