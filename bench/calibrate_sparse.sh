#!/usr/bin/env bash
# The sparse op class fitted by calibrate (--sparse-variants, build/calibrate_sparse.go)
# against its default (a fixed efficiency, profile/derived.go): for each model, one
# calibrate run on configs/host-amd64.yaml timing the usual plans plus N sparse
# variants to fit and N held-out ones (every weight layer magnitude-pruned at
# 75–97% on a random structured choice); the table gives, on the held-out ones,
# the MAPE of the whole run and of the sparse nodes' summed time with the fitted
# class and with the default. Each calibrate runs through bench/priority-run.
#   bench/calibrate_sparse.sh [OUT] [N]      (N default 4; MODELS=... to choose)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/calsparse}
n=${2:-4}
shared=$(realpath ../shared)
lock=${BENCH_RUN:-bench/priority-run}
models=${MODELS:-"$shared/models/mnist/lenet300.onnx $shared/models/mnist/lenet5.onnx $shared/models/tv/resnet18.onnx $shared/models/tv/mobilenet_v2.onnx"}
rm -rf "$out"
mkdir -p "$out"
go build -o "$out/edgeprune" ./cmd/edgeprune
echo "host: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC'); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-20s %9s %9s %6s %14s %14s %14s %14s %14s %7s\n' model fit_nodes sparse_n held run_fitted run_default nodes_fitted nodes_default dense_valid wall_s
for m in $models; do
	name=$(basename "$m" .onnx)
	start=$(date +%s.%N)
	"$lock" "$out/edgeprune" calibrate "$m" --profile configs/host-amd64.yaml -o "$out/$name.yaml" --threads 1 \
		--variants 8 --fit-variants 8 --runs 20 --sparse-variants "$n" --report "$out/$name.json" >"$out/$name.log" 2>&1
	wall=$(python3 -c "import time;print(f'{time.time()-$start:.0f}')")
	python3 - "$out/$name.json" "$name" "$wall" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); s = r.get("sparse")
if not s:
    print(f"{sys.argv[2]:<20} no sparse variants"); sys.exit()
pct = lambda e: f'{100*e["mape"]:6.1f}% {100*e["within_10pct"]:3.0f}%'
nodes = sum(p["sparse_nodes"] for p in s["points"])
print(f'{sys.argv[2]:<20} {s["fit_nodes"]:>9} {nodes:>9} {len(s["points"]):>6} {pct(s["fitted"]):>14} {pct(s["default"]):>14} {pct(s["nodes_fitted"]):>14} {pct(s["nodes_default"]):>14} {pct(r["overall"]["cost_model"]):>14} {sys.argv[3]:>7}')
PY
done
echo "(MAPE and fraction within ±10% on the held-out sparse variants; sparse_n: their nodes run sparse;"
echo " dense_valid: the same calibration on its dense validation variants, for scale)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
