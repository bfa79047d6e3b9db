package onnxio

import "fmt"

// Limits bound what a read may allocate. Every count, dimension and length
// taken from the input is checked against them before allocating.
// A zero field means the default.
type Limits struct {
	// MaxModelBytes caps the size of the .onnx file itself (default 2 GiB,
	// protobuf's own limit).
	MaxModelBytes int64
	// MaxTensorBytes caps the payload of any one tensor, inline or
	// external (default 4 GiB).
	MaxTensorBytes int64
	// MaxExternalBytes caps the external data loaded in total (default 16 GiB).
	MaxExternalBytes int64
	// MaxDims caps the rank of a tensor (default 32).
	MaxDims int
	// MaxGraphDepth caps the nesting of subgraphs (default 64).
	MaxGraphDepth int
}

// DefaultLimits are used for zero fields of Limits.
var DefaultLimits = Limits{
	MaxModelBytes:    2 << 30,
	MaxTensorBytes:   4 << 30,
	MaxExternalBytes: 16 << 30,
	MaxDims:          32,
	MaxGraphDepth:    64,
}

func (l Limits) withDefaults() Limits {
	if l.MaxModelBytes == 0 {
		l.MaxModelBytes = DefaultLimits.MaxModelBytes
	}
	if l.MaxTensorBytes == 0 {
		l.MaxTensorBytes = DefaultLimits.MaxTensorBytes
	}
	if l.MaxExternalBytes == 0 {
		l.MaxExternalBytes = DefaultLimits.MaxExternalBytes
	}
	if l.MaxDims == 0 {
		l.MaxDims = DefaultLimits.MaxDims
	}
	if l.MaxGraphDepth == 0 {
		l.MaxGraphDepth = DefaultLimits.MaxGraphDepth
	}
	return l
}

func (l Limits) validate() error {
	if l.MaxModelBytes < 0 || l.MaxTensorBytes < 0 || l.MaxExternalBytes < 0 || l.MaxDims < 0 || l.MaxGraphDepth < 0 {
		return fmt.Errorf("onnxio: limits must not be negative: %+v", l)
	}
	return nil
}
