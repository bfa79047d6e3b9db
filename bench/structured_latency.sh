#!/usr/bin/env bash
# Structured pruning speed-up (docs/benchmarks.md, "Structured pruning"):
# `edgeprune prune --structured` at the given sparsity (default 0.5) with the
# default flags (global scope, L1, channels aligned to 8) plus any in
# $PRUNE_FLAGS (e.g. PRUNE_FLAGS="--scope layer"), on resnet18 and
# mobilenet_v2, then
# ONNX Runtime latency (1 thread, batch 1, median of N runs) of dense and
# pruned models measured in one run of tools/ort/bench.js (interleaved
# rounds), beside the FLOPs ratio the engine counts.
# Usage: bench/structured_latency.sh [sparsity] [runs] [model…]
# (models of ../shared/models/tv by name; default resnet18 mobilenet_v2)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
sparsity="${1:-0.5}"
runs="${2:-40}"
MODELS=(resnet18 mobilenet_v2)
if [ $# -gt 2 ]; then
	MODELS=("${@:3}")
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/edgeprune" ./cmd/edgeprune
paths=()
for m in "${MODELS[@]}"; do
	src="../shared/models/tv/$m.onnx"
	[ -f "$src" ] || { echo "$src not found: ../shared is needed" >&2; exit 1; }
	# shellcheck disable=SC2086 # PRUNE_FLAGS is a list of flags
	"$tmp/edgeprune" prune "$src" -o "$tmp/$m-pruned.onnx" --structured --sparsity "$sparsity" \
		${PRUNE_FLAGS:-} --report "$tmp/$m.json" >"$tmp/$m.txt"
	head -n 1 "$tmp/$m.txt"
	paths+=("$src" "$tmp/$m-pruned.onnx")
done
node tools/ort/bench.js --threads 1 --runs "$runs" --warmup 5 "${paths[@]}" >"$tmp/lat.jsonl"
echo "sparsity $sparsity, flags: defaults ${PRUNE_FLAGS:-}; ORT 1 thread, batch 1, median of $runs runs"
printf '%-14s %12s %12s %9s %12s %12s\n' model dense_ms pruned_ms speedup flops_ratio params_ratio
for m in "${MODELS[@]}"; do
	python3 - "$tmp/lat.jsonl" "$tmp/$m.json" "$m" <<'EOF'
import json, sys
lat = [json.loads(l) for l in open(sys.argv[1])]
rep = json.load(open(sys.argv[2]))
m = sys.argv[3]
dense = next(x for x in lat if x["model"].endswith("/" + m + ".onnx"))["median_ms"]
pruned = next(x for x in lat if x["model"].endswith("/" + m + "-pruned.onnx"))["median_ms"]
t = rep["totals"]
print("%-14s %12.2f %12.2f %8.2fx %11.2fx %11.2fx" % (m, dense, pruned, dense / pruned,
      t["flops_before"] / t["flops_after"], t["params_before"] / t["params_after"]))
EOF
done
