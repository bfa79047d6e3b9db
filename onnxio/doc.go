// Package onnxio turns ONNX bytes into a model and back, losslessly, and
// gives a uniform view over every numeric tensor the model stores.
//
// A [Model] wraps the ONNX ModelProto (ONNX IR, https://onnx.ai/onnx/repo-docs/IR.html)
// as decoded by google.golang.org/protobuf with the proto2 types of
// [github.com/edgeprune/edgeprune/onnxio/onnxpb], generated from ONNX's own
// onnx-ml.proto: field presence is kept, so a field written with its default
// value survives a read and write. Fields this schema does not know (newer IR
// versions) are kept as unknown fields and written back untouched.
//
// Weights live in three places in real exports: graph initializers, the
// `value` attribute of Constant nodes (paddle2onnx keeps every weight there),
// and the same two inside subgraphs (If/Loop/Scan bodies, to any depth).
// [Model.Params] lists all of them as [Param]s with a stable ID, the consuming
// nodes and input slots, and a zero-copy []float32 view for float32 data.
//
// External data (IR "data_location: EXTERNAL") is loaded relative to the
// model's directory with path and range checks; large models are written with
// external data. Reading checks every size against [Limits] before allocating,
// and malformed input yields typed errors wrapping [ErrMalformed], never a panic.
// [ReadInfo] reads the header, opsets, inputs/outputs and op histogram without
// decoding weight payloads.
package onnxio
