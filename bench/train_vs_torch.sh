#!/usr/bin/env bash
# Training throughput of edgeprune's engine beside torch on this machine
# (docs/benchmarks.md, "Training"): one epoch of lenet300 and of lenet5 on
# mnist_train.npz, the same threads and batch, SGD momentum 0.9, measured in
# one session, alternating the two. edgeprune's time is its epoch's own
# (finetune --json: epochs[0].seconds, data reading included, model loading
# and evaluation not); torch's is the loop of bench/train_epoch_torch.py.
# Also the peak memory of a training step beside the forward's.
#
# Needs Debian's python3-torch (apt-get install python3-torch).
# Usage: bench/train_vs_torch.sh [THREADS [BATCH]]   (default 2, 128)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
threads=${1:-2}
batch=${2:-128}
data=../shared/data/mnist_train.npz
py=/usr/bin/python3
"$py" -c 'import torch' 2>/dev/null || { echo "needs python3-torch (apt-get install python3-torch)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/edgeprune" ./cmd/edgeprune

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg); torch $("$py" -c 'import torch; print(torch.__version__)'); $threads threads, batch $batch"
echo
echo "| model | edgeprune s/epoch | samples/s | torch s/epoch | samples/s | edgeprune/torch speed | forward peak MiB | training peak MiB |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for name in lenet300 lenet5; do
	model=../shared/models/mnist/$name.onnx
	ep=$("$tmp/edgeprune" finetune "$model" -o "$tmp/out.onnx" --data "$data" --epochs 1 --batch "$batch" \
		--threads "$threads" --schedule constant --lr 0.01 --json 2>/dev/null)
	th=$("$py" bench/train_epoch_torch.py "$name" "$data" "$threads" "$batch")
	"$py" - "$name" "$ep" "$th" <<'PY'
import json, sys
name, ep, th = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
e = ep["finetune"]["epochs"][0]
pk = ep["finetune"]["peak_bytes"]
print(f"| {name} | {e['seconds']:.1f} | {e['samples_per_sec']:.0f} | {th['seconds']:.1f} | {th['samples_per_sec']:.0f} | "
      f"{th['seconds']/e['seconds']:.2f}× | {pk['forward']/2**20:.2f} | {pk['training']/2**20:.2f} |")
PY
done
