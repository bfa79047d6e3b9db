#!/usr/bin/env bash
# File-size builds with unstructured options (docs/profiles.md, "Unstructured
# options"): LeNet-300-100 (../shared/models/mnist/lenet300.onnx) under
# configs/host-amd64-file.yaml (model.epk ≤ 0.045 MB, at most 1 point of top-1),
#   1. structured pruning alone (the same budgets, no search.unstructured):
#      expected to exit 3, the smallest structured model missing the file budget;
#   2. with search.unstructured (sparsity 0.5/0.75/0.9 element, coding
#      exact/fp16/codebook:4);
# then `edgeprune eval model.epk` on all 10,000 MNIST test images. The build
# calibrates on the first 256 images and verifies on the rest. Builds run
# through bench/priority-run (global lock, nice -15); evals at nice 10.
# About 1 minute on a quiet 2-core machine.
#   bench/build_size.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/buildsize}
shared=$(realpath ../shared)
lock=${BENCH_RUN:-bench/priority-run}
rm -rf "$out"
mkdir -p "$out"
go build -o "$out/edgeprune" ./cmd/edgeprune
ep="$out/edgeprune"
model="$shared/models/mnist/lenet300.onnx"
data="$shared/data/mnist_test.npz"
cat >"$out/structured.yaml" <<YAML
schema: edgeprune/profile/v1
name: host-amd64-file-structured
extends: $(realpath configs/host-amd64.yaml)
budgets:
  file_mb: {max: 0.045}
  accuracy: {metric: top1, goal: max-degradation, value: 0.01}
YAML

echo "host: $(lscpu | sed -n 's/^Model name: *//p'); $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC'); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-12s %5s %10s %10s %8s %8s %8s %7s %s\n' search exit epk_bytes budget top1_0 top1_ver top1_epk wall_s phases
for run in structured unstructured; do
	prof="$out/structured.yaml"
	[ $run = unstructured ] && prof=configs/host-amd64-file.yaml
	start=$(date +%s.%N)
	set +e
	"$lock" "$ep" build "$model" --profile "$prof" --data "$data" --calib-images 256 --measure no --threads 1 -o "$out/$run" >"$out/$run.log" 2>&1
	code=$?
	set -e
	wall=$(python3 -c "import time;print(f'{time.time()-$start:.1f}')")
	if [ $code -eq 0 ]; then
		nice -n 10 "$ep" eval "$out/$run/model.epk" --data "$data" --json >"$out/$run.eval.json"
		python3 - "$out/$run/build.json" "$out/$run.eval.json" "$code" "$wall" "$run" <<'PY'
import json, sys
b = json.load(open(sys.argv[1])); e = json.load(open(sys.argv[2]))
fb = [x for x in b["budgets"] if x["name"] == "file_mb"][0]
ph = " ".join(f"{k} {v}" for k, v in sorted(b["phase_seconds"].items()))
print(f'{sys.argv[5]:<12} {sys.argv[3]:>5} {b["after"]["packed_bytes"]:>10} {int(fb["budget"]*1048576):>10} {b["before"]["top1"]:>8.4f} {b["after"]["top1"]:>8.4f} {e["top1"]:>8.4f} {sys.argv[4]:>7} {ph}')
for l in b["layers"]:
    if l.get("coding"):
        print(f'    {l["node"]:<14} {l["out_before"]}→{l["out_after"]} out, sparsity {100*l.get("sparsity",0):.1f}% {l.get("pattern") or "dense"}, {l["coding"]}')
PY
	else
		best=$(grep -E '^file_mb' "$out/$run.log" | awk '{print $4}')
		printf '%-12s %5s %10s %10s %8s %8s %8s %7s %s\n' $run $code "-" "$(python3 -c 'print(int(0.045*1048576))')" - - - "$wall" "infeasible: best reachable file_mb $best"
	fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
