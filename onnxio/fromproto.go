package onnxio

import (
	"fmt"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// FromProto wraps a ModelProto built or decoded elsewhere (for example by a
// container format that stores payloads separately) as a Model, after the
// same checks Decode makes: a graph is present and every stored tensor's
// rank, dimensions and payload length agree with its declared shape and
// the limits. External data is not loaded: the model has no base directory.
func FromProto(mp *onnx.ModelProto, opts ...ReadOption) (*Model, error) {
	c, err := newReadConfig(opts)
	if err != nil {
		return nil, err
	}
	if mp.GetGraph() == nil {
		return nil, fmt.Errorf("%w: model has no graph", ErrMalformed)
	}
	if err := validateTensors(mp, c.limits); err != nil {
		return nil, err
	}
	return &Model{Proto: mp}, nil
}
