#!/usr/bin/env bash
# Measured Conv paths against the rules' paths, alternated: for each model
# and thread count, `edgeprune tune --model` writes two records, one with
# the Conv paths measured (engine.CalibrateConvPaths) and one with the
# rules' paths (--conv-paths=false), each with its per-node threads
# measured; then the two plans, compiled with them, are timed in one process
# (bench/pathab), ROUNDS alternated rounds of RUNS runs each. Every timing
# runs through bench/priority-run, one command at a time. KEEP=DIR keeps the
# records and tune's output. Results go in docs/benchmarks.md, "Threads".
#
# Usage: bench/conv_paths_ab.sh [ROUNDS] [RUNS] [TUNE_ROUNDS] [EDGEPRUNE_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-15}
runs=${2:-20}
trounds=${3:-3}
ep=${4:-}
cache=${EDGEPRUNE_CACHE:-$HOME/.cache/edgeprune}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$ep" ]; then
	go build -o "$tmp/edgeprune" ./cmd/edgeprune
	ep=$tmp/edgeprune
fi
pr=bench/priority-run
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), cpu family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ') model $(grep -m1 '^model\s*:' /proc/cpuinfo | cut -d: -f2 | tr -d ' '), load $(cut -d' ' -f1-3 /proc/loadavg)"
models="resnet18 ../shared/models/tv/resnet18.onnx input=1,3,224,224
mobilenet_v2 ../shared/models/tv/mobilenet_v2.onnx input=1,3,224,224
ppocrv4_det $cache/models/ppocrv4_det.onnx x=1,3,320,320"
while read -r name path input; do
	for t in 1 2; do
		for mode in measured rules; do
			flag=--conv-paths=true
			[ $mode = rules ] && flag=--conv-paths=false
			$pr "$ep" tune --model "$path" --shape "$input" --threads $t --rounds "$trounds" --runs 10 $flag \
				-o "$tmp/$name-$t-$mode.json" >"$tmp/$name-$t-$mode.txt"
		done
		sed -n '1,2p' "$tmp/$name-$t-measured.txt" | sed "s/^/$name threads $t: /"
		grep -E '→' "$tmp/$name-$t-measured.txt" | sed "s/^/    /" || true
	done
done <<<"$models"
echo "load before the alternated runs: $(cut -d' ' -f1-3 /proc/loadavg)"
# The two plans of each model and thread count in one process (bench/pathab),
# ROUNDS alternated rounds of RUNS runs each.
go build -o "$tmp/pathab" ./bench/pathab
while read -r name path input; do
	for t in 1 2; do
		echo "== $name, $t thread(s): a = rules' paths, b = measured paths; load $(cut -d' ' -f1-3 /proc/loadavg)"
		$pr "$tmp/pathab" -m "$path" -shape "$input" -threads $t -rounds "$rounds" -runs "$runs" \
			-a "$tmp/$name-$t-rules.json" -b "$tmp/$name-$t-measured.json" | sed "s#$tmp/##g"
	done
done <<<"$models"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${KEEP:-}" ]; then
	mkdir -p "$KEEP" && cp "$tmp"/*.json "$tmp"/*.txt "$KEEP"/
fi
