#!/usr/bin/env bash
# Profile-driven builds on this machine (docs/profiles.md, "Build: measured"):
# for each MODEL, latency budgets of 50% and 30% of its measured dense latency
# (median, 1 thread, as the host profile's run block), then uniform structured
# pruning at one ratio (layer scope, channels rounded to 8) at a similar
# measured latency, both scored on the same held-out data:
#   - lenet5, bncnn (../shared/models/mnist): accuracy; the build measures
#     damage on the first 256 MNIST test images and verifies on the next
#     2,000; both models are then evaluated on all 10,000;
#   - resnet18, mobilenet_v2 (../shared/models/tv): fidelity (top-1 agreement
#     with the original). ../shared has no ImageNet images, so the data are
#     text-line crops from ../shared/data/textlines/train (the first 64 + 64
#     of each class calibrate, the next 64 + 64 verify) through the imagenet
#     preset (shorter side to 256, centre crop 224, ImageNet mean/std).
# The build's sensitivity pass uses 128 calibration images for the
# torchvision models (the issue's performance target). Every build and every
# latency measurement runs through bench/priority-run (global lock,
# nice -15), one command at a time; evals run at nice 10.
#   bench/build_host.sh [PROFILE] [OUT] [MODEL...]
set -euo pipefail
cd "$(dirname "$0")/.."
prof=$(realpath "${1:-/tmp/cal/host-calibrated.yaml}")
out=${2:-/tmp/buildbench}
models=("${@:3}")
[ ${#models[@]} -gt 0 ] || models=(lenet5 bncnn resnet18 mobilenet_v2)
shared=$(realpath ../shared)
lock=${BENCH_RUN:-bench/priority-run}
mkdir -p "$out"
go build -o "$out/edgeprune" ./cmd/edgeprune
ep="$out/edgeprune"

# Fidelity data (see above) and a profile with a fidelity budget that never
# binds (1: the comparison with uniform pruning is the point).
fid="$out/fid"
if [ ! -d "$fid/verify/x" ]; then
	mkdir -p "$fid/all/x" "$fid/verify/x"
	i=0
	for c in 0 1; do
		for f in $(ls "$shared/data/textlines/train/$c" | head -64); do cp "$shared/data/textlines/train/$c/$f" "$fid/all/x/a$(printf %03d $i).png"; i=$((i + 1)); done
	done
	i=0
	for c in 0 1; do
		for f in $(ls "$shared/data/textlines/train/$c" | sed -n 65,128p); do
			cp "$shared/data/textlines/train/$c/$f" "$fid/all/x/b$(printf %03d $i).png"
			cp "$shared/data/textlines/train/$c/$f" "$fid/verify/x/b$(printf %03d $i).png"
			i=$((i + 1))
		done
	done
fi
cat >"$out/fidelity.yaml" <<YAML
schema: edgeprune/profile/v1
name: host-fidelity
extends: $prof
budgets:
  accuracy: {metric: fidelity, goal: max-degradation, value: 1}
YAML

median() { # MODEL: median ms, 1 thread
	"$lock" "$ep" bench "$1" --threads 1 --warmup 5 --runs "$runs" --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["median_ms"])'
}
quality() { # MODEL: top-1 (mnist) or agreement with the original (tv)
	if [ "$kind" = acc ]; then
		nice -n 10 "$ep" eval "$1" --data "$shared/data/mnist_test.npz" --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["top1"])'
	else
		nice -n 10 "$ep" eval "$1" --data "$fid/verify" --preset imagenet --reference "$model" --batch 16 --json | python3 -c 'import json,sys;j=json.load(sys.stdin);print("agreement %.4f cosine %.4f" % (j["agreement_top1"], j["cosine_mean"]))'
	fi
}
# Uniform structured pruning at one ratio (layer scope, rounded to 8) at
# sparsities 0.1 … 0.8, each timed once per model; for a build of median T,
# the least-pruned uniform model whose median is ≤ T (equal or lower
# latency: the fair comparison for uniform) is scored.
declare -A ulat
uniform() {
	local t=$1 s u best=""
	for s in 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8; do
		u="$out/$m-uniform-$s.onnx"
		if [ -z "${ulat[$m-$s]:-}" ]; then
			nice -n 10 "$ep" prune "$model" -o "$u" --structured --sparsity "$s" --scope layer --round-to 8 >/dev/null
			ulat[$m-$s]=$(median "$u")
		fi
		if python3 -c "import sys;sys.exit(0 if ${ulat[$m-$s]} <= $t else 1)"; then
			best=$s
			break
		fi
	done
	if [ -z "$best" ]; then
		echo "   uniform: no sparsity up to 0.8 is as fast ($(for s in 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8; do printf '%s:%s ' $s "${ulat[$m-$s]}"; done)ms)"
	else
		echo "   uniform structured, sparsity $best: median ${ulat[$m-$best]} ms, quality $(quality "$out/$m-uniform-$best.onnx")"
	fi
}
echo "host: $(lscpu | sed -n 's/^Model name: *//p'); load before: $(cat /proc/loadavg)"
for m in "${models[@]}"; do
	case $m in
	lenet5 | bncnn) kind=acc model=$shared/models/mnist/$m.onnx runs=300 p=$prof
		data=(--data "$shared/data/mnist_test.npz" --calib-images 256 --verify-images 2000) ;;
	*) kind=fid model=$shared/models/tv/$m.onnx runs=15 p=$out/fidelity.yaml
		data=(--data "$fid/all" --preset imagenet --calib-images 128 --verify-images 128) ;;
	esac
	dense=$(median "$model")
	echo "== $m: dense median $dense ms (1 thread); quality $(quality "$model")"
	for frac in 0.5 0.3; do
		b=$(python3 -c "print(round($dense*$frac, 4))")
		d="$out/$m-$frac"
		rm -rf "$d"
		echo "-- $m: build, budget $frac x $dense = $b ms; load $(cut -d' ' -f1-3 /proc/loadavg)"
		start=$(date +%s)
		set +e
		"$lock" "$ep" build "$model" --profile "$p" --budget "latency_ms=$b" "${data[@]}" -o "$d" 2>"$d.log" | grep -v '^\['
		code=${PIPESTATUS[0]}
		set -e
		echo "   exit $code, wall $(($(date +%s) - start)) s (lock wait included); load $(cut -d' ' -f1-3 /proc/loadavg)"
		grep -E 'measured here|re-solving|cached activations|infeasible' "$d.log" || true
		if [ "$code" = 0 ]; then
			t=$(median "$d/model.onnx")
			echo "   built: median $t ms (bench, 1 thread), quality $(quality "$d/model.onnx")"
			uniform "$t"
		fi
	done
done
echo "load after: $(cat /proc/loadavg)"
