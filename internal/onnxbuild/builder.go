package onnxbuild

import (
	"fmt"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Element types used most often, as shorthands for the onnx enum values.
const (
	Float   = onnx.TensorProto_FLOAT
	Float16 = onnx.TensorProto_FLOAT16
	Double  = onnx.TensorProto_DOUBLE
	Int64   = onnx.TensorProto_INT64
	Bool    = onnx.TensorProto_BOOL
)

// Defaults written into every model by [Builder.Model].
const (
	IRVersion = 8 // ONNX IR version 8 (onnx 1.10 and later)
	Producer  = "edgeprune-onnxbuild"
)

// Builder assembles one ONNX graph. The zero value is not usable; start with
// [New], and use [Builder.Sub] for the bodies of If and Loop nodes.
//
// Every method appends to the graph in call order, so the same sequence of
// calls yields the same model.
type Builder struct {
	opset int64
	graph *onnx.GraphProto
	// counts holds the next index per op type for node names. Sub-builders
	// share their parent's map, so names are unique across the whole model.
	counts map[string]int
}

// New returns a builder for a model importing the default ONNX domain at
// the given opset version. The main graph is named "main".
func New(opset int64) *Builder {
	return &Builder{
		opset:  opset,
		graph:  &onnx.GraphProto{Name: proto.String("main")},
		counts: map[string]int{},
	}
}

// Sub returns a builder for a subgraph named name, for an If branch or a
// Loop body. Finish it with [Builder.Graph] and attach it with [AttrGraph].
// Node names continue the parent's numbering. A subgraph may use values of
// the enclosing graphs by name.
func (b *Builder) Sub(name string) *Builder {
	return &Builder{
		opset:  b.opset,
		graph:  &onnx.GraphProto{Name: proto.String(name)},
		counts: b.counts,
	}
}

// Input declares a graph input with fixed dimensions; a negative dimension
// is declared as unknown (neither value nor name). No dims means a scalar.
// It returns name.
func (b *Builder) Input(name string, elem onnx.TensorProto_DataType, dims ...int64) string {
	b.graph.Input = append(b.graph.Input, valueInfo(name, elem, int64Dims(dims)))
	return name
}

// InputDyn declares a graph input whose dimensions may be symbolic: each dim
// is an int or int64 (a fixed size; negative means unknown) or a string (a
// dim_param such as "N"). It panics on any other type. It returns name.
//
//	b.InputDyn("x", onnxbuild.Float, "N", 16)
func (b *Builder) InputDyn(name string, elem onnx.TensorProto_DataType, dims ...any) string {
	b.graph.Input = append(b.graph.Input, valueInfo(name, elem, dims))
	return name
}

// Output declares a graph output, with dims as for [Builder.Input].
func (b *Builder) Output(name string, elem onnx.TensorProto_DataType, dims ...int64) {
	b.graph.Output = append(b.graph.Output, valueInfo(name, elem, int64Dims(dims)))
}

// OutputDyn declares a graph output, with dims as for [Builder.InputDyn].
func (b *Builder) OutputDyn(name string, elem onnx.TensorProto_DataType, dims ...any) {
	b.graph.Output = append(b.graph.Output, valueInfo(name, elem, dims))
}

// ValueInfo records the type and shape of an intermediate value in the
// graph's value_info, with dims as for [Builder.Input].
func (b *Builder) ValueInfo(name string, elem onnx.TensorProto_DataType, dims ...int64) {
	b.graph.ValueInfo = append(b.graph.ValueInfo, valueInfo(name, elem, int64Dims(dims)))
}

// Init adds a float32 initializer stored as raw_data and returns its name.
// It panics if len(data) is not the product of shape.
func (b *Builder) Init(name string, shape []int64, data []float32) string {
	return b.InitTensor(Float32Tensor(name, shape, data))
}

// InitInt64 adds an int64 initializer stored as raw_data, such as the shape
// operand of a Reshape, and returns its name.
func (b *Builder) InitInt64(name string, shape []int64, data []int64) string {
	return b.InitTensor(Int64Tensor(name, shape, data))
}

// InitTensor adds t as an initializer and returns its name. The builder
// keeps t; do not modify it afterwards.
func (b *Builder) InitTensor(t *onnx.TensorProto) string {
	b.graph.Initializer = append(b.graph.Initializer, t)
	return t.GetName()
}

// Const adds a Constant node whose value attribute holds a float32 tensor,
// the way paddle2onnx exports weights, and returns name, the node's output.
func (b *Builder) Const(name string, shape []int64, data []float32) string {
	return b.ConstTensor(Float32Tensor(name, shape, data))
}

// ConstTensor adds a Constant node whose value attribute is t and whose
// output is t.Name, and returns that name.
func (b *Builder) ConstTensor(t *onnx.TensorProto) string {
	b.Node("Constant", nil, []string{t.GetName()}, AttrTensor("value", t))
	return t.GetName()
}

// Node appends a node of the default domain named <opType>_<k>, where k
// counts the earlier nodes of that type in this model, and returns it so
// the caller can adjust it (rename it, set a domain). An empty string in
// inputs is an omitted optional input.
func (b *Builder) Node(opType string, inputs, outputs []string, attrs ...*onnx.AttributeProto) *onnx.NodeProto {
	k := b.counts[opType]
	b.counts[opType] = k + 1
	n := &onnx.NodeProto{
		Name:      proto.String(fmt.Sprintf("%s_%d", opType, k)),
		OpType:    proto.String(opType),
		Input:     append([]string(nil), inputs...),
		Output:    append([]string(nil), outputs...),
		Attribute: append([]*onnx.AttributeProto(nil), attrs...),
	}
	b.graph.Node = append(b.graph.Node, n)
	return n
}

// Graph returns a copy of the graph built so far.
func (b *Builder) Graph() *onnx.GraphProto {
	return proto.Clone(b.graph).(*onnx.GraphProto)
}

// Model returns a model holding a copy of the graph built so far, with IR
// version [IRVersion], producer [Producer] and the builder's opset of the
// default domain. Edit the returned proto to change any of these.
func (b *Builder) Model() *onnx.ModelProto {
	return &onnx.ModelProto{
		IrVersion:    proto.Int64(IRVersion),
		ProducerName: proto.String(Producer),
		OpsetImport:  []*onnx.OperatorSetIdProto{{Version: proto.Int64(b.opset)}},
		Graph:        b.Graph(),
	}
}

// Bytes returns the serialized [Builder.Model].
func (b *Builder) Bytes() []byte {
	return Marshal(b.Model())
}

// Marshal serializes m deterministically. It panics if m cannot be
// marshaled, which only happens for protos holding invalid UTF-8 strings.
func Marshal(m *onnx.ModelProto) []byte {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic("onnxbuild: " + err.Error())
	}
	return data
}

func int64Dims(dims []int64) []any {
	out := make([]any, len(dims))
	for i, d := range dims {
		out[i] = d
	}
	return out
}

func valueInfo(name string, elem onnx.TensorProto_DataType, dims []any) *onnx.ValueInfoProto {
	shape := &onnx.TensorShapeProto{Dim: make([]*onnx.TensorShapeProto_Dimension, len(dims))}
	for i, d := range dims {
		dim := &onnx.TensorShapeProto_Dimension{}
		switch d := d.(type) {
		case int:
			if d >= 0 {
				dim.Value = &onnx.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}
			}
		case int64:
			if d >= 0 {
				dim.Value = &onnx.TensorShapeProto_Dimension_DimValue{DimValue: d}
			}
		case string:
			dim.Value = &onnx.TensorShapeProto_Dimension_DimParam{DimParam: d}
		default:
			panic(fmt.Sprintf("onnxbuild: dimension %d of %q has type %T, want int, int64 or string", i, name, d))
		}
		shape.Dim[i] = dim
	}
	return &onnx.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnx.TypeProto{Value: &onnx.TypeProto_TensorType{
			TensorType: &onnx.TypeProto_Tensor{ElemType: proto.Int32(int32(elem)), Shape: shape},
		}},
	}
}
