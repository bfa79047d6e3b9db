// Package enginetest runs the ONNX backend conformance tests exported by
// onnx-go (github.com/owulveryck/onnx-go/backend/testbackend/onnx: the node
// tests of the ONNX repository, each a tiny model with inputs and expected
// outputs) against edgeprune's engine, and generates docs/ops.md from the
// results (go test ./engine/enginetest -update).
//
// It lives in its own package so that onnx-go, with its own copy of the
// ONNX protobuf schema (package onnx), stays out of every other test binary.
// The test models are handed over as bytes and decoded by onnxio, whose
// schema (onnxio/onnxpb) is registered under a package of its own,
// edgeprune.onnx: the two never clash and plain go test runs it.
package enginetest
