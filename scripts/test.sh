#!/usr/bin/env bash
# The test command: gofmt, go vet and go mod tidy must be clean, then every
# test runs.
# Extra arguments go to go test (flags such as -run, -v, -short, -count=1).
# Run scripts/setup.sh once first: tests that need ONNX Runtime or the PP-OCR
# models fail without it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

unformatted="$(gofmt -l .)"
if [[ -n "$unformatted" ]]; then
	echo "test: gofmt -l lists files to format:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
# go.mod lists exactly what the code imports (Go 1.23+: -diff changes nothing).
if ! go mod tidy -diff; then
	echo "test: go.mod/go.sum are not tidy: run go mod tidy and commit the result" >&2
	exit 1
fi
# The engine once more with its portable Go kernels only (-tags purego): the
# kernels arm64 and armv7 run, checked here against the same references.
go test -timeout 30m -tags purego "$@" ./engine/...
go test -timeout 30m "$@" ./...
