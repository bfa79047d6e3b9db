#!/usr/bin/env bash
# Where the 1-thread time goes, per Conv/Gemm node, beside ONNX Runtime's
# own per-node profile (enable_profiling, tools/ort/profile.js), in one run:
# for each model and each of ROUNDS rounds, ORT's profiled run then
# `edgeprune bench --nodes` (interleaved). Each node: the median over rounds
# of each side's per-node median, the ratio, and edgeprune's GFLOP/s against
# the machine's SGEMM peak, the AVX-512 micro-kernel on L1-resident panels
# (BenchmarkMicroKernel, run first and last). ORT fuses and renames nodes:
# a node is paired with ORT's whose name starts with its own (conv2/Conv →
# conv2/Conv_output_0_nchwc), and the rest (fused Conv+Relu, named after
# the Relu) in order. Results go in docs/benchmarks.md, "Threads", "1-thread kernels".
#
# Usage: bench/kernels_vs_ort.sh [ROUNDS] [RUNS] (default 3 rounds of 20
# runs; about 1 minute). Run it through bench/priority-run on a shared
# machine, with EDGEPRUNE_BIN and ENGINE_TEST_BIN built beforehand.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
runs=${2:-20}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Prebuilt binaries (compiled outside the lock) may be given.
ep=${EDGEPRUNE_BIN:-$tmp/edgeprune}
et=${ENGINE_TEST_BIN:-$tmp/engine.test}
[ -n "${EDGEPRUNE_BIN:-}" ] || go build -o "$ep" ./cmd/edgeprune
[ -n "${ENGINE_TEST_BIN:-}" ] || go test -c -o "$et" ./engine
peak() { "$et" -test.run '^$' -test.bench 'MicroKernel/avx512' -test.benchtime 0.3s | awk '/GFLOPS/ {print $(NF-1)}'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%F %H:%M UTC')"
p1=$(peak)
for spec in "resnet18 ../shared/models/tv/resnet18.onnx" "mobilenet_v2 ../shared/models/tv/mobilenet_v2.onnx"; do
	set -- $spec
	for r in $(seq "$rounds"); do
		rm -f "$tmp/$1-ort-$r"_*.json
		node tools/ort/profile.js --threads 1 --runs "$runs" "$2" "$tmp/$1-ort-$r" >/dev/null
		"$ep" bench "$2" --threads 1 --nodes --runs "$runs" --json >"$tmp/$1-ep-$r.json"
	done
done
p2=$(peak)
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$tmp" "$rounds" "$p1" "$p2" <<'PY'
import json, sys, glob, collections
tmp, rounds, p1, p2 = sys.argv[1], int(sys.argv[2]), float(sys.argv[3] or 0), float(sys.argv[4] or 0)
peak = max(p1, p2)
med = lambda xs: sorted(xs)[(len(xs) - 1) // 2]
print(f"SGEMM peak (avx512-8x32 micro-kernel, L1): {p1:.0f} / {p2:.0f} GFLOP/s (before / after); % below is of {peak:.0f}")
for model in ("resnet18", "mobilenet_v2"):
    ep = collections.OrderedDict(); ort = collections.OrderedDict(); tot_ep = []; tot_ort = []
    for r in range(1, rounds + 1):
        e = json.load(open(f"{tmp}/{model}-ep-{r}.json"))
        tot_ep.append(e["median_ms"])
        for n in e["nodes"]:
            ep.setdefault(n["name"], [n["op"], n["macs"], []])[2].append(n["median_us"])
        d = collections.OrderedDict(); ops = {}
        for ev in json.load(open(glob.glob(f"{tmp}/{model}-ort-{r}_*.json")[0])):
            if ev.get("cat") == "Node" and ev["name"].endswith("_kernel_time"):
                nm = ev["name"][:-len("_kernel_time")]
                d.setdefault(nm, []).append(ev["dur"]); ops[nm] = ev["args"].get("op_name", "")
        convs = [(nm, med(v)) for nm, v in d.items() if ops[nm] in ("Conv", "FusedConv", "Gemm")]
        tot_ort.append(sum(med(v) for v in d.values()) / 1000)
        for nm, t in convs:
            ort.setdefault(nm, []).append(t)
    rows = list(ep.items())
    # Pair by name prefix, then the unpaired in order.
    pair, free = {}, [nm for nm in ort]
    for nm, _ in rows:
        m = [o for o in free if o.startswith(nm)]
        if len(m) == 1:
            pair[nm] = m[0]; free.remove(m[0])
    for nm, _ in rows:
        if nm not in pair and free:
            pair[nm] = free.pop(0)
    print(f"\n{model}: edgeprune {med(tot_ep):.2f} ms end to end; ORT {med(tot_ort):.2f} ms summed over its profiled nodes")
    if len(rows) != len(ort):
        print(f"  ({len(rows)} edgeprune Conv/Gemm nodes against {len(ort)} of ORT's: some are unpaired)")
    print("| node | op | MMACs | edgeprune µs | ORT µs | ep/ORT | ep GFLOP/s | % of peak |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    se = so = 0
    for nm, (op, macs, ts) in rows:
        te = med(ts)
        to = med(ort[pair[nm]]) if nm in pair else float("nan")
        se += te; so += to if nm in pair else 0
        gf = 2 * macs / te / 1e3
        print(f"| {nm} | {op} | {macs/1e6:.1f} | {te:.1f} | {to:.0f} | {te/to:.2f}× | {gf:.0f} | {100*gf/peak:.0f}% |")
    print(f"| all Conv/Gemm | | | {se:.0f} | {so:.0f} | {se/so:.2f}× | | |")
PY
