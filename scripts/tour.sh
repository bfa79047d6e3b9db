#!/usr/bin/env bash
# A tour of the other commands on a model the project carries: testdata/demo/demonet.onnx, a
# small mobile-style CNN (inverted residuals, depthwise convs; 51k random
# weights, made by internal/onnxbuild.DemoNet). Or pass another model.
# Builds edgeprune, then: look inside; prune 80% of the weights by magnitude
# and pack them for shipping, unpack bit-exactly; prune half the channels
# structurally and show the model really is smaller and faster, and computes
# what the same selection as zeros (the masked model) computes.
# Run scripts/setup.sh first on a fresh machine. The README's main job is
# scripts/demo.sh (a profile-driven build); this is the tour of the other commands.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
model="${1:-testdata/demo/demonet.onnx}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

CGO_ENABLED=0 go build -o "$out/edgeprune" ./cmd/edgeprune
ep="$out/edgeprune"
step() { echo; echo "## edgeprune $*" | sed "s#$out/##g"; "$ep" "$@"; }

step inspect "$model"

# unstructured: a smaller package, the same network
step prune "$model" -o "$out/sparse.onnx" --sparsity 0.8
step pack "$out/sparse.onnx" -o "$out/sparse.epk"
step unpack "$out/sparse.epk" -o "$out/unpacked.onnx"
cmp "$out/sparse.onnx" "$out/unpacked.onnx"
echo "unpacked model is byte-identical to the pruned one"

# structured: fewer channels, so a dense runtime does less work
step prune "$model" -o "$out/slim.onnx" --structured --sparsity 0.5 --round-to 8 --emit-masked "$out/masked.onnx"
step run "$out/slim.onnx" --random -o "$out/slim"
step run "$out/masked.onnx" --random -o "$out/masked"
/usr/bin/python3 - "$out/slim/y.npy" "$out/masked/y.npy" <<'PY'
import sys
import numpy as np
a, b = (np.load(p) for p in sys.argv[1:])
err = float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))
print(f"slim vs masked outputs: max |a-b| / max |b| = {err:.2e}")
sys.exit(0 if err <= 1e-4 else 1)
PY
step bench "$model" --threads 1
step bench "$out/slim.onnx" --threads 1
