package engine

import (
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// attrMap makes builder attributes from ints (and an optional auto_pad).
func attrMap(ints map[string][]int64, autoPad string) map[string]*onnx.AttributeProto {
	m := map[string]*onnx.AttributeProto{}
	for k, v := range ints {
		if k == "group" {
			m[k] = &onnx.AttributeProto{Name: proto.String(k), I: proto.Int64(v[0]), Type: onnx.AttributeProto_INT.Enum()}
			continue
		}
		m[k] = &onnx.AttributeProto{Name: proto.String(k), Ints: v, Type: onnx.AttributeProto_INTS.Enum()}
	}
	if autoPad != "" {
		m["auto_pad"] = &onnx.AttributeProto{Name: proto.String("auto_pad"), S: []byte(autoPad), Type: onnx.AttributeProto_STRING.Enum()}
	}
	return m
}
