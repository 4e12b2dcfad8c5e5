#!/usr/bin/env bash
# Checkpoints written by the code before the application layer (tests/fixtures/v0,
# made with `tabtrain train` and with the engine API at commit 3f8ac41, 2 classes x 4
# pictures, --epochs 2 --hidden 4 --batch-size 2 --val-split 0.25 --seed 7 --lr 0.003)
# still resume: the epoch-1 checkpoint of either front end, resumed by `tabtrain train`,
# ends exactly where that front end's own run ended (every tensor, state and history),
# and the model file holds the old run's head tensors. Bit for bit when this build runs the
# kernels the fixtures were written with (tests/fixtures/v0/KERNELS, as `tabtrain --version`
# names them); other kernels round floats differently, so there within 1e-4 of each tensor's scale.
#   cli_old_ckpt.sh TABTRAIN WORKDIR            (needs TT_MODEL)
source "$(dirname "$0")/common.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
FX=$(cd "$HERE/../fixtures/v0" && pwd)
: "${TT_MODEL:?TT_MODEL must name the backbone file}"
ARGS=(--data "$FX/data" --epochs 2 --hidden 4 --batch-size 2 --val-split 0.25 --seed 7 --lr 0.003
      --cache-dir none)
TOL=()
[ "$("$TT" --version)" = "tabtrain (kernels: $(cat "$FX/KERNELS"))" ] || TOL=(--tol 1e-4)
for who in cli engine; do
  D=$W/$who
  mkdir -p "$D"
  cp "$FX/$who-ckpt-e0001.safetensors" "$D/ckpt-e0001-s000003.safetensors"
  echo ckpt-e0001-s000003.safetensors >"$D/latest"
  "$TT" train "${PLAIN[@]}" "${ARGS[@]}" --ckpt-dir "$D" --resume --out "$W/$who.safetensors" >"$W/$who.log" 2>&1 ||
    { cat "$W/$who.log"; fail "$who: the old epoch-1 checkpoint does not resume"; }
  "$PY" "$HERE/ckpt_same.py" "${TOL[@]}" "$FX/$who-ckpt-e0002.safetensors" "$D/$(cat "$D/latest")" ||
    fail "$who: resumed run differs from the old run"
done
"$PY" - "$HERE" "${TOL[1]:-}" "$FX/cli-model-e0002.safetensors" "$W/cli.safetensors" "$W/engine.safetensors" <<'PYEOF' || fail "model tensors differ"
import json, struct, sys
sys.path.insert(0, sys.argv[1])
from ckpt_same import tensor_same
def tensors(path):
    b = open(path, "rb").read()
    (n,) = struct.unpack("<Q", b[:8])
    h = json.loads(b[8:8 + n]); h.pop("__metadata__")
    return {k: (v["dtype"], b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]) for k, v in h.items()}
tol = float(sys.argv[2]) if sys.argv[2] else None
ref = tensors(sys.argv[3])
for p in sys.argv[4:]:
    t = tensors(p)
    bad = sorted(k for k in set(t) | set(ref) if k not in t or k not in ref or not tensor_same(ref[k], t[k], tol))
    assert not bad, f"{p}: {bad}"
print(f"model: {len(ref)} tensors " + ("identical" if tol is None else f"within {tol:g}"))
PYEOF
echo "old checkpoints resume: ok"
