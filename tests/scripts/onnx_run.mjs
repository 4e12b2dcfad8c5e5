// Runs an ONNX model in ONNX Runtime (onnxruntime-node, CPU): one JSON line
// {path, class, probabilities} per input, as `tabtrain predict --json` prints.
//   node onnx_run.mjs MODEL.onnx INPUTS.f32 CLASSES_JSON PATH...
// INPUTS.f32 holds the preprocessed images, float32 little-endian NCHW
// [n][3][S][S] in PATH order.
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';

const [model, inputs, classesJson, ...paths] = process.argv.slice(2);
const classes = JSON.parse(classesJson);
const raw = readFileSync(inputs);
const data = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
const side = Math.round(Math.sqrt(data.length / paths.length / 3));
const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
if (session.inputNames.join() !== 'input' || !session.outputNames.includes('probabilities'))
  throw new Error(`unexpected model signature: ${session.inputNames} -> ${session.outputNames}`);
const out = await session.run({ input: new ort.Tensor('float32', data, [paths.length, 3, side, side]) });
const p = out.probabilities;
const c = p.dims[1];
if (c !== classes.length) throw new Error(`${c} outputs for ${classes.length} classes`);
paths.forEach((path, i) => {
  const probabilities = Array.from(p.data.subarray(i * c, (i + 1) * c));
  const best = probabilities.indexOf(Math.max(...probabilities));
  console.log(JSON.stringify({ path, class: classes[best], probabilities }));
});
