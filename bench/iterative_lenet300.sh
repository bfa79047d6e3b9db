#!/usr/bin/env bash
# Iterative pruning + fine-tuning to 98% on lenet300 beside one-shot 98% + 2
# epochs (docs/benchmarks.md, "Training"), then how close prune → fine-tune →
# `pack --values codebook:B` gets to Deep Compression's 40× on LeNet-300-100,
# with the accuracy of the packed model (unpacked, on mnist_test.npz).
# Recipe of every fine-tune: SGD momentum 0.9, weight decay 1e-4, lr 0.03
# cosine per fine-tune, batch 128, 2 threads, seed 1 (prune --steps: the
# default --seed 1).
# Usage: bench/iterative_lenet300.sh [STEPS...]   (default: 2 4)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
steps=("${@:-2 4}")
read -r -a steps <<<"${steps[*]}"
model=../shared/models/mnist/lenet300.onnx
train=../shared/data/mnist_train.npz
test=../shared/data/mnist_test.npz
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/edgeprune" ./cmd/edgeprune
ep="$tmp/edgeprune"
ft=(--lr 0.03 --schedule cosine --batch 128 --threads 2)
acc() { "$ep" eval "$1" --data "$test" --json | python3 -c 'import json,sys; print("%.2f" % (100*json.load(sys.stdin)["top1"]))'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| run | epochs of fine-tuning | test top-1 | total s |"
echo "|---|---:|---:|---:|"
t0=$(date +%s.%N)
"$ep" prune "$model" -o "$tmp/os.onnx" --sparsity 0.98 >/dev/null
"$ep" finetune "$tmp/os.onnx" -o "$tmp/os-ft.onnx" --data "$train" --epochs 2 --seed 1 "${ft[@]}" >/dev/null 2>&1
t1=$(date +%s.%N)
echo "| one-shot 98% + 2 epochs | 2 | $(acc "$tmp/os-ft.onnx") | $(python3 -c "print(f'{$t1-$t0:.0f}')") |"
best="$tmp/os-ft.onnx"
for n in "${steps[@]}"; do
	t0=$(date +%s.%N)
	"$ep" prune "$model" -o "$tmp/it$n.onnx" --sparsity 0.98 --steps "$n" --finetune-epochs 1 --data "$train" "${ft[@]}" >/dev/null 2>&1
	t1=$(date +%s.%N)
	echo "| iterative, $n cubic steps × 1 epoch | $n | $(acc "$tmp/it$n.onnx") | $(python3 -c "print(f'{$t1-$t0:.0f}')") |"
	best="$tmp/it$n.onnx"
done
echo
orig=$(stat -c %s "$model")
echo "dense ONNX: $orig bytes, test top-1 $(acc "$model")%"
echo
echo "| packed (from the last model above) | bytes | × smaller than the dense ONNX | test top-1 after unpack |"
echo "|---|---:|---:|---:|"
for v in fp32 codebook:6 codebook:5 codebook:4; do
	"$ep" pack "$best" -o "$tmp/p.epk" --values "$v" >/dev/null
	"$ep" unpack "$tmp/p.epk" -o "$tmp/u.onnx" >/dev/null
	sz=$(stat -c %s "$tmp/p.epk")
	echo "| $v | $sz | $(python3 -c "print(f'{$orig/$sz:.1f}')") | $(acc "$tmp/u.onnx") |"
done
