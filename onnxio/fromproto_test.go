package onnxio

import (
	"errors"
	"testing"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

func TestFromProto(t *testing.T) {
	good := &onnx.ModelProto{Graph: &onnx.GraphProto{Initializer: []*onnx.TensorProto{
		{Name: proto.String("w"), DataType: proto.Int32(int32(Float)), Dims: []int64{2}, FloatData: []float32{1, 2}},
	}}}
	m, err := FromProto(good)
	if err != nil {
		t.Fatal(err)
	}
	if m.Proto != good || len(m.Params()) != 1 {
		t.Fatalf("FromProto: model does not wrap the proto: %d params", len(m.Params()))
	}
	short := &onnx.ModelProto{Graph: &onnx.GraphProto{Initializer: []*onnx.TensorProto{
		{Name: proto.String("w"), DataType: proto.Int32(int32(Float)), Dims: []int64{3}, FloatData: []float32{1, 2}},
	}}}
	if _, err := FromProto(short); !errors.Is(err, ErrMalformed) {
		t.Fatalf("payload shorter than shape: err = %v, want ErrMalformed", err)
	}
	if _, err := FromProto(&onnx.ModelProto{}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("no graph: err = %v, want ErrMalformed", err)
	}
	big := &onnx.ModelProto{Graph: &onnx.GraphProto{Initializer: []*onnx.TensorProto{
		{Name: proto.String("w"), DataType: proto.Int32(int32(Float)), Dims: []int64{1 << 20}},
	}}}
	if _, err := FromProto(big, WithLimits(Limits{MaxTensorBytes: 1024})); !errors.Is(err, ErrLimit) {
		t.Fatalf("tensor over MaxTensorBytes: err = %v, want ErrLimit", err)
	}
}
