// The class list: one item per class, keyed by class id and updated in place (so a
// rename being typed keeps its focus), with lazy thumbnails of its pictures. Adding
// pictures to a class (files, folders, webcam) is input.js's, by delegation on the list.
import { CMD } from '../protocol.js';
import { $, page } from './state.js';
import { command } from './rpc.js';

export function renderClasses(classes) {
  const list = $('#class-list');
  const byId = new Map([...list.children].map((li) => [Number(li.dataset.classId), li]));
  const readOnly = page.worker.storage?.mode === 'reader';
  const canAdd = page.worker.engine.status === 'loaded' && !readOnly;
  const why = readOnly ? 'Read-only in this tab' : canAdd ? '' : 'Pictures can be added once the engine is available';
  classes.forEach((c, i) => {
    let li = byId.get(c.id);
    if (!li) li = classItem(c.id);
    byId.delete(c.id);
    li.querySelector('.class-index').textContent = `${i + 1}.`;
    const input = li.querySelector('.class-name');
    if (document.activeElement !== input) input.value = c.name;
    // Each button names its class for screen readers: "Delete" alone is the same for every class.
    input.setAttribute('aria-label', `Name of class ${i + 1}`);
    li.querySelector('.delete').setAttribute('aria-label', `Delete class ${c.name}`);
    li.querySelector('.webcam').setAttribute('aria-label', `Webcam photos for ${c.name}`);
    li.querySelector('.file-button input').setAttribute('aria-label', `Add pictures to ${c.name}`);
    li.querySelector('.class-count').textContent = `${c.count} picture${c.count === 1 ? '' : 's'}`;
    const file = li.querySelector('input[type=file]');
    file.dataset.classIndex = String(i);
    file.disabled = !canAdd;
    li.querySelector('.file-button').title = why;
    li.querySelector('.webcam').disabled = !canAdd;
    li.querySelector('.webcam').title = why;
    li.querySelector('.drop-zone').textContent = why || 'Drop pictures or folders here';
    input.readOnly = readOnly;
    li.querySelector('.delete').disabled = readOnly;
    li.querySelector('.delete').title = readOnly ? why : '';
    li.querySelectorAll('.thumb .remove').forEach((b) => { b.disabled = readOnly; });
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
    li.refreshPictures();
  });
  byId.forEach((li) => li.remove());
}

function classItem(id) {
  const li = document.createElement('li');
  li.className = 'class-item';
  li.dataset.classId = String(id);
  li.innerHTML = `
    <div class="row">
      <span class="class-index"></span>
      <input class="class-name" type="text" maxlength="64">
      <span class="class-count muted"></span>
      <button type="button" class="delete danger">Delete</button>
    </div>
    <div class="row">
      <label class="file-button">Add pictures <input type="file" accept="image/*" multiple></label>
      <button type="button" class="webcam secondary">Webcam</button>
    </div>
    <div class="drop-zone" tabindex="-1"></div>
    <details class="pictures"><summary>Pictures</summary><ul class="thumbs"></ul><button type="button" class="more secondary" hidden>Show more</button></details>`;
  attachPictures(li, id);
  const name = li.querySelector('.class-name');
  // A refused name (empty, too long, another class's) goes back to the class's name.
  const current = () => page.worker.classes.find((x) => x.id === id);
  const rename = async () => {
    const c = current();
    if (c && name.value.trim() && name.value.trim() !== c.name) {
      const r = await command(CMD.CLASS_RENAME, { classId: id, name: name.value });
      if (!r.ok && current() && document.activeElement !== name) name.value = current().name;
    } else if (c) name.value = c.name;
  };
  name.addEventListener('change', rename);
  name.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); name.blur(); } });
  li.querySelector('.delete').addEventListener('click', () => {
    const c = page.worker.classes.find((x) => x.id === id);
    if (c.count === 0 || confirm(`Delete class "${c.name}" and its ${c.count} pictures?`)) command(CMD.CLASS_DELETE, { classId: id });
  });
  return li;
}

// ---- pictures of a class: small thumbnails, drawn only when scrolled into view -----------

const THUMB = 72;        // px, square
const THUMB_PAGE = 48;   // tiles added per "Show more"
const thumbObserver = new IntersectionObserver((entries) => {
  for (const e of entries) if (e.isIntersecting) { thumbObserver.unobserve(e.target); drawThumb(e.target); }
}, { rootMargin: '200px' });

// The picture's small stored thumbnail comes from the worker (web/pictures.js), so
// thumbnails also show after a reload without a phone photo being read or decoded.
async function drawThumb(tile) {
  const r = await command(CMD.IMAGES_GET, { imageId: Number(tile.dataset.imageId) });
  if (!r.ok) return;
  try {
    const bmp = await createImageBitmap(new Blob([r.bytes]));
    const s = Math.min(bmp.width, bmp.height);
    const ctx = tile.querySelector('canvas').getContext('2d');
    ctx.drawImage(bmp, (bmp.width - s) / 2, (bmp.height - s) / 2, s, s, 0, 0, THUMB, THUMB);
    bmp.close();
    tile.dataset.drawn = '1';
  } catch { tile.classList.add('undecodable'); } // the engine decodes formats the browser may not
}

function attachPictures(li, id) {
  const panel = li.querySelector('.pictures');
  const list = panel.querySelector('.thumbs');
  const more = panel.querySelector('.more');
  let images = [], shown = 0, loadedCount = -1;
  const showMore = () => {
    for (const im of images.slice(shown, shown + THUMB_PAGE)) {
      const tile = document.createElement('li');
      tile.className = 'thumb';
      tile.dataset.imageId = String(im.id);
      tile.title = im.name;
      tile.innerHTML = `<canvas width="${THUMB}" height="${THUMB}"></canvas><button type="button" class="remove" aria-label="Remove">×</button>`;
      tile.querySelector('.remove').setAttribute('aria-label', `Remove ${im.name}`);
      tile.querySelector('.remove').addEventListener('click', () => command(CMD.IMAGES_REMOVE, { imageIds: [im.id] }));
      list.append(tile);
      thumbObserver.observe(tile);
    }
    shown = Math.min(images.length, shown + THUMB_PAGE);
    more.hidden = shown >= images.length;
  };
  const load = async () => {
    const c = page.worker?.classes.find((x) => x.id === id);
    if (!panel.open || !c || c.count === loadedCount) return;
    loadedCount = c.count;
    const r = await command(CMD.IMAGES_LIST, { classId: id });
    if (!r.ok) return;
    const keep = Math.max(shown, THUMB_PAGE);
    images = r.images;
    list.replaceChildren();
    shown = 0;
    while (shown < Math.min(keep, images.length)) showMore();
    more.hidden = shown >= images.length;
  };
  panel.addEventListener('toggle', load);
  more.addEventListener('click', showMore);
  li.refreshPictures = load; // called on every state event
}
