#!/usr/bin/env bash
# The unzipped project file (docs/project-file.md) through `tabtrain`:
#   - train takes project.json's order and class names: a run of 2 epochs resumed with a
#     plain --resume (the settings are the checkpoint's) to 5 writes the same model file,
#     byte for byte, as 5 epochs uninterrupted, and both record project.json's class names;
#   - the order matters: without project.json (sorted folders) the same resume is refused
#     as other pictures;
#   - a --resume option that differs from the checkpoint is refused and named;
#   - `tabtrain project` describes a CLI folder (classes, pictures, settings, the run) and
#     keeps an existing project.json's order and names; a newer project.json is refused.
source "$(dirname "$0")/common.sh"
need "$QABCS/animals"
P=$W/project
for c in animals food instrument; do
  mkdir -p "$P/images/$c"
  ls "$QABCS/$c" | grep '\.png$' | sed -n '1,5p' | while read -r f; do cp "$QABCS/$c/$f" "$P/images/$c/"; done
done
"$TT" project "$P" >/dev/null || fail "tabtrain project on a folder without a run"
[ "$("$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['format'], d['version'], [c['name'] for c in d['classes']], len(d['images']), d['run'])" "$P/project.json")" \
  = "tabtrain-project-file 1 ['animals', 'food', 'instrument'] 15 None" ] || fail "project.json: $(cat "$P/project.json")"
# The page's order: classes in another order than the folders sort, another name for one,
# pictures interleaved (as they were added).
"$PY" - "$P/project.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["classes"] = d["classes"][::-1]
d["classes"][0]["name"] = "Instruments!"
by = {}
for im in d["images"]:
    by.setdefault(im["class"], []).append(im)
d["images"] = [dict(by[c][i], **{"class": 2 - c}) for i in range(5) for c in (2, 1, 0)]
json.dump(d, open(sys.argv[1], "w"), indent=1)
PYEOF
cp -r "$P" "$W/copy"
cp -r "$P" "$W/sorted" && rm "$W/sorted/project.json"
common=(--cache-dir "$W/cache" --json)
opts=(--hidden 8 --batch-size 4 --lr 0.003 --seed 3)
"$TT" train --data "$P/images" --ckpt-dir "$P/checkpoints" --epochs 2 "${opts[@]}" "${common[@]}" --out "$W/two.safetensors" \
  >"$W/two.jsonl" 2>"$W/err.txt" || { cat "$W/err.txt"; fail "first run"; }
cp -r "$P/checkpoints" "$W/sorted/checkpoints"
"$TT" train --data "$P/images" --ckpt-dir "$P/checkpoints" --resume --epochs 5 "${common[@]}" --out "$W/resumed.safetensors" \
  >"$W/resumed.jsonl" 2>"$W/err.txt" || { cat "$W/err.txt"; fail "plain --resume"; }
[ "$(json "$W/resumed.jsonl" "(ev('resume')[0]['epoch'], [e['epoch'] for e in ev('epoch')])")" = "(2, [3, 4, 5])" ] \
  || fail "resume: $(cat "$W/resumed.jsonl")"
"$TT" train --data "$W/copy/images" --ckpt-dir "$W/copy/checkpoints" --epochs 5 "${opts[@]}" "${common[@]}" --out "$W/straight.safetensors" \
  >/dev/null 2>"$W/err.txt" || { cat "$W/err.txt"; fail "uninterrupted run"; }
cmp "$W/resumed.safetensors" "$W/straight.safetensors" || fail "resumed and uninterrupted models differ"
"$PY" -c "import json,struct,sys; b=open(sys.argv[1],'rb').read(); n=struct.unpack('<Q',b[:8])[0]; c=json.loads(json.loads(b[8:8+n])['__metadata__']['tabtrain.classes']); assert c==['Instruments!','food','animals'], c" "$W/resumed.safetensors" \
  || fail "the model does not have project.json's class names in its order"
rc=0
"$TT" train --data "$W/sorted/images" --ckpt-dir "$W/sorted/checkpoints" --resume --epochs 5 "${common[@]}" --out "$W/x.safetensors" \
  >/dev/null 2>"$W/err.txt" || rc=$?
[ "$rc" != 0 ] || fail "the folder without project.json (another order, other class names) resumed the run"
rc=0
"$TT" train --data "$P/images" --ckpt-dir "$P/checkpoints" --resume --lr 0.01 "${common[@]}" --out "$W/x.safetensors" \
  >/dev/null 2>"$W/err.txt" || rc=$?
[ "$rc" != 0 ] && grep -q -- "--lr 0.003" "$W/err.txt" || fail "a resume with another --lr: $(cat "$W/err.txt")"

"$TT" project "$P" >/dev/null || fail "tabtrain project on the trained folder"
"$PY" - "$P/project.json" "$W/copy/project.json" <<'PYEOF' || fail "project.json after the run: $(cat "$P/project.json")"
import json, sys
d, before = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert [c["name"] for c in d["classes"]] == ["Instruments!", "food", "animals"], d["classes"]
assert [c["folder"] for c in d["classes"]] == ["instrument", "food", "animals"], d["classes"]
assert [i["path"] for i in d["images"]] == [i["path"] for i in before["images"]]
assert d["settings"]["hidden"] == 8 and d["settings"]["seed"] == 3 and d["settings"]["epochs"] == 5, d["settings"]
assert d["run"]["epoch"] == 5 and d["run"]["finished"] is True, d["run"]
latest = open(sys.argv[1].replace("project.json", "checkpoints/latest")).read().strip()
assert latest.startswith("ckpt-e0005-") and d["run"]["checkpoint"] == "checkpoints/" + latest, (latest, d["run"])
assert d["run"]["best"] == "checkpoints/best.safetensors", d["run"]
PYEOF
sed -i 's/"version": 1/"version": 2/' "$P/project.json"
rc=0
"$TT" train --data "$P/images" --epochs 1 "${common[@]}" --out "$W/x.safetensors" >/dev/null 2>"$W/err.txt" || rc=$?
[ "$rc" != 0 ] && grep -q "project file version 2; this tabtrain reads version 1" "$W/err.txt" || fail "a newer project.json: $(cat "$W/err.txt")"
echo "cli_project: ok"
