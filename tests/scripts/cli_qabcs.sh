#!/usr/bin/env bash
# Real photos end to end (Debian qabcs-data, 4 of its 5 folders):
#  - train reaches a validation accuracy at least that of a logistic-regression
#    probe (scikit-learn, an outside oracle) on the very same features, dumped
#    by the CLI: mean over three seeded splits;
#  - a second run takes every feature from the cache and writes the identical
#    model file (same seed -> same bytes);
#  - predict on held-out photos gives their class; eval's JSON has the
#    confusion matrix and agrees with predict;
#  - clear errors: unknown class folders for eval and --val, another backbone.
source "$(dirname "$0")/common.sh"
need "$QABCS/animals"
"$PY" -c "import sklearn" 2>/dev/null || { echo "skipped: python3-sklearn missing (scripts/setup installs it)"; exit 77; }
CLASSES="animals food instrument toys"
for c in $CLASSES; do
  mkdir -p "$W/data/$c" "$W/held/$c"
  files=$(ls "$QABCS/$c")
  n=$(echo "$files" | wc -l)
  echo "$files" | sed -n "1,$((n - 3))p" | while read -r f; do ln -s "$QABCS/$c/$f" "$W/data/$c/$f"; done
  echo "$files" | tail -n 3 | while read -r f; do cp "$QABCS/$c/$f" "$W/held/$c/"; done
done
HEAD=(--epochs 100 --weight-decay 20 --dropout 0.3)
cache=$W/cache

# 1. accuracy against the probe
"$PY" - >"$W/probe.py" <<'PYEOF'
print('''import sys, numpy as np
from sklearn.linear_model import LogisticRegression
p = sys.argv[1]
X, y = np.load(p + "-train-x.npy"), np.load(p + "-train-y.npy")
Xv, yv = np.load(p + "-val-x.npy"), np.load(p + "-val-y.npy")
print(LogisticRegression(max_iter=5000).fit(X, y).score(Xv, yv))''')
PYEOF
ours=() probes=()
for seed in 1 2 3; do
  "$TT" train "${PLAIN[@]}" --data "$W/data" --seed "$seed" "${HEAD[@]}" --cache-dir "$cache" --json \
    --dump-features "$W/f$seed" --out "$W/m$seed.safetensors" >"$W/train$seed.jsonl"
  ours+=("$(json "$W/train$seed.jsonl" "ev('done')[0]['best_val_acc']")")
  probes+=("$("$PY" "$W/probe.py" "$W/f$seed")")
  echo "seed $seed: tabtrain val_acc ${ours[-1]}  logistic-regression probe ${probes[-1]}"
done
verdict=$("$PY" -c "import sys; a=[float(x) for x in sys.argv[1:4]]; b=[float(x) for x in sys.argv[4:7]]; print('mean tabtrain %.4f probe %.4f' % (sum(a)/3, sum(b)/3), 'OK' if sum(a) >= sum(b) - 1e-9 else 'BELOW')" "${ours[@]}" "${probes[@]}")
echo "$verdict"
case "$verdict" in *OK) ;; *) fail "validation accuracy below the logistic-regression probe" ;; esac
[ "$(json "$W/train1.jsonl" "ev('done')[0]['computed']")" -gt 250 ] || fail "first run did not compute features"

# 2. cached second run, same bytes
"$TT" train "${PLAIN[@]}" --data "$W/data" --seed 1 "${HEAD[@]}" --cache-dir "$cache" --json --out "$W/again.safetensors" >"$W/again.jsonl"
[ "$(json "$W/again.jsonl" "ev('done')[0]['computed']")" = 0 ] || fail "second run recomputed features"
cmp "$W/m1.safetensors" "$W/again.safetensors" || fail "same seed gave another model file"

# 3. predict held-out photos; eval agrees and has the confusion matrix
"$TT" predict --ckpt "$W/m1.safetensors" --json --top 2 "$W"/held/*/* >"$W/pred.jsonl"
right=$(json "$W/pred.jsonl" "sum(l['class'] == l['path'].split('/')[-2] for l in lines)")
echo "predict: $right of 12 held-out photos right"
[ "$right" -ge 10 ] || fail "predict got only $right of 12 held-out photos"
"$TT" eval --ckpt "$W/m1.safetensors" --data "$W/held" --json >"$W/eval.jsonl"
cat "$W/eval.jsonl"
[ "$(json "$W/eval.jsonl" "[len(r) for r in lines[0]['confusion']]")" = "[4, 4, 4, 4]" ] || fail "no 4x4 confusion matrix"
[ "$(json "$W/eval.jsonl" "sum(map(sum, lines[0]['confusion']))")" = 12 ] || fail "confusion does not count 12 photos"
[ "$(json "$W/eval.jsonl" "round(lines[0]['accuracy'] * 12)")" = "$right" ] || fail "eval and predict disagree"
[ "$(json "$W/eval.jsonl" "lines[0]['classes']")" = "['animals', 'food', 'instrument', 'toys']" ] || fail "class names"

# 4. errors that must be clear
mkdir -p "$W/other/misc" && cp "$QABCS/misc/$(ls "$QABCS/misc" | sed -n 1p)" "$W/other/misc/"
if "$TT" eval --ckpt "$W/m1.safetensors" --data "$W/other" 2>"$W/err.txt"; then fail "eval accepted an unknown class"; fi
grep -q "class 'misc' not among the model's classes ('animals', 'food', 'instrument', 'toys')" "$W/err.txt" || { cat "$W/err.txt"; fail "eval: unclear class error"; }
if "$TT" train "${PLAIN[@]}" --data "$W/data" --val "$W/other" --cache-dir "$cache" 2>"$W/err.txt"; then fail "train accepted --val with an unknown class"; fi
grep -q "validation folder .*other: class 'misc' not among" "$W/err.txt" || { cat "$W/err.txt"; fail "train --val: unclear class error"; }
echo "garbage" >"$W/held/bad.jpg"
rc=0; "$TT" predict --ckpt "$W/m1.safetensors" "$W/held/bad.jpg" "$W"/held/toys/* >"$W/pred.txt" 2>"$W/err.txt" || rc=$?
[ "$rc" = 1 ] || fail "predict with a bad image: exit $rc, want 1"
[ "$(wc -l <"$W/pred.txt")" = 3 ] || fail "predict did not go on after the bad image"
grep -q "bad.jpg: TT_ERR_FORMAT" "$W/err.txt" || fail "predict: bad image not reported"
# Another backbone: the same weights with another provenance text.
"$PY" - "$TT_MODEL" "$W/other-backbone.safetensors" <<'PYEOF'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
h["__metadata__"]["tabtrain.source"] += " (copy)"
t = json.dumps(h, separators=(",", ":")).encode()
t += b" " * (-len(t) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(t)) + t + b[8 + n:])
PYEOF
if "$TT" predict --ckpt "$W/m1.safetensors" --model "$W/other-backbone.safetensors" "$W"/held/toys/* 2>"$W/err.txt" >/dev/null; then
  fail "predict accepted another backbone"; fi
grep -q "TT_ERR_MISMATCH: the model was trained on backbone sha256:" "$W/err.txt" || { cat "$W/err.txt"; fail "unclear backbone mismatch"; }
echo "ok"
