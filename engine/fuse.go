package engine

import (
	"math"

	"github.com/edgeprune/edgeprune/onnxio"
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// countUses adds, for g and its subgraphs, how many times each value name
// is read by a node or returned as a graph output.
func countUses(g *onnx.GraphProto, uses map[string]int) {
	for _, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			uses[in]++
		}
		for _, sg := range onnxio.Subgraphs(n) {
			countUses(sg, uses)
		}
	}
	for _, o := range g.GetOutput() {
		uses[o.GetName()]++
	}
}

// fuse folds a Relu or Clip into the Conv just before it when the Conv's
// output has no other reader: the Conv clamps its output as it writes it,
// and the activation becomes a view of that output (no pass over memory,
// no buffer).
//
// Otherwise elementwise ops join a chain (fuse_chain.go).
func (c *compiler) fuse(n *onnx.NodeProto, b *buildCtx, bt *built, inIDs []int, prog *program) *built {
	uk, ok := bt.k.(*unaryKernel)
	if !ok || !(uk.relu || uk.clip) || uk.intData || len(inIDs) == 0 || inIDs[0] < 0 || len(prog.steps) == 0 {
		return c.fuseChain(n, b, bt, inIDs, prog)
	}
	last := &prog.steps[len(prog.steps)-1]
	conv, ok := last.k.(*convKernel)
	if !ok || conv.act != nil || len(last.out) != 1 || last.out[0] != inIDs[0] || c.uses[n.GetInput()[0]] != 1 {
		return c.fuseChain(n, b, bt, inIDs, prog)
	}
	act := &clampAct{lo: uk.lo, hi: uk.hi}
	if uk.relu {
		act = &clampAct{lo: 0, hi: float32(math.Inf(1))}
	}
	conv.act = act
	last.op += "+" + n.GetOpType()
	last.flops += bt.flops
	return &built{out: bt.out, alias: 0}
}
