package onnxio

import (
	"fmt"
	"os"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// ReadTensorFile reads one serialized TensorProto, as the input_N.pb and
// output_N.pb files of ONNX test_data_set_N directories hold. The file size
// is checked against Limits.MaxTensorBytes (default 4 GiB) before reading.
func ReadTensorFile(path string, opts ...ReadOption) (*onnx.TensorProto, error) {
	c, err := newReadConfig(opts)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	if st.Size() > c.limits.MaxTensorBytes+1<<20 {
		return nil, &FileError{Path: path, Err: fmt.Errorf("%w: %d bytes > MaxTensorBytes", ErrLimit, st.Size())}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	t := &onnx.TensorProto{}
	if err := proto.Unmarshal(raw, t); err != nil {
		return nil, &FileError{Path: path, Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
	}
	if len(t.GetDims()) > c.limits.MaxDims {
		return nil, &FileError{Path: path, Err: fmt.Errorf("%w: rank %d", ErrLimit, len(t.GetDims()))}
	}
	return t, nil
}
