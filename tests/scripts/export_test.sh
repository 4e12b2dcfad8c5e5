#!/usr/bin/env bash
# Export end to end: train with checkpoints, `tabtrain export` the best one,
# then run the Python/PyTorch snippet of docs/export.md (extracted verbatim)
# on the images and compare its probabilities with `tabtrain predict --json`
# on the same checkpoint (max abs difference <= 1e-4). The images are
# 224x224 RGB PNGs so both sides decode identical pixels and neither resizes.
#   export_test.sh TABTRAIN WORKDIR SOURCE_DIR        (needs TT_MODEL)
source "$(dirname "$0")/common.sh"
SRC=$3
PICS=${QABCS_PICS:-$QABCS}
: "${TT_MODEL:?TT_MODEL must name the backbone file}"
square_pngs "$PICS" 4 0
"$TT" train "${PLAIN[@]}" --data "$W/data" --epochs 3 --hidden 8 --batch-size 4 --cache-dir "$W/cache" \
  --ckpt-dir "$W/ck" --out "$W/model.safetensors" >"$W/train.log"
"$TT" export --ckpt "$W/ck/best.safetensors" --out "$W/ex"
"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["format"]=="tabtrain-export" and len(j["classes"])==3 and j["input_size"]==224, j' "$W/ex/model.json"
images=("$W"/data/*/*.png)
predict_vs_torch "$W/ck/best.safetensors" "$W/ex" "${images[@]}"
same_probs "$W/predict.jsonl" "$W/torch.jsonl" 12 torch
