#!/usr/bin/env bash
# Build against uniform structured pruning at EQUAL measured latency, one-shot
# (no fine-tuning on either side) or fine-tuned alike with TRAIN
# (docs/profiles.md, "Session 13"):
#   [SHARED=../shared] [LEVELS="0.5 0.7"] [CALIB=256] [VERIFY=2000] [UROUND=8] \
#   [SHAPE=x=1,3,48,192] [BUILD_ARGS=...] [TRAIN=... EPOCHS=1 BATCH=64 TRAIN_ARGS=...] bench/build_vs_uniform.sh PROFILE OUT MODEL.onnx DATA.npz|textlines
# For each uniform sparsity S in LEVELS:
#   1. uniform: prune --structured --sparsity S --scope layer --round-to UROUND;
#      a model with BatchNormalization nodes then has its statistics
#      re-estimated on the first CALIB samples of DATA (finetune
#      --recalibrate-bn, batches of 64), as the build's adaptive BN does for
#      every candidate it scores — the same data, the same cure;
#   2. its latency: one interleaved run of the original and every uniform
#      model (bench/buildcmp time, 1 thread, 8 rounds: the median over rounds
#      of its p50 over the original's in the same round) gives ratio R;
#   3. the build: edgeprune build MODEL --profile PROFILE --budget
#      latency_ms=R·100% (so the build must be measured, inside the build,
#      at most as slow as the uniform model: the profile's margin, then the
#      near-budget rule) --budget accuracy=1 (never binding: the comparison
#      is the point; for fidelity, a profile extending PROFILE whose accuracy
#      budget is fidelity, value 1) --data DATA --calib-images CALIB --verify-images VERIFY.
# (For fidelity, the "top1" fields of results.jsonl hold the damage.)
# Then ONE interleaved timing run of the original, every uniform model and
# every build (the table's ratios), and top-1 of each on the samples of DATA
# after the first CALIB (npzslice: none of them was seen by the build's
# choice or by the uniform model's BatchNorm statistics). Builds and timings
# run through $BENCH_RUN (default bench/priority-run); pruning and scoring at
# SCHED_IDLE (chrt -i 0).
# TRAIN=DATA fine-tunes both sides alike instead of one-shot: the build gets
# --train TRAIN --finetune-epochs EPOCHS (1) --train-batch BATCH (64)
# TRAIN_ARGS (e.g. "--preset ppocr-cls --lr 0.02 --momentum 0.9 --schedule
# cosine --bn train --seed 1"), each uniform model `finetune --data TRAIN
# --epochs EPOCHS --batch BATCH TRAIN_ARGS`; both are then scored.
# DATA "textlines" scores fidelity to the original instead (for the
# torchvision models: no labels for them here): as bench/build_host.sh, the
# first 64 + 64 lines of each class of $SHARED/data/textlines/train
# through the imagenet preset, CALIB (default 128) of them calibrate, the
# next 128 verify the build and score every model (buildcmp fidelity, the
# metric build chooses from the original's outputs: lower is better).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 4 ] || { sed -n 2,39p "$0" >&2; exit 2; }
prof=$(realpath "$1")
out=$2
model=$(realpath "$3")
data=$4
levels=(${LEVELS:-0.5 0.7})
calib=${CALIB:-256}
[ "$data" != textlines ] || calib=${CALIB:-128}
verify=${VERIFY:-2000}
extra=(${BUILD_ARGS:-})
lock=${BENCH_RUN:-bench/priority-run}
low=(chrt -i 0)
shape=() tshape=()
train_build=() # TRAIN: fine-tune both sides alike (see above)
[ -z "${TRAIN:-}" ] || train_build=(--train "$TRAIN" --finetune-epochs "${EPOCHS:-1}" --train-batch "${BATCH:-64}" ${TRAIN_ARGS:-})
if [ -n "${SHAPE:-}" ]; then shape=(--shape "$SHAPE"); tshape=(-shape "$SHAPE"); fi
mkdir -p "$out"
go build -o "$out/edgeprune" ./cmd/edgeprune
go build -o "$out/buildcmp" ./bench/buildcmp
go build -o "$out/npzslice" ./bench/npzslice
ep=$out/edgeprune
name=$(basename "$model" .onnx)
load() { cut -d' ' -f1-3 /proc/loadavg; }
t_start=$(date +%s)
echo "host: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cpus; $(date -u '+%F %T UTC'); load $(load); $name, LEVELS=${levels[*]} CALIB=$calib VERIFY=$verify UROUND=${UROUND:-8} BUILD_ARGS=${extra[*]:-}"
if [ "$data" = textlines ]; then
	# fidelity: quality is the damage (lower is better)
	kind=damage
	fid=$out/fid
	# shellcheck source=bench/textline_crops.sh
	. bench/textline_crops.sh
	textline_crops "$(realpath "${SHARED:-../shared}")" "$fid"
	data=$fid/all
	verify=128
	extra+=(--preset imagenet)
	# a fidelity budget: the folder's class names are not the model's task,
	# so the build must not rank candidates by them (build.go)
	cat >"$out/fid.yaml" <<-YAML
		schema: edgeprune/profile/v1
		name: build-vs-uniform-fidelity
		extends: $prof
		budgets:
		  accuracy: {metric: fidelity, goal: max-degradation, value: 1}
	YAML
	prof=$out/fid.yaml
	top1() { "${low[@]}" "$out/buildcmp" fidelity -data "$fid/verify" -preset imagenet "$model" "$1" | tail -1 | python3 -c 'import json,sys;print(json.load(sys.stdin)["damage"])'; }
else
	kind=top1
	data=$(realpath "$data")
	"$out/npzslice" "$data" 0 "$calib" "$out/calib.npz"
	"$out/npzslice" "$data" "$calib" 0 "$out/held.npz"
	top1() { "${low[@]}" "$ep" eval "$1" --data "$out/held.npz" --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["top1"])'; }
fi
bn=$("$ep" inspect "$model" --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["ops"].get("BatchNormalization",0))')
uniform=()
for s in "${levels[@]}"; do
	u=$out/$name-uniform-$s.onnx
	"${low[@]}" "$ep" prune "$model" -o "$u" --structured --sparsity "$s" --scope layer --round-to "${UROUND:-8}" "${shape[@]}" >/dev/null
	if [ "$bn" != 0 ] && [ -f "$out/calib.npz" ]; then
		"${low[@]}" "$ep" finetune "$u" -o "$u.bn.onnx" --data "$out/calib.npz" --recalibrate-bn --batch 64 --batches $((calib / 64)) >"$u.bn.log" 2>&1
		mv "$u.bn.onnx" "$u"
	fi
	uniform+=("$u")
done
echo "-- timing the uniform models; load $(load)"
"$lock" "$out/buildcmp" time -threads 1 -runs 15 -rounds 8 "${tshape[@]}" "$model" "${uniform[@]}" >"$out/uniform.time"
builds=()
for s in "${levels[@]}"; do
	u=$out/$name-uniform-$s.onnx
	pct=$(python3 - "$out/uniform.time" "$u" <<-'EOF'
		import json, sys
		T = {j['model']: j for j in map(json.loads, open(sys.argv[1]))}
		print('%.2f' % (100 * T[sys.argv[2]]['ratio']))
	EOF
	)
	d=$out/$name-build-$s
	rm -rf "$d"
	start=$(date +%s)
	set +e
	"$lock" "$ep" build "$model" --profile "$prof" --budget "latency_ms=$pct%" --budget accuracy=1 \
		--data "$data" --calib-images "$calib" --verify-images "$verify" "${shape[@]}" "${extra[@]}" "${train_build[@]}" -o "$d" >"$d.out" 2>"$d.log"
	code=$?
	set -e
	echo "-- build at uniform $s's ratio ($pct%): exit $code, $(($(date +%s) - start)) s; load $(load)"
	[ "$code" != 0 ] || builds+=("$d/model.onnx")
done
echo "-- timing all; load $(load)"
"$lock" "$out/buildcmp" time -threads 1 -runs 15 -rounds 8 "${tshape[@]}" "$model" "${uniform[@]}" "${builds[@]}" >"$out/all.time"
res=$out/results.jsonl
: >"$res"
dtop=$(top1 "$model")
for s in "${levels[@]}"; do
	u=$out/$name-uniform-$s.onnx
	d=$out/$name-build-$s
	btop=null
	[ ! -f "$d/model.onnx" ] || btop=$(top1 "$d/model.onnx")
	scored=$u
	if [ ${#train_build[@]} -gt 0 ]; then # the uniform model fine-tuned as the build's
		scored=$u.ft.onnx
		"${low[@]}" "$ep" finetune "$u" -o "$scored" --data "$TRAIN" --epochs "${EPOCHS:-1}" --batch "${BATCH:-64}" ${TRAIN_ARGS:-} >"$u.ft.log" 2>&1
	fi
	python3 - "$out/all.time" "$out/uniform.time" "$u" "$d" "$s" "$dtop" "$(top1 "$scored")" "$btop" >>"$res" <<-'EOF'
		import json, os, sys
		A = {j['model']: j for j in map(json.loads, open(sys.argv[1]))}
		U = {j['model']: j for j in map(json.loads, open(sys.argv[2]))}
		u, d, s, dtop, utop, btop = sys.argv[3:]
		r = {'level': float(s), 'dense_top1': float(dtop), 'uniform_top1': float(utop),
		     'uniform_ratio_budget': U[u]['ratio'], 'uniform_ratio': A[u]['ratio']}
		if btop != 'null':
		    j = json.load(open(d + '/build.json'))
		    kept = next((c for c in (j.get('selection') or {}).get('candidates', []) if c.get('chosen')), None)
		    r.update({'build_top1': float(btop), 'build_ratio': A[d + '/model.onnx']['ratio'],
		              'build_ratio_in_build': j['after'].get('measured_ratio'),
		              'kept': kept and kept['name'], 'kept_channels': kept and kept['kept'],
		              'candidates': len((j.get('selection') or {}).get('candidates', []))})
		print(json.dumps(r))
	EOF
	tail -1 "$res"
done
echo "load after: $(load); $(($(date +%s) - t_start)) s in all"
echo
python3 - "$res" "$name" "$kind" <<-'EOF'
	import json, sys
	R = [json.loads(l) for l in open(sys.argv[1])]
	top1 = sys.argv[3] == 'top1' # else fidelity damage (lower is better)
	q = (lambda x: '%.2f' % (100 * x)) if top1 else (lambda x: '%.4g' % x)
	if top1:
	    print('| %s (held-out top-1 %.2f%%): uniform sparsity | uniform ratio (budget run, table run) | build ratio (in build, table run) | uniform top-1 | build top-1 | build − uniform (points) | build kept |' % (sys.argv[2], 100 * R[0]['dense_top1']))
	else:
	    print('| %s, fidelity damage (lower is better): uniform sparsity | uniform ratio (budget run, table run) | build ratio (in build, table run) | uniform damage | build damage | build better by | build kept |' % sys.argv[2])
	print('|---|---|---|---:|---:|---:|---|')
	for r in R:
	    if 'build_top1' not in r:
	        print('| %g | %.3f, %.3f | build exit ≠ 0 | %s | – | – | – |' % (r['level'], r['uniform_ratio_budget'], r['uniform_ratio'], q(r['uniform_top1'])))
	        continue
	    gain = '%+.2f' % (100 * (r['build_top1'] - r['uniform_top1'])) if top1 else '%.4g' % (r['uniform_top1'] - r['build_top1'])
	    print('| %g | %.3f, %.3f | %.3f, %.3f | %s | %s | %s | %s %s |' % (r['level'], r['uniform_ratio_budget'], r['uniform_ratio'],
	        r['build_ratio_in_build'] or 0, r['build_ratio'], q(r['uniform_top1']), q(r['build_top1']),
	        gain, r['kept'] or 'solver', r['kept_channels'] or ''))
EOF
