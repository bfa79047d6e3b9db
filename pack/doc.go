// Package pack is edgeprune's container for shipping pruned ONNX models: a
// small, self-describing, checksummed file (".epk") that unpacks bit-exactly
// (or, with an opt-in lossy value code, to float32 weights holding the decoded
// values) into the ONNX model it was made from.
//
// The format is specified byte by byte in docs/pack-format.md. In short: the
// ONNX protobuf with every parameter payload taken out (the skeleton) is
// stored zstd-compressed; each payload is stored dense, as CSR positions
// (delta-coded gaps), as a bitmap, or as N:M positions along a stated axis —
// the formats of package sparse, through which pack encodes and validates
// them — whichever compresses smallest (N:M when it is nearly so), with
// index and value streams kept apart and values split into
// byte planes, all payloads' streams of one kind grouped into one zstd frame
// (github.com/klauspost/compress/zstd, RFC 8878). Every section and the whole
// file carry a CRC-32C.
//
// [NewWriter] packs a model; [NewReader] reads one back, enforcing
// [ReadLimits] before allocating, either into memory ([Reader.ReadModel]) or
// streamed to an ONNX file without holding the model ([Reader.WriteONNX],
// docs/pack-format.md "Writing the ONNX file without holding the model");
// [ReadHeader] reads only the header.
// Output is deterministic: the same model and options give the same bytes on
// every architecture.
package pack
