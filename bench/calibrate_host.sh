#!/usr/bin/env bash
# Calibrate the cost model on this machine and validate it on 20 random
# structured variants of each of the five torchvision models: the numbers
# of docs/profiles.md (Cost model: measured). Writes the calibrated profile
# and a JSON of every measurement and prediction to OUT (default /tmp).
#
#   bench/calibrate_host.sh [OUT] [STATISTIC]    # STATISTIC median (default) or min
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp}
stat=${2:-median}
models=${MODELS:-../shared/models/tv}
go build -o "$out/edgeprune" ./cmd/edgeprune
echo "load before: $(cat /proc/loadavg)"
"$out/edgeprune" calibrate \
  "$models/resnet18.onnx" "$models/mobilenet_v2.onnx" "$models/mobilenet_v3_small.onnx" \
  "$models/squeezenet1_1.onnx" "$models/shufflenet_v2_x0_5.onnx" \
  --profile configs/host-amd64.yaml -o "$out/host-calibrated.yaml" \
  --variants "${VARIANTS:-20}" --runs "${RUNS:-20}" --statistic "$stat" --seed 1 \
  --report "$out/calibration-$stat.json"
echo "load after: $(cat /proc/loadavg)"
