#!/usr/bin/env bash
# Issue 14: PaddleOCR's text-orientation classifier (ch_ppocr_mobile_v2.0_cls,
# paddle2onnx export: weights in Constant nodes, BatchNorm, HardSwish, Softmax
# output, input x [?,3,?,?]) pruned one-shot and fine-tuned straight from the
# user's image folder, as a user runs the CLI:
#   prune (global magnitude 50% | --structured 30% of channels --round-to 8,
#     the pruning torch's figures were made from)
#   → finetune --data textlines/train/ --preset ppocr-cls, 2 epochs, batch 64,
#     SGD lr 0.01 momentum 0.9 (constant: torch's plain SGD), BatchNorm in
#     training mode; the loss is the NLL of the model's Softmax
#   → eval on textlines/test.npz (engine)
#   → bench/ortcheck: the same test set in ONNX Runtime, agreement with the
#     engine, and where the written model stores its weights.
# Torch's figures for the same recipe through the same ONNX graph are in
# ../shared/models/README.md (99.4% and 99.3%). The Go test
# TestPPOCRClsPruneFinetune (cmd/edgeprune) runs the same and asserts them.
#
# Needs the model (scripts/fetch-models.sh → ~/.cache/edgeprune/models) and
# the ORT oracle (scripts/setup.sh).
# Usage: bench/ppocr_cls_finetune.sh [THREADS]   (default 2)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
threads=${1:-2}
model=${EDGEPRUNE_CACHE:-$HOME/.cache/edgeprune}/models/ppocr_cls.onnx
train=../shared/data/textlines/train/
test=../shared/data/textlines/test.npz
[ -f "$model" ] || { echo "$model absent: run scripts/fetch-models.sh" >&2; exit 1; }
[ -d "$train" ] || { echo "$train absent (../shared)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/edgeprune" ./cmd/edgeprune
go build -o "$tmp/ortcheck" ./bench/ortcheck
ep=$tmp/edgeprune
top1() { "$ep" eval "$1" --data "$test" --json | sed -n 's/.*"top1": *\([0-9.]*\).*/\1/p'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg); $threads threads"
echo "dense: top-1 $(top1 "$model")"
echo
echo "| pruned | one-shot top-1 | after 2 epochs (engine) | ORT top-1 | engine/ORT agreement | weights in Constant nodes | loss | fine-tune s | torch (BN train) |"
echo "|---|---:|---:|---:|---:|---:|---|---:|---:|"
run() { # name label torch prune-flags...
	local name=$1 label=$2 torch=$3
	shift 3
	"$ep" prune "$model" -o "$tmp/$name.onnx" "$@" >/dev/null
	local one
	one=$(top1 "$tmp/$name.onnx")
	"$ep" finetune "$tmp/$name.onnx" -o "$tmp/${name}_ft.onnx" --data "$train" --preset ppocr-cls \
		--epochs 2 --batch 64 --optimizer sgd --lr 0.01 --momentum 0.9 --bn train --schedule constant \
		--threads "$threads" --json >"$tmp/$name.json"
	local secs loss tuned
	secs=$(sed -n 's/^  "seconds": *\([0-9.]*\).*/\1/p' "$tmp/$name.json" | tail -1)
	loss=$(sed -n 's/.*"loss": *"\([^"]*\)".*/\1/p' "$tmp/$name.json" | head -1)
	tuned=$(top1 "$tmp/${name}_ft.onnx")
	"$tmp/ortcheck" "$tmp/${name}_ft.onnx" "$test" >"$tmp/$name.ort.json" || true
	local ort agree consts
	ort=$(sed -n 's/.*"ort_top1": *\([0-9.]*\).*/\1/p' "$tmp/$name.ort.json")
	agree=$(sed -n 's/.*"agree_top1": *\([0-9.]*\).*/\1/p' "$tmp/$name.ort.json")
	consts=$(sed -n 's/.*"constant_nodes": *\([0-9]*\).*/\1/p' "$tmp/$name.ort.json")
	echo "| $label | $one | $tuned | $ort | $agree | $consts | $loss | $secs | $torch |"
}
run mag50 "global magnitude 50%" 0.994 --sparsity 0.5
run ch30 "structured 30% of channels" 0.993 --structured --sparsity 0.3 --round-to 8 --shape x=1,3,48,192
