#!/usr/bin/env bash
# scripts/fetch-model and `tabtrain import-npy` end to end (native only):
#   tests/scripts/fetch_model.sh TABTRAIN WORKDIR      (TT_SHARED_DIR must be set)
# The download path runs against the shared folder through file:// URLs;
# modified inputs are symlink farms with one altered copy, so the shared
# files are never duplicated.
set -euo pipefail
TABTRAIN=$1 W=$2
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
S=$TT_SHARED_DIR/models/mobilenet_v2_1.0_224
L=$TT_SHARED_DIR/models/tflite/imagenet_labels.txt
FM=$ROOT/scripts/fetch-model
export TT_TABTRAIN=$TABTRAIN
rm -rf "$W" && mkdir -p "$W"

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_fail() { # expect_fail PATTERN CMD...: CMD must fail and say PATTERN
  local pattern=$1 out; shift
  if out=$("$@" 2>&1); then fail "should have failed: $*"; fi
  grep -qF -- "$pattern" <<<"$out" || fail "message lacks '$pattern': $out"
  echo "ok: refused ($pattern)"
}
mirror() { # mirror DIR: symlinks to every shared NPY
  mkdir -p "$1" && ln -s "$S"/*.npy "$1"/
}
npy() { # npy FILE DESCR FORTRAN SHAPE NBYTES: a hand-made NPY v1 file
  python3 - "$@" <<'PY'
import struct, sys
path, descr, fortran, shape, nbytes = sys.argv[1:]
h = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
h += " " * (63 - (10 + len(h)) % 64) + "\n"
open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + b"\0" * int(nbytes))
PY
}

# 1. Download path (file:// URL), then the local shared path: same bytes.
"$FM" --url "file://$S" --labels "$L" --out "$W/dl.safetensors"
[ -s "$W/dl.safetensors.sha256" ] || fail "no .sha256 written"
"$FM" --out "$W/local.safetensors"
cmp "$W/dl.safetensors" "$W/local.safetensors" || fail "download and local conversions differ"
# 2. Idempotent, and a damaged output is rebuilt.
grep -q "up to date" <<<"$("$FM" --out "$W/local.safetensors")" || fail "second run did not skip"
printf 'X' | dd of="$W/local.safetensors" bs=1 seek=5000000 conv=notrunc status=none
"$FM" --out "$W/local.safetensors" | grep -q "up to date" && fail "damaged output was trusted"
cmp "$W/dl.safetensors" "$W/local.safetensors" || fail "rebuilt output differs"
# 3. A modified or missing input is refused, locally and when downloading.
mirror "$W/mod"
rm "$W/mod/Const_90.npy" && cp "$S/Const_90.npy" "$W/mod/" && chmod u+w "$W/mod/Const_90.npy"
printf '\x01' | dd of="$W/mod/Const_90.npy" bs=1 seek=200 conv=notrunc status=none
expect_fail "checksum mismatch for Const_90.npy" "$FM" --from "$W/mod" --labels "$L" --out "$W/mod.safetensors"
expect_fail "checksum mismatch for Const_90.npy" "$FM" --url "file://$W/mod" --labels "$L" --out "$W/mod.safetensors"
rm "$W/mod/Const_222.npy"
expect_fail "download failed: file://$W/mod/Const_222.npy" "$FM" --url "file://$W/mod" --labels "$L" --out "$W/mod.safetensors"
[ ! -e "$W/mod.safetensors" ] || fail "an output was written from bad inputs"
# 4. The importer itself: missing file, non-float32, Fortran order, label count.
mirror "$W/imp"
printf 'a\top\tnope.npy\tMobilenetV2_Conv_Conv2D_bias.npy\n' >"$W/imp/missing.tsv"
expect_fail "line 1 (a.weight)" "$TABTRAIN" import-npy --dir "$W/imp" --layers "$W/imp/missing.tsv" --labels "$L" --out "$W/x.safetensors"
npy "$W/imp/f64.npy" '<f8' False '(4,)' 32
printf 'a\top\tf64.npy\tMobilenetV2_Conv_Conv2D_bias.npy\n' >"$W/imp/f64.tsv"
expect_fail "expected float32" "$TABTRAIN" import-npy --dir "$W/imp" --layers "$W/imp/f64.tsv" --labels "$L" --out "$W/x.safetensors"
npy "$W/imp/fortran.npy" '<f4' True '(2, 2)' 16
printf 'a\top\tfortran.npy\tMobilenetV2_Conv_Conv2D_bias.npy\n' >"$W/imp/fortran.tsv"
expect_fail "fortran_order" "$TABTRAIN" import-npy --dir "$W/imp" --layers "$W/imp/fortran.tsv" --labels "$L" --out "$W/x.safetensors"
printf 'logits\tconv1x1\tConst_222.npy\tMobilenetV2_Logits_Conv2d_1c_1x1_Conv2D_bias.npy\n' >"$W/imp/logits.tsv"
head -n 1000 "$L" >"$W/imp/labels1000.txt"
expect_fail "1000 labels but logits.weight has 1001" "$TABTRAIN" import-npy --dir "$W/imp" --layers "$W/imp/logits.tsv" --labels "$W/imp/labels1000.txt" --out "$W/x.safetensors"
printf 'a\top\t../x.npy\tb.npy\n' >"$W/imp/escape.tsv"
expect_fail "not a plain file name" "$TABTRAIN" import-npy --dir "$W/imp" --layers "$W/imp/escape.tsv" --labels "$L" --out "$W/x.safetensors"
expect_fail "required" "$TABTRAIN" import-npy --dir "$W/imp"
[ ! -e "$W/x.safetensors" ] || fail "an output was written from bad inputs"
"$TABTRAIN" import-npy --help | grep -q "usage: tabtrain import-npy" || fail "import-npy --help"
"$TABTRAIN" --help | grep -q "import-npy" || fail "tabtrain --help"
echo "fetch_model: all checks passed"
