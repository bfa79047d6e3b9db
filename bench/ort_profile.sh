#!/usr/bin/env bash
# Cost model from ONNX Runtime's own profiler, validated against ORT's
# latency WITHOUT the profiler (docs/profiles.md, Cost model, "From ORT
# profiles"). For each of the five torchvision models, calibrate writes the
# variants it would time (uniform keep 1, .75, .5, .25; FIT random
# structured variants; VARIANTS held-out random variants of another random
# stream). tools/ort/profile_rounds.js then runs every variant in ORT 1.30
# (onnxruntime-node, 1 thread) in a profiled session (enable_profiling) and
# a plain one, all 140 variants interleaved in ROUNDS rounds of RUNS/ROUNDS
# runs each (a small model more: BUDGET_MS of runs per round at least), in
# one locked priority run (bench/priority-run). Finally `edgeprune calibrate
# --from-ort-profile` fits on the width and fitting variants' profiles and
# predicts the held-out variants' plain latency (--ort-validate), per model:
# within ±10%, MAPE, RMSPE, beside the same fit on ORT's op names only, a
# FLOPs-only and a FLOPs + per-node fit, and the largest per-op errors.
#   bench/ort_profile.sh [OUT]
# About 4-5 minutes on the dev box under load (the ORT timing 2-3 of them;
# writing the variants ~30 s). STATISTIC=min|median (default min) picks
# what is fitted and validated.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/ortprof}
models=${MODELS:-../shared/models/tv}
stat=${STATISTIC:-min}
mkdir -p "$out"
start=$(date +%s)
echo "date: $(date -u +%FT%TZ); CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs"
go build -o "$out/edgeprune" ./cmd/edgeprune
names=(resnet18 mobilenet_v2 mobilenet_v3_small squeezenet1_1 shufflenet_v2_x0_5)
if [ -z "${SKIP_WRITE:-}" ]; then
	rm -f "$out"/*.onnx "$out"/*_prof_*.json
	for m in "${names[@]}"; do # not timed: at the normal priority
		"$out/edgeprune" calibrate "$models/$m.onnx" --profile configs/host-amd64.yaml -o "$out/unused.yaml" \
			--variants "${VARIANTS:-20}" --fit-variants "${FIT:-4}" --seed 1 --write-variants "$out" >/dev/null
	done
fi
[ -n "${WRITE_ONLY:-}" ] && exit 0
echo "load before: $(cat /proc/loadavg)"
if [ -z "${SKIP_TIME:-}" ]; then
	# One locked run for all models' variants: drift moves every model alike.
	all=()
	for m in "${names[@]}"; do all+=("$out/$m"-*.onnx); done
	rm -f "$out"/*_prof_*.json
	t0=$(date +%s)
	bench/priority-run node tools/ort/profile_rounds.js --runs "${RUNS:-20}" --rounds "${ROUNDS:-4}" --budget-ms "${BUDGET_MS:-25}" "$out/all.ort.json" "${all[@]}"
	echo "timed in ORT in $(( $(date +%s) - t0 )) s (priority run, lock included)"
fi
echo "load after: $(cat /proc/loadavg)"
"$out/edgeprune" calibrate --profile configs/host-amd64.yaml -o "$out/host-ort.yaml" --threads 1 --statistic "$stat" \
	--from-ort-profile "$out/all.ort.json:fit" --ort-validate "$out/all.ort.json:validate"
echo "took $(( $(date +%s) - start )) s"
