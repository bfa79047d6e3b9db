#!/usr/bin/env bash
# Sparse execution (issue 12): the engine's sparse kernels beside its dense
# ones and ONNX Runtime (dense), one thread each, in one run, the three
# interleaved per model and repeated ROUNDS times (median of each round's
# median; the spread is the min–max of the rounds). Models: lenet300 at 90%
# and 95% (global magnitude) at batch 1 and 64; mobilenet_v2 and resnet18 at
# 90% global magnitude, batch 1, 224², and at 90% in every layer (--scope
# layer, as Fast Sparse ConvNets prune), for reference; PP-OCR cls and det
# (v4) at 90% global magnitude. Then the resident memory of the
# 90%-sparse resnet18 run from its pack (sparse) vs its ONNX file (dense).
# First, in the same run, the machine's roofs on one thread (bench/machine:
# the engine's SGEMM peak and the copy bandwidth), against which the
# table's GFLOP/s are read (% of peak).
# Results go in docs/benchmarks.md, "Sparse execution".
#
# Usage: bench/sparse_vs_dense.sh [RUNS] [ROUNDS]   (defaults 50, 3)
# EDGEPRUNE_BENCH_ONLY=lenet300 keeps the models whose name contains it
# (and skips the others' pruning and the resnet18 memory table).
# On a shared machine, prune and build first, then time under a lock, e.g.
#   EDGEPRUNE_BENCH_TMP=/tmp/b bench/sparse_vs_dense.sh 1 1   # prunes and packs into /tmp/b
#   go build -o /tmp/ep ./cmd/edgeprune && go build -o /tmp/machine ./bench/machine
#   EDGEPRUNE_BENCH_TMP=/tmp/b EDGEPRUNE_BIN=/tmp/ep EDGEPRUNE_MACHINE_BIN=/tmp/machine bench-run bench/sparse_vs_dense.sh
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}
rounds=${2:-3}
tmp=${EDGEPRUNE_BENCH_TMP:-$(mktemp -d)}
# EDGEPRUNE_BIN: a binary built beforehand (outside the benchmark lock).
ep=${EDGEPRUNE_BIN:-$tmp/edgeprune}
[ -n "${EDGEPRUNE_BIN:-}" ] || go build -o "$ep" ./cmd/edgeprune
machine=${EDGEPRUNE_MACHINE_BIN:-$tmp/machine}
[ -n "${EDGEPRUNE_MACHINE_BIN:-}" ] || go build -o "$machine" ./bench/machine
shared=../shared/models
only=${EDGEPRUNE_BENCH_ONLY:-}
want() { [ -z "$only" ] || [[ "$1" == *"$only"* ]]; }
[ -f "$tmp/lenet300_0.9.onnx" ] || "$ep" prune $shared/mnist/lenet300.onnx -o "$tmp/lenet300_0.9.onnx" --sparsity 0.9 >/dev/null
[ -f "$tmp/lenet300_0.95.onnx" ] || "$ep" prune $shared/mnist/lenet300.onnx -o "$tmp/lenet300_0.95.onnx" --sparsity 0.95 >/dev/null
for m in mobilenet_v2 resnet18; do
	want $m || continue
	[ -f "$tmp/${m}_0.9.onnx" ] || "$ep" prune $shared/tv/$m.onnx -o "$tmp/${m}_0.9.onnx" --sparsity 0.9 --scope global >/dev/null
	[ -f "$tmp/${m}_0.9_layer.onnx" ] || "$ep" prune $shared/tv/$m.onnx -o "$tmp/${m}_0.9_layer.onnx" --sparsity 0.9 --scope layer >/dev/null
done
for m in ppocr_cls ppocrv4_det; do
	want $m || continue
	[ -f "$tmp/${m}_0.9.onnx" ] || "$ep" prune ~/.cache/edgeprune/models/$m.onnx -o "$tmp/${m}_0.9.onnx" --sparsity 0.9 --scope global >/dev/null
done
! want resnet18 || [ -f "$tmp/resnet18_0.9.epk" ] || "$ep" pack "$tmp/resnet18_0.9.onnx" -o "$tmp/resnet18_0.9.epk" >/dev/null

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg) at start"
roofs=$("$machine" -reps 20)
python3 - "$ep" "$tmp" "$runs" "$rounds" "$roofs" <<'PY'
import json, os, subprocess, sys, statistics
only = os.environ.get("EDGEPRUNE_BENCH_ONLY", "")
ep, tmp, runs, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
roofs = json.loads(sys.argv[5])
peak = roofs["sgemm_gflops"]
print(f"machine roofs (1 thread, this run): SGEMM {peak:.1f} GFLOP/s (engine, 512³ MatMul), copy {roofs['copy_gbs']:.1f} GB/s (read + write)")
def bench(model, shape, mode):
    out = subprocess.run([ep, "bench", model, "--shape", shape, "--threads", "1", "--runs", runs, "--sparse", mode, "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)
def ort(model, shape):
    out = subprocess.run(["node", "bench/ort_latency.js", model, shape, "--threads", "1", "--runs", runs],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)
cases = [
    ("lenet300 90%", f"{tmp}/lenet300_0.9.onnx", "input=1,1,28,28", True),
    ("lenet300 90%", f"{tmp}/lenet300_0.9.onnx", "input=64,1,28,28", True),
    ("lenet300 95%", f"{tmp}/lenet300_0.95.onnx", "input=1,1,28,28", True),
    ("lenet300 95%", f"{tmp}/lenet300_0.95.onnx", "input=64,1,28,28", True),
    ("mobilenet_v2 90%", f"{tmp}/mobilenet_v2_0.9.onnx", "input=1,3,224,224", True),
    ("resnet18 90%", f"{tmp}/resnet18_0.9.onnx", "input=1,3,224,224", True),
    ("mobilenet_v2 90% per layer", f"{tmp}/mobilenet_v2_0.9_layer.onnx", "input=1,3,224,224", True),
    ("resnet18 90% per layer", f"{tmp}/resnet18_0.9_layer.onnx", "input=1,3,224,224", True),
    ("PP-OCR cls 90%", f"{tmp}/ppocr_cls_0.9.onnx", "x=1,3,48,192", True),
    ("PP-OCR det (v4) 90%", f"{tmp}/ppocrv4_det_0.9.onnx", "x=1,3,320,320", True),
]
cases = [c for c in cases if only in c[0].replace(" ", "_").replace("-", "").lower() or only in c[0]]
print()
print("| model | input | engine sparse ms | engine dense ms | ORT dense ms | sparse vs engine dense | sparse vs ORT | sparse nodes | GFLOP/s sparse (effective / nonzeros) | GFLOP/s dense | % of SGEMM peak (sparse eff. / nonzeros / dense) |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for name, model, shape, with_ort in cases:
    sp, de, ot = [], [], []
    last = None
    for r in range(rounds):
        s = bench(model, shape, "auto"); sp.append(s["median_ms"]); last = s
        de.append(bench(model, shape, "off")["median_ms"])
        if with_ort:
            ot.append(ort(model, shape)["median_ms"])
    ms, md = statistics.median(sp), statistics.median(de)
    nodes = last["nodes"]
    nsp = sum(1 for n in nodes if n["kernel"] != "dense")
    flops = last["flops"]
    # FLOPs of the nonzeros: sparse nodes count density × their FLOPs.
    nzflops = flops - sum(2 * n["macs"] * (1 - n.get("density", 0)) for n in nodes if n["kernel"] != "dense")
    rng = lambda xs: f"{statistics.median(xs):.3f} ({min(xs):.3f}–{max(xs):.3f})"
    mo = statistics.median(ot) if ot else float("nan")
    print(f"| {name} | {shape.split('=')[1]} | {rng(sp)} | {rng(de)} | {rng(ot) if ot else '-'} | {md/ms:.2f}× | {mo/ms:.2f}× | {nsp}/{len(nodes)} | "
          f"{flops/ms/1e6:.1f} / {nzflops/ms/1e6:.1f} | {flops/md/1e6:.1f} | "
          f"{100*flops/ms/1e6/peak:.0f}% / {100*nzflops/ms/1e6/peak:.0f}% / {100*flops/md/1e6/peak:.0f}% |")
if only and only not in "resnet18":
    sys.exit(0)
print()
print("| resnet18 90% | weights resident | of it sparse | peak RSS (process) | latency ms |")
print("|---|---:|---:|---:|---:|")
for label, model, mode in [("from its pack (.epk), sparse auto", f"{tmp}/resnet18_0.9.epk", "auto"),
                           ("from ONNX, dense (--sparse off)", f"{tmp}/resnet18_0.9.onnx", "off"),
                           ("from ONNX, sparse auto", f"{tmp}/resnet18_0.9.onnx", "auto")]:
    b = bench(model, "input=1,3,224,224", mode)
    print(f"| {label} | {b['weight_bytes']/2**20:.1f} MiB | {b['sparse_weight_bytes']/2**20:.1f} MiB | {b['peak_rss_bytes']/2**20:.1f} MiB | {b['median_ms']:.2f} |")
PY
echo
echo "load $(cut -d' ' -f1-3 /proc/loadavg) at end"
