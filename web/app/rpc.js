// Round trips with the worker (web/worker.js), which owns the engine and storage: each
// command carries an id and gets exactly one result of that id (docs/protocol.md).
import { PROTOCOL_VERSION, EVT, msg } from '../protocol.js';
import { page, publish, deepFreeze } from './state.js';
import { addError } from './problems.js';

const worker = new Worker(new URL('../worker.js', import.meta.url), { type: 'module' });
const pending = new Map();
let nextId = 1;
page.pending = () => pending.size;

export function send(type, fields = {}, transfer = []) {
  const id = nextId++;
  return new Promise((resolve) => {
    pending.set(id, resolve);
    try {
      worker.postMessage(msg(type, { id, ...fields }), transfer);
    } catch (e) { // nothing will answer a message that never left (e.g. it could not be cloned)
      pending.delete(id);
      resolve({ id, ok: false, error: { code: 'protocol', message: `could not be sent to the worker (${e.name || 'error'}: ${e.message || e})` } });
    }
    publish();
  });
}

// Runs a command and turns a refusal into an entry in the problems list (unless the
// worker already listed it, as it does for storage failures).
export async function command(type, fields, transfer) {
  const r = await send(type, fields, transfer);
  if (!r.ok && !r.error.reported) addError({ code: r.error.code, message: r.error.message });
  return r;
}

// Events go to `handle` (app.js); results to the command that waits for them.
export function listen(handle, onFailure) {
  worker.onmessage = (e) => {
    const m = e.data;
    if (m.v !== PROTOCOL_VERSION) { addError({ code: 'protocol', message: `worker speaks protocol v${m.v}, page v${PROTOCOL_VERSION}` }); return; }
    if (m.type === EVT.RESULT) {
      const resolve = pending.get(m.id);
      pending.delete(m.id);
      resolve?.(m);
      publish();
    } else if (!handle(m)) {
      addError({ code: 'protocol', message: `unknown event ${m.type}` });
      return;
    }
    // Every event is re-dispatched on window as a 'tabtrain' CustomEvent for embedders and tests.
    window.dispatchEvent(new CustomEvent('tabtrain', { detail: deepFreeze(structuredClone(m)) }));
  };
  worker.onerror = (e) => {
    addError({ code: 'worker', message: `worker failed: ${e.message || 'could not start (module workers unsupported?)'}` });
    onFailure();
    // Nothing will answer the commands in flight: fail them instead of hanging.
    for (const [id, resolve] of pending) resolve({ id, ok: false, error: { code: 'worker', message: 'worker stopped' } });
    pending.clear();
    publish();
  };
}
