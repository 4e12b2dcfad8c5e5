#!/usr/bin/env bash
# Scale with bounded memory: Fashion-MNIST (Debian dataset-fashion-mnist)
# converted to PNG class folders, N = 1000 and N = 2000 images, each trained
# from a fresh cache; the CLI's summary line reports its peak RSS. Memory that
# grows with N is only the feature rows (1280 floats = 5 KiB per image) and
# names; each image also passes through a 224x224x3 float input (588 KiB), so
# keeping inputs or pixels around would add >500 MiB per 1000 images. Bounds:
#   peak(2000) - peak(1000) < 16 MiB   and   peak(2000) < 160 MiB.
source "$(dirname "$0")/common.sh"
FM=/usr/share/datasets/fashion-mnist
need "$FM/train-images-idx3-ubyte.gz"
"$PY" - "$FM" "$W" <<'PYEOF'
import gzip, os, struct, sys, zlib
src, out = sys.argv[1:3]
names = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
img = gzip.open(src + "/train-images-idx3-ubyte.gz").read()
lab = gzip.open(src + "/train-labels-idx1-ubyte.gz").read()
assert struct.unpack(">IIII", img[:16])[0] == 2051 and struct.unpack(">II", lab[:8])[0] == 2049
def png(px):  # 28x28 grey, 8 bit
    raw = b"".join(b"\0" + px[r * 28:(r + 1) * 28] for r in range(28))
    ch = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + ch(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0))
            + ch(b"IDAT", zlib.compress(raw)) + ch(b"IEND", b""))
for n in (1000, 2000):
    for c in names: os.makedirs(f"{out}/n{n}/{c}", exist_ok=True)
    for i in range(n):
        with open(f"{out}/n{n}/{names[lab[8 + i]]}/{i:05d}.png", "wb") as f:
            f.write(png(img[16 + 784 * i:16 + 784 * (i + 1)]))
PYEOF
for n in 1000 2000; do
  "$TT" train "${PLAIN[@]}" --data "$W/n$n" --epochs 3 --cache-dir "$W/cache$n" --json --out "$W/m$n.safetensors" >"$W/n$n.jsonl"
  echo "N=$n: $(json "$W/n$n.jsonl" "{k: ev('done')[0][k] for k in ('train_images', 'val_images', 'computed', 'extract_seconds', 'best_val_acc', 'peak_rss_mb')}")"
done
r1=$(json "$W/n1000.jsonl" "ev('done')[0]['peak_rss_mb']")
r2=$(json "$W/n2000.jsonl" "ev('done')[0]['peak_rss_mb']")
[ "$(json "$W/n2000.jsonl" "ev('done')[0]['train_images'] + ev('done')[0]['val_images']")" = 2000 ] || fail "not all 2000 images used"
"$PY" -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print('peak RSS %.1f MiB (N=1000), %.1f MiB (N=2000), growth %.1f MiB' % (a, b, b - a)); sys.exit(0 if b - a < 16 and b < 160 else 1)" "$r1" "$r2" \
  || fail "peak RSS grows with N or exceeds 160 MiB"
[ "$("$PY" -c "print(float('$(json "$W/n2000.jsonl" "ev('done')[0]['best_val_acc']")') > 0.6)")" = True ] || fail "Fashion-MNIST accuracy too low"
echo "ok"
