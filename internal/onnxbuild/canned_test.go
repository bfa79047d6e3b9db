package onnxbuild

import (
	"bytes"
	"slices"
	"testing"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

func TestCannedDeterministic(t *testing.T) {
	for _, c := range CannedModels() {
		if !bytes.Equal(Marshal(c.Build()), Marshal(c.Build())) {
			t.Errorf("%s: two builds marshal differently", c.Name)
		}
	}
}

// checkScopes reports node inputs that no graph input, initializer, earlier
// node output or enclosing scope defines, values defined twice, and
// repeated node names, in g and its subgraphs.
func checkScopes(t *testing.T, model string, g *onnx.GraphProto, outer map[string]bool, nodeNames map[string]bool) {
	t.Helper()
	defined := map[string]bool{}
	define := func(name string) {
		if defined[name] || outer[name] {
			t.Errorf("%s: graph %s: %q defined twice", model, g.GetName(), name)
		}
		defined[name] = true
	}
	visible := func(name string) bool { return name == "" || defined[name] || outer[name] }
	for _, v := range g.Input {
		define(v.GetName())
	}
	for _, init := range g.Initializer {
		define(init.GetName())
	}
	for _, n := range g.Node {
		if nodeNames[n.GetName()] {
			t.Errorf("%s: node name %q repeated", model, n.GetName())
		}
		nodeNames[n.GetName()] = true
		for _, in := range n.Input {
			if !visible(in) {
				t.Errorf("%s: node %s reads %q before it is defined", model, n.GetName(), in)
			}
		}
		for _, a := range n.Attribute {
			if a.G != nil {
				inner := map[string]bool{}
				for k := range outer {
					inner[k] = true
				}
				for k := range defined {
					inner[k] = true
				}
				checkScopes(t, model, a.G, inner, nodeNames)
			}
		}
		for _, out := range n.Output {
			define(out)
		}
	}
	for _, v := range g.Output {
		if !visible(v.GetName()) {
			t.Errorf("%s: graph %s: output %q is never defined", model, g.GetName(), v.GetName())
		}
	}
}

func TestCannedStructure(t *testing.T) {
	for _, c := range CannedModels() {
		m := c.Build()
		g := m.Graph
		if len(g.Input) != 1 || g.Input[0].GetName() != "x" || g.Input[0].Type.GetTensorType().GetElemType() != int32(Float) {
			t.Errorf("%s: inputs %v, want one float input x", c.Name, g.Input)
		}
		if len(g.Output) != 1 || g.Output[0].GetName() != "y" || g.Output[0].Type.GetTensorType().GetElemType() != int32(Float) {
			t.Errorf("%s: outputs %v, want one float output y", c.Name, g.Output)
		}
		if m.OpsetImport[0].GetVersion() != CannedOpset {
			t.Errorf("%s: opset %d, want %d", c.Name, m.OpsetImport[0].GetVersion(), CannedOpset)
		}
		checkScopes(t, c.Name, g, map[string]bool{}, map[string]bool{})
	}
}

// ops returns the op types of g's nodes, in order, without subgraphs.
func ops(g *onnx.GraphProto) []string {
	var out []string
	for _, n := range g.Node {
		out = append(out, n.GetOpType())
	}
	return out
}

// initTypes returns the data types of g's initializers.
func initTypes(g *onnx.GraphProto) []onnx.TensorProto_DataType {
	var out []onnx.TensorProto_DataType
	for _, t := range g.Initializer {
		out = append(out, onnx.TensorProto_DataType(t.GetDataType()))
	}
	return out
}

// TestCannedFeatures checks that each model still has what it exists for.
func TestCannedFeatures(t *testing.T) {
	cases := []struct {
		name  string
		build func() *onnx.ModelProto
		ops   []string
		types []onnx.TensorProto_DataType
	}{
		{"MLP", MLP, []string{"Gemm", "Relu", "Gemm", "Relu", "MatMul", "Add"}, []onnx.TensorProto_DataType{Float}},
		{"CNN", CNN, []string{"Conv", "BatchNormalization", "Relu", "Conv", "BatchNormalization", "Add", "Relu",
			"Conv", "Conv", "GlobalAveragePool", "Flatten", "Gemm"}, []onnx.TensorProto_DataType{Float}},
		{"ConstWeights", ConstWeights, []string{"Constant", "Constant", "Conv", "Relu", "Constant", "Reshape",
			"Constant", "Constant", "MatMul", "Add"}, nil},
		{"IfModel", IfModel, []string{"ReduceSum", "Constant", "Greater", "If"}, []onnx.TensorProto_DataType{Float}},
		{"SEBlock", SEBlock, []string{"Conv", "Relu", "GlobalAveragePool", "Conv", "Relu", "Conv", "HardSigmoid", "Mul"},
			[]onnx.TensorProto_DataType{Float}},
		{"ConcatModel", ConcatModel, []string{"Conv", "Relu", "Conv", "Relu", "Concat", "Conv"},
			[]onnx.TensorProto_DataType{Float}},
		{"Float16Weights", Float16Weights, []string{"Cast", "Cast", "Gemm"}, []onnx.TensorProto_DataType{Float16}},
		{"Float64Weights", Float64Weights, []string{"Reshape", "Cast", "MatMul", "Add"},
			[]onnx.TensorProto_DataType{Int64, Double, Float}},
	}
	for _, c := range cases {
		g := c.build().Graph
		if got := ops(g); !slices.Equal(got, c.ops) {
			t.Errorf("%s: ops %v, want %v", c.name, got, c.ops)
		}
		types := initTypes(g)
		slices.Sort(types)
		types = slices.Compact(types)
		want := slices.Clone(c.types)
		slices.Sort(want)
		if !slices.Equal(types, want) {
			t.Errorf("%s: initializer types %v, want %v", c.name, types, want)
		}
	}
}

func TestCNNDetails(t *testing.T) {
	g := CNN().Graph
	var groups []int64
	for _, n := range g.Node {
		for _, a := range n.Attribute {
			if a.GetName() == "group" {
				groups = append(groups, a.GetI())
			}
		}
	}
	if !slices.Equal(groups, []int64{8}) {
		t.Errorf("group attributes %v, want one depthwise Conv with group 8", groups)
	}
	floatData := 0
	for _, init := range g.Initializer {
		if len(init.FloatData) > 0 && len(init.RawData) == 0 {
			floatData++
		}
	}
	if floatData != 8 {
		t.Errorf("%d initializers in float_data, want the 8 BatchNormalization parameters", floatData)
	}
}

func TestIfModelBranches(t *testing.T) {
	g := IfModel().Graph
	n := g.Node[len(g.Node)-1]
	if n.GetOpType() != "If" || len(n.Attribute) != 2 {
		t.Fatalf("last node %s with %d attributes, want If with 2", n.GetOpType(), len(n.Attribute))
	}
	for _, a := range n.Attribute {
		sub := a.G
		if sub == nil || len(sub.Input) != 0 || len(sub.Output) != 1 {
			t.Fatalf("%s: want a subgraph with no inputs and one output", a.GetName())
		}
		if len(sub.Initializer) != 1 || !slices.Contains(ops(sub), "Constant") {
			t.Errorf("%s: %d initializers, ops %v; want its own initializer and a Constant", a.GetName(), len(sub.Initializer), ops(sub))
		}
	}
	els := n.Attribute[1].G
	if !slices.ContainsFunc(els.Node, func(n *onnx.NodeProto) bool { return slices.Contains(n.Input, "gamma") }) ||
		!slices.ContainsFunc(g.Initializer, func(t *onnx.TensorProto) bool { return t.GetName() == "gamma" }) {
		t.Error("else_branch does not read the main graph's initializer gamma")
	}
}
