package engine

import (
	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// fuseBlock folds the convolutions of an inverted-residual block into one
// blockKernel step (op_block_fused.go), as the nodes arrive:
//
//   - a depthwise Conv reading the output of a 1×1 Conv (its Clip fused in)
//     and nothing else: the 1×1 step and the depthwise become one block;
//   - a 1×1 Conv reading the output of such a block (or of a plain
//     depthwise step) and nothing else: it becomes the block's projection.
//
// The Clip after the depthwise and the residual Add after the projection
// fold in afterwards (fuse, fuseResidual), as they do into a Conv. The
// replaced step is popped and the values between the stages are elided
// (no storage). Only where e, the depthwise's input, is at least
// blockMinBytes (mobilenet_v2's blocks at 112² and 56²), in plans of at most
// blockMaxThreads threads; never when compiling for training (compileNode
// does not fuse then). It returns nil when it does not apply.
func (c *compiler) fuseBlock(n *onnx.NodeProto, b *buildCtx, bt *built, inIDs []int, prog *program) *built {
	k, ok := bt.k.(*convKernel)
	if !blockFusion || dwFlatRun == nil && !blockFusionGo || c.threads > blockMaxThreads || !ok || prog != c.main || len(prog.steps) == 0 || len(inIDs) < 2 || inIDs[0] < 0 {
		return nil
	}
	last := &prog.steps[len(prog.steps)-1]
	if len(last.out) != 1 || c.root(inIDs[0]) != last.out[0] || c.uses[n.GetInput()[0]] != 1 {
		return nil
	}
	w, bias, ok := c.constWB(inIDs)
	if !ok || k.sp != nil || k.residIn != 0 || k.act != nil || k.repack {
		return nil
	}
	pw := func(ck *convKernel) bool {
		return ck.pointwise && ck.group == 1 && ck.sp == nil && ck.residIn == 0 && !ck.repack && ck.spatial == 2
	}
	switch lk := last.k.(type) {
	case *convKernel:
		lw, lb, ok := c.constWB(last.in)
		if !ok || lk.n != k.n {
			return nil
		}
		switch {
		case k.depthwise && pw(lk) && lk.m == k.c:
			bk := newBlockKernel(k, w, bias)
			if bk == nil || 4*bk.ce*bk.h*bk.w < blockMinBytes {
				return nil
			}
			bk.c = lk.c
			bk.ex, bk.exB, bk.exAct = packAll(activeKernel(), false, lk.m, lk.c, 1, lw, lk.c, nil), lb, lk.act
			return c.popFused(bk, last, n, bt, inIDs, prog)
		case pw(k) && lk.depthwise && lk.sp == nil && lk.residIn == 0 && lk.m == k.c:
			bk := newBlockKernel(lk, lw, lb)
			if bk == nil || 4*bk.ce*bk.h*bk.w < blockMinBytes || c.threads < blockNoExpMinThreads {
				return nil
			}
			bk.setProjection(k, w, bias)
			return c.popFused(bk, last, n, bt, inIDs, prog)
		}
	case *blockKernel:
		if pw(k) && lk.pj == nil && k.c == lk.ce && k.n == lk.n {
			lk.setProjection(k, w, bias)
			return c.popFused(lk, last, n, bt, inIDs, prog)
		}
	}
	return nil
}

// setProjection makes the 1×1 Conv pj (weights w, bias) the block's last stage.
func (k *blockKernel) setProjection(pj *convKernel, w, bias []float32) {
	k.co = pj.m
	k.pj, k.pjB = packAll(activeKernel(), false, pj.m, pj.c, 1, w, pj.c, nil), bias
}

// constWB returns the constant weights and bias (nil when none) of a Conv
// whose inputs are ids, or false when they are not constants.
func (c *compiler) constWB(ids []int) (w, bias []float32, ok bool) {
	if len(ids) < 2 || ids[1] < 0 || c.values[ids[1]].konst == nil || c.values[ids[1]].konst.f == nil {
		return nil, nil, false
	}
	w = c.values[ids[1]].konst.f
	if len(ids) > 2 && ids[2] >= 0 {
		bv := c.values[ids[2]]
		if bv.konst == nil || bv.konst.f == nil {
			return nil, nil, false
		}
		bias = bv.konst.f
	}
	return w, bias, true
}

// popFused replaces the last step of prog with the block bk, which node n
// (built as bt, reading inIDs) extends: the step's output becomes n's, the
// last step's output is elided, and the step lists what the two read but
// that output: the block's input first (the kernel reads it and a fused
// residual; the weights it holds packed are listed for the report, whose
// cost model classes a step by its first two inputs).
func (c *compiler) popFused(bk *blockKernel, last *step, n *onnx.NodeProto, bt *built, inIDs []int, prog *program) *built {
	bk.implicitStages()
	c.values[last.out[0]].elided = true
	in := append(append([]int(nil), last.in...), inIDs[1:]...)
	f := &fusedStep{in: in, name: last.name, op: last.op + "+" + n.GetOpType()}
	out := &built{k: bk, out: bt.out, alias: -1, flops: last.flops + bt.flops, macs: last.macs + bt.macs, fused: f}
	prog.steps = prog.steps[:len(prog.steps)-1]
	return out
}
