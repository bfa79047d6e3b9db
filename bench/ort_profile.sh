#!/usr/bin/env bash
# Cost model from ONNX Runtime's own profiler (docs/profiles.md, "From ORT
# profiles"): structured variants of the five torchvision models (uniform
# keep 1, .75, .5, .3, rounded to 8: 20 variants), each run in ORT with
# enable_profiling (tools/ort/profile.js, 1 thread), then
# `edgeprune calibrate --from-ort-profile` on all of them: leave-one-out
# prediction of each variant's ORT latency.
#   bench/ort_profile.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/ortprof}
models=${MODELS:-../shared/models/tv}
mkdir -p "$out"
go build -o "$out/edgeprune" ./cmd/edgeprune
echo "load before: $(cat /proc/loadavg)"
files=()
for m in resnet18 mobilenet_v2 mobilenet_v3_small squeezenet1_1 shufflenet_v2_x0_5; do
	for s in 0 0.25 0.5 0.7; do
		v="$out/$m-$s.onnx"
		if [ "$s" = 0 ]; then cp "$models/$m.onnx" "$v"; else
			"$out/edgeprune" prune "$models/$m.onnx" -o "$v" --structured --sparsity "$s" --scope layer --round-to 8 >/dev/null
		fi
		rm -f "$out/$m-$s"_*.json
		node tools/ort/profile.js --runs "${RUNS:-20}" "$v" "$out/$m-$s" >/dev/null
		files+=("$(ls "$out/$m-$s"_*.json)")
	done
done
"$out/edgeprune" calibrate --profile configs/host-amd64.yaml -o "$out/host-ort.yaml" --threads 1 \
	--from-ort-profile "$(IFS=,; echo "${files[*]}")"
echo "load after: $(cat /proc/loadavg)"
