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
// no buffer). Before that, a residual Add of the Conv's output and another
// tensor of the same shape folds into the Conv the same way (fuseResidual),
// so Conv → Add → Relu is one pass; and an Add of x and x·s (s one value
// per channel) folds into that Mul (fuseScaleAdd, fuse_scaleadd.go), an Add
// of a Resize's output into the Resize (fuseResizeAdd, fuse_resize.go).
//
// Otherwise elementwise ops join a chain (fuse_chain.go).
func (c *compiler) fuse(n *onnx.NodeProto, b *buildCtx, bt *built, inIDs []int, prog *program) *built {
	if f := c.fuseBlock(n, b, bt, inIDs, prog); f != nil {
		return f
	}
	c.splitForDepthwise(n, bt, inIDs, prog)
	if f := c.fuseResidual(n, b, bt, inIDs, prog); f != nil {
		return f
	}
	if f := c.fuseScaleAdd(n, b, bt, inIDs, prog); f != nil {
		return f
	}
	if f := c.fuseResizeAdd(n, b, bt, inIDs, prog); f != nil {
		return f
	}
	uk, ok := bt.k.(*unaryKernel)
	if !ok || !(uk.relu || uk.clip) || uk.intData || len(inIDs) == 0 || inIDs[0] < 0 || len(prog.steps) == 0 {
		return c.fuseChain(n, b, bt, inIDs, prog)
	}
	last := &prog.steps[len(prog.steps)-1]
	if len(last.out) != 1 || last.out[0] != c.root(inIDs[0]) || c.uses[n.GetInput()[0]] != 1 {
		return c.fuseChain(n, b, bt, inIDs, prog)
	}
	// The clamp of the op that wrote its input: a Conv's, or the last stage
	// of a fused block's (the depthwise's or the projection's, after its
	// residual).
	var slot **clampAct
	var bk *blockKernel
	switch k := last.k.(type) {
	case *convKernel:
		slot = &k.act
	case *blockKernel:
		bk, slot = k, &k.dwAct
		if k.pj != nil {
			slot = &k.pjAct
		}
	}
	if slot == nil || *slot != nil {
		return c.fuseChain(n, b, bt, inIDs, prog)
	}
	act := &clampAct{lo: uk.lo, hi: uk.hi}
	if uk.relu {
		act = &clampAct{lo: 0, hi: float32(math.Inf(1))}
	}
	*slot = act
	if bk != nil {
		bk.implicitStages()
	}
	last.op += "+" + n.GetOpType()
	last.flops += bt.flops
	return &built{out: bt.out, alias: 0}
}

// fuseResidual folds an Add of the output of the Conv just before it and
// another tensor r into that Conv, when the Conv's output has no other
// reader, both operands have exactly the output's shape (no broadcast),
// the Conv has no activation yet and its path takes a residual
// (residualOK) well (not the linear one): the Conv then adds r after its bias, as the Add would have
// ((conv + bias) + r, the same bits), and the Add becomes a view of its
// output. It returns nil when it does not apply.
func (c *compiler) fuseResidual(n *onnx.NodeProto, b *buildCtx, bt *built, inIDs []int, prog *program) *built {
	bk, ok := bt.k.(*binaryKernel)
	if !ok || bk.op != binAdd || bk.intIn || bk.outInt || len(inIDs) != 2 || len(b.in) != 2 || len(prog.steps) == 0 {
		return nil
	}
	for _, id := range inIDs {
		if id < 0 || c.values[id].konst != nil || c.values[id].dt != onnxio.Float || !sameShape(c.values[id].shape, bt.out[0].shape) {
			return nil
		}
	}
	last := &prog.steps[len(prog.steps)-1]
	// Where r goes: a Conv's residual input, or a fused block's (its
	// projection takes r as a Conv does).
	var residIn *int
	switch k := last.k.(type) {
	case *blockKernel:
		if k.pj != nil && k.residIn == 0 && k.pjAct == nil {
			residIn = &k.residIn
		}
	case *convKernel:
		// Not on the linear path: there most panels run across output
		// rows into a block of their own and its residual and clamp are
		// applied in Go as the block is copied out, which cost resnet18's
		// 56² convolutions about 300 µs more than the Add and Relu as
		// passes of their own (bench and bench/nodescale, alternated:
		// session 9 in docs/benchmarks.md).
		if k.act == nil && k.residIn == 0 && k.residualOK() && !k.linear {
			residIn = &k.residIn
		}
	}
	if residIn == nil || len(last.out) != 1 {
		return nil
	}
	for vi := 0; vi < 2; vi++ {
		if c.root(inIDs[vi]) != last.out[0] || c.root(inIDs[1-vi]) == last.out[0] || c.uses[n.GetInput()[vi]] != 1 {
			continue
		}
		*residIn = len(last.in)
		last.in = append(last.in, inIDs[1-vi])
		last.op += "+" + n.GetOpType()
		last.flops += bt.flops
		return &built{out: bt.out, alias: vi}
	}
	return nil
}

// splitForDepthwise marks the 1×1 Conv just before a depthwise Conv that alone
// reads its output (an inverted-residual block's expansion) to split its
// output channels between the threads (convKernel.rowsSplit), as the
// depthwise splits them: each thread then reads the channels its own core
// wrote instead of half of every channel from the other core. On the Intel
// Xeon (docs/benchmarks.md, Threads, session 12) mobilenet_v2's stride-2
// depthwise at 28² ran 49 µs on 2 threads after an expansion split by
// positions, against 30 on one. The split does not change a bit.
func (c *compiler) splitForDepthwise(n *onnx.NodeProto, bt *built, inIDs []int, prog *program) {
	k, ok := bt.k.(*convKernel)
	if planeSplits || !ok || !k.depthwise || len(inIDs) == 0 || inIDs[0] < 0 || len(prog.steps) == 0 {
		return
	}
	last := &prog.steps[len(prog.steps)-1]
	if len(last.out) != 1 || c.root(inIDs[0]) != last.out[0] || c.uses[n.GetInput()[0]] != 1 {
		return
	}
	if lk, ok := last.k.(*convKernel); ok && lk.pointwise && lk.group == 1 {
		lk.rowsSplit = true
	}
}
