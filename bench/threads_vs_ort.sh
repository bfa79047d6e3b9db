#!/usr/bin/env bash
# Latency at 1 and 2 threads, edgeprune beside ONNX Runtime, in one run:
# for each model and each of ROUNDS rounds, ORT 1 thread, edgeprune 1,
# ORT 2, edgeprune 2 (interleaved, so load changes hit all four alike).
# Each measurement is the median of RUNS timed runs (3 warm-up runs each).
# Results go in docs/benchmarks.md, "Threads".
#
# Usage: bench/threads_vs_ort.sh [ROUNDS] [RUNS] [EDGEPRUNE_BINARY]
# (default 3 rounds of 20 runs; the binary is built from this tree unless
# given). Run it through bench/priority-run on a shared machine. The engine
# schedules with this machine's tunables: run `edgeprune tune` first on a
# quiet machine (else each run measures them at start-up); the table says
# which it used. A binary with `tune --model` also measures each model's
# plans first, at 1 and 2 threads (each Conv's path, engine.CalibrateConvPaths,
# then the per-node threads, engine.CalibrateThreads; EDGEPRUNE_CALIBRATE=off
# skips it), and bench runs the plans with them.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
runs=${2:-20}
cache=${EDGEPRUNE_CACHE:-$HOME/.cache/edgeprune}
ep=${3:-}
if [ -z "$ep" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	go build -o "$tmp/edgeprune" ./cmd/edgeprune
	ep=$tmp/edgeprune
fi
# The hand-off cost between the two cores (bench/corelat): the floor under
# every fork/join, which decides how far small layers can scale here.
corelat=${EDGEPRUNE_CORELAT_BIN:-}
if [ -z "$corelat" ]; then
	ctmp=$(mktemp -d)
	go build -o "$ctmp/corelat" ./bench/corelat
	corelat=$ctmp/corelat
fi

start=$(date +%s)
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$("$corelat" -reps 3 -n 100000)"
[ -z "${ctmp:-}" ] || rm -rf "$ctmp"
out=$(mktemp)
while read -r name path input; do
	[ -f "$path" ] || { echo "$path not found" >&2; exit 1; }
	if [ "${EDGEPRUNE_CALIBRATE:-}" != off ] && grep -q -- --model <<<"$("$ep" tune --help 2>/dev/null)"; then
		for t in 1 2; do
			"$ep" tune --model "$path" --shape "$input" --threads $t | grep -E 'Convs measured|whole model|nodes on' | sed "s/^ */$name, $t thread(s), measured: /" >&2
		done
	fi
	for r in $(seq "$rounds"); do
		for t in 1 2; do
			o=$(node bench/ort_latency.js "$path" "$input" --threads "$t" --runs "$runs")
			e=$("$ep" bench "$path" --shape "$input" --threads "$t" --runs "$runs" --json)
			echo "$name $t $o $(echo "$e" | tr -d "\n")" >>"$out"
		done
	done
done <<EOF2
resnet18 ../shared/models/tv/resnet18.onnx input=1,3,224,224
mobilenet_v2 ../shared/models/tv/mobilenet_v2.onnx input=1,3,224,224
ppocrv4_det $cache/models/ppocrv4_det.onnx x=1,3,320,320
EOF2
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); run time $(( $(date +%s) - start )) s"
python3 - "$out" <<'PY'
import json, sys, collections
rows = collections.OrderedDict()
for line in open(sys.argv[1]):
    name, t, rest = line.split(' ', 2)
    dec = json.JSONDecoder()
    o, i = dec.raw_decode(rest)
    e, _ = dec.raw_decode(rest[i:].lstrip())
    if 'tun' not in globals() and int(t) == 2:
        tun = e['tunables']
        print(f"tunables ({tun['measured']}): fork/join {tun['fork_join_ns']:.0f} ns, "
              f"{tun['ns_per_mac']:.4f} ns/MAC, {tun['ns_per_elem']:.3f} ns/float, SGEMM column block {tun['gemm_nc']}; "
              f"per-node threads: {e.get('thread_choice', 'cost model')}")
    r = rows.setdefault(name, {'flops': e['flops'], 1: ([], []), 2: ([], [])})
    r[int(t)][0].append(o['median_ms']); r[int(t)][1].append(e['median_ms'])
med = lambda xs: sorted(xs)[(len(xs) - 1) // 2]
rng = lambda xs: f"{med(xs):.2f} ({min(xs):.2f}–{max(xs):.2f})"
print("| model | ORT 1 ms | edgeprune 1 ms | ORT 2 ms | edgeprune 2 ms | ep 1→2 speed-up | ep/ORT 1 | ep/ORT 2 | ep GFLOP/s 1 / 2 |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for name, r in rows.items():
    o1, e1, o2, e2 = med(r[1][0]), med(r[1][1]), med(r[2][0]), med(r[2][1])
    gf = r['flops'] / 1e6
    print(f"| {name} | {rng(r[1][0])} | {rng(r[1][1])} | {rng(r[2][0])} | {rng(r[2][1])} | "
          f"{e1/e2:.2f}× | {e1/o1:.2f}× | {e2/o2:.2f}× | {gf/e1:.0f} / {gf/e2:.0f} |")
PY
rm -f "$out"
