#!/usr/bin/env bash
# The main job on a model the project carries (testdata/models/cnn.onnx, a
# small residual CNN with BatchNorm, a depthwise conv and a Gemm; or pass
# another model): build edgeprune, look inside, prune, pack for shipping,
# unpack bit-exactly, and measure what pruning cost on the pure-Go engine.
# Run scripts/setup.sh first on a fresh machine (the README's one-liner does).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
model="${1:-testdata/models/cnn.onnx}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

CGO_ENABLED=0 go build -o "$out/edgeprune" ./cmd/edgeprune
ep="$out/edgeprune"
step() { echo; echo "## edgeprune $*"; "$ep" "$@"; }

step inspect "$model"
step prune "$model" -o "$out/pruned.onnx" --sparsity 0.8 --scope global
step pack "$out/pruned.onnx" -o "$out/pruned.epk"
step unpack "$out/pruned.epk" -o "$out/unpacked.onnx"
cmp "$out/pruned.onnx" "$out/unpacked.onnx"
echo "unpacked model is byte-identical to the pruned one"
step bench "$model" --threads 1 --runs 20
step bench "$out/unpacked.onnx" --threads 1 --runs 20
