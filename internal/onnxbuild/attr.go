package onnxbuild

import (
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// AttrInt returns an INT attribute.
func AttrInt(name string, v int64) *onnx.AttributeProto {
	return &onnx.AttributeProto{Name: proto.String(name), Type: onnx.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

// AttrInts returns an INTS attribute, such as AttrInts("pads", 1, 1, 1, 1).
func AttrInts(name string, v ...int64) *onnx.AttributeProto {
	return &onnx.AttributeProto{Name: proto.String(name), Type: onnx.AttributeProto_INTS.Enum(), Ints: append([]int64(nil), v...)}
}

// AttrFloat returns a FLOAT attribute.
func AttrFloat(name string, v float32) *onnx.AttributeProto {
	return &onnx.AttributeProto{Name: proto.String(name), Type: onnx.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

// AttrFloats returns a FLOATS attribute.
func AttrFloats(name string, v ...float32) *onnx.AttributeProto {
	return &onnx.AttributeProto{Name: proto.String(name), Type: onnx.AttributeProto_FLOATS.Enum(), Floats: append([]float32(nil), v...)}
}

// AttrString returns a STRING attribute.
func AttrString(name, v string) *onnx.AttributeProto {
	return &onnx.AttributeProto{Name: proto.String(name), Type: onnx.AttributeProto_STRING.Enum(), S: []byte(v)}
}

// AttrGraph returns a GRAPH attribute, such as the then_branch of an If
// node built with [Builder.Sub].
func AttrGraph(name string, g *onnx.GraphProto) *onnx.AttributeProto {
	return &onnx.AttributeProto{Name: proto.String(name), Type: onnx.AttributeProto_GRAPH.Enum(), G: g}
}

// AttrTensor returns a TENSOR attribute, such as the value of a Constant.
func AttrTensor(name string, t *onnx.TensorProto) *onnx.AttributeProto {
	return &onnx.AttributeProto{Name: proto.String(name), Type: onnx.AttributeProto_TENSOR.Enum(), T: t}
}

// AttrStrings returns a STRINGS attribute, such as an LSTM's activations.
func AttrStrings(name string, v ...string) *onnx.AttributeProto {
	a := &onnx.AttributeProto{Name: proto.String(name), Type: onnx.AttributeProto_STRINGS.Enum()}
	for _, s := range v {
		a.Strings = append(a.Strings, []byte(s))
	}
	return a
}
