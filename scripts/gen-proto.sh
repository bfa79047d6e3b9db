#!/usr/bin/env bash
# Regenerates onnxio/onnxpb, edgeprune's Go types for the ONNX protobuf schema.
#
#   scripts/gen-proto.sh [SRC]
#
# With SRC (an onnx-ml.proto from the ONNX project, for example
# /usr/lib/python3/dist-packages/onnx/onnx-ml.proto from Debian's python3-onnx),
# first re-derives onnxio/onnxpb/onnx-ml.proto from it: the same proto2 schema
# under a package of our own (edgeprune.onnx), so that it never clashes with
# another copy of the ONNX schema registered in the same binary (onnx-go's,
# which the conformance suite loads), and with our go_package.
# Then runs protoc (Debian: protobuf-compiler) with protoc-gen-go at the
# google.golang.org/protobuf version of go.mod. The generated file is committed:
# building and testing edgeprune never needs protoc.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=onnxio/onnxpb
proto="$out/onnx-ml.proto"
if [[ $# -ge 1 ]]; then
	{
		echo "// Derived by scripts/gen-proto.sh from ONNX's onnx-ml.proto ($1);"
		echo "// only the proto package (onnx -> edgeprune.onnx) and go_package differ."
		sed -e 's/^package onnx;$/package edgeprune.onnx;\n\noption go_package = "github.com\/edgeprune\/edgeprune\/onnxio\/onnxpb";/' "$1"
	} >"$proto.tmp"
	grep -q '^package edgeprune.onnx;$' "$proto.tmp" || { echo "gen-proto: no 'package onnx;' line in $1" >&2; rm -f "$proto.tmp"; exit 1; }
	mv "$proto.tmp" "$proto"
fi

command -v protoc >/dev/null || { echo "gen-proto: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }
version="$(go list -m -f '{{.Version}}' google.golang.org/protobuf)"
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
GOBIN="$bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$version"
PATH="$bin:$PATH" protoc --proto_path=. --go_out=. --go_opt=module=github.com/edgeprune/edgeprune "$proto"
gofmt -l "$out"
echo "gen-proto: wrote $out/onnx-ml.pb.go (protoc $(protoc --version | cut -d' ' -f2), protoc-gen-go $version)"
