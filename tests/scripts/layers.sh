#!/usr/bin/env bash
# The arrows between the layers of src/ point one way (README "Architecture",
# ../shared/DESIGN.md): every #include "tabtrain/X.h" in src/<layer>/ and in
# the layer's own public headers names a header of that layer or of one it may
# use; a front end's private headers (cli/..., wasm/...) are its own. Prints
# every include that breaks an arrow.
#   layers.sh SOURCE_DIR
set -euo pipefail
cd "${1:-$(dirname "$0")/../..}"

# The layer of every public header.
declare -A LAYER=(
  [arena]=core [crc32]=core [fileio]=core [json]=core [npy]=core [rng]=core [safetensors]=core
  [sha256]=core [status]=core [strbuf]=core [threadpool]=core
  [gemm]=kernels [conv]=kernels [nn]=nn [nn_irb]=nn [mobilenet]=model [head]=model [tail]=model
  [dataset]=data [image]=data [ckpt]=ckpt [model_file]=ckpt [onnx]=ckpt
  [trainer]=train [optim]=train
  [app]=app [backbone]=app [classifier]=app [config]=app [featcache]=app [project]=app [project_file]=app [rows]=app [run]=app
)
# What each layer may include. data knows nothing of the network but the input
# contract (224x224x3 in [-1, 1]); ckpt stores named tensors and metadata and
# knows nothing of training; the front ends use the application and below.
declare -A MAY=(
  [core]="core" [kernels]="core kernels" [nn]="core kernels nn" [model]="core kernels nn model"
  [data]="core data" [ckpt]="core kernels nn model data ckpt" [train]="core kernels nn model data ckpt train"
  [app]="core kernels nn model data ckpt train app"
  [cli]="core kernels nn model data ckpt train app" [wasm]="core kernels nn model data ckpt train app"
  [embed]="core kernels nn model data ckpt train app"
)

bad=0
check() { # FILE LAYER
  local file=$1 layer=$2 h
  while read -r h; do
    [ -n "$h" ] || continue
    local l=${LAYER[$h]:-}
    if [ -z "$l" ]; then echo "$file: tabtrain/$h.h has no layer in tests/scripts/layers.sh"; bad=1
    elif [[ " ${MAY[$layer]} " != *" $l "* ]]; then echo "$file ($layer) includes tabtrain/$h.h ($l)"; bad=1; fi
  done < <(grep -ho '#include "tabtrain/[a-z_0-9]*\.h"' "$file" | sed 's/.*tabtrain\///;s/\.h"//')
  local own
  for own in cli wasm; do
    if [ "$layer" != "$own" ] && grep -q "#include \"$own/" "$file"; then echo "$file ($layer) includes a header of src/$own"; bad=1; fi
  done
}
for layer in "${!MAY[@]}"; do
  for f in src/$layer/*.c src/$layer/*.h; do [ -e "$f" ] && check "$f" "$layer"; done
done
for f in include/tabtrain/*.h; do
  h=$(basename "$f" .h)
  [ -n "${LAYER[$h]:-}" ] || { echo "$f has no layer in tests/scripts/layers.sh"; bad=1; continue; }
  check "$f" "${LAYER[$h]}"
done
[ "$bad" = 0 ] && echo "ok: every include follows the layers"
exit "$bad"
