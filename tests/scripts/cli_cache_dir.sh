#!/usr/bin/env bash
# The CLI's feature cache and training copies go to the platform's cache
# directory, never to the working directory: train and eval run from a
# read-only directory leave nothing in it (root ignores the mode, so the
# listing is compared too). The cache is $XDG_CACHE_HOME/tabtrain, else
# ~/.cache/tabtrain, else (neither set) nowhere; --cache-dir puts it elsewhere;
# `tabtrain cache --info` counts it and `--clear` empties it. A second run is
# served from it: phone-sized photos are decoded once, into small copies.
source "$(dirname "$0")/common.sh"
BENCH=$(dirname "$TT")/tabtrain-bench
need "$BENCH"
D=$W/data
"$BENCH" photos --out "$D" --n 8 --classes 2 --width 1600 --height 1200 >/dev/null
RO=$W/readonly
mkdir -p "$RO" "$W/xdg" "$W/home"
chmod 555 "$RO"
listing() { find "$RO" -printf '%p %s %T@\n' | sort; }
before=$(listing)
run() { (cd "$RO" && env "$@"); }

run XDG_CACHE_HOME="$W/xdg" HOME="$W/home" "$TT" train "${PLAIN[@]}" --data "$D" --epochs 2 --val-fraction 0.25 --augment flip \
  --augment-views 1 --json --out "$W/m.safetensors" >"$W/out1.jsonl" 2>"$W/err1.txt" || { cat "$W/err1.txt"; fail "train"; }
[ "$(listing)" = "$before" ] || fail "train wrote into the working directory: $(ls -la "$RO")"
C=$W/xdg/tabtrain
[ "$(ls "$C/copies" | grep -c '\.png$')" = 8 ] || fail "want 8 training copies in $C/copies: $(ls "$C/copies")"
[ "$(ls "$C/features" | grep -c '\.feat$')" = 14 ] || fail "want 14 cached views (6 x 2 + 2): $(ls "$C/features" | wc -l)"
[ ! -e "$W/home/.cache" ] || fail "XDG_CACHE_HOME was set, yet ~/.cache was used"
[ "$(json "$W/out1.jsonl" "ev('done')[0]['computed']")" = 14 ] || fail "first run computed $(json "$W/out1.jsonl" "ev('done')[0]['computed']")"

# The second run and eval are served from the cache; eval writes nothing new.
run XDG_CACHE_HOME="$W/xdg" HOME="$W/home" "$TT" train "${PLAIN[@]}" --data "$D" --epochs 2 --val-fraction 0.25 --augment flip \
  --augment-views 1 --json --out "$W/m2.safetensors" >"$W/out2.jsonl" 2>"$W/err2.txt" || { cat "$W/err2.txt"; fail "train 2"; }
[ "$(json "$W/out2.jsonl" "(ev('done')[0]['cached'], ev('done')[0]['computed'])")" = "(14, 0)" ] || fail "second run: $(json "$W/out2.jsonl" "ev('done')[0]")"
cmp -s "$W/m.safetensors" "$W/m2.safetensors" || fail "the cached run trained other bits"
run XDG_CACHE_HOME="$W/xdg" HOME="$W/home" "$TT" eval --ckpt "$W/m.safetensors" --data "$D" --json >"$W/eval.json" \
  2>"$W/err3.txt" || { cat "$W/err3.txt"; fail "eval"; }
[ "$(listing)" = "$before" ] || fail "eval wrote into the working directory"

# Without XDG_CACHE_HOME: ~/.cache/tabtrain; with neither: no cache at all.
run -u XDG_CACHE_HOME HOME="$W/home" "$TT" train "${PLAIN[@]}" --data "$D" --epochs 1 --out "$W/m3.safetensors" >/dev/null 2>&1 || fail "train 3"
[ "$(ls "$W/home/.cache/tabtrain/features" | wc -l)" = 8 ] || fail "~/.cache/tabtrain not used"
run -u XDG_CACHE_HOME -u HOME "$TT" train "${PLAIN[@]}" --data "$D" --epochs 1 --out "$W/m4.safetensors" >/dev/null 2>&1 || fail "train 4"
run -u XDG_CACHE_HOME -u HOME "$TT" cache --info | grep -q "no cache" || fail "cache --info without a home"
[ "$(listing)" = "$before" ] || fail "a run without a cache directory wrote into the working directory"
# --cache-dir elsewhere
run -u XDG_CACHE_HOME -u HOME "$TT" train "${PLAIN[@]}" --data "$D" --epochs 1 --cache-dir "$W/mine" --out "$W/m5.safetensors" >/dev/null 2>&1 || fail "train 5"
[ "$(ls "$W/mine/features" | wc -l)" = 8 ] || fail "--cache-dir not used"

# cache --info / --clear
info=$(run XDG_CACHE_HOME="$W/xdg" "$TT" cache --info --json)
[ "$("$PY" -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["features"], j["copies"], j["bytes"] > 0)' "$info")" = "14 8 True" ] ||
  fail "cache --info: $info"
echo keep >"$C/not-ours.txt"
run XDG_CACHE_HOME="$W/xdg" "$TT" cache --clear >"$W/clear.txt" || fail "cache --clear"
grep -q "removed 22 entries" "$W/clear.txt" || fail "cache --clear: $(cat "$W/clear.txt")"
[ ! -e "$C/features" ] && [ ! -e "$C/copies" ] || fail "cache --clear left entries"
[ -e "$C/not-ours.txt" ] || fail "cache --clear removed a file that is not tabtrain's"
info=$(run XDG_CACHE_HOME="$W/xdg" "$TT" cache --info --json)
[ "$("$PY" -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["features"], j["copies"])' "$info")" = "0 0" ] || fail "after --clear: $info"
run "$TT" cache --info --clear >/dev/null 2>&1 && fail "--info with --clear accepted"
[ "$(listing)" = "$before" ] || fail "the working directory changed"
chmod 755 "$RO"
echo "cli_cache_dir: ok"
