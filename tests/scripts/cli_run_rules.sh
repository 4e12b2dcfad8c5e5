#!/usr/bin/env bash
# Rules a user relies on, through `tabtrain train`:
#   - a resume with another training option (--weight-decay after a run
#     without it) is refused and names the option; the same resume without it
#     goes on;
#   - equal validation losses are no improvement: with --lr 1e-12 no weight
#     moves, so --patience 2 ends a 10-epoch run after epoch 3, best epoch 1;
#   - two pictures whose files share their first 120 KB are cached apart
#     (the feature key covers the whole file): each gets its own features;
#   - a resume that falls back past a damaged newest checkpoint saves, rotates
#     the damaged file out and points `latest` at the new one: the next resume
#     starts from it (the checkpoint policy, through this front end).
source "$(dirname "$0")/common.sh"
need "$QABCS/animals"
D=$W/data
mkdir -p "$D/animals" "$D/food"
for c in animals food; do
  ls "$QABCS/$c" | grep '\.png$' | sed -n '1,6p' | while read -r f; do cp "$QABCS/$c/$f" "$D/$c/"; done
done
common=(--data "$D" --val-split 0.25 --batch-size 4 --cache-dir "$W/cache" --json)

"$TT" train "${PLAIN[@]}" "${common[@]}" --epochs 2 --ckpt-dir "$W/ckpt" --out "$W/m.safetensors" >"$W/first.jsonl" 2>"$W/err.txt" \
  || { cat "$W/err.txt"; fail "first run"; }
rc=0
"$TT" train "${PLAIN[@]}" "${common[@]}" --epochs 3 --ckpt-dir "$W/ckpt" --resume --weight-decay 0.01 --out "$W/m.safetensors" \
  >"$W/resume.jsonl" 2>"$W/err.txt" || rc=$?
cat "$W/err.txt"
[ "$rc" != 0 ] || fail "a resume with --weight-decay 0.01 after a run without it was accepted"
grep -qE "weight[-_]decay" "$W/err.txt" || fail "the refusal does not name the weight decay"
[ "$(json "$W/resume.jsonl" "len(ev('epoch'))")" = 0 ] || fail "the refused resume trained"
"$TT" train "${PLAIN[@]}" "${common[@]}" --epochs 3 --ckpt-dir "$W/ckpt" --resume --out "$W/m.safetensors" >"$W/resume.jsonl" 2>"$W/err.txt" \
  || { cat "$W/err.txt"; fail "resume with the same options"; }
[ "$(json "$W/resume.jsonl" "(ev('resume')[0]['epoch'], [e['epoch'] for e in ev('epoch')])")" = "(2, [3])" ] \
  || fail "resume: $(cat "$W/resume.jsonl")"

"$TT" train "${PLAIN[@]}" "${common[@]}" --epochs 10 --lr 1e-12 --patience 2 --out "$W/flat.safetensors" >"$W/flat.jsonl" 2>"$W/err.txt" \
  || { cat "$W/err.txt"; fail "run with lr 1e-12"; }
[ "$(json "$W/flat.jsonl" "len(set(e['val_loss'] for e in ev('epoch')))")" = 1 ] || fail "val losses differ: $(cat "$W/flat.jsonl")"
[ "$(json "$W/flat.jsonl" "(ev('done')[0]['epochs'], ev('done')[0]['best_epoch'])")" = "(3, 1)" ] \
  || fail "patience 2 on equal losses: $(json "$W/flat.jsonl" "ev('done')[0]")"

T=$W/twins
"$PY" - "$T" <<'PYEOF'
import os, sys
import numpy as np
from PIL import Image
out = sys.argv[1]
noise = np.random.default_rng(7).integers(0, 256, (256, 256, 3), dtype=np.uint8)
files = []
for cls, ch in (("reddish", 0), ("bluish", 2)):
    px = noise.copy()
    px[:96] //= 6
    px[:96, :, ch] += 200  # the top rows differ; BMP stores them last
    os.makedirs(f"{out}/{cls}", exist_ok=True)
    Image.fromarray(px).save(f"{out}/{cls}/twin.bmp")
    files.append(open(f"{out}/{cls}/twin.bmp", "rb").read())
shared = next(i for i, (a, b) in enumerate(zip(*files)) if a != b)
assert shared > 65536 and len(files[0]) == len(files[1]), shared
PYEOF
# Twice: the first run computes both (one batch), the second reads both back
# from the cache, each under its own key.
for run in 1 2; do
  "$TT" train "${PLAIN[@]}" --data "$T" --val-split 0 --epochs 1 --cache-dir "$W/twin-cache" --dump-features "$W/twins$run" --json \
    --out "$W/twins.safetensors" >"$W/twins.jsonl" 2>"$W/err.txt" || { cat "$W/err.txt"; fail "twins run $run"; }
  want=$([ $run = 1 ] && echo "(0, 2)" || echo "(2, 0)")
  [ "$(json "$W/twins.jsonl" "(ev('done')[0]['cached'], ev('done')[0]['computed'])")" = "$want" ] \
    || fail "twins run $run: cached, computed = $(json "$W/twins.jsonl" "ev('done')[0]"), want $want"
done
"$PY" -c "
import numpy as np, sys
a, b = np.load('$W/twins1-train-x.npy'), np.load('$W/twins2-train-x.npy')
sys.exit(0 if a.shape[0] == 2 and not np.array_equal(a[0], a[1]) and np.array_equal(a, b) else 1)" \
  || fail "the twins' features are not their own (the same, or other ones from the cache)"

# Checkpoints of epochs 2, 3 and 4; the two newest damaged, so a resume falls
# back to epoch 2 and, with --epochs 3 --keep 1, saves epoch 3 only: that save
# must rotate out the damaged epoch-4 file (newer by step, but past the resumed
# run), keep the new one and point `latest` at it, or the next resume finds no
# valid checkpoint.
C=$W/fallback-ckpt
"$TT" train "${PLAIN[@]}" "${common[@]}" --epochs 4 --ckpt-dir "$C" --keep 3 --out "$W/fb.safetensors" >/dev/null 2>"$W/err.txt" \
  || { cat "$W/err.txt"; fail "fallback: first run"; }
damaged=$(ls "$C" | grep '^ckpt-.*\.safetensors$' | tail -2)
[ "$(echo "$damaged" | wc -l)" = 2 ] || fail "fallback: expected three checkpoints: $(ls "$C")"
for f in $damaged; do
  "$PY" - "$C/$f" <<'PYEOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[-9] ^= 0x40  # a flipped bit in the last tensor: its CRC no longer matches
open(sys.argv[1], "wb").write(b)
PYEOF
done
"$TT" train "${PLAIN[@]}" "${common[@]}" --epochs 3 --ckpt-dir "$C" --keep 1 --resume --out "$W/fb.safetensors" \
  >"$W/fb1.jsonl" 2>"$W/err.txt" || { cat "$W/err.txt"; fail "fallback: resume past the damaged checkpoints"; }
[ "$(json "$W/fb1.jsonl" "(ev('resume')[0]['epoch'], [e['epoch'] for e in ev('epoch')])")" = "(2, [3])" ] \
  || fail "fallback: did not continue from epoch 2: $(cat "$W/fb1.jsonl")"
[ "$(json "$W/fb1.jsonl" "'fails verification' in ev('resume')[0]['note']")" = True ] \
  || fail "fallback: the resume did not say the newest checkpoint was damaged: $(cat "$W/fb1.jsonl")"
latest=$(cat "$C/latest")
[ -f "$C/$latest" ] || fail "fallback: after the save, latest names $latest, which is missing: $(ls "$C")"
[ "$(ls "$C" | grep '^ckpt-.*\.safetensors$')" = "$latest" ] || fail "fallback: --keep 1 left $(ls "$C")"
"$TT" train "${PLAIN[@]}" "${common[@]}" --epochs 4 --ckpt-dir "$C" --keep 1 --resume --out "$W/fb.safetensors" \
  >"$W/fb2.jsonl" 2>"$W/err.txt" || { cat "$W/err.txt"; fail "fallback: the resume after the save found no valid checkpoint"; }
[ "$(json "$W/fb2.jsonl" "(ev('resume')[0]['epoch'], ev('resume')[0]['note'], [e['epoch'] for e in ev('epoch')])")" = "(3, '', [4])" ] \
  || fail "fallback: the second resume did not continue from epoch 3: $(cat "$W/fb2.jsonl")"
echo "ok"
