#!/usr/bin/env bash
# Fine-tuned builds of the MNIST models against uniform structured pruning
# fine-tuned the same way (docs/profiles.md, Measured), ending with one table:
#   bench/build_mnist_ft.sh PROFILE OUT [MODEL...]   (default lenet5 bncnn)
# For each MODEL and latency budgets of 50% and 30% of the original's
# median (--budget latency_ms=50%: the build judges the built model's median
# over the original's timed interleaved with it; 1 thread): edgeprune build
# with --train mnist_train.npz (bncnn's own
# training recipe: EPOCHS=N epochs, default 3, batch 128, sgd momentum 0.9
# weight decay 1e-4, one-cycle lr max 0.1, BatchNorm train, seed 1; each
# candidate choice probed on 1/8 of an epoch first), damage and candidate
# scores on the first 256 MNIST test images, verification on the next
# 2,000; then uniform structured pruning (layer scope, rounded to 8) at the
# least sparsity of 0.1 … 0.8 whose median is ≤ the built model's,
# fine-tuned by edgeprune finetune with the same settings; both scored on
# all 10,000 test images. Builds and latency measurements run through
# bench/priority-run (global lock, nice -15); pruning, fine-tuning of the
# uniform models and evals at nice 10. About 7 minutes on a quiet 2-core
# machine (estimated from the loaded run in docs/profiles.md).
set -euo pipefail
cd "$(dirname "$0")/.."
prof=$(realpath "$1")
out=$2
models=("${@:3}")
[ ${#models[@]} -gt 0 ] || models=(lenet5 bncnn)
shared=$(realpath ../shared)
lock=${BENCH_RUN:-bench/priority-run}
mkdir -p "$out"
[ -x "$out/edgeprune" ] || go build -o "$out/edgeprune" ./cmd/edgeprune
ep="$out/edgeprune"
epochs=${EPOCHS:-3}
ft=(--finetune-epochs "$epochs" --train-batch 128 --lr 0.1 --schedule onecycle --weight-decay 1e-4 --bn train --seed 1)
ftu=(--epochs "$epochs" --batch 128 --lr 0.1 --schedule onecycle --weight-decay 1e-4 --bn train --seed 1)
median() {
	"$lock" "$ep" bench "$1" --threads 1 --warmup 20 --runs 300 --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["median_ms"])'
}
top1() {
	nice -n 10 "$ep" eval "$1" --data "$shared/data/mnist_test.npz" --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["top1"])'
}
jq1() { python3 -c "import json,sys;r=json.load(open(sys.argv[1]));print($2)" "$1"; }
t_start=$(date +%s)
echo "host: $(lscpu | sed -n 's/^Model name: *//p'); $(date -u '+%F %T UTC'); load before: $(cut -d' ' -f1-3 /proc/loadavg); EPOCHS=$epochs"
declare -A ulat
rows=()
for m in "${models[@]}"; do
	model=$shared/models/mnist/$m.onnx
	dtop=$(top1 "$model")
	echo "== $m: top-1 $dtop"
	for frac in 0.5 0.3; do
		b=$(python3 -c "print(round($frac*100))")%
		d="$out/$m-$frac"
		rm -rf "$d"
		echo "-- $m: build, budget $b of the original's latency; load $(cut -d' ' -f1-3 /proc/loadavg)"
		start=$(date +%s)
		set +e
		"$lock" "$ep" build "$model" --profile "$prof" --budget "latency_ms=$b" \
			--data "$shared/data/mnist_test.npz" --calib-images 256 --verify-images 2000 \
			--train "$shared/data/mnist_train.npz" "${ft[@]}" -o "$d" >"$d.out" 2>"$d.log"
		code=$?
		set -e
		echo "   exit $code, wall $(($(date +%s) - start)) s (lock wait included); load $(cut -d' ' -f1-3 /proc/loadavg)"
		grep -E 'measured|re-solving|infeasible|candidate|kept|\[3b' "$d.log" | grep -v '^probe\|^fine-tune epoch' | head -16 || true
		tail -8 "$d.out"
		if [ "$code" != 0 ]; then
			why=$(grep -o 'budgets cannot be met: .*' "$d.log" | head -1)
			rows+=("| $m ($dtop), $b of the original's | $code: $why | – | – | – | – |")
			continue
		fi
		kept=$(jq1 "$d/build.json" 'next((c["name"]+" "+str(c["kept"]) for c in (r.get("selection") or {}).get("candidates",[]) if c.get("chosen")), "solver")')
		inb=$(jq1 "$d/build.json" '"ratio %.3f (%.4g of %.4g ms)" % (r["after"].get("measured_ratio",0), r["after"].get("measured_ms",0), r["before"].get("measured_ms",0))')
		t1=$(median "$d/model.onnx"); t2=$(median "$d/model.onnx")
		t=$(python3 -c "print(min($t1,$t2))")
		btop=$(top1 "$d/model.onnx")
		echo "   built ($kept): median $t1 / $t2 ms (bench, 1 thread), top-1 $btop"
		best=""
		for s in 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8; do
			u="$out/$m-uniform-$s.onnx"
			if [ -z "${ulat[$m-$s]:-}" ]; then
				nice -n 10 "$ep" prune "$model" -o "$u" --structured --sparsity "$s" --scope layer --round-to 8 >/dev/null
				ulat[$m-$s]=$(median "$u")
			fi
			if python3 -c "import sys;sys.exit(0 if ${ulat[$m-$s]} <= $t else 1)"; then best=$s; break; fi
		done
		if [ -z "$best" ]; then
			echo "   uniform: none up to 0.8 as fast ($(for s in 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8; do printf '%s:%s ' $s "${ulat[$m-$s]:-}"; done)ms)"
			rows+=("| $m ($dtop), $b of the original's | 0; $inb in the build, bench $t1 / $t2 | $btop ($kept) | none ≤ 0.8 as fast | – | – |")
			continue
		fi
		u="$out/$m-uniform-$best.onnx"
		[ -f "$u.ft.onnx" ] || nice -n 10 "$ep" finetune "$u" -o "$u.ft.onnx" --data "$shared/data/mnist_train.npz" "${ftu[@]}" >"$u.ft.log" 2>&1
		utop=$(top1 "$u.ft.onnx")
		echo "   uniform sparsity $best: median ${ulat[$m-$best]} ms, top-1 $(top1 "$u") before, $utop fine-tuned"
		delta=$(python3 -c "print(f'{100*($btop-$utop):+.2f}')")
		rows+=("| $m ($dtop), $b of the original's | 0; $inb in the build, bench $t1 / $t2 | $btop ($kept) | $best: ${ulat[$m-$best]} ms | $utop | $delta |")
	done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); $(($(date +%s) - t_start)) s in all"
echo
echo "| model (dense top-1), latency budget | build: exit; measured ratio to the original (ms) | build: top-1 (kept candidate, channels per group) | uniform at ≤ that median: sparsity, median | uniform fine-tuned alike: top-1 | build − uniform (points) |"
echo "| --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
