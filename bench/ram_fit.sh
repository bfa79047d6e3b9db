#!/usr/bin/env bash
# The memory model against measured peak RSS: 28 variants of resnet18 and
# mobilenet_v2 (the originals, structured pruning at 10–80% global, 25% and
# 50% per layer, 50% with --round-to 1, unstructured 50% and 90%), each
# read, compiled and run once in a child process (edgeprune calibrate
# --rss-probe, as calibrate and build measure it; median of 3), the model
# fitted on every other variant (bench/ramfit) and validated on the rest:
# the table, MAPE and the fraction within ±10%, beside the earlier
# weights + activations prediction.
# Peak RSS does not depend on the machine's load; no priority-run needed.
#
#   bench/ram_fit.sh [OUT]        # ~5 minutes quiet, 25 loaded; OUT/fit.json keeps the fit
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/ram_fit}
models=${MODELS:-../shared/models/tv}
mkdir -p "$out/variants"
go build -o "$out/edgeprune" ./cmd/edgeprune
vs=()
for m in resnet18 mobilenet_v2; do
	cp "$models/$m.onnx" "$out/variants/$m-dense.onnx"
	vs+=("$out/variants/$m-dense.onnx")
	for s in 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8; do
		f="$out/variants/$m-global-$s.onnx"
		[ -f "$f" ] || "$out/edgeprune" prune "$models/$m.onnx" -o "$f" --structured --sparsity "$s" >/dev/null
		vs+=("$f")
	done
	for s in 0.25 0.5; do
		f="$out/variants/$m-layer-$s.onnx"
		[ -f "$f" ] || "$out/edgeprune" prune "$models/$m.onnx" -o "$f" --structured --scope layer --sparsity "$s" >/dev/null
		vs+=("$f")
	done
	f="$out/variants/$m-exact-0.5.onnx"
	[ -f "$f" ] || "$out/edgeprune" prune "$models/$m.onnx" -o "$f" --structured --round-to 1 --sparsity 0.5 >/dev/null
	vs+=("$f")
	for s in 0.5 0.9; do # unstructured: the engine runs the weights sparse where it pays
		f="$out/variants/$m-unstructured-$s.onnx"
		[ -f "$f" ] || "$out/edgeprune" prune "$models/$m.onnx" -o "$f" --sparsity "$s" >/dev/null
		vs+=("$f")
	done
done
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), load: $(cat /proc/loadavg)"
go run ./bench/ramfit -bin "$out/edgeprune" -runs "${RUNS:-3}" -json "$out/fit.json" "${vs[@]}"
