package engine

import "sync"

// blockKernel runs an inverted-residual block of mobilenet_v2 (and the
// depthwise–pointwise pair of other backbones) as one step:
//
//	e = clamp(We·x + be)            1×1 expansion (optional)
//	d = clamp(depthwise(e) + bd)    depthwise k×k, stride 1 or 2
//	y = clamp(Wp·d + bp [+ r])      1×1 projection (optional), residual r
//
// computed in strips of output rows: for each strip the expansion computes
// only the rows of e the strip's depthwise reads, into a buffer of its own
// that stays in the core's L2, the depthwise runs on that buffer with the
// flat kernel's tables for the strip's geometry (dwFlat), and the
// projection writes the strip's rows of y. e and d never exist whole: on
// mobilenet_v2's 112² and 56² blocks they are 1.2–4.8 MB each, which the
// unfused graph writes and reads back through L3. A goroutine takes a run
// of consecutive strips and carries the rows of e two strips share from
// one to the next (the first strip of a run computes them).
//
// The reference is the unfused graph: each stage is the same product and
// the same depthwise sum as the node it replaces (gemmPacked over the
// strip's columns, the flat kernel's tap order), so every output element is
// the same sum in the same order whatever the strips and the thread count
// (TestBlockFusedEqualsUnfused). Compiled only for inference (fuse.go).
type blockKernel struct {
	c, ce, co int // input, expanded (depthwise) and output channels
	h, w      int // input of the depthwise (= of the block)
	oh, ow    int // output
	n         int // batch
	phases    bool
	// ex, pj: the 1×1 weights packed for gemmPacked (nil when the block has
	// no such stage), with their biases (nil when none) and clamps.
	ex, pj       *packedA
	exB, pjB     []float32
	exAct, pjAct *clampAct
	// With a kernel that reads B in place (runTaps), the 1×1 stages run as
	// the unfused implicit path does (implicitGEMM, no packing of B): exT
	// with the input's channel offsets, pjT per strip with d's (strip
	// positions apart); nil otherwise.
	exT      *convKernel
	pjT      []*convKernel
	dwW, dwB []float32
	dwAct    *clampAct
	residIn  int // index among the step's inputs of r, or 0
	strips   []blockStrip
	rows     int // output rows per strip (the last may have fewer)
	hlMax    int // rows of e held per strip, at most
	geom     convGeom
}

// blockStrip is one strip: output rows oy0..oy1, the depthwise reading
// rows iy0..iy1 of e (clipped to the image) from a buffer of hl rows per
// channel (iy1−iy0, one more when the phase split needs an even count; that
// row is zero and no tap reads it), through d's tables.
type blockStrip struct {
	oy0, oy1, iy0, iy1, hl int
	d                      *dwFlat
	// d1, with phases, is d's tables for one channel (psz its hw): the
	// strip splits and runs a channel at a time.
	d1 *dwFlat
}

// blockFusion enables the fusion at compile time (fuse_block.go) where
// the flat depthwise kernel is native (dwFlatRun), or everywhere with
// blockFusionGo (tests: the Go kernels then run it). blockMinBytes is the
// size of e (the depthwise's input) below which a block is left unfused,
// blockStripBytes bounds a strip's buffers (e's rows, their phases, d's
// rows), at least blockMinStrips strips, for the threads to share;
// blockMaxThreads: the plans fused. Measured on mobilenet_v2
// (docs/benchmarks.md, Threads, sessions 10 and 12): on an AMD EPYC (Zen 5,
// 1 MB L2) the 4.8 MB e of its 112² block ran 35–45% faster fused at 1
// thread, its 1.8 MB blocks at 56² gained nothing, and 2 threads were
// unsettled. On an Intel Xeon (2 MB L2, session 12) the 56² blocks (1.8 MB)
// gained at 1 and 2 threads and the 112² one on 2 threads too (818 → 490–609
// µs), while blocks at 28² and below (≤ 0.6 MB: 2–3× slower at 7²) lost to
// the strips' calls and the rows of e recomputed at the runs' edges. A
// block without expansion (e is its input: mobilenet_v2's first, 1.6 MB)
// is fused only in plans of at least blockNoExpMinThreads threads: on the
// Xeon it ran 10–20% slower fused on 1 thread, 10–20% faster on 2.
var (
	blockFusion     = true
	blockFusionGo   = false
	blockMinBytes   = 1 << 20
	blockStripBytes = 1536 << 10
	blockMinStrips  = 8
	blockMaxThreads = 2

	blockNoExpMinThreads = 2
)

// oneThread runs a strip's stages on the goroutine that took the strip.
var oneThread = exec{threads: 1}

var blockPool = sync.Pool{New: func() any { return new([]float32) }}

// newBlockKernel lays out the strips of a block whose depthwise convolution
// is dw (with its bias and clamp in dwB, dw.act), or returns nil when the
// geometry does not fit the flat kernel.
func newBlockKernel(dw *convKernel, dwW, dwB []float32) *blockKernel {
	g := dw.convGeom
	if !dw.depthwise || g.spatial != 2 || dw.n < 1 {
		return nil
	}
	bk := &blockKernel{c: dw.c, ce: dw.c, co: dw.c, h: g.h, w: g.w, oh: g.oh, ow: g.ow, n: dw.n,
		dwW: dwW, dwB: dwB, dwAct: dw.act, geom: g}
	switch {
	case g.sh == 1 && g.sw == 1 && g.ow == g.w:
	case g.sh == 2 && g.sw == 2 && g.w%2 == 0 && g.ow == g.w/2:
		bk.phases = true
	default:
		return nil
	}
	span := (g.kh-1)*g.dh + 1
	// Rows per strip: the buffers of one strip (e's rows, their phases,
	// d's rows) within blockStripBytes, at least one row.
	perRow := func(r int) int {
		hl := (r-1)*g.sh + span
		f := bk.ce * hl * g.w
		if bk.phases {
			f *= 2
		}
		return 4 * (f + bk.ce*r*g.ow)
	}
	r := 1
	for r < g.oh && perRow(r+1) <= blockStripBytes {
		r++
	}
	// At least blockMinStrips strips, for the threads to share.
	r = max(1, min(r, (g.oh+blockMinStrips-1)/blockMinStrips))
	bk.rows = r
	cache := map[[3]int]*dwFlat{}
	for oy0 := 0; oy0 < g.oh; oy0 += r {
		oy1 := min(oy0+r, g.oh)
		a := oy0*g.sh - g.pt
		b := (oy1-1)*g.sh - g.pt + span
		st := blockStrip{oy0: oy0, oy1: oy1, iy0: max(a, 0), iy1: min(b, g.h)}
		st.hl = st.iy1 - st.iy0
		if bk.phases && st.hl%2 != 0 {
			st.hl++
		}
		key := [3]int{st.hl, st.iy0 - a, oy1 - oy0}
		d, ok := cache[key]
		if !ok {
			sk := &convKernel{convGeom: g, n: 1, c: bk.ce, m: bk.ce, group: bk.ce, depthwise: true}
			sk.h, sk.pt, sk.oh = st.hl, st.iy0-a, oy1-oy0
			sk.pb = 0
			if d = newDWFlatTables(sk); d == nil {
				return nil
			}
			if d.phases {
				sk1 := *sk
				sk1.c, sk1.m, sk1.group = 1, 1, 1
				if d.one = newDWFlatTables(&sk1); d.one == nil {
					return nil
				}
			}
			cache[key] = d
		}
		st.d, st.d1 = d, d.one
		bk.hlMax = max(bk.hlMax, st.hl)
		bk.strips = append(bk.strips, st)
	}
	if !bk.phases {
		// Without phases the kernel reads e in place: channels hlMax rows apart.
		for _, d := range cache {
			d.hw = bk.hlMax * g.w
		}
	}
	return bk
}

// bufFloats is the floats of one goroutine's buffers: e's rows (hlMax per
// channel), one channel's phases (the strips split a channel at a time),
// d's rows.
func (k *blockKernel) bufFloats() (e, p, d int) {
	e = k.ce * k.hlMax * k.w
	if k.phases { // one channel's phases at a time (strip)
		for i := range k.strips {
			p = max(p, 4*k.strips[i].d1.hw)
		}
	}
	return e, p, k.ce * k.rows * k.ow
}

func (k *blockKernel) forward(x *exec, in, out []*data) {
	src, dst := in[0].f, out[0].f
	var res []float32
	if k.residIn > 0 {
		res = in[k.residIn].f
	}
	threads := x.threads
	ne, np, nd := k.bufFloats()
	hw, ohw := k.h*k.w, k.oh*k.ow
	for n := 0; n < k.n; n++ {
		xs := src[n*k.c*hw : (n+1)*k.c*hw]
		ys := dst[n*k.co*ohw : (n+1)*k.co*ohw]
		var rs []float32
		if res != nil {
			rs = res[n*k.co*ohw : (n+1)*k.co*ohw]
		}
		// Two runs of strips a thread: a run computes the rows of e its
		// strips share once, and a thread done early takes a second run.
		parallelForChunks(len(k.strips), threads, 2*threads, func(lo, hi int) {
			bufp := blockPool.Get().(*[]float32)
			if len(*bufp) < ne+np+nd {
				*bufp = make([]float32, ne+np+nd)
			}
			buf := *bufp
			eb, pb, db := buf[:ne], buf[ne:ne+np], buf[ne+np:ne+np+nd]
			var prev *blockStrip
			for s := lo; s < hi; s++ {
				k.strip(s, prev, xs, ys, rs, eb, pb, db)
				prev = &k.strips[s]
			}
			blockPool.Put(bufp)
		})
	}
}

// strip computes one strip. With prev (the strip this goroutine computed
// just before), eb holds prev's rows of e, and those this strip reads too
// move up instead of being computed again.
func (k *blockKernel) strip(si int, prev *blockStrip, xs, ys, rs, eb, pb, db []float32) {
	st := &k.strips[si]
	W, hw := k.w, k.h*k.w
	S := k.hlMax * W // e's channel stride in eb
	// The previous strip's rows of e sit at the top of each channel; the
	// ones this strip reads too move up, the rest are computed.
	done := 0
	if prev != nil && prev.iy1 > st.iy0 {
		done = prev.iy1 - st.iy0
		from := st.iy0 - prev.iy0
		for c := 0; c < k.ce; c++ {
			ch := eb[c*S : c*S+S]
			copy(ch[:done*W], ch[from*W:(from+done)*W])
		}
	}
	rows := st.iy1 - st.iy0
	if done < rows {
		n := (rows - done) * W
		off := (st.iy0 + done) * W
		switch {
		case k.exT != nil:
			k.exT.implicitGEMM(&oneThread, k.ex, xs[off:], 1, n, 0, eb[done*W:], S, 0, k.exB, nil)
		case k.ex != nil:
			gemmPacked(k.ex, false, n, xs[off:], hw, eb[done*W:], S, false, k.exB, nil, k.exAct, 1)
		default:
			for c := 0; c < k.ce; c++ {
				copy(eb[c*S+done*W:c*S+rows*W], xs[c*hw+off:c*hw+off+n])
			}
		}
	}
	if st.hl > rows { // the phase split's even row: read by no tap
		for c := 0; c < k.ce; c++ {
			clear(eb[c*S+rows*W : c*S+st.hl*W])
		}
	}
	d := st.d
	var ep kernEpi
	if k.dwAct != nil {
		ep.flags, ep.lo, ep.hi = epClamp, k.dwAct.lo, k.dwAct.hi
	}
	if k.dwB != nil {
		ep.flags |= epBias
		ep.bias, ep.biasS = &k.dwB[0], k.dwB
	}
	npos := (st.oy1 - st.oy0) * k.ow
	dout := db[:k.ce*npos]
	run := dwFlatRun
	if run == nil {
		run = dwFlatGo
	}
	if k.phases {
		split := phaseSplit
		if split == nil {
			split = phaseSplitGo
		}
		// A channel at a time: its phases stay in L1 between the split
		// and the kernel (all channels' phases went through L2: on the
		// Intel Xeon, session 12, the unfused 56² stride-2 layer ran 3×
		// faster this way). The same sums as over all channels at once.
		d1, nt := st.d1, len(d.disp)
		for c := 0; c < k.ce; c++ {
			split(pb, eb[c*S:c*S+st.hl*W], st.hl, W, d1.hw)
			if k.dwB != nil {
				ep.bias, ep.biasS = &k.dwB[c], k.dwB[c:c+1]
			}
			run(d1, dout[c*npos:(c+1)*npos], pb, k.dwW[c*nt:(c+1)*nt], 1, &ep)
		}
	} else {
		run(d, dout, eb, k.dwW, k.ce, &ep)
	}
	o0 := st.oy0 * k.ow
	ohw := k.oh * k.ow
	if k.pj == nil {
		for c := 0; c < k.ce; c++ {
			copy(ys[c*ohw+o0:c*ohw+o0+npos], dout[c*npos:(c+1)*npos])
		}
		return
	}
	var r []float32
	if rs != nil {
		r = rs[o0:]
	}
	if t := k.pjT; t != nil {
		t[si].implicitGEMM(&oneThread, k.pj, dout, 1, npos, 0, ys[o0:], ohw, 0, k.pjB, r)
		return
	}
	gemmPacked(k.pj, false, npos, dout, npos, ys[o0:], ohw, false, k.pjB, r, k.pjAct, 1)
}

// implicitStages sets exT and pjT when the kernel the 1×1 weights are
// packed for reads B in place; fuse calls it whenever a stage or a clamp
// changes.
func (k *blockKernel) implicitStages() {
	kern := activeKernel()
	k.exT, k.pjT = nil, nil
	if kern.runTaps == nil {
		return
	}
	stage := func(pa *packedA, act *clampAct, stride int) *convKernel {
		t := &convKernel{n: 1, c: pa.k, m: pa.m, group: 1, pointwise: true, implicit: true, act: act}
		for c := 0; c < pa.k; c++ {
			t.tapOffs = append(t.tapOffs, c*stride)
		}
		return t
	}
	if k.ex != nil {
		k.exT = stage(k.ex, k.exAct, k.h*k.w)
	}
	if k.pj != nil {
		byPos := map[int]*convKernel{}
		for _, st := range k.strips {
			npos := (st.oy1 - st.oy0) * k.ow
			if byPos[npos] == nil {
				byPos[npos] = stage(k.pj, k.pjAct, npos)
			}
			k.pjT = append(k.pjT, byPos[npos])
		}
	}
}
