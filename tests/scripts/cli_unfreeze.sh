#!/usr/bin/env bash
# `train --unfreeze K` end to end on real photos (3 qabcs classes, 6 training
# and 3 validation images each, batch 8, K = 1):
#  - the loss falls; the model file holds the 8 tensors of block 16 and the
#    final 1x1 conv as backbone.*, changed from the backbone's;
#  - eval on the validation folder reproduces the best epoch's val_acc, and
#    predict agrees with eval;
#  - 2 epochs + --resume to 4 == 4 epochs in one go (every checkpoint tensor:
#    tail, head, both optimizers' state, best copies; and the model file
#    bytes), plain and with --augment flip,zoom --augment-views 2, with the
#    thread count changed on the way: 4 epochs on 1 thread == 2 epochs on 2
#    + resume on 3, features recomputed each time; resuming with another K is
#    refused;
#  - export of the fine-tuned checkpoint + the PyTorch snippet of
#    docs/export.md reproduce predict (<= 1e-4), and the frozen backbone
#    with the same head does not;
#  - clear errors: a bad K, a model whose backbone.* tensor has a wrong shape.
#   cli_unfreeze.sh TABTRAIN WORKDIR            (needs TT_MODEL; SOURCE_DIR from the script's place)
source "$(dirname "$0")/common.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
: "${TT_MODEL:?TT_MODEL must name the backbone file}"
need "$QABCS/animals"
"$PY" -c "import torch, PIL" 2>/dev/null || { echo "skipped: python3-torch / python3-pil missing"; exit 77; }

square_pngs "$QABCS" 6 3
base() {
  BASE=(--data "$W/data" --val "$W/val" --batch-size 8 --unfreeze "$1" --backbone-lr 0.001 --seed 3
        --cache-dir "$W/cache" --json)
}
base 1
final() { echo "$1/$(cat "$1/latest")"; }

# 1. training: loss falls, the tail is saved and has moved
t0=$(date +%s%N)
"$TT" train "${PLAIN[@]}" "${BASE[@]}" --epochs 4 --ckpt-dir "$W/ref" --out "$W/ref.safetensors" --threads 1 >"$W/ref.jsonl"
t1=$(date +%s%N)
echo "train --unfreeze 1, 4 epochs of 18 images (first run, features included): $(( (t1 - t0) / 1000000 )) ms"
[ "$(json "$W/ref.jsonl" "ev('done')[0]['unfreeze']")" = 1 ] || fail "done event does not say unfreeze 1"
json "$W/ref.jsonl" "[round(e['train_loss'], 4) for e in ev('epoch')]"
[ "$(json "$W/ref.jsonl" "ev('epoch')[-1]['train_loss'] < 0.7 * ev('epoch')[0]['train_loss']")" = True ] ||
  fail "train loss did not fall"
"$PY" - "$W/ref.safetensors" "$TT_MODEL" <<'PYEOF' || fail "model file tail"
import json, struct, sys
import numpy as np
def load(path):
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    h = json.loads(blob[8:8 + n])
    meta = h.pop("__metadata__")
    return {k: np.frombuffer(blob, "<f4", int(np.prod(v["shape"])), 8 + n + v["data_offsets"][0]).reshape(v["shape"])
            for k, v in h.items()}, meta
model, meta = load(sys.argv[1])
backbone, _ = load(sys.argv[2])
assert json.loads(meta["tabtrain.head"])["unfreeze"] == 1, meta["tabtrain.head"]
tail = sorted(k for k in model if k.startswith("backbone."))
want = sorted(f"backbone.{l}.{p}" for l in ("block16.expand", "block16.depthwise", "block16.project", "head")
              for p in ("weight", "bias"))
assert tail == want, tail
for k in tail:
    b = backbone[k[len("backbone."):]]
    assert model[k].shape == b.shape, k
moved = max(float(np.abs(model[k] - backbone[k[len("backbone."):]]).max()) for k in tail)
assert moved > 1e-4, f"the tail did not change (max |delta| {moved})"
print(f"model file: {len(tail)} backbone.* tensors, max change from the backbone {moved:.2e}")
PYEOF

# 2. eval reproduces the best epoch's val_acc; predict agrees with eval
"$TT" eval --ckpt "$W/ref.safetensors" --data "$W/val" --json >"$W/eval.jsonl"
best=$(json "$W/ref.jsonl" "ev('epoch')[ev('done')[0]['best_epoch'] - 1]['val_acc']")
acc=$(json "$W/eval.jsonl" "lines[0]['accuracy']")
echo "best epoch val_acc $best, eval accuracy $acc"
[ "$(json "$W/eval.jsonl" "abs(lines[0]['accuracy'] - $best) < 1e-9")" = True ] || fail "eval $acc != training val_acc $best"
"$TT" predict --ckpt "$W/ref.safetensors" --json "$W"/val/*/*.png >"$W/pred.jsonl"
right=$(json "$W/pred.jsonl" "sum(l['class'] == l['path'].split('/')[-2] for l in lines)")
[ "$(json "$W/eval.jsonl" "round(lines[0]['accuracy'] * 9)")" = "$right" ] || fail "predict got $right of 9 right, eval says $acc"

# 3. bit-exact resume, plain and augmented; another K is refused
for aug in plain augment; do
  extra=()
  [ "$aug" = augment ] && extra=(--augment flip,zoom --augment-views 2)
  if [ "$aug" = augment ]; then
    "$TT" train "${PLAIN[@]}" "${BASE[@]}" "${extra[@]}" --epochs 4 --ckpt-dir "$W/$aug-ref" --out "$W/$aug-ref.safetensors" \
      --threads 1 >/dev/null
  fi
  R=$W/ref; [ "$aug" = augment ] && R=$W/$aug-ref
  "$TT" train "${PLAIN[@]}" "${BASE[@]}" "${extra[@]}" --epochs 2 --ckpt-dir "$W/$aug-half" --out "$W/$aug-half2.safetensors" \
    --threads 2 --cache-dir none >/dev/null
  "$TT" train "${PLAIN[@]}" "${BASE[@]}" "${extra[@]}" --epochs 4 --ckpt-dir "$W/$aug-half" --out "$W/$aug-half.safetensors" \
    --resume --threads 3 --cache-dir none >"$W/$aug-resume.jsonl"
  [ "$(json "$W/$aug-resume.jsonl" "ev('resume')[0]['epoch']")" = 2 ] || fail "$aug: did not resume from epoch 2"
  "$PY" "$HERE/ckpt_same.py" "$(final "$R")" "$(final "$W/$aug-half")" || fail "$aug: 2 (2 threads) + 2 (3 threads) epochs != 4 epochs (1 thread)"
  cmp "$R.safetensors" "$W/$aug-half.safetensors" || fail "$aug: resumed model file differs"
  if [ "$aug" = augment ] && cmp -s "$W/ref.safetensors" "$R.safetensors"; then fail "augmentation changed nothing"; fi
done
"$PY" - "$(final "$W/ref")" <<'PYEOF' || fail "checkpoint lacks the tail's state"
import json, struct, sys
blob = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", blob[:8])
h = json.loads(blob[8:8 + n])
meta = h.pop("__metadata__")
for k in ("backbone.head.weight", "adam_m.backbone.head.weight", "adam_v.backbone.head.weight",
          "best.backbone.block16.project.bias"):
    assert k in h, k
assert json.loads(meta["tabtrain.state"])["unfreeze"] == 1
assert abs(json.loads(meta["tabtrain.trainer"])["backbone_lr"] - 0.001) < 1e-9
PYEOF
base 2
if "$TT" train "${PLAIN[@]}" "${BASE[@]}" --epochs 4 --ckpt-dir "$W/plain-half" --out "$W/k2.safetensors" --resume \
    >/dev/null 2>"$W/k2.err"; then
  fail "resumed a --unfreeze 1 checkpoint with --unfreeze 2"
fi
grep -q "unfreeze 1; this run has --unfreeze 2" "$W/k2.err" || fail "unclear K mismatch: $(cat "$W/k2.err")"

# 4. export of the fine-tuned best checkpoint + the documented PyTorch snippet
"$TT" export --ckpt "$W/ref/best.safetensors" --out "$W/ex" >/dev/null
images=("$W"/val/*/*.png)
predict_vs_torch "$W/ref/best.safetensors" "$W/ex" "${images[@]}"
"$PY" - "$W/predict.jsonl" "$W/torch.jsonl" "$W" "$TT_MODEL" "${images[@]}" <<'PYEOF' || fail "export"
import json, sys
import torch
sys.path.insert(0, sys.argv[3])
import snippet
ours = [json.loads(l) for l in open(sys.argv[1])]
theirs = [json.loads(l) for l in open(sys.argv[2])]
worst = max(abs(x - y) for a, b in zip(ours, theirs) for x, y in zip(a["probabilities"], b["probabilities"]))
assert len(ours) == len(theirs) == 9 and worst <= 1e-4, (len(ours), len(theirs), worst)
# The same head on the frozen backbone gives other probabilities: the tail matters.
info = json.load(open(f"{sys.argv[3]}/ex/model.json"))
tensors, _ = snippet.load_safetensors(f"{sys.argv[3]}/ex/{info['weights']}")
frozen, _ = snippet.load_safetensors(sys.argv[4])
tensors.update({k: v for k, v in frozen.items() if k.startswith(("block16.", "head.weight", "head.bias"))})
model = snippet.TabtrainClassifier(tensors, info["head"]).eval()
with torch.no_grad():
    p = torch.softmax(model(torch.stack([snippet.preprocess(i, 224) for i in sys.argv[5:]])), dim=1).tolist()
apart = max(abs(x - y) for a, b in zip(ours, p) for x, y in zip(a["probabilities"], b))
assert apart > 1e-3, f"frozen backbone gives the same probabilities ({apart})"
print(f"export: predict vs PyTorch max |dp| {worst:.2e}; vs the frozen backbone {apart:.2e}")
PYEOF

# 5. clear errors
for k in -1 6; do
  "$TT" train "${PLAIN[@]}" --data "$W/data" --unfreeze "$k" >/dev/null 2>"$W/badk.err" && fail "--unfreeze $k accepted" || rc=$?
  [ "$rc" = 2 ] && grep -q "K must be a whole number from 0 (frozen backbone) to 5" "$W/badk.err" ||
    fail "--unfreeze $k: exit $rc, $(cat "$W/badk.err")"
done
"$PY" - "$W/ref.safetensors" "$W/badshape.safetensors" <<'PYEOF'
import json, struct, sys
blob = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", blob[:8])
h = json.loads(blob[8:8 + n])
t = h["backbone.block16.project.weight"]
t["shape"] = [t["shape"][3], 1, 1, t["shape"][0]]  # same bytes (and CRC), transposed shape
head = json.dumps(h).encode()
open(sys.argv[2], "wb").write(struct.pack("<Q", len(head)) + head + blob[8 + n:])
PYEOF
for cmd in predict eval; do
  args=("$W/val/toys/"*.png); [ $cmd = eval ] && args=(--data "$W/val")
  "$TT" $cmd --ckpt "$W/badshape.safetensors" "${args[@]}" >/dev/null 2>"$W/shape.err" && fail "$cmd accepted a wrong shape"
  grep -q "backbone.block16.project.weight has another shape" "$W/shape.err" || fail "$cmd: $(cat "$W/shape.err")"
done
echo "cli_unfreeze: OK"
