#!/usr/bin/env bash
# Checkpoints written by the code before the application layer (tests/fixtures/v0,
# made with `tabtrain train` and with the engine API at commit 3f8ac41, 2 classes x 4
# pictures, --epochs 2 --hidden 4 --batch-size 2 --val-split 0.25 --seed 7 --lr 0.003)
# still resume: the epoch-1 checkpoint of either front end, resumed by `tabtrain train`,
# ends exactly where that front end's own run ended (every tensor, state and history),
# and the model file holds the old run's head tensors.
#   cli_old_ckpt.sh TABTRAIN WORKDIR            (needs TT_MODEL)
source "$(dirname "$0")/common.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
FX=$(cd "$HERE/../fixtures/v0" && pwd)
: "${TT_MODEL:?TT_MODEL must name the backbone file}"
ARGS=(--data "$FX/data" --epochs 2 --hidden 4 --batch-size 2 --val-split 0.25 --seed 7 --lr 0.003
      --cache-dir none)
for who in cli engine; do
  D=$W/$who
  mkdir -p "$D"
  cp "$FX/$who-ckpt-e0001.safetensors" "$D/ckpt-e0001-s000003.safetensors"
  echo ckpt-e0001-s000003.safetensors >"$D/latest"
  "$TT" train "${ARGS[@]}" --ckpt-dir "$D" --resume --out "$W/$who.safetensors" >"$W/$who.log" 2>&1 ||
    { cat "$W/$who.log"; fail "$who: the old epoch-1 checkpoint does not resume"; }
  "$PY" "$HERE/ckpt_same.py" "$FX/$who-ckpt-e0002.safetensors" "$D/$(cat "$D/latest")" ||
    fail "$who: resumed run differs from the old run"
done
"$PY" - "$FX/cli-model-e0002.safetensors" "$W/cli.safetensors" "$W/engine.safetensors" <<'PYEOF' || fail "model tensors differ"
import json, struct, sys
def tensors(path):
    b = open(path, "rb").read()
    (n,) = struct.unpack("<Q", b[:8])
    h = json.loads(b[8:8 + n]); h.pop("__metadata__")
    return {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items()}
ref = tensors(sys.argv[1])
for p in sys.argv[2:]:
    t = tensors(p)
    assert t == ref, f"{p}: {sorted(k for k in set(t) | set(ref) if t.get(k) != ref.get(k))}"
print(f"model: {len(ref)} tensors identical")
PYEOF
echo "old checkpoints resume: ok"
