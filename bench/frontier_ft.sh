#!/usr/bin/env bash
# Is uniform pruning the best structure at its own latency? Every structure of
# a BatchNorm model's structured search space, timed, and every one inside a
# latency band fine-tuned alike (docs/profiles.md, "Session 13"):
#   [SHARED=../shared] [KEEP=1,.875,.75,.625,.5,.375,.25,.125] [ROUND=4] [SEEDS="1 2"] [EPOCHS=1] [JOBS=2] \
#     bench/frontier_ft.sh OUT MODEL.onnx LO:HI [LO:HI...]
# 1. bench/bnrank writes every distinct combination of the keep levels (one
#    level per dependency group, channels rounded to ROUND: the build's space
#    with search.structured.keep KEEP and round_to ROUND) and its one-shot
#    scores (JSON lines in OUT/space.jsonl);
# 2. one interleaved timing run of the original and all of them (buildcmp
#    time, 1 thread, 4 rounds, through bench/priority-run): each one's ratio
#    to the original;
# 3. each structure whose ratio is in one of the bands [LO, HI] is fine-tuned
#    with bncnn's recipe (EPOCHS epochs, batch 128, SGD momentum 0.9, weight
#    decay 1e-4, one-cycle lr 0.1, BatchNorm train, --seed SEED, 1 thread),
#    JOBS at a time at SCHED_IDLE, and scored on all 10,000 MNIST test images;
# 4. a table per band, best mean first: ratio, top-1 per seed, mean.
# The uniform models of `prune --structured --scope layer --round-to ROUND`
# are among the structures (cand-4-8-16 is uniform sparsity 0.75 of bncnn).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { sed -n 2,19p "$0" >&2; exit 2; }
out=$1
model=$(realpath "$2")
bands=("${@:3}")
shared=$(realpath "${SHARED:-../shared}")
seeds=(${SEEDS:-1 2})
epochs=${EPOCHS:-1}
mkdir -p "$out"
go build -o "$out/edgeprune" ./cmd/edgeprune
go build -o "$out/buildcmp" ./bench/buildcmp
go build -o "$out/bnrank" ./bench/bnrank
ep=$out/edgeprune
echo "host: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cpus; $(date -u '+%F %T UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)"
[ -f "$out/space.jsonl" ] || chrt -i 0 "$out/bnrank" -model "$model" -data "$shared/data/mnist_test.npz" -out "$out/space" \
	-keep "${KEEP:-1,.875,.75,.625,.5,.375,.25,.125}" -round "${ROUND:-4}" >"$out/space.jsonl"
echo "-- $(wc -l <"$out/space.jsonl") structures; timing them $(date -u +%T)"
# every structure but the unpruned one (choice 0 everywhere: the original)
[ -f "$out/space.time" ] || bench/priority-run "$out/buildcmp" time -threads 1 -runs 15 -rounds 4 "$model" \
	$(python3 -c 'import json,sys;print(" ".join(j["model"] for j in map(json.loads,open(sys.argv[1])) if any(j["choice"])))' "$out/space.jsonl") >"$out/space.time"
python3 - "$out/space.time" "${bands[@]}" >"$out/band.list" <<-'EOF'
	import json, sys
	T = [j for j in map(json.loads, open(sys.argv[1]))][1:]
	bands = [tuple(map(float, b.split(':'))) for b in sys.argv[2:]]
	for j in T:
	    if any(lo <= j['ratio'] <= hi for lo, hi in bands):
	        print(j['model'])
EOF
echo "-- fine-tuning $(wc -l <"$out/band.list") structures × ${#seeds[@]} seeds from $(date -u +%T)"
ft() { # MODEL SEED
	local o=${1%.onnx}.e$epochs.s$2.ft.onnx
	[ -f "$o" ] || chrt -i 0 "$ep" finetune "$1" -o "$o" --data "$shared/data/mnist_train.npz" --epochs "$epochs" --batch 128 \
		--lr 0.1 --schedule onecycle --weight-decay 1e-4 --bn train --seed "$2" --threads 1 >"$o.log" 2>&1
	local t
	t=$(chrt -i 0 "$ep" eval "$o" --data "$shared/data/mnist_test.npz" --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["top1"])') || {
		echo "$o: fine-tune or eval failed (see $o.log)" >&2
		return 1
	}
	echo "{\"model\":\"$1\",\"seed\":$2,\"top1\":$t}"
}
export -f ft
export ep epochs shared
for s in "${seeds[@]}"; do sed "s/\$/ $s/" "$out/band.list"; done | xargs -P "${JOBS:-2}" -L 1 bash -c 'ft "$0" "$1"' >"$out/ft.jsonl"
echo "-- done $(date -u +%T); load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out/space.time" "$out/ft.jsonl" "${bands[@]}" <<-'EOF'
	import json, statistics as st, sys
	T = {j['model']: j['ratio'] for j in map(json.loads, open(sys.argv[1]))}
	R = {}
	for j in map(json.loads, open(sys.argv[2])):
	    R.setdefault(j['model'], {})[j['seed']] = j['top1']
	for b in sys.argv[3:]:
	    lo, hi = map(float, b.split(':'))
	    rows = sorted(((st.mean(v.values()), k) for k, v in R.items() if lo <= T[k] <= hi), reverse=True)
	    print('\n| kept channels (band %s) | ratio to the original | top-1 per seed (%%) | mean |' % b)
	    print('|---|---:|---|---:|')
	    for m, k in rows:
	        name = k.rsplit('/', 1)[1][len('cand-'):-len('.onnx')].replace('-', ' ')
	        print('| [%s] | %.3f | %s | %.2f |' % (name, T[k], ' / '.join('%.2f' % (100 * R[k][s]) for s in sorted(R[k])), 100 * m))
EOF
