#!/usr/bin/env bash
# One-shot accuracy (no fine-tuning) of the criteria prune offers, on the
# MNIST LeNets (scored on the first 128 samples of mnist_train.npz, one batch)
# and PaddleOCR's orientation classifier (first 128 lines of textlines/train
# with the ppocr-cls preset, batches of 64), evaluated on the test sets.
# Results go in docs/benchmarks.md, "Data-aware criteria".
#
# Usage: bench/criteria.sh
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED:-../shared}
cache=${EDGEPRUNE_CACHE:-$HOME/.cache/edgeprune}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/edgeprune" ./cmd/edgeprune
ep=$tmp/edgeprune

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| model | sparsity | l1 (global) | taylor (global) | snip (global) | obd (global) | wanda (row) | l1 (row) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
run() { # model data test sparsity extra-flags...
	local model=$1 data=$2 test=$3 s=$4
	shift 4
	local row="| $(basename "$model" .onnx) | $s |"
	for c in "l1 --scope global" "taylor --scope global" "snip --scope global" "obd --scope global" "wanda --scope row" "l1 --scope row"; do
		set -- $c
		local crit=$1 scope=$3 extra=()
		if [ "$crit" != l1 ]; then extra=(--data "$data" --samples 128 "${@:4}" $DATAFLAGS); fi
		"$ep" prune "$model" -o "$tmp/p.onnx" --sparsity "$s" --criterion "$crit" --scope "$scope" "${extra[@]}" >/dev/null
		local acc
		acc=$("$ep" eval "$tmp/p.onnx" --data "$test" --json | python3 -c 'import json,sys; print("%.2f%%" % (100*json.load(sys.stdin)["top1"]))')
		row="$row $acc |"
	done
	echo "$row"
}
DATAFLAGS=""
for m in lenet300 lenet5; do
	for s in 0.9 0.95; do
		run "$shared/models/mnist/$m.onnx" "$shared/data/mnist_train.npz" "$shared/data/mnist_test.npz" "$s"
	done
done
DATAFLAGS="--preset ppocr-cls --batch 64"
run "$cache/models/ppocr_cls.onnx" "$shared/data/textlines/train" "$shared/data/textlines/test.npz" 0.5
