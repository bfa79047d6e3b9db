#!/usr/bin/env bash
# Packer sizes and speeds (docs/benchmarks.md, "Packer"): for each model and
# sparsity, global magnitude pruning with `edgeprune prune`, then the pruned
# ONNX file compressed by xz -9e, zstd -19 and `edgeprune pack`, beside the
# floor (mask entropy + zstd of the nonzero values, bench/packfloor), and
# unpack time against xz -d (best of 3 runs each).
# Usage: bench/pack_sizes.sh [sparsities...]   (default: 0.5 0.9 0.95)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cache="${EDGEPRUNE_CACHE:-$HOME/.cache/edgeprune}"
sparsities=("${@:-0.5 0.9 0.95}")
read -r -a sparsities <<<"${sparsities[*]}"
MODELS=(
	lenet300=../shared/models/mnist/lenet300.onnx
	lenet5=../shared/models/mnist/lenet5.onnx
	ppocrv4_det="$cache/models/ppocrv4_det.onnx"
	resnet18=../shared/models/tv/resnet18.onnx
)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/edgeprune" ./cmd/edgeprune
go build -o "$tmp/packfloor" ./bench/packfloor
ep="$tmp/edgeprune"

# best_ms CMD...: the fastest of 3 runs, in milliseconds.
best_ms() {
	local best=999999999 t0 t1
	for _ in 1 2 3; do
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1
		t1=$(date +%s%N)
		(((t1 - t0) / 1000000 < best)) && best=$(((t1 - t0) / 1000000))
	done
	echo "$best"
}

echo "| model | sparsity | ONNX B | xz -9e B | zstd -19 B | pack B | pack/xz | floor B | pack MB/s | unpack ms | xz -d ms | xz -d / unpack |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for entry in "${MODELS[@]}"; do
	name="${entry%%=*}" src="${entry#*=}"
	[[ -f "$src" ]] || { echo "pack_sizes: $src not found" >&2; exit 1; }
	for s in "${sparsities[@]}"; do
		m="$tmp/$name-$s.onnx"
		"$ep" prune "$src" -o "$m" --sparsity "$s" >/dev/null
		onnx=$(stat -c %s "$m")
		xz -9e -T1 -kc "$m" >"$m.xz"
		zstd -19 -q -c "$m" >"$m.zst"
		t0=$(date +%s%N)
		"$ep" pack "$m" -o "$m.epk" >/dev/null
		t1=$(date +%s%N)
		pack_ms=$(((t1 - t0) / 1000000))
		read -r floor _ _ < <("$tmp/packfloor" "$m")
		xzs=$(stat -c %s "$m.xz") zs=$(stat -c %s "$m.zst") ps=$(stat -c %s "$m.epk")
		un=$(best_ms "$ep" unpack "$m.epk" -o "$m.back.onnx")
		xd=$(best_ms sh -c "xz -dc '$m.xz' >'$m.xzback'")
		awk -v n="$name" -v s="$s" -v o="$onnx" -v x="$xzs" -v z="$zs" -v p="$ps" -v f="$floor" -v pm="$pack_ms" -v u="$un" -v xd="$xd" 'BEGIN {
			printf "| %s | %s | %d | %d | %d | %d | %.3f | %d | %.1f | %d | %d | %.1fx |\n", n, s, o, x, z, p, p/x, f, o/1e6/(pm/1000), u, xd, xd/(u>0?u:1) }'
	done
done
