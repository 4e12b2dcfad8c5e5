"""Reads a tabtrain checkpoint with nothing but the standard library and numpy,
to prove the format is plain safetensors (docs/checkpoints.md).

usage: read_ckpt.py CKPT RAW_F32 TENSOR_NAME
Checks the header layout, every tensor's CRC-32 against its
"tabtrain.crc32.<name>" key, the metadata JSON, and that TENSOR_NAME equals the
raw little-endian f32 bytes the C test dumped next to it.
"""
import json
import struct
import sys
import zlib

import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64, "U8": np.uint8}


def main(path, raw_path, name):
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    meta = header.pop("__metadata__")
    assert meta["tabtrain.kind"] == "checkpoint", meta["tabtrain.kind"]
    assert int(meta["tabtrain.format_version"]) >= 1
    tensors = {}
    end = 0
    for tname, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, e = info["data_offsets"]
        assert b == end, f"{tname}: gap or overlap at {b}"
        end = e
        raw = data[b:e]
        crc = "%08x" % (zlib.crc32(raw) & 0xFFFFFFFF)
        assert meta["tabtrain.crc32." + tname] == crc, f"{tname}: CRC {crc}"
        arr = np.frombuffer(raw, dtype=np.dtype(DTYPES[info["dtype"]]).newbyteorder("<"))
        tensors[tname] = arr.reshape(info["shape"])
    assert end == len(data), "trailing bytes after the last tensor"

    state = json.loads(meta["tabtrain.state"])
    history = json.loads(meta["tabtrain.history"])
    trainer = json.loads(meta["tabtrain.trainer"])
    head = json.loads(meta["tabtrain.head"])
    classes = json.loads(meta["tabtrain.classes"])
    assert len(history) == state["epoch"]
    assert head["classes"] == len(classes) == state["classes"]
    assert tensors["head.logits.kernel"].shape == (head["classes"], head["hidden"] or head["in_dim"])
    assert sorted(tensors["state.perm"].tolist()) == list(range(state["n_train"]))
    int(state["shuffle_rng"]["state"]), int(trainer["seed"])
    for slot in ("adam_m.", "adam_v.", "best."):
        assert slot + "head.logits.bias" in tensors, slot

    want = np.fromfile(raw_path, dtype="<f4")
    got = tensors[name].ravel()
    assert got.dtype == np.float32 and np.array_equal(got, want), f"{name} differs from {raw_path}"
    print(f"read_ckpt: {len(tensors)} tensors, epoch {state['epoch']}, step {state['global_step']}, "
          f"classes {classes}: ok")


if __name__ == "__main__":
    main(*sys.argv[1:])
