package prune

import (
	"fmt"

	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// Values read inside subgraphs (If branches, Loop and Scan bodies).
//
// A branch that reads a value of the main graph sees the pruned channels
// too. Where it only consumes them — a Conv (group 1), Gemm or MatMul with
// a constant weight, as a head chosen by an If — the weight's input axis
// follows the value's channels like a main-graph consumer's, so the group
// may still be pruned; the weight is sliced (or, when shared, copied to a
// main-graph initializer the branch reads from the outer scope). Any other
// read inside a subgraph, and any read in a nested one, blocks the
// channels.

// coupleSubgraphReads handles every main-graph value with channels that a
// subgraph of a main-graph node reads.
func (d *DepGraph) coupleSubgraphReads(c *Coupler) {
	if len(d.subUses) == 0 {
		return
	}
	byUse := map[use]*onnxio.Param{}
	for _, p := range d.allParams {
		for _, u := range p.Uses {
			byUse[use{u.Node, u.Input}] = p
		}
	}
	for _, n := range d.nodes {
		for _, a := range n.GetAttribute() {
			for k, sg := range append([]*onnx.GraphProto{a.GetG()}, a.GetGraphs()...) {
				if sg == nil {
					continue
				}
				path := d.labels[n] + "/" + a.GetName()
				if k > 0 {
					path += fmt.Sprintf("[%d]", k-1)
				}
				d.coupleSubgraph(c, sg, path, byUse)
			}
		}
	}
}

func (d *DepGraph) coupleSubgraph(c *Coupler, sg *onnx.GraphProto, path string, byUse map[use]*onnxio.Param) {
	local := onnxio.Defined(sg)
	for i, n := range sg.GetNode() {
		label := path + "/" + onnxio.NodeLabel(n, i)
		for slot, in := range n.GetInput() {
			s := d.spaceOf[in]
			if s == nil || local[in] {
				continue
			}
			if why := d.coupleSubgraphUse(c, n, slot, s, label, byUse); why != "" {
				c.Block(s, fmt.Sprintf("%s is read inside a subgraph by %s %q, %s", in, n.GetOpType(), label, why))
			}
		}
		nested := map[string]bool{}
		subgraphReads(n, nested)
		for name := range nested {
			if s := d.spaceOf[name]; s != nil && !local[name] {
				c.Block(s, fmt.Sprintf("%s is read inside a nested subgraph of %q", name, label))
			}
		}
	}
}

// coupleSubgraphUse couples the weight of a consumer inside a subgraph
// reading space s at slot; it returns why it cannot.
func (d *DepGraph) coupleSubgraphUse(c *Coupler, n *onnx.NodeProto, slot int, s *Space, label string, byUse map[use]*onnxio.Param) string {
	const notLayer = "which is not a Conv (group 1), Gemm or MatMul reading them as input channels"
	switch {
	case !isDefaultDomain(n) || (n.GetOpType() != "Conv" && n.GetOpType() != "Gemm" && n.GetOpType() != "MatMul"):
		return notLayer
	case slot != 0:
		return "not as the data input of a layer"
	}
	w := byUse[use{n, 1}]
	if w == nil || !w.DataType().IsFloat() {
		return "whose weight is not a float constant"
	}
	x := d.shapes[s.Value]
	rank := len(w.Shape())
	axis := -1
	switch n.GetOpType() {
	case "Conv":
		if AttrInt(n, "group", 1) == 1 && rank >= 3 && s.Axis == 1 {
			axis = 1
		}
	case "Gemm":
		if AttrInt(n, "transA", 0) == 0 && rank == 2 && s.Axis == 1 && len(x) == 2 {
			axis = 0
			if AttrInt(n, "transB", 0) != 0 {
				axis = 1
			}
		}
	case "MatMul":
		if rank == 2 && len(x) >= 2 && s.Axis == len(x)-1 {
			axis = 0
		}
	}
	if axis < 0 || int(w.Shape()[axis]) != s.Size {
		return notLayer
	}
	d.coupled = append(d.coupled, &Coupled{Param: w, Node: label, Op: n.GetOpType(), Slot: 1, Axis: axis, Space: s, Kind: KindWeight, node: n})
	return ""
}
