// Package enginetest runs the ONNX backend conformance tests exported by
// onnx-go (github.com/owulveryck/onnx-go/backend/testbackend/onnx: the node
// tests of the ONNX repository, each a tiny model with inputs and expected
// outputs) against edgeprune's engine, and generates docs/ops.md from the
// results (go test ./engine/enginetest -update).
//
// It lives in its own package because onnx-go registers the same protobuf
// message names as the gonnx types edgeprune uses: the test models are
// handed over as bytes and decoded by onnxio, and the test binary runs with
// GOLANG_PROTOBUF_REGISTRATION_CONFLICT=warn (scripts/test.sh sets it).
package enginetest
