# Sourced by the CLI test scripts: $1 = tabtrain binary, $2 = scratch dir.
set -euo pipefail
TT=$1
W=$2
PY=/usr/bin/python3
QABCS=/usr/share/qabcs/abcs/all/pics
rm -rf "$W"
mkdir -p "$W"
source "$(dirname "${BASH_SOURCE[0]}")/plain.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
need() { [ -e "$1" ] || { echo "skipped: $1 missing (scripts/setup installs it)"; exit 77; }; }
# json FILE EXPR: evaluates a Python expression over the JSON lines of FILE
# (`lines` = all parsed objects, `ev(name)` = those with that "event").
json() {
  "$PY" - "$1" "$2" <<'PYEOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ev = lambda name: [l for l in lines if l.get("event") == name]
print(eval(sys.argv[2]))
PYEOF
}
# predict_vs_torch CKPT EXPORT_DIR IMAGE...: `tabtrain predict --json` on CKPT
# into $W/predict.jsonl, and the PyTorch snippet of docs/export.md exactly as
# documented (its first ```python block, saved as $W/snippet.py, which must be
# python/tabtrain_torch.py byte for byte) on the export into $W/torch.jsonl.
# Needs $SRC, the source tree.
predict_vs_torch() {
  local ckpt=$1 ex=$2
  shift 2
  "$PY" - "$SRC/docs/export.md" "$W/snippet.py" <<'PYEOF'
import sys
text = open(sys.argv[1]).read()
start = text.index("```python\n") + len("```python\n")
open(sys.argv[2], "w").write(text[start:text.index("```", start)])
PYEOF
  cmp -s "$W/snippet.py" "$SRC/python/tabtrain_torch.py" ||
    fail "docs/export.md's snippet and python/tabtrain_torch.py differ (they must be the same code)"
  "$TT" predict --ckpt "$ckpt" --json "$@" >"$W/predict.jsonl"
  "$PY" "$W/snippet.py" "$ex" "$@" >"$W/torch.jsonl"
}
# square_pngs PICS N_DATA N_VAL: the first N_DATA + N_VAL .png pictures (by
# name) of the animals, food and toys classes under PICS, flattened on white,
# centre-cropped and resized to 224x224 RGB, into $W/data/<class> (the first
# N_DATA) and $W/val/<class>: tabtrain and PIL then decode the same pixels and
# neither resizes.
square_pngs() {
  "$PY" - "$1" "$W" "$2" "$3" <<'PYEOF'
import os, sys
from PIL import Image
pics, out, n_data, n_val = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for c in ("animals", "food", "toys"):
    names = sorted(n for n in os.listdir(f"{pics}/{c}") if n.endswith(".png"))[:n_data + n_val]
    for i, name in enumerate(names):
        d = f"{out}/{'data' if i < n_data else 'val'}/{c}"
        os.makedirs(d, exist_ok=True)
        im = Image.open(f"{pics}/{c}/{name}").convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", im.size, (255, 255, 255, 255)), im).convert("RGB")
        s = min(im.size)
        l, t = (im.width - s) // 2, (im.height - s) // 2
        im.crop((l, t, l + s, t + s)).resize((224, 224), Image.BILINEAR).save(f"{d}/{name}")
PYEOF
}
# same_probs OURS.jsonl THEIRS.jsonl N WHAT: both JSON-lines files (path, class,
# probabilities, as `predict --json` prints) hold the same N images in the same order,
# with the same classes and probabilities within 1e-4; prints the largest difference.
same_probs() {
  "$PY" - "$@" <<'PYEOF'
import json, sys
ours = [json.loads(l) for l in open(sys.argv[1])]
theirs = [json.loads(l) for l in open(sys.argv[2])]
n, what = int(sys.argv[3]), sys.argv[4]
assert len(ours) == len(theirs) == n, (len(ours), len(theirs), n)
worst = 0.0
for a, b in zip(ours, theirs):
    assert a["path"] == b["path"] and a["class"] == b["class"], (a, b)
    worst = max(worst, max(abs(x - y) for x, y in zip(a["probabilities"], b["probabilities"])))
assert worst <= 1e-4, f"max |p_tabtrain - p_{what}| = {worst}"
print(f"{n} images, same classes; max probability difference, tabtrain vs {what}: {worst:.2e}")
PYEOF
}
