package onnxio

import (
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// Model is a decoded ONNX model.
//
// Proto is the whole ModelProto; anything not changed through this package
// is written back as it was read, unknown fields included. External data is
// loaded into the tensors' raw_data on read (the references are remembered
// in [Param.External]) and written out again by [Model.WriteFile].
type Model struct {
	Proto *onnx.ModelProto
	// Path is the file the model was read from, or "" for a stream.
	Path string

	baseDir  string
	external map[*onnx.TensorProto]*ExternalRef
}

// ExternalRef is where a tensor's payload was stored outside the model file.
type ExternalRef struct {
	Location string // file name relative to the model's directory
	Offset   int64
	Length   int64
	Checksum string // the "checksum" entry, if any (passed through)
}

// Graph returns the main graph.
func (m *Model) Graph() *onnx.GraphProto { return m.Proto.GetGraph() }

// Opset returns the version of the default ("" or "ai.onnx") operator set,
// or 0 if the model imports none.
func (m *Model) Opset() int64 {
	for _, o := range m.Proto.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			return o.GetVersion()
		}
	}
	return 0
}

// ExternalOf returns where t's payload was loaded from, or nil if t was
// stored inline.
func (m *Model) ExternalOf(t *onnx.TensorProto) *ExternalRef {
	if m.external == nil {
		return nil
	}
	return m.external[t]
}

// HasExternalData reports whether any tensor was loaded from external data.
func (m *Model) HasExternalData() bool { return len(m.external) > 0 }

// forEachGraph calls fn for g and every subgraph nested in its nodes'
// attributes, depth first, with the subgraph's path ("" for g). A path is
// "<node>/<attribute>/" per level, node being the node's name or
// "<OpType>#<index>" when unnamed.
func forEachGraph(g *onnx.GraphProto, path string, depth int, fn func(g *onnx.GraphProto, path string, depth int) error) error {
	if g == nil {
		return nil
	}
	if err := fn(g, path, depth); err != nil {
		return err
	}
	for i, n := range g.GetNode() {
		for _, a := range n.GetAttribute() {
			if sg := a.GetG(); sg != nil {
				if err := forEachGraph(sg, subgraphPath(path, n, i, a.GetName(), -1), depth+1, fn); err != nil {
					return err
				}
			}
			for k, sg := range a.GetGraphs() {
				if err := forEachGraph(sg, subgraphPath(path, n, i, a.GetName(), k), depth+1, fn); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func nodeLabel(n *onnx.NodeProto, index int) string {
	if n.GetName() != "" {
		return n.GetName()
	}
	return n.GetOpType() + "#" + itoa(index)
}

func subgraphPath(parent string, n *onnx.NodeProto, index int, attr string, k int) string {
	p := parent + nodeLabel(n, index) + "/" + attr
	if k >= 0 {
		p += "[" + itoa(k) + "]"
	}
	return p + "/"
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	neg := i < 0
	if neg {
		i = -i
	}
	var b [20]byte
	p := len(b)
	for i > 0 {
		p--
		b[p] = byte('0' + i%10)
		i /= 10
	}
	if neg {
		p--
		b[p] = '-'
	}
	return string(b[p:])
}

// forEachTensor calls fn for every TensorProto stored in the model:
// initializers, tensor-valued node attributes, sparse tensors' parts, in the
// main graph, its subgraphs, training-info graphs and function bodies.
// where names the tensor for error messages.
func forEachTensor(mp *onnx.ModelProto, maxDepth int, fn func(t *onnx.TensorProto, where string) error) error {
	visitGraph := func(g *onnx.GraphProto, path string, depth int) error {
		if depth > maxDepth {
			return &TensorError{Tensor: path, Err: ErrLimit, Reason: "subgraphs nested deeper than " + itoa(maxDepth)}
		}
		for _, t := range g.GetInitializer() {
			if err := fn(t, path+t.GetName()); err != nil {
				return err
			}
		}
		for _, st := range g.GetSparseInitializer() {
			if err := sparseTensors(st, path, fn); err != nil {
				return err
			}
		}
		return visitNodes(g.GetNode(), path, fn)
	}
	if err := forEachGraph(mp.GetGraph(), "", 0, visitGraph); err != nil {
		return err
	}
	for i, ti := range mp.GetTrainingInfo() {
		for _, g := range []*onnx.GraphProto{ti.GetInitialization(), ti.GetAlgorithm()} {
			if err := forEachGraph(g, "training_info["+itoa(i)+"]/", 1, visitGraph); err != nil {
				return err
			}
		}
	}
	for _, f := range mp.GetFunctions() {
		if err := visitNodesDeep(f.GetNode(), "function:"+f.GetName()+"/", 1, maxDepth, visitGraph, fn); err != nil {
			return err
		}
	}
	return nil
}

func visitNodes(nodes []*onnx.NodeProto, path string, fn func(*onnx.TensorProto, string) error) error {
	for i, n := range nodes {
		for _, a := range n.GetAttribute() {
			where := path + nodeLabel(n, i) + "." + a.GetName()
			if t := a.GetT(); t != nil {
				if err := fn(t, where); err != nil {
					return err
				}
			}
			for _, t := range a.GetTensors() {
				if err := fn(t, where); err != nil {
					return err
				}
			}
			if st := a.GetSparseTensor(); st != nil {
				if err := sparseTensors(st, where+"/", fn); err != nil {
					return err
				}
			}
			for _, st := range a.GetSparseTensors() {
				if err := sparseTensors(st, where+"/", fn); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// visitNodesDeep visits a function body's nodes and the subgraphs inside them.
func visitNodesDeep(nodes []*onnx.NodeProto, path string, depth, maxDepth int, visitGraph func(*onnx.GraphProto, string, int) error, fn func(*onnx.TensorProto, string) error) error {
	if err := visitNodes(nodes, path, fn); err != nil {
		return err
	}
	for i, n := range nodes {
		for _, a := range n.GetAttribute() {
			if sg := a.GetG(); sg != nil {
				if err := forEachGraph(sg, subgraphPath(path, n, i, a.GetName(), -1), depth+1, visitGraph); err != nil {
					return err
				}
			}
			for k, sg := range a.GetGraphs() {
				if err := forEachGraph(sg, subgraphPath(path, n, i, a.GetName(), k), depth+1, visitGraph); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func sparseTensors(st *onnx.SparseTensorProto, path string, fn func(*onnx.TensorProto, string) error) error {
	if v := st.GetValues(); v != nil {
		if err := fn(v, path+v.GetName()); err != nil {
			return err
		}
	}
	if ix := st.GetIndices(); ix != nil {
		if err := fn(ix, path+ix.GetName()); err != nil {
			return err
		}
	}
	return nil
}
