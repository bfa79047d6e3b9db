#!/usr/bin/env bash
# Calibrate the cost model on this machine and validate it on 20 random
# structured variants of each of the five torchvision models, not fitted on:
# the numbers of docs/profiles.md (Cost model, measured). Each model is
# timed in its own calibrate run (--save-timings, ~5–20 s each), then one
# fit over all five (--from-timings) prints the table.
#
#   bench/priority-run bench/calibrate_host.sh [OUT] [STATISTIC]   # min (default) or median
#
# One model per locked call (a call then holds the lock ~1 minute, not ~4):
# NAMES="resnet18" times only the models named and does not fit; FIT_ONLY=1
# fits the five models' timings already in OUT (not a timing: run it under
# chrt -i 0). EDGEPRUNE=BIN uses a binary compiled beforehand.
#   for m in resnet18 mobilenet_v2 mobilenet_v3_small squeezenet1_1 shufflenet_v2_x0_5; do
#       EDGEPRUNE=/tmp/ep NAMES=$m bench/priority-run bench/calibrate_host.sh OUT; done
#   EDGEPRUNE=/tmp/ep FIT_ONLY=1 chrt -i 0 bench/calibrate_host.sh OUT
#
# With autogroup scheduling (/proc/sys/kernel/sched_autogroup_enabled = 1)
# a process's nice value only orders it within its session: the timing runs
# go into a session of their own whose autogroup is given nice -15.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/cal}
stat=${2:-min}
models=${MODELS:-../shared/models/tv}
mkdir -p "$out"
if [ -n "${EDGEPRUNE:-}" ]; then
	cp "$EDGEPRUNE" "$out/edgeprune"
else
	go build -o "$out/edgeprune" ./cmd/edgeprune
fi
all="resnet18 mobilenet_v2 mobilenet_v3_small squeezenet1_1 shufflenet_v2_x0_5"
names=${NAMES:-$all}
[ -n "${FIT_ONLY:-}" ] || setsid bash -c '
	echo -15 >/proc/self/autogroup 2>/dev/null || true
	echo "$(date -u +%FT%TZ) autogroup: $(cat /proc/self/autogroup 2>/dev/null) load before: $(cat /proc/loadavg)"
	for m in '"$names"'; do
		"'"$out"'/edgeprune" calibrate "'"$models"'/$m.onnx" --profile configs/host-amd64.yaml -o "'"$out"'/$m.yaml" \
			--threads 1 --variants "${VARIANTS:-20}" --fit-variants "${FIT:-8}" --runs "${RUNS:-20}" \
			--statistic "'"$stat"'" --seed 1 --save-timings "'"$out"'/$m.json" 2>/dev/null | grep "^$m" || true
	done
	echo "$(date -u +%FT%TZ) load after: $(cat /proc/loadavg)"
'
[ -z "${NAMES:-}" ] || [ -n "${FIT_ONLY:-}" ] || exit 0
files=$(for m in $all; do printf '%s,' "$out/$m.json"; done)
"$out/edgeprune" calibrate --from-timings "${files%,}" --profile configs/host-amd64.yaml \
	-o "$out/host-calibrated.yaml" --report "$out/calibration.json"
