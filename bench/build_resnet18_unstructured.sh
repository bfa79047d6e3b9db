#!/usr/bin/env bash
# A resnet18 build with search.unstructured on (docs/profiles.md, "Unstructured
# options"), timed by phase: configs/host-amd64.yaml (latency 20 ms p50, measured
# here) with a file budget of FILE_MB (default 12) MB of model.epk, the default
# unstructured block (sparsity 0.5/0.75/0.9, element, coding exact/fp16/codebook:4,
# sensitivity SENSITIVITY: composed, the default, or measured; MEASURE=no with
# FRACTION=F predicts the latency instead of timing it, under a budget of F × the
# original's predicted latency, so that two builds see the same target on a
# loaded machine)
# and a fidelity budget that does not bind (the build's time is the point). Data:
# text-line crops of ../shared/data/textlines/train through the imagenet preset
# (../shared has no ImageNet images), CALIB (default 128, the issue's target)
# calibration images and 128 held out, as bench/build_host.sh lays them out. The
# build runs through bench/priority-run; the issue's target is 5 minutes.
#   [SHARED=/work/shared] bench/build_resnet18_unstructured.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/r18u}
shared=$(realpath "${SHARED:-../shared}")
lock=${BENCH_RUN:-bench/priority-run}
calib=${CALIB:-128}
file_mb=${FILE_MB:-12}
sens=${SENSITIVITY:-composed}
measure=${MEASURE:-yes}
latency=""
[ -n "${FRACTION:-}" ] && latency="  latency_ms: {fraction_of_original: $FRACTION, statistic: p50}"
mkdir -p "$out"
go build -o "$out/edgeprune" ./cmd/edgeprune
fid="$out/fid"
if [ ! -d "$fid/all/x" ]; then
	mkdir -p "$fid/all/x"
	i=0
	for c in 0 1; do
		for f in $(ls "$shared/data/textlines/train/$c" | head -128); do cp "$shared/data/textlines/train/$c/$f" "$fid/all/x/a$(printf %03d $i).png"; i=$((i + 1)); done
	done
fi
cat >"$out/prof.yaml" <<YAML
schema: edgeprune/profile/v1
name: host-amd64-r18-unstructured
extends: $(realpath configs/host-amd64.yaml)
budgets:
  file_mb: {max: $file_mb}
$latency
  accuracy: {metric: fidelity, goal: max-degradation, value: 1}
search:
  unstructured: {sensitivity: $sens}
YAML
echo "host: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); $(nproc) cores; $(date -u '+%F %T UTC'); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$out/build"
start=$(date +%s)
set +e
"$lock" /usr/bin/time -f "cpu %U s user + %S s sys in %e s wall" -o "$out/cpu" "$out/edgeprune" build "$shared/models/tv/resnet18.onnx" --profile "$out/prof.yaml" --data "$fid/all" --preset imagenet \
	--calib-images "$calib" --verify-images 128 --measure "$measure" -o "$out/build" >"$out/table" 2>"$out/log"
code=$?
set -e
echo "exit $code, $(($(date +%s) - start)) s wall (lock wait included); load after: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$out/cpu" 2>/dev/null || true
grep -E '^(latency_ms|file_mb|ram_mb|fidelity_drop|accuracy_drop) ' "$out/table" || true
grep -E '^phases' "$out/log" "$out/table" || true
[ -f "$out/build/build.json" ] && python3 - "$out/build/build.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
print("phases (s):", b["phase_seconds"], "solve rounds", b["solve_rounds"])
print("layer options run on the calibration data", b.get("unstructured_runs", 0), "composed", b.get("unstructured_composed", 0))
print("groups", sum(1 for g in b["groups"] if not g.get("kind")), "layers", sum(1 for g in b["groups"] if g.get("kind") == "unstructured"))
for l in b["layers"]:
    if l.get("coding"):
        print(f'  {l["node"]:<32} {l["out_before"]}→{l["out_after"]} out, sparsity {100*l.get("sparsity",0):.1f}% {l.get("pattern") or "dense"}, {l["coding"]}')
PY
