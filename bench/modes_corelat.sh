#!/bin/sh
# The 2-thread mode against the core-to-core round trip (docs/benchmarks.md,
# Threads, "Session 10 (s10-modes)"): N times, bench/corelat, one process of
# `bench --threads 2`, corelat again, one process of `bench --threads 1`; one
# line each. On the 2-vCPU VM the round trip reads ~100 ns or ~420–600 ns
# (the host's placement of the vCPUs) and the 2-thread time follows it.
#
# Usage: bench/modes_corelat.sh EDGEPRUNE CORELAT MODEL [SHAPE] [N] [RUNS]
# (build CORELAT with go build -o /tmp/corelat ./bench/corelat; run the whole
# script through bench/priority-run).
set -eu
ep=${1:?usage: bench/modes_corelat.sh EDGEPRUNE CORELAT MODEL [SHAPE] [N] [RUNS]}
cl=${2:?corelat binary}
model=${3:?model}
shape=${4:-}
n=${5:-40}
runs=${6:-20}
set -- 
[ -n "$shape" ] && set -- --shape "$shape"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$n"); do
	c=$("$cl" -n 50000 -reps 3 | awk '{print $4}')
	m2=$("$ep" bench "$model" "$@" --threads 2 --runs "$runs" | awk '/latency/{print $3}')
	c2=$("$cl" -n 50000 -reps 3 | awk '{print $4}')
	m1=$("$ep" bench "$model" "$@" --threads 1 --runs "$runs" | awk '/latency/{print $3}')
	echo "$(date -u +%H:%M:%S) corelat $c $c2 ns  2t $m2 ms 1t $m1 ms"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
