package engine

import (
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// fuseResizeAdd folds an Add of r and a into the step just before it when
// that step is a planar Resize whose output r has no other reader and a has
// the Add's shape (PP-OCR det's top-down neck: a + upsample(x)): the Resize
// adds a to each output row as it makes it (resizeKernel.addIdx), and the
// Add becomes a view of its output. It returns nil when it does not apply.
func (c *compiler) fuseResizeAdd(n *onnx.NodeProto, b *buildCtx, bt *built, inIDs []int, prog *program) *built {
	ak, ok := bt.k.(*binaryKernel)
	if !ok || ak.op != binAdd || ak.intIn || ak.outInt || len(inIDs) != 2 || len(b.in) != 2 || len(prog.steps) == 0 {
		return nil
	}
	for _, id := range inIDs {
		if id < 0 || c.values[id].konst != nil || c.values[id].dt != bt.out[0].dt || !sameShape(c.values[id].shape, bt.out[0].shape) {
			return nil
		}
	}
	last := &prog.steps[len(prog.steps)-1]
	rk, ok := last.k.(*resizeKernel)
	if !ok || !rk.planar || rk.addIdx != 0 || len(last.out) != 1 {
		return nil
	}
	for vi := 0; vi < 2; vi++ {
		if c.root(inIDs[vi]) != last.out[0] || c.root(inIDs[1-vi]) == last.out[0] || c.uses[n.GetInput()[vi]] != 1 {
			continue
		}
		rk.addIdx = len(last.in)
		last.in = append(last.in, inIDs[1-vi])
		last.op += "+" + n.GetOpType()
		last.flops += bt.flops
		return &built{out: bt.out, alias: vi}
	}
	return nil
}
