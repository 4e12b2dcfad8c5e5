// The lines about where the app runs: storage (space used and kept), an insecure
// origin (what the browser turns off), and offline use and updates (web/sw.js).
import { $ } from './state.js';

const mb = (n) => `${(n / 1048576).toFixed(1)} MB`;

// A plain-http address other than localhost (a classroom server on the LAN) is not a
// secure context: the browser withholds the camera, service workers (offline use) and
// cross-origin isolation (threads). Say so once, and how the server can fix it.
export function originNotice() {
  if (window.isSecureContext) return;
  const el = $('#origin-notice');
  el.textContent = `This page was opened over plain http at ${location.host}, which the browser does not treat as secure, `
    + 'so it turns off the webcam (add picture files instead), offline use and multi-threaded training. Everything else works. '
    + 'To get them, the person running the server can start it with --https and share the https:// address.';
  el.hidden = false;
}

export async function storageStatus() {
  const el = $('#storage-status');
  if (!window.isSecureContext) { el.textContent = 'Storage: pictures and training are kept in this browser; on a plain-http address it cannot tell how much space is left.'; return; }
  if (!navigator.storage?.estimate) { el.textContent = 'Storage: not available here (private window?) — nothing will be kept after closing the tab.'; return; }
  let persisted = 'unknown';
  try { persisted = (await navigator.storage.persist()) ? 'kept until you clear it' : 'may be cleared by the browser when space is low'; } catch (err) { persisted = `persistence request failed (${err.message})`; }
  try {
    const { usage = 0, quota = 0 } = await navigator.storage.estimate();
    el.textContent = `Storage: ${persisted}; using ${mb(usage)} of ${mb(quota)} available.`;
    if (quota && quota < 100 * 1048576) el.textContent += ' Very little space — this may be a private window; the model may not be saved.';
  } catch (err) { el.textContent = `Storage: ${persisted}; quota unknown (${err.message}).`; }
}

// The space used changes with every save: measured again a second after `key` (what
// was saved) last changed.
let lastKey = '', timer = null;
export function scheduleStorageStatus(key) {
  if (key === lastKey) return;
  lastKey = key;
  clearTimeout(timer);
  timer = setTimeout(storageStatus, 1000);
}

// The service worker keeps the app working offline and sends COOP/COEP on any host. A new
// build installs beside the running one; the page offers a reload, and says so after it.
function updateNotice(text, offerReload) {
  $('#update-text').textContent = text;
  $('#update-reload').hidden = !offerReload;
  $('#update-notice').hidden = false;
}
export function offline() {
  if (sessionStorage.getItem('tabtrain-updated')) {
    sessionStorage.removeItem('tabtrain-updated');
    updateNotice('tabtrain was updated to its newest version.', false);
  }
  if (!('serviceWorker' in navigator)) return;
  const sw = navigator.serviceWorker;
  const hadController = !!sw.controller;
  let waiting = null;
  const offer = (w) => { waiting = w; updateNotice('A new version of tabtrain is ready. Your classes, pictures and training are kept.', true); };
  $('#update-reload').addEventListener('click', () => waiting?.postMessage('skip-waiting'));
  sw.addEventListener('controllerchange', () => {
    if (!hadController) return; // the first worker of this site: nothing changed for the page
    sessionStorage.setItem('tabtrain-updated', '1');
    location.reload();
  });
  sw.register('sw.js').then((reg) => {
    if (reg.waiting && sw.controller) offer(reg.waiting);
    reg.addEventListener('updatefound', () => {
      const w = reg.installing;
      w?.addEventListener('statechange', () => { if (w.state === 'installed' && sw.controller) offer(w); });
    });
  }, (err) => console.warn(`Offline use is not available: ${err.message}`));
}
