#!/usr/bin/env bash
# The main job as a profile-driven build: a trained LeNet-5 and the MNIST
# test set (both in ../shared: models/mnist/lenet5.onnx, data/mnist_test.npz)
# fitted to the Raspberry Pi 4 profile with a latency budget of 0.35 ms (the
# original is predicted at 0.43 ms there). The first 256 images measure each option's
# damage, the other 9,744 verify accuracy. Ends with the budget table; the
# model, build.json and report.html land in OUT (default /tmp/edgeprune-build).
# The Pi profile is not calibrated, so latency is predicted from its datasheet
# figures (the output says so); run `edgeprune calibrate` on a Pi for real ones.
#   scripts/build-demo.sh [OUT]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-/tmp/edgeprune-build}
shared=${SHARED:-../shared}
[ -f "$shared/models/mnist/lenet5.onnx" ] || { echo "build-demo: $shared/models/mnist/lenet5.onnx not found (set SHARED)" >&2; exit 1; }
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/edgeprune" ./cmd/edgeprune
rm -rf "$out"
"$bin/edgeprune" profile show configs/raspberry-pi-4.yaml
"$bin/edgeprune" build "$shared/models/mnist/lenet5.onnx" --profile configs/raspberry-pi-4.yaml \
	--data "$shared/data/mnist_test.npz" --calib-images 256 --budget latency_ms=0.35 -o "$out"
