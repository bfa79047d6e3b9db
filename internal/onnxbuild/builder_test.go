package onnxbuild

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

func TestNodeNames(t *testing.T) {
	b := New(13)
	b.Node("Conv", []string{"x", "w"}, []string{"c0"})
	b.Node("Relu", []string{"c0"}, []string{"r0"})
	b.Node("Conv", []string{"r0", "w"}, []string{"c1"})
	sub := b.Sub("body")
	sub.Node("Conv", []string{"x", "w"}, []string{"s0"})
	sub.Node("Add", []string{"s0", "x"}, []string{"s1"})
	b.Node("Add", []string{"c1", "x"}, []string{"y"})

	var got []string
	for _, n := range b.Graph().Node {
		got = append(got, n.GetName())
	}
	for _, n := range sub.Graph().Node {
		got = append(got, n.GetName())
	}
	want := "Conv_0 Relu_0 Conv_1 Add_1 Conv_2 Add_0"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("node names %q, want %q", s, want)
	}
	if g := sub.Graph(); g.GetName() != "body" {
		t.Errorf("subgraph name %q, want body", g.GetName())
	}
}

func TestNodeCopiesArguments(t *testing.T) {
	b := New(13)
	in := []string{"x", "w"}
	attrs := []*onnx.AttributeProto{AttrInt("group", 1)}
	n := b.Node("Conv", in, []string{"y"}, attrs...)
	in[0] = "changed"
	attrs[0] = AttrInt("axis", 0)
	if n.Input[0] != "x" || n.Attribute[0].GetName() != "group" {
		t.Errorf("node shares the caller's slices: inputs %v, attribute %q", n.Input, n.Attribute[0].GetName())
	}
}

// dimString renders a value's shape as "2,N,?" (? for unknown).
func dimString(v *onnx.ValueInfoProto) string {
	var parts []string
	for _, d := range v.GetType().GetTensorType().GetShape().GetDim() {
		switch x := d.Value.(type) {
		case *onnx.TensorShapeProto_Dimension_DimValue:
			parts = append(parts, strconv.FormatInt(x.DimValue, 10))
		case *onnx.TensorShapeProto_Dimension_DimParam:
			parts = append(parts, x.DimParam)
		default:
			parts = append(parts, "?")
		}
	}
	return strings.Join(parts, ",")
}

func TestValueInfoDims(t *testing.T) {
	b := New(13)
	b.Input("fixed", Float, 2, 3)
	b.Input("unknown", Float, -1, 3)
	b.InputDyn("dyn", Int64, "N", 3, int64(0), -1)
	b.Input("scalar", Bool)
	b.Output("y", Double, 4)
	b.OutputDyn("z", Float16, "batch")
	b.ValueInfo("h", Float, 1, 0)
	g := b.Graph()

	cases := []struct {
		v    *onnx.ValueInfoProto
		name string
		elem onnx.TensorProto_DataType
		dims string
	}{
		{g.Input[0], "fixed", Float, "2,3"},
		{g.Input[1], "unknown", Float, "?,3"},
		{g.Input[2], "dyn", Int64, "N,3,0,?"},
		{g.Input[3], "scalar", Bool, ""},
		{g.Output[0], "y", Double, "4"},
		{g.Output[1], "z", Float16, "batch"},
		{g.ValueInfo[0], "h", Float, "1,0"},
	}
	for _, c := range cases {
		tt := c.v.GetType().GetTensorType()
		if c.v.GetName() != c.name || tt.GetElemType() != int32(c.elem) || dimString(c.v) != c.dims {
			t.Errorf("got %s %v [%s], want %s %v [%s]", c.v.GetName(),
				onnx.TensorProto_DataType(tt.GetElemType()), dimString(c.v), c.name, c.elem, c.dims)
		}
		// A scalar still has a shape, with no dimensions; a missing shape
		// would mean unknown rank.
		if tt.GetShape() == nil {
			t.Errorf("%s: no shape", c.name)
		}
	}
}

func TestInputDynPanicsOnBadDim(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), `"x"`) {
			t.Errorf("recovered %v, want a panic naming input x", r)
		}
	}()
	New(13).InputDyn("x", Float, 1.5)
}

func TestInitPanicsOnLengthMismatch(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), `"w"`) {
			t.Errorf("recovered %v, want a panic naming tensor w", r)
		}
	}()
	New(13).Init("w", []int64{2, 3}, make([]float32, 5))
}

func TestConst(t *testing.T) {
	b := New(13)
	if got := b.Const("w", []int64{2}, []float32{1, 2}); got != "w" {
		t.Errorf("Const returned %q, want w", got)
	}
	g := b.Graph()
	if len(g.Initializer) != 0 || len(g.Node) != 1 {
		t.Fatalf("got %d initializers, %d nodes; want 0, 1", len(g.Initializer), len(g.Node))
	}
	n := g.Node[0]
	if n.GetOpType() != "Constant" || len(n.Input) != 0 || len(n.Output) != 1 || n.Output[0] != "w" {
		t.Errorf("node %s %v → %v, want Constant () → [w]", n.GetOpType(), n.Input, n.Output)
	}
	a := n.Attribute[0]
	if a.GetName() != "value" || a.GetType() != onnx.AttributeProto_TENSOR || !proto.Equal(a.T, Float32Tensor("w", []int64{2}, []float32{1, 2})) {
		t.Errorf("attribute %v, want value = tensor w", a)
	}
}

func TestModel(t *testing.T) {
	b := New(11)
	b.Input("x", Float, 1)
	b.Node("Relu", []string{"x"}, []string{"y"})
	b.Output("y", Float, 1)
	m := b.Model()
	if m.GetIrVersion() != 8 || m.GetProducerName() != "edgeprune-onnxbuild" || len(m.OpsetImport) != 1 ||
		m.OpsetImport[0].GetDomain() != "" || m.OpsetImport[0].GetVersion() != 11 || m.Graph.GetName() != "main" {
		t.Errorf("model header: ir %d, producer %q, opsets %v, graph %q",
			m.GetIrVersion(), m.GetProducerName(), m.OpsetImport, m.Graph.GetName())
	}

	// The model is a copy: editing it leaves the builder alone.
	before := b.Bytes()
	m.Graph.Node[0].OpType = proto.String("Sigmoid")
	m.Graph.Input[0].Name = proto.String("changed")
	if !bytes.Equal(b.Bytes(), before) {
		t.Error("editing the returned model changed the builder")
	}

	var back onnx.ModelProto
	if err := proto.Unmarshal(before, &back); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&back, b.Model()) {
		t.Error("Bytes does not decode to Model")
	}
}

func TestAttrs(t *testing.T) {
	g := &onnx.GraphProto{Name: proto.String("g")}
	tensor := Int64Tensor("t", nil, []int64{7})
	cases := []struct {
		a    *onnx.AttributeProto
		want *onnx.AttributeProto
	}{
		{AttrInt("i", -3), &onnx.AttributeProto{Name: proto.String("i"), Type: onnx.AttributeProto_INT.Enum(), I: proto.Int64(-3)}},
		{AttrInts("is", 1, 2), &onnx.AttributeProto{Name: proto.String("is"), Type: onnx.AttributeProto_INTS.Enum(), Ints: []int64{1, 2}}},
		{AttrFloat("f", 0.5), &onnx.AttributeProto{Name: proto.String("f"), Type: onnx.AttributeProto_FLOAT.Enum(), F: proto.Float32(0.5)}},
		{AttrFloats("fs", 1, 2.5), &onnx.AttributeProto{Name: proto.String("fs"), Type: onnx.AttributeProto_FLOATS.Enum(), Floats: []float32{1, 2.5}}},
		{AttrString("s", "NOTSET"), &onnx.AttributeProto{Name: proto.String("s"), Type: onnx.AttributeProto_STRING.Enum(), S: []byte("NOTSET")}},
		{AttrGraph("g", g), &onnx.AttributeProto{Name: proto.String("g"), Type: onnx.AttributeProto_GRAPH.Enum(), G: g}},
		{AttrTensor("t", tensor), &onnx.AttributeProto{Name: proto.String("t"), Type: onnx.AttributeProto_TENSOR.Enum(), T: tensor}},
	}
	for _, c := range cases {
		if !proto.Equal(c.a, c.want) {
			t.Errorf("got %v, want %v", c.a, c.want)
		}
	}
}
