package ortoracle

import (
	"os"
	"path/filepath"
	"testing"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Tiny models built by hand for the oracle's own tests.

// dim is a test shape dimension: an int64 size or a string symbol.
type dim any

func valueInfo(name string, elem onnx.TensorProto_DataType, dims ...dim) *onnx.ValueInfoProto {
	shape := &onnx.TensorShapeProto{Dim: []*onnx.TensorShapeProto_Dimension{}}
	for _, d := range dims {
		var v *onnx.TensorShapeProto_Dimension
		switch d := d.(type) {
		case int:
			v = &onnx.TensorShapeProto_Dimension{Value: &onnx.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}}
		case string:
			v = &onnx.TensorShapeProto_Dimension{Value: &onnx.TensorShapeProto_Dimension_DimParam{DimParam: d}}
		default:
			panic("valueInfo: dim must be int or string")
		}
		shape.Dim = append(shape.Dim, v)
	}
	return &onnx.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnx.TypeProto{Value: &onnx.TypeProto_TensorType{TensorType: &onnx.TypeProto_Tensor{
			ElemType: proto.Int32(int32(elem)),
			Shape:    shape,
		}}},
	}
}

// writeModel writes graph as an opset-13 model in a temporary directory and
// returns its path.
func writeModel(t *testing.T, graph *onnx.GraphProto) string {
	t.Helper()
	m := &onnx.ModelProto{
		IrVersion:    proto.Int64(8),
		ProducerName: proto.String("edgeprune ortoracle test"),
		OpsetImport:  []*onnx.OperatorSetIdProto{{Version: proto.Int64(13)}},
		Graph:        graph,
	}
	raw, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), graph.GetName()+".onnx")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// addOneModel is y = x + one, x and y float32 [batch, 3], one an initializer.
func addOneModel(t *testing.T) string {
	return writeModel(t, &onnx.GraphProto{
		Name: proto.String("add_one"),
		Node: []*onnx.NodeProto{{Name: proto.String("add"), OpType: proto.String("Add"), Input: []string{"x", "one"}, Output: []string{"y"}}},
		Initializer: []*onnx.TensorProto{{
			Name: proto.String("one"), DataType: proto.Int32(int32(onnx.TensorProto_FLOAT)), Dims: []int64{1}, FloatData: []float32{1},
		}},
		Input:  []*onnx.ValueInfoProto{valueInfo("x", onnx.TensorProto_FLOAT, "batch", 3)},
		Output: []*onnx.ValueInfoProto{valueInfo("y", onnx.TensorProto_FLOAT, "batch", 3)},
	})
}

// identityCase is one input of identityModel: name, ONNX type, oracle dtype.
type identityCase struct {
	name  string
	elem  onnx.TensorProto_DataType
	dtype string
}

var identityCases = []identityCase{
	{"f32", onnx.TensorProto_FLOAT, DTypeFloat32},
	{"f64", onnx.TensorProto_DOUBLE, DTypeFloat64},
	{"i64", onnx.TensorProto_INT64, DTypeInt64},
	{"i32", onnx.TensorProto_INT32, DTypeInt32},
	{"i8", onnx.TensorProto_INT8, DTypeInt8},
	{"u8", onnx.TensorProto_UINT8, DTypeUint8},
	{"b", onnx.TensorProto_BOOL, DTypeBool},
	{"f16", onnx.TensorProto_FLOAT16, DTypeFloat16},
}

// identityModel passes each identityCase input <name> through Identity to
// output <name>_out; all have dynamic shapes of rank 2.
func identityModel(t *testing.T) string {
	g := &onnx.GraphProto{Name: proto.String("identities")}
	for _, c := range identityCases {
		g.Node = append(g.Node, &onnx.NodeProto{Name: proto.String(c.name), OpType: proto.String("Identity"), Input: []string{c.name}, Output: []string{c.name + "_out"}})
		g.Input = append(g.Input, valueInfo(c.name, c.elem, "r", "c"))
		g.Output = append(g.Output, valueInfo(c.name+"_out", c.elem, "r", "c"))
	}
	return writeModel(t, g)
}
