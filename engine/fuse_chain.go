package engine

import (
	"math"
	"slices"
	"sync"

	onnx "github.com/edgeprune/edgeprune/onnxio/onnxpb"
)

// chainKernel runs a chain of elementwise ops as one pass over memory:
// x (input xIdx) goes through the stages in order, each exactly the op it
// replaces, in blocks that stay in L1 (HardSwish written out as Add, Clip,
// Mul, Div, or a scalar affine y = a·x + b, become one pass instead of one
// per op). Reference: the ops applied one after another (TestChainEqualsUnfused).
//
// A stSetX stage makes the value so far the x of the stages after it: two
// chains, the second of which reads the first's output both as its input
// and as its x (PP-OCR's scale-and-shift before each HardSwish), run as one
// (mergeChains), and the first's output is never stored.
type chainKernel struct {
	xIdx   int
	stages []chainStage
	// xv is, while compiling, the value the chain's x holds after its last
	// stSetX (the first chain's output, elided), or -1: the input xIdx.
	xv int
}

type chainStageKind int

const (
	stAddS  chainStageKind = iota // v + c
	stMulS                        // v · c
	stDivS                        // v / c
	stClamp                       // min(max(v, lo), hi)
	stMulX                        // v · x
	stAddX                        // v + x
	stSetX                        // x = v (v unchanged)
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
	setX := slices.ContainsFunc(k.stages, func(s chainStage) bool { return s.kind == stSetX })
	// elems runs the chain over dst[lo:hi] a block at a time.
	elems := func(lo, hi int) {
		var xb *[chainBlock]float32
		if setX {
			xb = chainX.Get().(*[chainBlock]float32)
		}
		for i0 := lo; i0 < hi; i0 += chainBlock {
			i1 := min(i0+chainBlock, hi)
			k.run(dst[i0:i1], src[i0:i1], xb)
		}
		if xb != nil {
			chainX.Put(xb)
		}
	}
	if planeSpans(out[0].shape, threads, elems) { // over the planes, as the convolutions split them
		return
	}
	nb := (n + chainBlock - 1) / chainBlock
	parallelFor(nb, threads, func(lo, hi int) { elems(lo*chainBlock, min(hi*chainBlock, n)) })
}

// chainX holds the blocks a chain with stSetX copies its new x into.
var chainX = sync.Pool{New: func() any { return new([chainBlock]float32) }}

// chainBlocks, when the CPU has it (chain_amd64.go), runs the stages over
// the longest prefix of dst it takes (whole blocks of its own), each
// element through every stage in registers, and returns that prefix's
// length; run does the rest.
var chainBlocks func(dst, src []float32, st []chainStage) int

// run applies the stages to xs into v; xb holds the block's x after a
// stSetX (nil when the chain has none). The loop below, one vec kernel per
// stage over the block, is the reference; chainBlocks computes the same
// bits (TestChainBlocksMatchStages).
func (k *chainKernel) run(v, xs []float32, xb *[chainBlock]float32) {
	if chainBlocks != nil {
		n := chainBlocks(v, xs, k.stages)
		v, xs = v[n:], xs[n:]
		if len(v) == 0 {
			return
		}
	}
	k.runStages(v, xs, xb)
}

func (k *chainKernel) runStages(v, xs []float32, xb *[chainBlock]float32) {
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
		case stSetX:
			if len(cur) == 0 {
				continue
			}
			if &cur[0] != &v[0] {
				copy(v, cur)
			}
			xs = xb[:len(v)]
			copy(xs, v)
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
			if ch.xv >= 0 {
				x = ch.xv
			}
			st, vi, ok := chainStageOf(b, bt, c.roots(inIDs), c.root(x))
			if ok && c.root(inIDs[vi]) == last.out[0] && c.uses[n.GetInput()[vi]] == 1 {
				ch.stages = append(ch.stages, st)
				last.op += "+" + n.GetOpType()
				last.flops += bt.flops
				if st.kind == stMulX || st.kind == stAddX {
					c.mergeChains(prog)
				}
				return &built{out: bt.out, alias: vi}
			}
		}
	}
	st, vi, ok := chainStageOf(b, bt, inIDs, -1)
	if !ok || inIDs[vi] < 0 || c.values[inIDs[vi]].konst != nil {
		return bt
	}
	return &built{k: &chainKernel{xIdx: vi, stages: []chainStage{st}, xv: -1}, out: bt.out, alias: -1, flops: bt.flops, scratch: bt.scratch}
}

// mergeChains runs the last two steps of the main program as one chain
// when both are chains, the last one's input (and x) is the other's
// output t, and every reader of t is a stage of the last one (its first
// stage and its stages that combine with x): the first chain's stages,
// then stSetX, then the second's, from the first's input. t is then never
// stored (elided), and the step before the two moves into the place of
// the first (the steps after it, values they produce and last uses move
// down one). Nothing changes when it does not apply.
func (c *compiler) mergeChains(prog *program) {
	ns := len(prog.steps)
	if prog != c.main || ns < 2 {
		return
	}
	s1, s2 := &prog.steps[ns-2], &prog.steps[ns-1]
	k1, ok1 := s1.k.(*chainKernel)
	k2, ok2 := s2.k.(*chainKernel)
	if !ok1 || !ok2 || k2.xv >= 0 || len(s1.out) != 1 || len(s2.out) != 1 || c.root(s2.in[k2.xIdx]) != s1.out[0] {
		return
	}
	// t is stored as s1's output; the chain's intermediate values are
	// views of it, each read only by the next stage (fuseChain), but the
	// last, xt, which s2 reads.
	t, xt := s1.out[0], s2.in[k2.xIdx]
	reads := 1 // s2's first stage
	for _, st := range k2.stages {
		if st.kind == stMulX || st.kind == stAddX {
			reads++
		}
	}
	if c.uses[c.values[xt].name] != reads {
		return
	}
	k := &chainKernel{xIdx: k1.xIdx, xv: t, stages: append(append(slices.Clone(k1.stages), chainStage{kind: stSetX}), k2.stages...)}
	merged := *s1
	merged.k, merged.out, merged.op, merged.flops = k, s2.out, s1.op+"+"+s2.op, s1.flops+s2.flops
	c.values[t].elided = true
	i := ns - 2
	prog.steps[i] = merged
	prog.steps = prog.steps[:ns-1]
	for _, v := range c.values {
		if v.producer > i {
			v.producer--
		}
	}
	for id, e := range c.lastUse {
		if e > i {
			c.lastUse[id] = e - 1
		}
	}
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
