#!/usr/bin/env bash
# Whole-process benchmark of `edgeprune prune` on resnet18 (global magnitude,
# 90%): wall time and peak RSS from /usr/bin/time -v, beside torch's
# global_unstructured on the same weights (bench/torch_global_unstructured.py,
# Debian /usr/bin/python3 with torch and onnx), and how many weights the two
# masks disagree on. Results go in docs/benchmarks.md, "Magnitude pruning".
#
# Usage: bench/prune_resnet18.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
model=../shared/models/tv/resnet18.onnx
[ -f "$model" ] || { echo "$model not found: ../shared is needed" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/edgeprune" ./cmd/edgeprune
size=$(stat -c %s "$model")

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model:   $model ($size bytes)"
echo "command: edgeprune prune $model -o OUT --sparsity 0.9 --scope global"
walls=() ; rss=()
for i in $(seq "$runs"); do
	/usr/bin/time -v "$tmp/edgeprune" prune "$model" -o "$tmp/out.onnx" --sparsity 0.9 --scope global \
		>"$tmp/stdout" 2>"$tmp/time"
	w=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(j=1;j<=n;j++) s=s*60+a[j]; print s}' "$tmp/time")
	r=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time")
	u=$(awk -F': ' '/User time/ {print $2}' "$tmp/time")
	s=$(awk -F': ' '/System time/ {print $2}' "$tmp/time")
	walls+=("$w"); rss+=("$r")
	printf 'run %d: wall %ss  user %ss  sys %ss  peak RSS %d KB (%.2fx file)\n' "$i" "$w" "$u" "$s" "$r" "$(echo "$r*1024/$size" | bc -l)"
done
printf 'edgeprune: wall min %ss median %ss; peak RSS max %d KB (%.2fx file)\n' \
	"$(printf '%s\n' "${walls[@]}" | sort -g | head -1)" \
	"$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "$(( (runs+1)/2 ))p")" \
	"$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)" \
	"$(echo "$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)*1024/$size" | bc -l)"
grep '^total' "$tmp/stdout"

if /usr/bin/python3 -c 'import torch, onnx' 2>/dev/null; then
	echo "torch global_unstructured(L1Unstructured), same weights:"
	/usr/bin/time -v /usr/bin/python3 bench/torch_global_unstructured.py "$model" "$tmp/torch.onnx" 0.9 2>"$tmp/time"
	awk -F': ' '/Elapsed \(wall clock\)|Maximum resident set size|User time|System time/ {print "  " $1 ": " $2}' "$tmp/time"
	/usr/bin/python3 - "$tmp/out.onnx" "$tmp/torch.onnx" <<'PY'
import sys, onnx
from onnx import numpy_helper
a = {t.name: numpy_helper.to_array(t) for t in onnx.load(sys.argv[1]).graph.initializer}
b = {t.name: numpy_helper.to_array(t) for t in onnx.load(sys.argv[2]).graph.initializer}
diff = sum(int(((a[k] == 0) != (b[k] == 0)).sum()) for k in a)
print(f"masks: edgeprune and torch disagree on {diff} of {sum(v.size for v in a.values())} stored elements")
PY
else
	echo "torch: /usr/bin/python3 with torch and onnx not found, skipped"
fi
