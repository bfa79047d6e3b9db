package engine

import (
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// scaleAddKernel is a per-channel scale of x added back to x, as
// PP-OCR det's neck writes its residual squeeze-and-excitation (Mul of x by
// a [N, C, 1, 1] gate, then Add of x):
//
//	for each plane p (image n, channel c): out[p, i] = x[p, i] + x[p, i]·s[n, c]
//
// (s[0, c] for every image when the gate is [1, C, 1, 1] or [C, 1, 1]),
// one plane at a time (the product stays in L1 for the sum), the same
// two roundings as the Mul and the Add it replaces (fuseScaleAdd).
type scaleAddKernel struct {
	xIdx, sIdx int
	c, hw      int // channels, elements per plane
	perImage   bool
}

func (k *scaleAddKernel) forward(x *exec, in, out []*data) {
	xs, s, o := in[k.xIdx].f, in[k.sIdx].f, out[0].f
	planes := len(o) / k.hw
	threads := x.threads
	if len(o) < parallelMinElems {
		threads = 1
	}
	parallelFor(planes, threads, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			xp, op := xs[p*k.hw:(p+1)*k.hw], o[p*k.hw:(p+1)*k.hw]
			sc := p
			if !k.perImage {
				sc = p % k.c
			}
			vecMulScalar(op, xp, s[sc])
			vecAdd(op, xp, op)
		}
	})
}

// fuseScaleAdd folds an Add of x and m into the step just before it when
// that step is m = Mul(x, s) with s one value per channel ([N or 1, C, 1, 1]
// or [C, 1, 1] against x's [N, C, H, W]), m has no other reader and the Add
// does not broadcast: the step becomes a scaleAddKernel and the Add a view
// of its output. It returns nil when it does not apply.
func (c *compiler) fuseScaleAdd(n *onnx.NodeProto, b *buildCtx, bt *built, inIDs []int, prog *program) *built {
	ak, ok := bt.k.(*binaryKernel)
	if !ok || ak.op != binAdd || ak.intIn || ak.outInt || len(inIDs) != 2 || len(b.in) != 2 || len(prog.steps) == 0 {
		return nil
	}
	out := bt.out[0].shape
	for _, id := range inIDs {
		if id < 0 || c.values[id].konst != nil || !sameShape(c.values[id].shape, out) {
			return nil
		}
	}
	last := &prog.steps[len(prog.steps)-1]
	mk, ok := last.k.(*binaryKernel)
	if !ok || mk.op != binMul || mk.intIn || mk.outInt || len(last.out) != 1 || len(last.in) != 2 || len(out) != 4 {
		return nil
	}
	for vi := 0; vi < 2; vi++ { // the Add's input that is m
		if c.root(inIDs[vi]) != last.out[0] || c.uses[n.GetInput()[vi]] != 1 {
			continue
		}
		xr := c.root(inIDs[1-vi])
		for xi := 0; xi < 2; xi++ { // the Mul's input that is x
			if last.in[xi] < 0 || last.in[1-xi] < 0 || c.root(last.in[xi]) != xr || xr == last.out[0] {
				continue
			}
			s := c.values[last.in[1-xi]]
			if !sameShape(c.values[last.in[xi]].shape, out) || s.dt != c.values[xr].dt || !perChannel(s.shape, out) {
				continue
			}
			last.k = &scaleAddKernel{xIdx: xi, sIdx: 1 - xi, c: out[1], hw: out[2] * out[3], perImage: len(s.shape) == 4 && s.shape[0] > 1}
			last.op += "+" + n.GetOpType()
			last.flops += bt.flops
			return &built{out: bt.out, alias: vi}
		}
	}
	return nil
}

// perChannel reports whether s broadcasts against the NCHW shape x as one
// value per image and channel: [N or 1, C, 1, 1] or [C, 1, 1].
func perChannel(s, x []int) bool {
	switch len(s) {
	case 4:
		return (s[0] == 1 || s[0] == x[0]) && s[1] == x[1] && s[2] == 1 && s[3] == 1
	case 3:
		return s[0] == x[1] && s[1] == 1 && s[2] == 1
	}
	return false
}
