// The Problems list: newest first, with a count and a Clear button, so the latest
// problem is always in view however many came before it.
import { $, page, publish } from './state.js';

const MAX_ERRORS = 500;
let count = 0;

export function addError({ code, message, file }) {
  page.errors.push({ code, message, ...(file ? { file } : {}) });
  if (page.errors.length > MAX_ERRORS) page.errors.shift();
  count++;
  const li = document.createElement('li');
  li.textContent = file ? `${file}: ${message}` : message;
  $('#errors').prepend(li);
  while ($('#errors').children.length > MAX_ERRORS) $('#errors').lastChild.remove();
  renderCount();
  if (code === 'weights-corrupt') $('#weights-error-text').textContent = 'The downloaded model file is damaged or is not the expected file (details under Problems). Retry, or download it from another address.';
  if (code === 'weights-fetch') $('#weights-error-text').textContent = `The model could not be downloaded: ${message}. Check the connection and retry.`;
  publish();
}

function renderCount() {
  $('#no-errors').hidden = count > 0;
  $('#clear-errors').hidden = count === 0;
  $('#errors-count').textContent = count ? ` (${count})` : '';
}

export function clearErrors() {
  page.errors.length = 0;
  count = 0;
  $('#errors').replaceChildren();
  renderCount();
  publish();
}
