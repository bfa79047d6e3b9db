package engine

import (
	"github.com/advancedclimatesystems/gonnx/onnx"
)

// attrMap makes builder attributes from ints (and an optional auto_pad).
func attrMap(ints map[string][]int64, autoPad string) map[string]*onnx.AttributeProto {
	m := map[string]*onnx.AttributeProto{}
	for k, v := range ints {
		if k == "group" {
			m[k] = &onnx.AttributeProto{Name: k, I: v[0], Type: onnx.AttributeProto_INT}
			continue
		}
		m[k] = &onnx.AttributeProto{Name: k, Ints: v, Type: onnx.AttributeProto_INTS}
	}
	if autoPad != "" {
		m["auto_pad"] = &onnx.AttributeProto{Name: "auto_pad", S: []byte(autoPad), Type: onnx.AttributeProto_STRING}
	}
	return m
}
