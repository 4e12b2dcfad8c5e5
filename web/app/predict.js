// "Try it": one picture (or webcam frame) to the model, and its answer shown under
// "Try it" with the picture and its name and, while the webcam dialog predicts, inside
// it. The top class is highlighted.
import { CMD } from '../protocol.js';
import { $ } from './state.js';
import { send } from './rpc.js';
import { addError } from './problems.js';

export const WEBCAM_FRAME = 'webcam frame';

export async function predict(bytes, name = WEBCAM_FRAME) {
  const preview = name === WEBCAM_FRAME ? null : URL.createObjectURL(new Blob([bytes]));
  const r = await send(CMD.PREDICT, { bytes }, [bytes]);
  if (!r.ok) { addError({ code: r.error.code, file: name, message: r.error.message }); if (preview) URL.revokeObjectURL(preview); return; }
  if (preview) {
    const img = $('#predict-preview');
    if (img.src) URL.revokeObjectURL(img.src);
    img.src = preview;
    img.alt = `The picture being predicted: ${name}`;
    $('#predict-name').textContent = name;
    $('#predict-picture').hidden = false;
  }
  const rows = () => r.probs.sort((a, b) => b.p - a.p).map(({ name: cls, p }, i) => {
    const li = document.createElement('li');
    if (i === 0) { li.classList.add('top'); li.setAttribute('aria-label', `Most likely: ${cls}, ${(p * 100).toFixed(1)}%`); }
    const label = document.createElement('span'); label.textContent = cls;
    const bar = document.createElement('progress'); bar.max = 1; bar.value = p;
    const pct = document.createElement('span'); pct.textContent = `${(p * 100).toFixed(1)}%`;
    li.append(label, bar, pct);
    return li;
  });
  $('#predict-results').replaceChildren(...rows());
  if (!$('#webcam-predictions').hidden) $('#webcam-predictions').replaceChildren(...rows());
}
