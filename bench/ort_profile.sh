#!/usr/bin/env bash
# Cost model from ONNX Runtime's own profiler (docs/profiles.md, Cost
# model, "From ORT profiles"): for each of the five torchvision models,
# calibrate writes the variants it would time (uniform keep 1, .75, .5, .25,
# FIT random structured variants, and VARIANTS held-out random variants of
# another random stream); each is run in ORT with enable_profiling
# (tools/ort/profile.js, 1 thread, RUNS runs); then `edgeprune calibrate
# --from-ort-profile` fits on the width and fitting profiles and predicts
# the held-out variants' ORT latency (--ort-validate).
#   bench/ort_profile.sh [OUT]
# Writing the variants is not timed: WRITE_ONLY=1 bench/ort_profile.sh OUT first, then
# SKIP_WRITE=1 bench/priority-run bench/ort_profile.sh OUT (the ORT runs, under the lock).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/ortprof}
models=${MODELS:-../shared/models/tv}
mkdir -p "$out"
go build -o "$out/edgeprune" ./cmd/edgeprune
for m in resnet18 mobilenet_v2 mobilenet_v3_small squeezenet1_1 shufflenet_v2_x0_5; do
	[ -n "${SKIP_WRITE:-}" ] && break # written by an earlier, unlocked run
	"$out/edgeprune" calibrate "$models/$m.onnx" --profile configs/host-amd64.yaml -o "$out/unused.yaml" \
		--variants "${VARIANTS:-20}" --fit-variants "${FIT:-4}" --seed 1 --write-variants "$out" >/dev/null
done
[ -n "${WRITE_ONLY:-}" ] && exit 0
echo "load before: $(cat /proc/loadavg)"
fit=() val=()
for v in "$out"/*-width-*.onnx "$out"/*-fit-*.onnx "$out"/*-validate-*.onnx; do
	p=${v%.onnx}
	rm -f "$p"_*.json
	node tools/ort/profile.js --runs "${RUNS:-20}" "$v" "$p" >/dev/null
	case $v in *-validate-*) val+=("$(ls "$p"_*.json)") ;; *) fit+=("$(ls "$p"_*.json)") ;; esac
done
echo "load after: $(cat /proc/loadavg)"
"$out/edgeprune" calibrate --profile configs/host-amd64.yaml -o "$out/host-ort.yaml" --threads 1 \
	--from-ort-profile "$(IFS=,; echo "${fit[*]}")" --ort-validate "$(IFS=,; echo "${val[*]}")"
