"""Exit 0 when two tabtrain checkpoints hold the same training state: every
tensor byte-identical (weights, optimizer state, best weights, data order)
and the same tabtrain.state / tabtrain.history except wall-clock seconds.
usage: ckpt_same.py A B"""
import json
import struct
import sys


def load(path):
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__")
    data = blob[8 + n:]
    tensors = {k: data[v["data_offsets"][0]:v["data_offsets"][1]] for k, v in header.items()}
    state = json.loads(meta["tabtrain.state"])
    state.pop("epoch_seconds")
    history = json.loads(meta["tabtrain.history"])
    for h in history:
        h.pop("seconds")
    return tensors, state, history


def main(a, b):
    ta, sa, ha = load(a)
    tb, sb, hb = load(b)
    bad = [k for k in sorted(set(ta) | set(tb)) if ta.get(k) != tb.get(k)]
    if sa != sb:
        bad.append("tabtrain.state")
    if ha != hb:
        bad.append("tabtrain.history")
    if bad:
        print(f"ckpt_same: {a} and {b} differ in: {', '.join(bad)}")
        return 1
    print(f"ckpt_same: {len(ta)} tensors identical, step {sa['global_step']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
