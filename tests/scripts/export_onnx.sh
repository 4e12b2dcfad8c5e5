#!/usr/bin/env bash
# ONNX export end to end: fine-tune (hidden layer + the last block unfrozen,
# so every part of the graph is exercised), `tabtrain export --format onnx`
# the best checkpoint, run model.onnx in ONNX Runtime (onnxruntime-node) on
# the images and compare with `tabtrain predict --json` on the same
# checkpoint (same classes, max abs probability difference <= 1e-4). The
# images are 224x224 RGB PNGs, so preprocessing is x/127.5 - 1 on both sides.
#   export_onnx.sh TABTRAIN WORKDIR SOURCE_DIR        (needs TT_MODEL)
source "$(dirname "$0")/common.sh"
SRC=$3
: "${TT_MODEL:?TT_MODEL must name the backbone file}"
[ -d "$SRC/node_modules/onnxruntime-node" ] || { echo "skipped: onnxruntime-node missing (npm ci)"; exit 77; }
square_pngs "${QABCS_PICS:-$QABCS}" 4 0
"$TT" train "${PLAIN[@]}" --data "$W/data" --epochs 3 --hidden 8 --unfreeze 1 --batch-size 4 --cache-dir "$W/cache" \
  --ckpt-dir "$W/ck" --out "$W/model.safetensors" >"$W/train.log"
"$TT" export --ckpt "$W/ck/best.safetensors" --out "$W/ex" --format onnx
[ -f "$W/ex/model.onnx" ] && [ ! -e "$W/ex/model.safetensors" ] || fail "expected only model.onnx in $W/ex"
if "$TT" export --ckpt "$W/ck/best.safetensors" --out "$W/bad" --format tflite 2>"$W/bad.err"; then
  fail "--format tflite accepted"
fi
grep -q "safetensors or onnx" "$W/bad.err" || fail "no clear message for --format tflite: $(cat "$W/bad.err")"
images=("$W"/data/*/*.png)
"$TT" predict --ckpt "$W/ck/best.safetensors" --json "${images[@]}" >"$W/predict.jsonl"
"$PY" - "$W/inputs.f32" "${images[@]}" <<'PYEOF'
import sys
import numpy as np
from PIL import Image
x = np.stack([np.asarray(Image.open(p).convert("RGB"), np.float32) / 127.5 - 1 for p in sys.argv[2:]])
x.transpose(0, 3, 1, 2).astype("<f4").tofile(sys.argv[1])  # NHWC -> NCHW
PYEOF
# The class order, from the checkpoint's safetensors header.
classes=$("$PY" -c 'import json,struct,sys; f=open(sys.argv[1],"rb"); n=struct.unpack("<Q",f.read(8))[0]; print(json.loads(f.read(n))["__metadata__"]["tabtrain.classes"])' "$W/ck/best.safetensors")
(cd "$SRC" && node tests/scripts/onnx_run.mjs "$W/ex/model.onnx" "$W/inputs.f32" "$classes" "${images[@]}") >"$W/onnx.jsonl"
same_probs "$W/predict.jsonl" "$W/onnx.jsonl" 12 onnxruntime
