#!/usr/bin/env bash
# Cross-builds edgeprune (CGO_ENABLED=0) into dist/ for linux/amd64,
# linux/arm64, linux/arm (GOARM=7) and android/arm64, then runs the Linux ARM
# binaries under qemu-user (scripts/setup.sh installs qemu-user-static) on
# real models and checks that `inspect --json` prints byte for byte what the
# amd64 binary prints, and that the engine gives the same bits on 1 and N
# threads there. The android binary is built only: it needs Android's
# dynamic linker to run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cache="${EDGEPRUNE_CACHE:-$HOME/.cache/edgeprune}"

MODELS=(
	../shared/models/mnist/lenet5.onnx
	"$cache/models/ppocr_cls.onnx"
)
for m in "${MODELS[@]}"; do
	[[ -f "$m" ]] || { echo "cross: model $m not found (../shared beside the repo, and scripts/setup.sh for the cache)" >&2; exit 1; }
done

# os arch goarm binary qemu; "-" for none (amd64 runs natively, android not at all)
TARGETS=(
	"linux amd64 - edgeprune-linux-amd64 -"
	"linux arm64 - edgeprune-linux-arm64 qemu-aarch64-static"
	"linux arm 7 edgeprune-linux-armv7 qemu-arm-static"
	"android arm64 - edgeprune-android-arm64 -"
)

mkdir -p dist
for t in "${TARGETS[@]}"; do
	read -r os arch goarm bin _ <<<"$t"
	[[ "$goarm" == - ]] && goarm=
	echo "cross: build dist/$bin"
	CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" GOARM="$goarm" go build -trimpath -o "dist/$bin" ./cmd/edgeprune
done

if [[ "$(go env GOHOSTOS)/$(go env GOHOSTARCH)" != linux/amd64 ]]; then
	echo "cross: the reference binary is linux/amd64; this host is $(go env GOHOSTOS)/$(go env GOHOSTARCH)" >&2
	exit 1
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
fail=0
for m in "${MODELS[@]}"; do
	name="$(basename "$m" .onnx)"
	ref="$out/$name.amd64.json"
	if ! dist/edgeprune-linux-amd64 inspect --json "$m" >"$ref"; then
		echo "cross: FAIL: edgeprune-linux-amd64 inspect --json $m failed" >&2
		fail=1
		continue
	fi
	if ! python3 -c 'import json, sys; json.load(sys.stdin)' <"$ref"; then
		echo "cross: FAIL: edgeprune-linux-amd64 inspect --json $m did not print JSON" >&2
		fail=1
		continue
	fi
	for t in "${TARGETS[@]}"; do
		read -r os _ _ bin qemu <<<"$t"
		[[ "$os" == linux && "$qemu" != - ]] || continue
		command -v "$qemu" >/dev/null || { echo "cross: $qemu not found: run scripts/setup.sh" >&2; exit 1; }
		got="$out/$name.$bin.json"
		if ! "$qemu" "dist/$bin" inspect --json "$m" >"$got"; then
			echo "cross: FAIL: $qemu dist/$bin inspect --json $m failed" >&2
			fail=1
		elif ! diff -u "$ref" "$got" >&2; then
			echo "cross: FAIL: dist/$bin inspect --json $m differs from linux/amd64's (diff above)" >&2
			fail=1
		else
			echo "cross: ok   $bin inspect --json $name ($(wc -c <"$got") bytes) equals amd64's"
		fi
		# The packer promises the same bytes on every architecture (with the
		# same zstd library, which both binaries are built with).
		if ! dist/edgeprune-linux-amd64 pack "$m" -o "$out/$name.amd64.epk" >/dev/null ||
			! "$qemu" "dist/$bin" pack "$m" -o "$out/$name.$bin.epk" >/dev/null; then
			echo "cross: FAIL: pack $m failed" >&2
			fail=1
		elif ! cmp "$out/$name.amd64.epk" "$out/$name.$bin.epk" >&2; then
			echo "cross: FAIL: dist/$bin pack $m differs from linux/amd64's" >&2
			fail=1
		else
			echo "cross: ok   $bin pack $name ($(wc -c <"$out/$name.$bin.epk") bytes) equals amd64's, byte for byte"
		fi
	done
done
# Run the packer's golden tests (the tiny pack, and the content — header and
# decompressed sections — of lossless, fp16, codebook and 2:4 packs) as test
# binaries built for arm64 and armv7, under qemu, from pack/.
for t in "${TARGETS[@]}"; do
	read -r os arch goarm bin qemu <<<"$t"
	[[ "$os" == linux && "$qemu" != - ]] || continue
	[[ "$goarm" == - ]] && goarm=
	CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" GOARM="$goarm" go test -c -o "$out/pack.$bin.test" ./pack
	if (cd pack && "$qemu" "$out/pack.$bin.test" -test.run '^(TestTinyGolden|TestGoldenContent)$' -test.count=1 >"$out/pack.$bin.log" 2>&1) &&
		grep -q '^PASS' "$out/pack.$bin.log"; then
		echo "cross: ok   $bin pack golden content equals amd64's"
	else
		cat "$out/pack.$bin.log" >&2
		echo "cross: FAIL: pack golden tests under $qemu ($bin)" >&2
		fail=1
	fi
done
# calibrate's and build's mechanics on the targets (timings under qemu mean
# nothing): calibrate runs, fits, validates and writes a profile that the
# amd64 binary loads; build runs on that profile and writes a model.
for t in "linux arm64 - edgeprune-linux-arm64 qemu-aarch64-static raspberry-pi-5" "linux arm 7 edgeprune-linux-armv7 qemu-arm-static pi-zero-2w-armv7"; do
	read -r _ _ _ bin qemu prof <<<"$t"
	if "$qemu" "dist/$bin" calibrate ../shared/models/mnist/lenet5.onnx --profile "configs/$prof.yaml" -o "$out/$prof.yaml" \
		--variants 2 --fit-variants 1 --runs 1 >"$out/cal.$bin.log" 2>&1 &&
		dist/edgeprune-linux-amd64 profile check "$out/$prof.yaml" >/dev/null; then
		echo "cross: ok   $bin calibrate lenet5 --profile configs/$prof.yaml wrote a profile that loads"
	else
		cat "$out/cal.$bin.log" >&2
		echo "cross: FAIL: $bin calibrate under $qemu" >&2
		fail=1
		continue
	fi
	# build's mechanics on the target, on the profile its calibrate just wrote:
	# sensitivity on MNIST, the knapsack, verification; exit 0 and a
	# build.json the amd64 binary renders. The budget that binds is the file
	# size (exact, whatever qemu's timings made of the cost model: a latency
	# fraction can be infeasible on a 1-run calibration); latency is
	# predicted, and 10 s does not bind.
	rm -rf "$out/build.$bin"
	if "$qemu" "dist/$bin" build ../shared/models/mnist/lenet5.onnx --profile "$out/$prof.yaml" \
		--budget file_mb=0.8 --budget accuracy=0.05 --budget latency_ms=10000 \
		--data ../shared/data/mnist_test.npz --calib-images 16 --verify-images 64 --measure no -o "$out/build.$bin" >"$out/build.$bin.log" 2>&1 &&
		[[ -f "$out/build.$bin/model.onnx" ]] &&
		dist/edgeprune-linux-amd64 report "$out/build.$bin/build.json" -o "$out/build.$bin.html" >/dev/null; then
		echo "cross: ok   $bin build lenet5 --budget file_mb=0.8 on that profile: $(grep -m1 '^file_mb ' "$out/build.$bin.log" | tr -s ' ')"
	else
		cat "$out/build.$bin.log" >&2
		echo "cross: FAIL: $bin build under $qemu" >&2
		fail=1
	fi
done
# The engine's kernels (NEON on arm64, portable Go on armv7) on 1, 2 and 3
# threads give the same bits (TestThreadsBitwise: lenet5, mobilenet_v3_small, PP-OCR cls and det at a
# small input; TestConvFastPathsMatchReference: every Conv path against the
# reference loop, and 3 threads against 1 bit for bit; the residual Add in
# each path's epilogue against the unfused ops, bit for bit), under qemu.
for t in "${TARGETS[@]}"; do
	read -r os arch goarm bin qemu <<<"$t"
	[[ "$os" == linux && "$qemu" != - ]] || continue
	[[ "$goarm" == - ]] && goarm=
	CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" GOARM="$goarm" go test -c -o "$out/engine.$bin.test" ./engine
	if (cd engine && "$qemu" "$out/engine.$bin.test" -test.run '^(TestThreadsBitwise|TestElementwiseThreads|TestConvFastPathsMatchReference|TestConvResidualEqualsUnfused|TestGemmPackedResidual|TestFusedResidualEqualsUnfused|TestNodeThreads|TestScheduleThreads|TestTunablesFile)$' -test.count=1 -test.v >"$out/engine.$bin.log" 2>&1) &&
		grep -q '^PASS' "$out/engine.$bin.log" && ! grep -q -- '--- SKIP' "$out/engine.$bin.log"; then
		echo "cross: ok   $bin engine outputs on 1, 2 and 3 threads equal bit for bit"
	else
		cat "$out/engine.$bin.log" >&2
		echo "cross: FAIL: engine thread tests under $qemu ($bin)" >&2
		fail=1
	fi
done
# The engine's kernels on arm64 (NEON: sgemm_arm64.s, vec_arm64.s): the kernel
# tests amd64 runs, against the portable Go loops, and whole models against
# ONNX Runtime's outputs, recorded here on amd64 since ORT does not run
# under qemu-user. Then `bench` on the arm64 and armv7 binaries must name the
# kernels they ran. (The arm64 engine test binary is the one built above,
# which has run TestConvFastPathsMatchReference.)
ENGINE_TESTS='TestNEONKernelsSelected|TestKernelsNameActive|TestSgemmMatchesReference|TestGemmPackedEpilogue|TestGemmFewRowsMatchesReference|TestPackB12MatchesReference|TestVecMatchesReference|TestTapRowsMatchesReference|TestTapMaxRowMatchesReference|TestSigmoidMatchesReference|TestMaxPoolPlanesMatchReference|TestFusedActivationEqualsUnfused|TestChainEqualsUnfused|TestRNNTanh|TestRNNMatchesReference|TestSpmm|TestSpmmBlockRuns|TestSpmmMixedRuns|TestSpmv|TestSellSpmv|TestSpmmNEONEveryWidth|TestNEONPartialKernel|TestPackA8MatchesReference|TestSparseMatchesDenseRealModels|TestRealModelsMatchRecordedORT'
mkdir -p "$out/ort"
# Pruned models for the sparse kernels (spmm neon) against ORT, run with
# every eligible weight sparse: mobilenet_v2 at 90% in every layer (as Fast
# Sparse ConvNets prune), ppocr_cls at 70% global magnitude and at 90% in
# 4×1 blocks (four rows sharing columns: spmmGroup4). At 90% global both
# collapse (outputs independent of the input), which the test refuses.
sparse_models=
for t in "mobilenet_v2 ../shared/models/tv/mobilenet_v2.onnx --sparsity 0.9 --scope layer" \
	"ppocr_cls $cache/models/ppocr_cls.onnx --sparsity 0.7 --scope global" \
	"ppocr_cls $cache/models/ppocr_cls.onnx --sparsity 0.9 --pattern block=4x1"; do
	read -r name src args <<<"$t"
	dst="$out/${name}_$(echo "$args" | tr -cd 'a-z0-9.=').onnx"
	# shellcheck disable=SC2086 # args are words
	if ! dist/edgeprune-linux-amd64 prune "$src" -o "$dst" $args >/dev/null; then
		echo "cross: FAIL: prune $src $args" >&2
		fail=1
	fi
	sparse_models="${sparse_models:+$sparse_models,}$name=$(realpath "$dst")"
done
export EDGEPRUNE_RECORD_SPARSE="$sparse_models"
if ! EDGEPRUNE_RECORD_ORT="$out/ort" go test -count=1 -run '^TestRecordORTOutputs$' ./engine >"$out/record.log" 2>&1; then
	cat "$out/record.log" >&2
	echo "cross: FAIL: recording ONNX Runtime outputs for the arm64 engine check" >&2
	fail=1
fi
if (cd engine && EDGEPRUNE_RECORDED_ORT="$out/ort" qemu-aarch64-static "$out/engine.edgeprune-linux-arm64.test" -test.run "^($ENGINE_TESTS)\$" -test.count=1 -test.v >"$out/engine.arm64.log" 2>&1) &&
	grep -q '^PASS' "$out/engine.arm64.log" && ! grep -q -- '--- SKIP' "$out/engine.arm64.log"; then
	grep 'kernels:\|against ORT\|sparse kernels' "$out/engine.arm64.log" | sed 's/^ */cross: ok   arm64 /'
	echo "cross: ok   arm64 NEON kernel tests and whole models (lenet5, mobilenet_v2, ppocr_cls; pruned mobilenet_v2 and ppocr_cls on the sparse kernels, sparse vs dense on lenet300/lenet5) within 1e-4 of ORT"
else
	cat "$out/engine.arm64.log" >&2
	echo "cross: FAIL: engine kernel tests under qemu-aarch64-static" >&2
	fail=1
fi
for t in "linux-arm64 qemu-aarch64-static sgemm neon-8x12, elementwise neon, taps neon, sigmoid neon, spmm neon" "linux-armv7 qemu-arm-static sgemm go-4x4, elementwise go, taps go"; do
	read -r bin qemu want <<<"$t"
	got="$("$qemu" "dist/edgeprune-$bin" bench ../shared/models/mnist/lenet5.onnx --runs 1 --warmup 0 2>&1 | grep '^kernels' || true)"
	if [[ "$got" == *"$want"* ]]; then
		echo "cross: ok   $bin bench prints: $got"
	else
		echo "cross: FAIL: $bin bench: kernels line \"$got\", want \"$want\"" >&2
		fail=1
	fi
done
if ((fail)); then
	echo "cross: FAILED" >&2
	exit 1
fi
echo "cross: ok"
