#!/usr/bin/env bash
# The main job: a profile-driven build of a real, trained model on real data.
# LeNet-5 trained on MNIST (../shared/models/mnist/lenet5.onnx, 98.9% top-1)
# is fitted to the Raspberry Pi 4 profile (configs/raspberry-pi-4.yaml) with
# its latency budget overridden to 0.3 ms (the original is predicted at
# 0.43 ms there) and the profile's accuracy budget (at most 1 point of top-1
# lost). The first 256 MNIST test images measure each option's damage, the
# next 2,000 verify accuracy. It ends with the budget table; OUT (default
# /tmp/edgeprune-build) gets model.onnx, model.epk (the profile has a file
# budget), build.json and report.html.
# The Pi profile is not calibrated, so latency is predicted from its
# datasheet figures (the output says so); run `edgeprune calibrate` on a Pi
# for real ones. The earlier tour of inspect/prune/pack/run/bench on a
# random-weight demo model is scripts/tour.sh.
#   scripts/demo.sh [OUT]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-/tmp/edgeprune-build}
shared=${SHARED:-../shared}
for f in models/mnist/lenet5.onnx data/mnist_test.npz; do
	[ -f "$shared/$f" ] || { echo "demo: $shared/$f not found: the reference models and data live in ../shared beside the checkout (or set SHARED)" >&2; exit 1; }
done
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
CGO_ENABLED=0 go build -o "$bin/edgeprune" ./cmd/edgeprune
rm -rf "$out"
echo "## edgeprune profile show configs/raspberry-pi-4.yaml"
"$bin/edgeprune" profile show configs/raspberry-pi-4.yaml
echo
echo "## edgeprune build lenet5.onnx --profile configs/raspberry-pi-4.yaml --budget latency_ms=0.3"
"$bin/edgeprune" build "$shared/models/mnist/lenet5.onnx" --profile configs/raspberry-pi-4.yaml \
	--data "$shared/data/mnist_test.npz" --calib-images 256 --verify-images 2000 \
	--budget latency_ms=0.3 -o "$out"
ls -l "$out"
