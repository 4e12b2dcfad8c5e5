// Time per picture of the setting presets in Chromium (README, "Default settings"):
// the built app, the sample set, one epoch of "Recommended" (the defaults), of "Best
// accuracy (slower)" and, for comparison, of the defaults with no fine-tuned block (the
// head alone), each in a fresh profile; prints the preparing time (augmented copies and
// fine-tuning inputs: computed once per picture) and the epoch time, per training
// picture.   NODE_PATH=/usr/share/nodejs node scripts/measure-preset.mjs
import * as h from '../tests/e2e/helpers.mjs';

const app = h.buildApp();
const srv = await h.startServer(app.root);
try {
  for (const [preset, unfreeze] of [['recommended', null], ['best', null], ['recommended', 0]]) {
    const b = await h.openApp(srv.url);
    try {
      const { page } = b;
      await page.click('#use-sample');
      await page.waitForFunction(() => window.tabtrainState.intake.total > 0 && window.tabtrainState.intake.done === window.tabtrainState.intake.total && window.tabtrainState.pendingCommands === 0, null, { timeout: 600_000 });
      await page.selectOption('#settings [name=preset]', preset);
      await page.fill('#settings [name=epochs]', '1');
      if (unfreeze !== null) {
        await page.evaluate(() => { document.querySelector('#settings details').open = true; }); // "Advanced"
        await page.fill('#settings [name=unfreeze]', String(unfreeze));
      }
      const t0 = Date.now();
      await page.click('#train');
      await page.waitForFunction(() => window.tabtrainState.phase === 'training' && !window.tabtrainState.preparing && window.tabtrainState.step > 0, null, { timeout: 1_800_000 });
      const t1 = Date.now();
      await h.waitForPhase(page, 'trained', 1_800_000);
      const t2 = Date.now();
      const ev = await page.evaluate(() => window.__tt.events.filter((e) => e.type === 'epoch').at(-1));
      const n = ev.perClass.reduce((a, p) => a + p.n, 0);
      const total = (await h.state(page)).classes.reduce((a, c) => a + c.count, 0);
      const train = total - n;
      console.log(JSON.stringify({ preset: unfreeze === null ? preset : `${preset}, unfreeze ${unfreeze}`, train_pictures: train, prepare_ms_per_picture: Math.round((t1 - t0) / train), epoch_ms_per_picture: Math.round((t2 - t1) / train), val_acc: ev.valAcc }));
    } finally { await b.close(); }
  }
} finally { await srv.close(); app.cleanup(); }
