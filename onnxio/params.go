package onnxio

import (
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
	"gorgonia.org/tensor"
)

// Where says where a parameter is stored.
type Where int

const (
	// Initializer: a graph initializer.
	Initializer Where = iota
	// ConstantNode: the `value` attribute of a Constant node.
	ConstantNode
)

func (w Where) String() string {
	if w == ConstantNode {
		return "constant"
	}
	return "initializer"
}

// Param is one numeric tensor stored in the model, wherever it lives.
type Param struct {
	// ID is stable across reads of the same model: the tensor's name in the
	// main graph, prefixed by its GraphPath in subgraphs
	// ("If_0/then_branch/w"). For a Constant node it is the node's output.
	ID string
	// Name is the value name the graph uses for the tensor.
	Name string
	// GraphPath is "" for the main graph, else "<node>/<attribute>/" per
	// level of nesting.
	GraphPath string
	Where     Where
	// Node is the Constant node holding the tensor (ConstantNode only).
	Node *onnx.NodeProto
	// Tensor is the stored tensor itself.
	Tensor *onnx.TensorProto
	// Uses lists every node input that reads the parameter, in its own
	// graph and in nested subgraphs.
	Uses []Use
	// External is where the payload was loaded from, or nil if inline.
	External *ExternalRef
}

// Use is one node input that reads a parameter.
type Use struct {
	Node      *onnx.NodeProto
	GraphPath string // graph the node is in
	Input     int    // input slot: for Conv 1 is the weight, 2 the bias
}

// DataType is the tensor's element type.
func (p *Param) DataType() DataType { return DataType(p.Tensor.GetDataType()) }

// Shape is the tensor's dims (shared with the proto: do not modify).
func (p *Param) Shape() []int64 { return p.Tensor.GetDims() }

// NumElements is the number of elements (validated on read).
func (p *Param) NumElements() int64 {
	n, _ := NumElements(p.Tensor.GetDims())
	return n
}

// Bytes is the size of the payload in its own data type.
func (p *Param) Bytes() int64 {
	if r := p.Tensor.GetRawData(); len(r) > 0 {
		return int64(len(r))
	}
	if b := p.DataType().rawBytes(p.NumElements()); b >= 0 {
		return b
	}
	var n int64
	for _, s := range p.Tensor.GetStringData() {
		n += int64(len(s))
	}
	return n
}

// Float32 returns the values as float32: a view sharing memory with the
// model for float32 tensors (view == true), a converted copy for float16,
// bfloat16, float64 and integer types. See Float32s.
func (p *Param) Float32() (data []float32, view bool, err error) {
	data, view, err = Float32s(p.Tensor)
	if err != nil {
		if te, ok := err.(*TensorError); ok {
			te.Tensor = p.ID
		}
	}
	return data, view, err
}

// SetFloat32 replaces the values (and shape), stored in the tensor's own
// data type. See SetFloat32s.
func (p *Param) SetFloat32(data []float32, shape []int64) error {
	err := SetFloat32s(p.Tensor, data, shape)
	if te, ok := err.(*TensorError); ok {
		te.Tensor = p.ID
	}
	return err
}

// Dense returns the values as a gorgonia tensor backed by the same memory
// as Float32 (a view for float32 tensors).
func (p *Param) Dense() (*tensor.Dense, error) {
	data, _, err := p.Float32()
	if err != nil {
		return nil, err
	}
	dims := p.Shape()
	shape := make([]int, len(dims))
	for i, d := range dims {
		shape[i] = int(d)
	}
	if len(shape) == 0 {
		return tensor.New(tensor.WithShape(), tensor.WithBacking(data)), nil
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data)), nil
}

// Nonzeros counts the nonzero elements (numeric types; -1 for others).
// Negative zero counts as zero.
func (p *Param) Nonzeros() int64 {
	dt := p.DataType()
	if !dt.IsFloat() && (!dt.IsInteger() || dt == Uint4 || dt == Int4) {
		return -1
	}
	data, _, err := p.Float32() // a view for float32, a copy otherwise
	if err != nil {
		return -1
	}
	var n int64
	for _, v := range data {
		if v != 0 {
			n++
		}
	}
	return n
}

// FirstUse returns the first node reading the parameter, or a zero Use.
func (p *Param) FirstUse() Use {
	if len(p.Uses) == 0 {
		return Use{}
	}
	return p.Uses[0]
}

type scope struct {
	parent *scope
	defs   map[string]*Param // nil value: defined here but not a parameter
}

func (s *scope) lookup(name string) *Param {
	for ; s != nil; s = s.parent {
		if p, ok := s.defs[name]; ok {
			return p
		}
	}
	return nil
}

// Params lists every numeric tensor stored as a graph initializer or a
// Constant node's `value`, in the main graph and all subgraphs, in model
// order (per graph: initializers, then Constant nodes, then nested
// subgraphs), with the node inputs that use each. String tensors, sparse
// initializers and function bodies are not listed (they pass through).
func (m *Model) Params() []*Param {
	var out []*Param
	ids := map[string]int{}
	var walk func(g *onnx.GraphProto, path string, parent *scope, depth int)
	walk = func(g *onnx.GraphProto, path string, parent *scope, depth int) {
		if g == nil || depth > 1<<10 {
			return
		}
		sc := &scope{parent: parent, defs: map[string]*Param{}}
		for _, vi := range g.GetInput() {
			sc.defs[vi.GetName()] = nil
		}
		add := func(p *Param) {
			if DataType(p.Tensor.GetDataType()) == String {
				return
			}
			p.ID = path + p.Name
			if k := ids[p.ID]; k > 0 {
				p.ID += "#" + itoa(k)
			}
			ids[path+p.Name]++
			p.External = m.ExternalOf(p.Tensor)
			sc.defs[p.Name] = p
			out = append(out, p)
		}
		for _, t := range g.GetInitializer() {
			add(&Param{Name: t.GetName(), GraphPath: path, Where: Initializer, Tensor: t})
		}
		for _, n := range g.GetNode() {
			for _, o := range n.GetOutput() {
				if _, ok := sc.defs[o]; !ok {
					sc.defs[o] = nil
				}
			}
			if n.GetOpType() != "Constant" || (n.GetDomain() != "" && n.GetDomain() != "ai.onnx") || len(n.GetOutput()) == 0 {
				continue
			}
			for _, a := range n.GetAttribute() {
				if a.GetName() == "value" && a.GetT() != nil {
					add(&Param{Name: n.GetOutput()[0], GraphPath: path, Where: ConstantNode, Node: n, Tensor: a.GetT()})
				}
			}
		}
		for i, n := range g.GetNode() {
			for slot, in := range n.GetInput() {
				if in == "" {
					continue
				}
				if p := sc.lookup(in); p != nil {
					p.Uses = append(p.Uses, Use{Node: n, GraphPath: path, Input: slot})
				}
			}
			for _, a := range n.GetAttribute() {
				if sg := a.GetG(); sg != nil {
					walk(sg, subgraphPath(path, n, i, a.GetName(), -1), sc, depth+1)
				}
				for k, sg := range a.GetGraphs() {
					walk(sg, subgraphPath(path, n, i, a.GetName(), k), sc, depth+1)
				}
			}
		}
	}
	walk(m.Proto.GetGraph(), "", nil, 0)
	return out
}
