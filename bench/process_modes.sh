#!/usr/bin/env bash
# Per-process modes: run one edgeprune binary as PROCS separate processes on
# one model and thread count, each `bench --nodes --json` (the median of RUNS
# whole runs, then every Conv/Gemm node's median), and show which nodes
# separate the fast processes from the slow ones. On the quiet 2-vCPU machine
# of docs/benchmarks.md (Threads), resnet18 at 2 threads settles per process
# on one of several medians (13.5, 16–17, 20 ms); this finds where the
# difference lives.
#
# Usage: bench/process_modes.sh BINARY [PROCS] [THREADS] [RUNS] [MODEL] [SHAPE]
# (default 12 processes, 2 threads, 40 runs, ../shared/models/tv/resnet18.onnx,
# input=1,3,224,224). Run it through bench/priority-run on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ep=${1:?usage: bench/process_modes.sh BINARY [PROCS] [THREADS] [RUNS] [MODEL] [SHAPE]}
procs=${2:-12}
threads=${3:-2}
runs=${4:-40}
# ../shared beside the repository; from a git worktree, beside the main one.
shared=../shared
[ -d "$shared" ] || shared=$(dirname "$(git rev-parse --path-format=absolute --git-common-dir)")/../shared
model=${5:-$shared/models/tv/resnet18.onnx}
shape=${6:-input=1,3,224,224}
[ -f "$model" ] || { echo "$model not found: give MODEL (and SHAPE)" >&2; exit 1; }
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for i in $(seq "$procs"); do
	"$ep" bench "$model" --shape "$shape" --threads "$threads" --runs "$runs" --nodes --json | tr -d '\n' >>"$out"
	echo >>"$out"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out" <<'PY'
import json, sys
procs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
procs.sort(key=lambda d: d['median_ms'])
print("per-process median ms (sorted):", " ".join(f"{d['median_ms']:.2f}" for d in procs))
k = max(1, len(procs) // 3)
fast, slow = procs[:k], procs[-k:]
mean = lambda xs: sum(xs) / len(xs)
print(f"fastest {k} vs slowest {k} processes, node medians in µs (mean over the processes):")
print("| node | threads | fast µs | slow µs | slow − fast |")
print("|---|---:|---:|---:|---:|")
rows = []
for j, n in enumerate(procs[0]['nodes']):
    f = mean([d['nodes'][j]['median_us'] for d in fast])
    s = mean([d['nodes'][j]['median_us'] for d in slow])
    rows.append((s - f, n['name'], n['threads'], f, s))
for dlt, name, th, f, s in sorted(rows, reverse=True):
    print(f"| {name} | {th} | {f:.0f} | {s:.0f} | {dlt:+.0f} |")
sf = sum(r[3] for r in rows); ss = sum(r[4] for r in rows)
print(f"| sum of Conv/Gemm nodes | | {sf:.0f} | {ss:.0f} | {ss - sf:+.0f} |")
print(f"whole-run median: fast {mean([d['median_ms'] for d in fast]):.2f} ms, slow {mean([d['median_ms'] for d in slow]):.2f} ms")
PY
