#!/usr/bin/env bash
# Latency of the recurrent keyword-spotting fixtures (testdata/rnn, exported
# by tools/py/export_rnn.py) in edgeprune's engine beside ONNX Runtime, one
# thread each, batch 1, dense and structurally pruned at 0.5 (edgeprune prune
# --structured --sparsity 0.5 --round-to 1), measured in one run,
# alternating engine and ORT per model. Results go in docs/benchmarks.md,
# "Recurrent ops".
#
# Usage: bench/rnn_vs_ort.sh [RUNS]   (default 200 timed runs each;
# EDGEPRUNE_BIN=path uses a prebuilt edgeprune instead of building one)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -n "${EDGEPRUNE_BIN:-}" ]; then
	cp "$EDGEPRUNE_BIN" "$tmp/edgeprune"
else
	go build -o "$tmp/edgeprune" ./cmd/edgeprune
fi
for m in gru lstm; do
	"$tmp/edgeprune" prune "testdata/rnn/kws_$m.onnx" -o "$tmp/kws_${m}_s50.onnx" --structured --sparsity 0.5 --round-to 1 >/dev/null
done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| model | edgeprune median ms | p90 | ORT median ms | p90 | ratio | MFLOPs |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for path in testdata/rnn/kws_gru.onnx "$tmp/kws_gru_s50.onnx" testdata/rnn/kws_lstm.onnx "$tmp/kws_lstm_s50.onnx"; do
	ep=$("$tmp/edgeprune" bench "$path" --shape x=1,40,49 --threads 1 --runs "$runs" --json)
	ort=$(node bench/ort_latency.js "$path" x=1,40,49 --threads 1 --runs "$runs")
	python3 - "$(basename "$path" .onnx)" "$ep" "$ort" <<'PY'
import json, sys
name, ep, ort = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"| {name} | {ep['median_ms']:.3f} | {ep['p90_ms']:.3f} | {ort['median_ms']:.3f} | {ort['p90_ms']:.3f} | "
      f"{ep['median_ms']/ort['median_ms']:.2f}× | {ep['flops']/1e6:.2f} |")
PY
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
