"""Exit 0 when two tabtrain checkpoints hold the same training state: every
tensor byte-identical (weights, optimizer state, best weights, data order)
and the same tabtrain.state / tabtrain.history except wall-clock seconds.
With --tol R (for checkpoints written by other kernels, whose float rounding
differs): F32 tensors may differ by R times the tensor's largest magnitude and
float numbers in the state and history by R relative; every other tensor
(data order), integer, string and RNG state must still be identical.
usage: ckpt_same.py [--tol R] A B"""
import json
import struct
import sys


def load(path):
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__")
    data = blob[8 + n:]
    tensors = {k: (v["dtype"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in header.items()}
    state = json.loads(meta["tabtrain.state"])
    state.pop("epoch_seconds")
    history = json.loads(meta["tabtrain.history"])
    for h in history:
        h.pop("seconds")
    return tensors, state, history


def tensor_same(a, b, tol):
    if a == b:
        return True
    if tol is None or a[0] != "F32" or b[0] != "F32" or len(a[1]) != len(b[1]):
        return False
    import numpy as np
    x = np.frombuffer(a[1], np.float32).astype(np.float64)
    y = np.frombuffer(b[1], np.float32).astype(np.float64)
    scale = max(np.abs(x).max(initial=0.0), 1e-30)
    return bool(np.isfinite(y).all() and np.abs(x - y).max(initial=0.0) <= tol * scale)


def json_same(a, b, tol):
    if isinstance(a, float) and isinstance(b, float) and tol is not None:
        return abs(a - b) <= tol * max(abs(a), abs(b), 1e-30)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(json_same(a[k], b[k], tol) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(json_same(x, y, tol) for x, y in zip(a, b))
    return a == b


def main(argv):
    tol = None
    if argv[:1] == ["--tol"]:
        tol, argv = float(argv[1]), argv[2:]
    a, b = argv
    ta, sa, ha = load(a)
    tb, sb, hb = load(b)
    bad = [k for k in sorted(set(ta) | set(tb)) if k not in ta or k not in tb or not tensor_same(ta[k], tb[k], tol)]
    if not json_same(sa, sb, tol):
        bad.append("tabtrain.state")
    if not json_same(ha, hb, tol):
        bad.append("tabtrain.history")
    if bad:
        print(f"ckpt_same: {a} and {b} differ in: {', '.join(bad)}")
        return 1
    how = "identical" if tol is None else f"within {tol:g}"
    print(f"ckpt_same: {len(ta)} tensors {how}, step {sa['global_step']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
