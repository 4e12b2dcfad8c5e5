#!/usr/bin/env bash
# A dataset folder with real photos and every kind of bad file: each bad file
# is reported with its reason and skipped, the run continues and trains, the
# summary counts them; hidden files and folders are ignored; a PNG named .jpg
# is used (decoded by content).
source "$(dirname "$0")/common.sh"
need "$QABCS/animals"
D=$W/data
mkdir -p "$D/animals" "$D/food" "$D/animals/nested-folder"
ls "$QABCS/animals" | sed -n '1,12p' | while read -r f; do cp "$QABCS/animals/$f" "$D/animals/"; done
ls "$QABCS/food" | sed -n '1,12p' | while read -r f; do cp "$QABCS/food/$f" "$D/food/"; done
first=$(ls "$QABCS/food" | sed -n 1p)
cp "$QABCS/food/$first" "$D/food/renamed-png.jpg"                   # wrongly named: fine
head -c 3000 "$QABCS/animals/$(ls "$QABCS/animals" | sed -n 1p)" >"$D/animals/truncated.png"
: >"$D/animals/empty.png"
echo "not an image at all" >"$D/food/notes.jpg"                     # non-image named .jpg
head -c 4096 /dev/urandom >"$D/food/corrupt.jpg"                     # random bytes
printf '\xff\xd8\xff\xe0 corrupt jpeg body' >"$D/animals/corrupt-jpeg.jpg"
"$PY" - "$D/animals/huge.png" <<'PYEOF'
import struct, sys, zlib
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
PYEOF
cp "$D/food/$first" "$D/food/.hidden.png"
cp "$D/food/$first" "$D/animals/nested-folder/inside.png"
mkdir -p "$D/.trash"; cp "$D/food/$first" "$D/.trash/x.png"

"$TT" train "${PLAIN[@]}" --data "$D" --epochs 3 --val-split 0.2 --json --cache-dir "$W/cache" --out "$W/m.safetensors" \
  >"$W/out.jsonl" 2>"$W/err.txt" || { cat "$W/err.txt"; fail "train stopped on bad files"; }
cat "$W/out.jsonl"
got=$(json "$W/out.jsonl" "sorted((l['path'].split('/')[-1], l['status']) for l in ev('skipped'))")
want="[('corrupt-jpeg.jpg', 'TT_ERR_CORRUPT'), ('corrupt.jpg', 'TT_ERR_FORMAT'), ('empty.png', 'TT_ERR_FORMAT'), ('huge.png', 'TT_ERR_LIMIT'), ('notes.jpg', 'TT_ERR_FORMAT'), ('truncated.png', 'TT_ERR_CORRUPT')]"
[ "$got" = "$want" ] || fail "skipped files: $got, want $want"
[ "$(json "$W/out.jsonl" "all(len(l['reason']) > 5 for l in ev('skipped'))")" = True ] || fail "a skipped file has no reason"
[ "$(json "$W/out.jsonl" "ev('done')[0]['skipped']")" = 6 ] || fail "summary does not count 6 skipped"
n=$(json "$W/out.jsonl" "ev('done')[0]['train_images'] + ev('done')[0]['val_images']")
[ "$n" = 25 ] || fail "used $n images, want 25 (24 photos + the PNG named .jpg)"
[ "$(json "$W/out.jsonl" "len(ev('epoch'))")" = 3 ] || fail "training did not run 3 epochs"
[ -s "$W/m.safetensors" ] || fail "no model written"

# Human output: one stderr line per bad file with its reason, and the summary.
"$TT" train "${PLAIN[@]}" --data "$D" --epochs 1 --cache-dir "$W/cache" --out "$W/m2.safetensors" >"$W/out.txt" 2>"$W/err.txt"
cat "$W/err.txt"
[ "$(grep -c '^skipped .*: TT_ERR_' "$W/err.txt")" = 6 ] || fail "human mode: expected 6 'skipped' lines"
grep -q "huge.png: TT_ERR_LIMIT: .*exceeds the limit" "$W/err.txt" || fail "huge file reason missing"
grep -q "6 files skipped" "$W/err.txt" || fail "no skipped summary"
grep -q "25 views cached, 0 computed" "$W/err.txt" || fail "second run recomputed features"

# eval and predict over the same folder and files: bad ones reported, the rest evaluated.
"$TT" eval --ckpt "$W/m.safetensors" --data "$D" --json >"$W/eval.jsonl" 2>"$W/err.txt"
[ "$(json "$W/eval.jsonl" "(lines[-1]['images'], lines[-1]['skipped'], len(ev('skipped')))")" = "(25, 6, 6)" ] \
  || fail "eval: $(cat "$W/eval.jsonl")"
rc=0; "$TT" predict --ckpt "$W/m.safetensors" --json "$D/food/notes.jpg" "$D/food/renamed-png.jpg" "$D/animals/huge.png" \
  >"$W/pred.jsonl" || rc=$?
[ "$rc" = 1 ] || fail "predict with bad images: exit $rc, want 1"
[ "$(json "$W/pred.jsonl" "[l.get('status', 'ok' if l.get('class') in ('animals', 'food') else '?') for l in lines]")" = "['TT_ERR_FORMAT', 'ok', 'TT_ERR_LIMIT']" ] \
  || fail "predict: $(cat "$W/pred.jsonl")"
echo "ok"
