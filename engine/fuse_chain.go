package engine

import (
	"math"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// chainKernel runs a chain of elementwise ops as one pass over memory:
// x (input xIdx) goes through the stages in order, each exactly the op it
// replaces, in blocks that stay in L1 (HardSwish written out as Add, Clip,
// Mul, Div, or a scalar affine y = a·x + b, become one pass instead of one
// per op). Reference: the ops applied one after another (TestChainEqualsUnfused).
type chainKernel struct {
	xIdx   int
	stages []chainStage
}

type chainStageKind int

const (
	stAddS  chainStageKind = iota // v + c
	stMulS                        // v · c
	stDivS                        // v / c
	stClamp                       // min(max(v, lo), hi)
	stMulX                        // v · x
	stAddX                        // v + x
)

type chainStage struct {
	kind   chainStageKind
	c      float32
	lo, hi float32
}

const chainBlock = 1024

func (k *chainKernel) forward(x *exec, in, out []*data) {
	src, dst := in[k.xIdx].f, out[0].f
	n := len(dst)
	threads := x.threads
	if n < parallelMinElems {
		threads = 1
	}
	if planeSpans(out[0].shape, threads, func(lo, hi int) { // over the planes, as the convolutions split them
		for i0 := lo; i0 < hi; i0 += chainBlock {
			i1 := min(i0+chainBlock, hi)
			k.run(dst[i0:i1], src[i0:i1])
		}
	}) {
		return
	}
	nb := (n + chainBlock - 1) / chainBlock
	parallelFor(nb, threads, func(lo, hi int) {
		for blk := lo; blk < hi; blk++ {
			i0, i1 := blk*chainBlock, min((blk+1)*chainBlock, n)
			k.run(dst[i0:i1], src[i0:i1])
		}
	})
}

// run applies the stages to xs into v.
func (k *chainKernel) run(v, xs []float32) {
	cur := xs // the first stage reads x, the others v
	for _, s := range k.stages {
		switch s.kind {
		case stAddS:
			vecAddScalar(v, cur, s.c)
		case stMulS:
			vecMulScalar(v, cur, s.c)
		case stDivS:
			vecDivScalar(v, cur, s.c)
		case stClamp:
			clampRange(v, cur, s.lo, s.hi)
		case stMulX:
			vecMul(v, cur, xs)
		case stAddX:
			vecAdd(v, cur, xs)
		}
		cur = v
	}
}

// chainStageOf describes node n (built as bt) as a chain stage applied to
// its input vi (the one that is not a scalar constant), or reports false.
// With x ≥ 0, the node may also combine the chain's value with x itself
// (Mul or Add of the two).
func chainStageOf(b *buildCtx, bt *built, inIDs []int, x int) (st chainStage, vi int, ok bool) {
	switch k := bt.k.(type) {
	case *unaryKernel:
		if k.intData || !(k.relu || k.clip) {
			return st, 0, false
		}
		if k.relu {
			return chainStage{kind: stClamp, lo: 0, hi: float32(math.Inf(1))}, 0, true
		}
		return chainStage{kind: stClamp, lo: k.lo, hi: k.hi}, 0, true
	case *binaryKernel:
		if k.intIn || k.outInt || len(b.in) != 2 || b.in[0] == nil || b.in[1] == nil {
			return st, 0, false
		}
		if !sameShape(b.in[0].shape, b.in[1].shape) || len(inIDs) != 2 {
			// Only scalar constants broadcast.
			for j := 0; j < 2; j++ {
				c, o := b.in[j], b.in[1-j]
				if c.konst == nil || len(c.konst.f) != 1 || !sameShape(o.shape, bt.out[0].shape) {
					continue
				}
				cv := c.konst.f[0]
				switch {
				case k.op == binAdd:
					return chainStage{kind: stAddS, c: cv}, 1 - j, true
				case k.op == binMul:
					return chainStage{kind: stMulS, c: cv}, 1 - j, true
				case k.op == binSub && j == 1:
					return chainStage{kind: stAddS, c: -cv}, 0, true // v − c == v + (−c) exactly
				case k.op == binDiv && j == 1:
					return chainStage{kind: stDivS, c: cv}, 0, true
				}
			}
			return st, 0, false
		}
		// Same shapes: the chain's value combined with x.
		if x < 0 || (k.op != binMul && k.op != binAdd) {
			return st, 0, false
		}
		kind := stMulX
		if k.op == binAdd {
			kind = stAddX
		}
		switch {
		case inIDs[1] == x:
			return chainStage{kind: kind}, 0, true
		case inIDs[0] == x:
			return chainStage{kind: kind}, 1, true
		}
	}
	return st, 0, false
}

// fuseChain extends the chain of the last step with node n when n reads
// the chain's output and nothing else does, or starts a chain with n.
func (c *compiler) fuseChain(n *onnx.NodeProto, b *buildCtx, bt *built, inIDs []int, prog *program) *built {
	if len(bt.out) != 1 || isIntType(bt.out[0].dt) {
		return bt
	}
	if len(prog.steps) > 0 {
		last := &prog.steps[len(prog.steps)-1]
		if ch, ok := last.k.(*chainKernel); ok && len(last.out) == 1 {
			x := last.in[ch.xIdx]
			st, vi, ok := chainStageOf(b, bt, c.roots(inIDs), c.root(x))
			if ok && c.root(inIDs[vi]) == last.out[0] && c.uses[n.GetInput()[vi]] == 1 {
				ch.stages = append(ch.stages, st)
				last.op += "+" + n.GetOpType()
				last.flops += bt.flops
				return &built{out: bt.out, alias: vi}
			}
		}
	}
	st, vi, ok := chainStageOf(b, bt, inIDs, -1)
	if !ok || inIDs[vi] < 0 || c.values[inIDs[vi]].konst != nil {
		return bt
	}
	return &built{k: &chainKernel{xIdx: vi, stages: []chainStage{st}}, out: bt.out, alias: -1, flops: bt.flops, scratch: bt.scratch}
}

// root is the value whose storage id shares (itself unless a view).
func (c *compiler) root(id int) int {
	if id >= 0 && c.values[id].alias >= 0 {
		return c.values[id].alias
	}
	return id
}

func (c *compiler) roots(ids []int) []int {
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = c.root(id)
	}
	return out
}
