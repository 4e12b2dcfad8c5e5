"""Continue a tabtrain run in PyTorch, data-parallel over processes and machines.

usage:
  torchrun --nproc_per_node 2 python/tabtrain_ddp.py --from exported/model.safetensors \\
      --data DIR [--val DIR | --val-split 0.15] [--epochs 5] [--batch-size 32] [--lr 0.001] \\
      [--seed 1] --out continued/model.safetensors [--probs-out val.jsonl]

--from is an export (`tabtrain export`, or the app's Export): the backbone, any fine-tuned
blocks and the trained head. DIR holds one folder per class, as for `tabtrain train`, with
the export's class names. The backbone stays frozen (as in a tabtrain run without
--unfreeze: an export's fine-tuned blocks are part of it); the head continues from its
trained weights with Adam.

Every process decodes and runs its share of the pictures through the backbone once
(python/tabtrain_torch.py, the snippet of docs/export.md), the features are gathered on all
of them, then the head trains with torch.nn.parallel.DistributedDataParallel: each process
takes batch-size / world-size rows of every global batch (DistributedSampler) and the
gradients are averaged across processes. The backend is gloo on CPU and NCCL on GPUs, so the
same command runs on one machine or many (torchrun --nnodes N --rdzv-endpoint HOST:PORT).

Process 0 writes --out: the input export with the new head (same tensor names, CRCs and
metadata; "tabtrain.weights" "current", and "tabtrain.continued" describing this run), which
`tabtrain predict/eval --ckpt`, the app's Import model, the embed module and
`tabtrain_torch.py` all read. --probs-out writes the trained head's probabilities for the
validation pictures, one JSON line each ({"path", "class", "probabilities"}, as
`tabtrain predict --json`).
"""
import argparse
import json
import os
import random
import struct
import sys
import time
import zlib

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tabtrain_torch import TabtrainClassifier, load_safetensors, preprocess  # noqa: E402

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


def log(*args):
    if dist.get_rank() == 0:
        print(*args, flush=True)


def list_pictures(root, classes):
    """[(path, label)] of root/<class>/*, in the export's class order; refuses unknown classes."""
    found = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    unknown = [d for d in found if d not in classes]
    if unknown:
        raise SystemExit(f"tabtrain_ddp: {root} has classes the model does not know: {unknown} "
                         f"(the model's classes are {classes})")
    items = []
    for label, name in enumerate(classes):
        folder = os.path.join(root, name)
        if os.path.isdir(folder):
            items += [(os.path.join(folder, f), label) for f in sorted(os.listdir(folder))
                      if f.lower().endswith(IMAGE_EXTENSIONS)]
    return items


def split(items, fraction, seed):
    """A stratified, seeded validation split of `fraction` of each class."""
    rng = random.Random(seed)
    train, val = [], []
    for label in sorted({l for _, l in items}):
        rows = [it for it in items if it[1] == label]
        rng.shuffle(rows)
        n_val = int(round(len(rows) * fraction))
        val += rows[:n_val]
        train += rows[n_val:]
    return train, val


def features(backbone, items, size, batch=16):
    """Backbone features of this process's share of `items`, gathered on every process.
    Pictures that do not decode are reported and dropped, as tabtrain does."""
    rank, world = dist.get_rank(), dist.get_world_size()
    mine = {}
    share = list(range(rank, len(items), world))
    with torch.no_grad():
        for i in range(0, len(share), batch):
            idx, xs = [], []
            for j in share[i:i + batch]:
                try:
                    xs.append(preprocess(items[j][0], size))
                    idx.append(j)
                except Exception as e:  # PIL raises many types for bad files
                    print(f"tabtrain_ddp: skipped {items[j][0]}: {e}", file=sys.stderr, flush=True)
            if xs:
                out = backbone(torch.stack(xs)).mean(dim=(2, 3))
                mine.update({j: f for j, f in zip(idx, out)})
    parts = [None] * world
    dist.all_gather_object(parts, mine)
    merged = {j: f for part in parts for j, f in part.items()}
    keep = sorted(merged)
    x = torch.stack([merged[j] for j in keep]) if keep else torch.zeros(0, 1)
    y = torch.tensor([items[j][1] for j in keep], dtype=torch.long)
    return x, y, [items[j][0] for j in keep]


def accuracy(head, x, y):
    if len(y) == 0:
        return None, None
    with torch.no_grad():
        logits = head(x)
        loss = torch.nn.functional.cross_entropy(logits, y).item()
        return loss, (logits.argmax(1) == y).float().mean().item()


def write_export(src_tensors, meta, head_state, out_path, extra_meta):
    """The input export with the trained head, as tabtrain writes safetensors: F32 tensors
    (all of an export's) packed naturally aligned, the header padded with spaces to a
    multiple of 8, a "tabtrain.crc32.<name>" per tensor; written to a temporary file and
    renamed, so a crash leaves no half file."""
    tensors = dict(src_tensors)
    tensors.update(head_state)
    meta = dict(meta)
    meta.update(extra_meta)
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        raw = t.detach().cpu().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        meta[f"tabtrain.crc32.{name}"] = "%08x" % (zlib.crc32(raw) & 0xFFFFFFFF)
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = meta
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = f"{out_path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out_path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--from", dest="source", required=True, help="an export's model.safetensors")
    ap.add_argument("--data", required=True, help="one folder per class")
    ap.add_argument("--val", help="validation pictures, one folder per class")
    ap.add_argument("--val-split", type=float, default=0.15, help="fraction of --data held out when no --val")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=32, help="global batch, split over the processes")
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--probs-out", help="JSON lines of the validation pictures' probabilities")
    args = ap.parse_args()

    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if cuda else "cpu")
    if args.batch_size % world:
        raise SystemExit(f"tabtrain_ddp: --batch-size {args.batch_size} does not split over {world} processes")
    torch.manual_seed(args.seed)

    tensors, meta = load_safetensors(args.source)
    if meta.get("tabtrain.kind") != "export":
        raise SystemExit(f"tabtrain_ddp: {args.source} is not an export (tabtrain export, or Export in the app)")
    classes = json.loads(meta["tabtrain.classes"])
    head_cfg = json.loads(meta["tabtrain.head"])
    size = int(meta["tabtrain.input_size"])
    model = TabtrainClassifier(tensors, head_cfg).eval()

    items = list_pictures(args.data, classes)
    if args.val:
        train_items, val_items = items, list_pictures(args.val, classes)
    else:
        train_items, val_items = split(items, args.val_split, args.seed)
    t0 = time.time()
    x, y, _ = features(model.features, train_items, size)
    vx, vy, vpaths = features(model.features, val_items, size)
    log(json.dumps({"event": "features", "train": len(y), "val": len(vy), "processes": world,
                    "seconds": round(time.time() - t0, 2)}))

    # The classifier of the export, with dropout before the logits as tabtrain's head has it.
    head = model.classifier
    if head_cfg.get("dropout", 0) > 0:
        head = torch.nn.Sequential(*head[:-1], torch.nn.Dropout(head_cfg["dropout"]), head[-1])
    head = head.to(device)
    ddp = DistributedDataParallel(head, device_ids=[device.index] if cuda else None)
    opt = torch.optim.Adam(ddp.parameters(), lr=args.lr)
    data = torch.utils.data.TensorDataset(x, y)
    sampler = torch.utils.data.distributed.DistributedSampler(data, num_replicas=world, rank=rank,
                                                              shuffle=True, seed=args.seed)
    loader = torch.utils.data.DataLoader(data, batch_size=args.batch_size // world, sampler=sampler)
    history = []
    for epoch in range(1, args.epochs + 1):
        sampler.set_epoch(epoch)
        ddp.train()
        for xb, yb in loader:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(ddp(xb.to(device)), yb.to(device))
            loss.backward()  # DDP averages the gradients over the processes here
            opt.step()
        head.eval()
        train_loss, train_acc = accuracy(head, x.to(device), y.to(device))
        val_loss, val_acc = accuracy(head, vx.to(device), vy.to(device))
        record = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                  "val_loss": val_loss, "val_acc": val_acc}
        history.append(record)
        log(json.dumps({"event": "epoch", **record}))

    if rank == 0:
        head = head.cpu().eval()
        linears = [m for m in head if isinstance(m, torch.nn.Linear)]
        names = (["head.hidden"] if len(linears) == 2 else []) + ["head.logits"]
        state = {}
        for name, layer in zip(names, linears):
            state[f"{name}.kernel"] = layer.weight  # [out][in], as tabtrain stores kernels
            state[f"{name}.bias"] = layer.bias
        continued = {"tool": "python/tabtrain_ddp.py", "from": os.path.basename(args.source),
                     "processes": world, "backend": dist.get_backend(), "epochs": args.epochs,
                     "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
                     "train": len(y), "val": len(vy), "history": history}
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        write_export(tensors, meta, state, args.out,
                     {"tabtrain.weights": "current", "tabtrain.continued": json.dumps(continued)})
        log(json.dumps({"event": "saved", "path": args.out}))
        if args.probs_out:
            with torch.no_grad():
                probs = torch.softmax(head(vx), dim=1) if len(vy) else torch.zeros(0, len(classes))
            with open(args.probs_out, "w") as f:
                for path, p in zip(vpaths, probs.tolist()):
                    f.write(json.dumps({"path": path, "class": classes[int(np.argmax(p))],
                                        "probabilities": p}) + "\n")
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
