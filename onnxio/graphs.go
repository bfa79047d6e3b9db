package onnxio

import (
	"sort"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// Subgraphs returns the graphs held in n's attributes (If branches, Loop and
// Scan bodies: every GRAPH and GRAPHS attribute), in attribute order.
func Subgraphs(n *onnx.NodeProto) []*onnx.GraphProto {
	var out []*onnx.GraphProto
	for _, a := range n.GetAttribute() {
		if g := a.GetG(); g != nil {
			out = append(out, g)
		}
		for _, g := range a.GetGraphs() {
			if g != nil {
				out = append(out, g)
			}
		}
	}
	return out
}

// NodeLabel names a node for messages and IDs: its name, or
// "<OpType>#<index>" when it has none.
func NodeLabel(n *onnx.NodeProto, index int) string { return nodeLabel(n, index) }

// Defined returns every name g itself defines: its inputs, initializers and
// node outputs (not those of its subgraphs).
func Defined(g *onnx.GraphProto) map[string]bool {
	def := map[string]bool{"": true}
	for _, v := range g.GetInput() {
		def[v.GetName()] = true
	}
	for _, t := range g.GetInitializer() {
		def[t.GetName()] = true
	}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			def[o] = true
		}
	}
	return def
}

// OuterReads returns the names g takes from enclosing graphs: what its
// nodes (and, to any depth, its subgraphs' nodes) read and its outputs
// return without g defining them, sorted.
func OuterReads(g *onnx.GraphProto) []string {
	into := map[string]bool{}
	outerReads(g, into, 0)
	out := make([]string, 0, len(into))
	for name := range into {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func outerReads(g *onnx.GraphProto, into map[string]bool, depth int) {
	if g == nil || depth > 1<<10 {
		return
	}
	def := Defined(g)
	add := func(name string) {
		if !def[name] {
			into[name] = true
		}
	}
	for _, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			add(in)
		}
		for _, sg := range Subgraphs(n) {
			inner := map[string]bool{}
			outerReads(sg, inner, depth+1)
			for name := range inner {
				add(name)
			}
		}
	}
	for _, o := range g.GetOutput() {
		add(o.GetName())
	}
}
