#!/usr/bin/env bash
# The fuzzing reproducers of ../shared/fuzz-repro (see its README) through
# the real CLI: each hostile file gives a clear error (exit 1 or 2 with a
# message naming the problem, never a signal), writes nothing and takes no
# more memory than a good file would; the good files beside it still work.
#   cli_fuzz_repro.sh TABTRAIN WORKDIR        (needs TT_MODEL, TT_SHARED_DIR)
source "$(dirname "$0")/common.sh"
R=${TT_SHARED_DIR:-}/fuzz-repro
need "$R/image-jpeg-dht-overflow-1.jpg"
need "$QABCS/animals"
: "${TT_MODEL:?TT_MODEL must name the backbone file}"
good=$QABCS/animals/$(ls "$QABCS/animals" | sed -n 1p)

# run_bad FILE WANT_REGEX MAX_RSS_MB CMD...: exit 1 or 2, stderr matches, peak RSS below the bound.
run_bad() {
  local file=$1 want=$2 max_mb=$3
  shift 3
  "$PY" - "$W/err.txt" "$@" >"$W/rc.txt" <<'PYEOF'
import resource, subprocess, sys
with open(sys.argv[1], "w") as err:
    rc = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=err).returncode
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
PYEOF
  read -r rc mb <"$W/rc.txt"
  echo "$file: exit $rc, ${mb} MB: $(head -c 300 "$W/err.txt")"
  [ "$rc" = 1 ] || [ "$rc" = 2 ] || fail "$*: exit $rc (want 1 or 2, never a signal)"
  grep -Eq "$want" "$W/err.txt" || fail "$*: message does not say /$want/"
  [ "$mb" -le "$max_mb" ] || fail "$*: peak RSS $mb MB > $max_mb MB"
}

# The DHT table overflow (stb_image 2.27): refused by name in classify and
# predict; the good picture beside it in the same predict call is classified.
run_bad image-jpeg-dht-overflow-1.jpg "image-jpeg-dht-overflow-1.jpg: .*Huffman table" 2000 "$TT" classify --model "$TT_MODEL" "$R/image-jpeg-dht-overflow-1.jpg"

# A checkpoint whose head.logits.bias is U8: export refuses, writes no directory.
run_bad export-head-dtype-overread-1.safetensors "head.logits.bias is U8, expected F32" 2000 \
  "$TT" export --ckpt "$R/export-head-dtype-overread-1.safetensors" --out "$W/exp" --model "$TT_MODEL"
[ ! -e "$W/exp" ] || fail "export wrote $W/exp for a refused checkpoint"

# 240 bytes that claim a 2 GB head: refused before anything is sized from them.
# The bound is what predict on a good model takes (backbone + one picture), far below 2 GB.
run_bad model-head-alloc-dos-1.safetensors "head.hidden.kernel" 600 \
  "$TT" predict --ckpt "$R/model-head-alloc-dos-1.safetensors" "$good"

# tabtrain.head = {"x"}: a key without a value.
run_bad model-head-json-oob-read-1.safetensors "key without a value" 600 \
  "$TT" predict --ckpt "$R/model-head-json-oob-read-1.safetensors" "$good"

# Pictures just under the CLI's 40 M-pixel limit decode (slowly, as designed; in
# the optimized build only: the sanitizers make each take a minute).
[ "${TT_SANITIZED:-}" = 1 ] && { echo "ok"; exit 0; }
for f in slow-jpeg-6324x6324.jpg slow-gif-canvas-6324x6324.gif slow-png16-6324x6324.png; do
  "$TT" classify --model "$TT_MODEL" --top 1 --json "$R/$f" >"$W/slow.jsonl" || fail "$f: exit $?"
done
echo "ok"
