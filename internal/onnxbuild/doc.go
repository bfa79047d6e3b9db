// Package onnxbuild builds small ONNX models in code, for hermetic tests.
//
// A [Builder] assembles one graph of the ONNX IR
// (https://github.com/onnx/onnx/blob/main/docs/IR.md) out of the protobuf
// types of github.com/edgeprune/edgeprune/onnxio/onnxpb: graph inputs and
// outputs, initializers, Constant nodes and operator nodes
// (https://onnx.ai/onnx/operators/). Nodes get deterministic names (Conv_0,
// Conv_1, Relu_0, ...), and the same calls always marshal to the same bytes.
//
// On top of the builder the package offers canned models (see
// [CannedModels]) that cover the shapes pruning and runtime tests care about
// — residual adds, depthwise convolutions, squeeze-and-excitation, channel
// concatenation, If subgraphs with their own weights, Constant-node weights
// as paddle2onnx exports them, float16 and float64 initializers — and
// [WriteWithExternalData] for fixtures whose weights live in a side file.
//
// Misuse of the builder (a data length that does not match its shape, an
// unsupported dimension type) is a programmer error and panics; nothing here
// reads untrusted input.
//
// The golden copies of the canned models in testdata/models at the
// repository root are refreshed with
//
//	go test ./internal/onnxbuild -update
package onnxbuild
