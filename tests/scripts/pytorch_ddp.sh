#!/usr/bin/env bash
# Continuing a tabtrain run in PyTorch with data parallelism (python/tabtrain_ddp.py):
# tabtrain trains a few epochs and exports; `torchrun --nproc_per_node 2` (gloo, CPU)
# continues the head for more epochs and writes a model file. Checks:
#   - tabtrain's own `eval` of that file: validation accuracy on par with tabtrain
#     running all the epochs itself (at most one picture in ten worse), above chance;
#   - `tabtrain predict` on the file gives the probabilities the PyTorch run computed
#     in memory for the validation pictures (max abs difference <= 1e-4);
#   - both processes took part (the features line says 2 processes).
# Pictures are 224x224 RGB PNGs (square_pngs): both sides decode identical pixels.
#   pytorch_ddp.sh TABTRAIN WORKDIR SOURCE_DIR        (needs TT_MODEL)
source "$(dirname "$0")/common.sh"
SRC=$3
: "${TT_MODEL:?TT_MODEL must name the backbone file}"
command -v torchrun >/dev/null || { echo "skipped: torchrun missing (python3-torch)"; exit 77; }
square_pngs "${QABCS_PICS:-$QABCS}" 8 4
FIRST=3 MORE=12
common=(--data "$W/data" --val "$W/val" --batch-size 8 --lr 0.01 --cache-dir "$W/cache")
"$TT" train "${PLAIN[@]}" "${common[@]}" --epochs $FIRST --ckpt-dir "$W/ck" --out "$W/first.safetensors" >"$W/first.log"
"$TT" export --ckpt "$W/first.safetensors" --out "$W/ex" >/dev/null
"$TT" train "${PLAIN[@]}" "${common[@]}" --epochs $((FIRST + MORE)) --out "$W/whole.safetensors" >"$W/whole.log"
# Debian's torch 1.13 on Python 3.11 cannot parse torchrun's default --redirects/--tee "0"
# (Python 3.11 no longer lists a zero-valued flag), so name stdout explicitly.
torchrun --nproc_per_node 2 --redirects 1 --tee 1 "$SRC/python/tabtrain_ddp.py" \
  --from "$W/ex/model.safetensors" --data "$W/data" --val "$W/val" --epochs $MORE --batch-size 8 --lr 0.01 \
  --out "$W/ddp/model.safetensors" --probs-out "$W/ddp/probs.jsonl" >"$W/ddp.log" 2>&1 || { cat "$W/ddp.log"; fail "torchrun"; }
grep -q '"processes": 2' "$W/ddp.log" || fail "not two processes: $(cat "$W/ddp.log")"
"$TT" eval --ckpt "$W/whole.safetensors" --data "$W/val" --json >"$W/eval_whole.json"
"$TT" eval --ckpt "$W/ddp/model.safetensors" --data "$W/val" --json >"$W/eval_ddp.json"
mapfile -t paths < <("$PY" -c 'import json,sys; [print(json.loads(l)["path"]) for l in open(sys.argv[1])]' "$W/ddp/probs.jsonl")
[ "${#paths[@]}" -eq 12 ] || fail "expected 12 validation pictures in probs.jsonl, got ${#paths[@]}"
"$TT" predict --ckpt "$W/ddp/model.safetensors" --json "${paths[@]}" >"$W/predict.jsonl"
"$PY" - "$W/eval_whole.json" "$W/eval_ddp.json" <<'PYEOF'
import json, sys
def acc(path):
    lines = [json.loads(l) for l in open(path) if l.strip()]
    return [l for l in lines if "accuracy" in l][-1]["accuracy"]
whole, ddp = acc(sys.argv[1]), acc(sys.argv[2])
assert ddp >= 0.5 and ddp >= whole - 0.1, f"validation accuracy: tabtrain {whole}, tabtrain + PyTorch DDP {ddp}"
print(f"pytorch_ddp: validation accuracy tabtrain {whole:.3f}, tabtrain + 2-process DDP {ddp:.3f}")
PYEOF
same_probs "$W/predict.jsonl" "$W/ddp/probs.jsonl" 12 "PyTorch DDP"
