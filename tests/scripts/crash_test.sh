#!/usr/bin/env bash
# Crash test: `tabtrain train` checkpoints after every step while this script
# SIGKILLs it at seeded random moments; after each kill `--resume` must find a
# valid checkpoint no older than the last one the killed run reported saved
# (at most one interval lost), and the resumed run must end with the same
# final checkpoint (weights, optimizer state, data order, history) and the same
# model file, byte for byte, as an uninterrupted run. First, 3 epochs + a
# resume to 6 must equal 6 epochs in one go.
#   crash_test.sh TABTRAIN WORKDIR [TRIALS=30] [SEED=1]      (needs TT_MODEL)
set -euo pipefail
T=$1 W=$2 TRIALS=${3:-30} SEED=${4:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/plain.sh"
PY=/usr/bin/python3
PICS=${QABCS_PICS:-/usr/share/qabcs/abcs/all/pics}
: "${TT_MODEL:?TT_MODEL must name the backbone file}"
rm -rf "$W"
mkdir -p "$W/data"
for c in animals food toys; do
  mkdir -p "$W/data/$c"
  find "$PICS/$c" -name '*.png' | sort | sed -n '1,4p' | xargs -I{} cp {} "$W/data/$c/"
done
# 9 train + 3 val images, each also flipped: 18 rows, batch 2: 9 steps per epoch.
ARGS=(--data "$W/data" --batch-size 2 --hidden 8 --dropout 0.25 --augment flip
      --cache-dir "$W/cache" --ckpt-steps 1 --keep 2 --json)
final() { "$PY" -c 'import sys; print(open(sys.argv[1]+"/latest").read().strip())' "$1"; }

t0=$(date +%s%N)
"$T" train "${PLAIN[@]}" "${ARGS[@]}" --epochs 6 --ckpt-dir "$W/ref" --out "$W/ref.safetensors" >"$W/ref.log"
# The cache is warm now; time one uninterrupted run to spread the kills over it.
t1=$(date +%s%N)
"$T" train "${PLAIN[@]}" "${ARGS[@]}" --epochs 6 --ckpt-dir "$W/ref2" --out "$W/ref2.safetensors" >"$W/ref2.log"
t2=$(date +%s%N)
run_ms=$(( (t2 - t1) / 1000000 ))
"$PY" "$HERE/ckpt_same.py" "$W/ref/$(final "$W/ref")" "$W/ref2/$(final "$W/ref2")" >/dev/null
cmp "$W/ref.safetensors" "$W/ref2.safetensors"
echo "crash_test: reference run $run_ms ms (first, with feature extraction: $(( (t1 - t0) / 1000000 )) ms)"

# 3 epochs, then --resume with --epochs 6: the same as 6 in one go (constant learning rate).
"$T" train "${PLAIN[@]}" "${ARGS[@]}" --epochs 3 --ckpt-dir "$W/half" --out "$W/half3.safetensors" >/dev/null
"$T" train "${PLAIN[@]}" "${ARGS[@]}" --epochs 6 --ckpt-dir "$W/half" --out "$W/half.safetensors" --resume >/dev/null
"$PY" "$HERE/ckpt_same.py" "$W/ref/$(final "$W/ref")" "$W/half/$(final "$W/half")"
cmp "$W/ref.safetensors" "$W/half.safetensors"

RANDOM=$SEED
killed=0 finished_early=0 no_ckpt=0 lost_max=0
for ((i = 1; i <= TRIALS; i++)); do
  D="$W/t"
  rm -rf "$D" "$W/t.safetensors"
  delay_ms=$(( RANDOM % (run_ms + 1) ))
  "$T" train "${PLAIN[@]}" "${ARGS[@]}" --epochs 6 --ckpt-dir "$D" --out "$W/t.safetensors" >"$W/kill.log" 2>&1 &
  pid=$!
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  if kill -KILL "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
  wait "$pid" 2>/dev/null && rc=0 || rc=$?
  last_saved=$(grep -o '"event":"checkpoint"[^}]*"step":[0-9]*' "$W/kill.log" | grep -o '[0-9]*$' | tail -1 || true)
  last_saved=${last_saved:-0}
  if [ "$rc" = 0 ]; then
    finished_early=$((finished_early + 1))
  else
    if "$T" train "${PLAIN[@]}" "${ARGS[@]}" --epochs 6 --ckpt-dir "$D" --out "$W/t.safetensors" --resume >"$W/resume.log" 2>"$W/resume.err"; then
      step=$(grep -o '"event":"resume"[^}]*' "$W/resume.log" | grep -o '"step":[0-9]*' | grep -o '[0-9]*$')
      if [ "$step" -lt "$last_saved" ]; then
        echo "crash_test: trial $i: killed after step $last_saved was reported saved, resumed from $step" >&2
        exit 1
      fi
    else
      # Only acceptable when nothing had been saved yet; then the error must say so.
      if [ "$last_saved" != 0 ] || ! grep -q "no valid checkpoint" "$W/resume.err"; then
        echo "crash_test: trial $i: resume failed after step $last_saved was saved:" >&2
        cat "$W/resume.err" >&2
        exit 1
      fi
      no_ckpt=$((no_ckpt + 1))
      "$T" train "${PLAIN[@]}" "${ARGS[@]}" --epochs 6 --ckpt-dir "$D" --out "$W/t.safetensors" --fresh >"$W/resume.log"
    fi
  fi
  if ! "$PY" "$HERE/ckpt_same.py" "$W/ref/$(final "$W/ref")" "$D/$(final "$D")" >"$W/same.log"; then
    echo "crash_test: trial $i (kill after $delay_ms ms): $(cat "$W/same.log")" >&2
    exit 1
  fi
  if ! cmp -s "$W/ref.safetensors" "$W/t.safetensors"; then
    echo "crash_test: trial $i (kill after $delay_ms ms): the model file differs" >&2
    exit 1
  fi
done
echo "crash_test: $TRIALS trials (seed $SEED): $killed killed mid-run ($no_ckpt before the first checkpoint), $finished_early finished before the kill; every resumed run matched the uninterrupted one bit for bit"
