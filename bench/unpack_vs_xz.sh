#!/usr/bin/env bash
# Whole-process unpack speed against xz -d (docs/benchmarks.md, "Packer"):
# for each model and sparsity, global magnitude pruning with `edgeprune
# prune`, then `edgeprune pack` (default level 19) and `xz -9e -T1` of the
# same pruned ONNX file; then, RUNS times each, interleaved, the wall time
# and peak RSS of
#   edgeprune unpack M.epk -o OUT            (streamed, fsync'd, renamed)
#   edgeprune unpack M.epk -o OUT --no-sync  (streamed, renamed, no fsync)
#   xz -dc -T1 M.xz > OUT                    (xz never fsyncs)
# and, if BASELINE names another edgeprune binary (e.g. one built from an
# older commit), its `unpack` too. All outputs go to the same directory
# (OUTDIR, default a temporary directory on the same filesystem as TMPDIR).
# Medians of RUNS (default 7). Pack MB/s is ONNX bytes over the median wall
# time of 3 `edgeprune pack` runs; unpack MB/s is ONNX bytes over the median
# unpack wall time.
# Usage: bench/unpack_vs_xz.sh [sparsities...]   (default: 0.5 0.9)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cache="${EDGEPRUNE_CACHE:-$HOME/.cache/edgeprune}"
runs="${RUNS:-7}"
sparsities=("${@:-0.5 0.9}")
read -r -a sparsities <<<"${sparsities[*]}"
MODELS=(
	lenet300=../shared/models/mnist/lenet300.onnx
	lenet5=../shared/models/mnist/lenet5.onnx
	ppocrv4_det="$cache/models/ppocrv4_det.onnx"
	resnet18=../shared/models/tv/resnet18.onnx
)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
out="${OUTDIR:-$tmp/out}"
mkdir -p "$out"
go build -o "$tmp/edgeprune" ./cmd/edgeprune
ep="$tmp/edgeprune"

# measure FILE CMD...: append "wall_ms rss_kb" of one run of CMD to FILE.
measure() {
	local f="$1" t0 t1 rss
	shift
	t0=$(date +%s%N)
	/usr/bin/time -f %M -o "$tmp/rss" "$@" >/dev/null
	t1=$(date +%s%N)
	rss=$(tail -1 "$tmp/rss")
	echo "$(((t1 - t0) / 1000)) $rss" >>"$f"
}

# median FILE COLUMN: the median of a column (1: wall µs, 2: RSS KiB).
median() { sort -n -k"$2" "$1" | awk -v c="$2" '{v[NR]=$c} END {print v[int((NR+1)/2)]}'; }

echo "| model | sparsity | ONNX B | pack B | pack MB/s | unpack ms | --no-sync ms | xz -d ms | unpack RSS MiB | xz -d RSS MiB | unpack MB/s | --no-sync MB/s | xz -d / unpack | xz -d / --no-sync |${BASELINE:+ baseline ms | baseline RSS MiB |}"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|${BASELINE:+---:|---:|}"
for entry in "${MODELS[@]}"; do
	name="${entry%%=*}" src="${entry#*=}"
	[[ -f "$src" ]] || { echo "unpack_vs_xz: $src not found" >&2; exit 1; }
	for s in "${sparsities[@]}"; do
		m="$tmp/$name-$s.onnx"
		"$ep" prune "$src" -o "$m" --sparsity "$s" >/dev/null
		onnx=$(stat -c %s "$m")
		xz -9e -T1 -kc "$m" >"$m.xz"
		rm -f "$tmp/pack"
		for _ in 1 2 3; do measure "$tmp/pack" "$ep" pack "$m" -o "$m.epk"; done
		rm -f "$tmp"/{un,ns,xz,base}
		for _ in $(seq "$runs"); do
			measure "$tmp/un" "$ep" unpack "$m.epk" -o "$out/un.onnx"
			measure "$tmp/ns" "$ep" unpack "$m.epk" -o "$out/ns.onnx" --no-sync
			measure "$tmp/xz" sh -c "xz -dc -T1 '$m.xz' >'$out/xz.onnx'"
			[[ -n "${BASELINE:-}" ]] && measure "$tmp/base" "$BASELINE" unpack "$m.epk" -o "$out/base.onnx"
		done
		cmp -s "$out/un.onnx" "$m" && cmp -s "$out/ns.onnx" "$m" && cmp -s "$out/xz.onnx" "$m" ||
			{ echo "unpack_vs_xz: $name@$s: an output differs from the pruned model" >&2; exit 1; }
		base=""
		[[ -n "${BASELINE:-}" ]] && base="$(median "$tmp/base" 1) $(median "$tmp/base" 2)"
		awk -v n="$name" -v s="$s" -v o="$onnx" -v p="$(stat -c %s "$m.epk")" -v pk="$(median "$tmp/pack" 1)" \
			-v un="$(median "$tmp/un" 1)" -v ns="$(median "$tmp/ns" 1)" -v xz="$(median "$tmp/xz" 1)" \
			-v unr="$(median "$tmp/un" 2)" -v xzr="$(median "$tmp/xz" 2)" -v base="$base" 'BEGIN {
			printf "| %s | %s | %d | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f | %.0f | %.1fx | %.1fx |", n, s, o, p, o/pk, un/1000, ns/1000, xz/1000, unr/1024, xzr/1024, o/un, o/ns, xz/un, xz/ns
			if (base != "") { split(base, b, " "); printf " %.1f | %.1f |", b[1]/1000, b[2]/1024 }
			printf "\n" }'
	done
done
