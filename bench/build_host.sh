#!/usr/bin/env bash
# Profile-driven builds on this machine (docs/profiles.md, "Build: measured"):
# for lenet5 and bncnn (MNIST, accuracy on the held-out test images) with
# PROFILE (default: the calibrated host profile from bench/calibrate_host.sh),
# latency budgets of 50% and 30% of the original's measured latency (its statistic); then
# uniform structured pruning (one ratio, keep ≈ sqrt of the latency ratio)
# evaluated on the same data, for the comparison at similar latency.
#   bench/build_host.sh [PROFILE] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
prof=${1:-/tmp/cal/host-calibrated.yaml}
out=${2:-/tmp/buildbench}
data=../shared/data/mnist_test.npz
mkdir -p "$out"
go build -o "$out/edgeprune" ./cmd/edgeprune
ep="$out/edgeprune"
echo "load before: $(cat /proc/loadavg)"
for m in lenet5 bncnn; do
	model=../shared/models/mnist/$m.onnx
	rm -rf "$out/$m-dense"
	"$ep" build "$model" --profile "$prof" --budget latency_ms=1000 -o "$out/$m-dense" >/dev/null 2>&1
	dense=$(python3 -c "import json;print(json.load(open('$out/$m-dense/build.json'))['before']['measured_ms'])")
	for frac in 0.5 0.3; do
		b=$(python3 -c "print($dense*$frac)")
		echo "== $m: budget ${frac} x ${dense} ms measured = $b ms"
		rm -rf "$out/$m-$frac"
		"$ep" build "$model" --profile "$prof" --budget "latency_ms=$b" --data "$data" --calib-images 256 -o "$out/$m-$frac" 2>&1 | grep -v '^\[' || true
		s=$(python3 -c "import math;print(round(1-math.sqrt($frac),3))")
		"$ep" prune "$model" -o "$out/$m-uniform-$frac.onnx" --structured --sparsity "$s" --scope layer --round-to 8 >/dev/null
		echo "-- uniform structured, sparsity $s:"
		"$ep" eval "$out/$m-uniform-$frac.onnx" --data "$data" | grep -i top-1 || true
		"$ep" bench "$out/$m-uniform-$frac.onnx" --threads 1 | grep -i "median\|latency" | head -2 || true
	done
done
echo "load after: $(cat /proc/loadavg)"
