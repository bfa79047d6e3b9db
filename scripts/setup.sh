#!/usr/bin/env bash
# Installs what edgeprune's tests, benchmarks and cross-architecture checks
# need on a Debian 12 machine, as root: Debian packages (qemu-user-static,
# python3-onnx, zstd, xz-utils, chromium for the build report test), ONNX Runtime for node (onnxruntime-node, the
# test oracle) in ${EDGEPRUNE_CACHE:-$HOME/.cache/edgeprune}/ort, the PP-OCR
# test models (scripts/fetch-models.sh), and the Go module dependencies.
# Idempotent, and fast when everything is present. node and npm must already
# be installed.
set -euo pipefail

ORT_VERSION=1.30.0
APT_PACKAGES=(qemu-user-static python3-onnx zstd xz-utils chromium)
NODE_MIN_MAJOR=18

cd "$(dirname "${BASH_SOURCE[0]}")/.."
cache="${EDGEPRUNE_CACHE:-$HOME/.cache/edgeprune}"

# Debian packages.
missing=()
for p in "${APT_PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if ((${#missing[@]})); then
	echo "setup: apt-get install ${missing[*]}"
	sudo=()
	if [[ "$(id -u)" != 0 ]]; then
		sudo=(sudo)
	fi
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -qq
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# node and npm: preinstalled, not installed here.
for tool in node npm; do
	command -v "$tool" >/dev/null || { echo "setup: $tool not found on PATH: install Node.js ${NODE_MIN_MAJOR} or newer (with npm)" >&2; exit 1; }
done
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if ((node_major < NODE_MIN_MAJOR)); then
	echo "setup: node $(node --version) is too old: onnxruntime-node $ORT_VERSION needs ${NODE_MIN_MAJOR} or newer" >&2
	exit 1
fi

# ONNX Runtime for node. --ignore-scripts: the CPU libraries ship inside the
# package; its install script would only try to download GPU ones.
ort="$cache/ort"
ort_pkg="$ort/node_modules/onnxruntime-node"
installed="$(node -p 'try { require(process.argv[1] + "/package.json").version } catch { "" }' "$ort_pkg")"
if [[ "$installed" != "$ORT_VERSION" ]]; then
	echo "setup: npm install onnxruntime-node@$ORT_VERSION into $ort"
	mkdir -p "$ort"
	if [[ ! -f "$ort/package.json" ]]; then
		printf '{\n  "name": "edgeprune-ort",\n  "private": true\n}\n' >"$ort/package.json"
	fi
	(cd "$ort" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error --save-exact "onnxruntime-node@$ORT_VERSION")
fi
# Load the native binding once: fails here, clearly, rather than in every test.
node -e 'require(process.argv[1])' "$ort_pkg" || { echo "setup: onnxruntime-node in $ort_pkg does not load on this machine" >&2; exit 1; }

scripts/fetch-models.sh

command -v go >/dev/null || { echo "setup: go not found on PATH" >&2; exit 1; }
go mod download
echo "setup: ok (cache $cache)"
