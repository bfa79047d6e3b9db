#!/usr/bin/env bash
# The main job on a model the project carries (testdata/models/cnn.onnx, a
# small residual CNN with BatchNorm, a depthwise conv and a Gemm): build
# edgeprune, look inside the model, and write it back losslessly.
# Run scripts/setup.sh first on a fresh machine (the README's one-liner does).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
model="${1:-testdata/models/cnn.onnx}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

CGO_ENABLED=0 go build -o "$out/edgeprune" ./cmd/edgeprune
ep="$out/edgeprune"

echo "## edgeprune inspect $model"
"$ep" inspect "$model"
echo
echo "## edgeprune convert $model (lossless round trip, with external data)"
"$ep" convert "$model" "$out/copy.onnx" --external-data
"$ep" inspect --json "$out/copy.onnx" >"$out/copy.json"
"$ep" inspect --json "$model" >"$out/orig.json"
python3 - "$out/orig.json" "$out/copy.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for k in ("params", "nonzero_params", "ops"):
    assert a[k] == b[k], (k, a[k], b[k])
print(f"round trip kept all {a['params']} parameters and {sum(a['ops'].values())} nodes")
PY
