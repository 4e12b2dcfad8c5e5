// tabtrain-embed.mjs — use a model exported from tabtrain in your own page.
//
//   import { load } from './tabtrain-embed.mjs';
//   const model = await load('model.safetensors');   // the file Export downloads
//   const result = await model.predict(document.querySelector('img'));
//   // [{ className: 'cat', probability: 0.93 }, { className: 'dog', probability: 0.07 }]
//
// predict() takes an <img>, a <canvas>, a <video> (its current frame), an ImageBitmap,
// ImageData or OffscreenCanvas, or the bytes of an image file (File/Blob, ArrayBuffer,
// Uint8Array). Results are in the model's class order (model.classes).
//
// It runs the same C engine as the tabtrain app (decode, crop and resize, MobileNetV2,
// fine-tuned blocks, head), compiled to one single-threaded wasm file: image files give
// the app's probabilities. Nothing is stored and nothing leaves the page. Keep the three
// files together: this one, tabtrain-embed-engine.mjs and tabtrain-embed-engine.wasm.
import createTabtrainEmbed from './tabtrain-embed-engine.mjs';

let engine = null;

// Bytes of a File/Blob, ArrayBuffer or typed array; null for anything else.
async function bytesOf(src) {
  if (src instanceof Uint8Array) return src;
  if (src instanceof ArrayBuffer) return new Uint8Array(src);
  if (ArrayBuffer.isView(src)) return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  if (typeof Blob !== 'undefined' && src instanceof Blob) return new Uint8Array(await src.arrayBuffer());
  return null;
}

// Calls fn(pointer) with `bytes` copied into the engine's memory.
function withBytes(mod, bytes, fn) {
  const p = mod._malloc(Math.max(1, bytes.length));
  if (!p) throw new Error('tabtrain: out of memory');
  try { mod.HEAPU8.set(bytes, p); return fn(p); } finally { mod._free(p); }
}

const lastError = (mod) => new Error(`tabtrain: ${mod.UTF8ToString(mod._tt_embed_last_error())}`);

// The RGBA pixels of an element or bitmap at its natural size.
async function pixelsOf(src) {
  if (typeof ImageData !== 'undefined' && src instanceof ImageData) return src;
  if (typeof HTMLImageElement !== 'undefined' && src instanceof HTMLImageElement && !src.complete) await src.decode();
  const width = src.naturalWidth || src.videoWidth || src.width;
  const height = src.naturalHeight || src.videoHeight || src.height;
  if (!width || !height) throw new Error('tabtrain: the picture has no pixels yet (an image not loaded, or a video without a frame)');
  const canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(width, height)
    : Object.assign(document.createElement('canvas'), { width, height });
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(src, 0, 0, width, height);
  try {
    return ctx.getImageData(0, 0, width, height);
  } catch (e) {
    throw new Error(`tabtrain: cannot read the pixels of a picture from another site without CORS (${e.message})`);
  }
}

class Model {
  #mod; #h;
  constructor(mod, h) {
    this.#mod = mod;
    this.#h = h;
    this.classes = Array.from({ length: mod._tt_embed_class_count(h) }, (_, i) => mod.UTF8ToString(mod._tt_embed_class_name(h, i)));
  }

  async predict(input) {
    const mod = this.#mod, h = this.#h;
    if (!h) throw new Error('tabtrain: the model was closed');
    const bytes = await bytesOf(input);
    let ptr;
    if (bytes) ptr = withBytes(mod, bytes, (p) => mod._tt_embed_classify(h, p, bytes.length));
    else {
      const { data, width, height } = await pixelsOf(input);
      ptr = withBytes(mod, data, (p) => mod._tt_embed_classify_rgba(h, p, width, height));
    }
    if (!ptr) throw lastError(mod);
    const probs = mod.HEAPF32.subarray(ptr >> 2, (ptr >> 2) + this.classes.length);
    return this.classes.map((className, i) => ({ className, probability: probs[i] }));
  }

  close() {
    if (this.#h) this.#mod._tt_embed_close(this.#h);
    this.#h = 0;
  }
}

// The model of `source`: a URL (fetched), a File/Blob, an ArrayBuffer or a Uint8Array
// holding the model.safetensors that tabtrain's Export writes.
export async function load(source) {
  engine ??= createTabtrainEmbed();
  const mod = await engine;
  let bytes = await bytesOf(source);
  if (!bytes) {
    const r = await fetch(source);
    if (!r.ok) throw new Error(`tabtrain: cannot load the model from ${source} (HTTP ${r.status})`);
    bytes = new Uint8Array(await r.arrayBuffer());
  }
  const h = withBytes(mod, bytes, (p) => mod._tt_embed_open(p, bytes.length));
  if (!h) throw lastError(mod);
  return new Model(mod, h);
}
