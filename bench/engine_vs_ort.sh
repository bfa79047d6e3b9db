#!/usr/bin/env bash
# Latency of edgeprune's pure-Go engine beside ONNX Runtime, one thread each,
# batch 1, measured in one run, alternating the two per model: resnet18 and
# mobilenet_v2 at 224², PP-OCRv4 det at 320². Results go in
# docs/benchmarks.md, "Engine".
#
# Usage: bench/engine_vs_ort.sh [RUNS]   (default 30 timed runs each)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
cache=${EDGEPRUNE_CACHE:-$HOME/.cache/edgeprune}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/edgeprune" ./cmd/edgeprune

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| model | input | edgeprune median ms | p90 | ORT median ms | p90 | ratio | GFLOPs | peak activations MiB |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
while read -r name path input; do
	[ -f "$path" ] || { echo "$path not found" >&2; exit 1; }
	ep=$("$tmp/edgeprune" bench "$path" --shape "$input" --threads 1 --runs "$runs" --json)
	ort=$(node bench/ort_latency.js "$path" "$input" --threads 1 --runs "$runs")
	python3 - "$name" "$input" "$ep" "$ort" <<'PY'
import json, sys
name, inp, ep, ort = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
print(f"| {name} | {inp.split('=')[1]} | {ep['median_ms']:.1f} | {ep['p90_ms']:.1f} | {ort['median_ms']:.1f} | {ort['p90_ms']:.1f} | "
      f"{ep['median_ms']/ort['median_ms']:.2f}× | {ep['flops']/1e9:.2f} | {ep['peak_activation_bytes']/2**20:.1f} |")
PY
done <<EOF2
resnet18 ../shared/models/tv/resnet18.onnx input=1,3,224,224
mobilenet_v2 ../shared/models/tv/mobilenet_v2.onnx input=1,3,224,224
ppocrv4_det $cache/models/ppocrv4_det.onnx x=1,3,320,320
EOF2
