package engine

import (
	"context"
	"fmt"
	"math"
	"os"
	"sync"

	"gorgonia.org/tensor"
)

// On several threads, a node's output is written in parts: the caller runs
// the first chunks of each parallel region, a helper the last (region.work).
// The next node reads its input where its own split says; whatever part of
// it the other thread wrote has to cross between the cores, through the
// shared L3 or, when the two cores do not share one, the interconnect
// (docs/benchmarks.md, Threads, session 10: a 2-thread run follows the
// host's placement of the two vCPUs). Crossing counts those bytes for a
// compiled plan, deterministically, from the split geometry:
//
//   - writes: the plan runs once with every region's chunks taken in order on
//     the calling goroutine, chunk c of C credited to thread ⌊c·T/C⌋ (the
//     split when both threads are on time: the caller the first half, the
//     helper the second), and each output element to the thread whose chunk
//     last changed it (outputs start as a NaN pattern no kernel writes);
//     what a node writes outside a region is the caller's;
//   - reads: what thread t's share of a node reads of each input is what the
//     outputs it wrote depend on — a convolution's receptive field over the
//     group's channels, the broadcast element of an element-wise op, a
//     pooled plane (readMask);
//   - crossing: the elements thread t reads that another thread wrote, ×4 bytes.
//
// Scratch inside a node (im2col, a fused block's strips) is not counted; a
// node of a kind readMask does not know is counted as read whole by every
// thread that wrote part of its output (Modelled false).

// CrossingReport is the count of Program.Crossing.
type CrossingReport struct {
	Threads int
	Nodes   []NodeCrossing
	// ReadBytes is what every node's threads read of values written by the
	// plan's nodes; CrossBytes the part written by another thread.
	ReadBytes, CrossBytes int64
}

// NodeCrossing is one node's part of a CrossingReport.
type NodeCrossing struct {
	Name, Op, Path string
	Threads        int // the node's threads (step.threads)
	// OutBytes is the node's output; OutByThread[t] the part thread t wrote.
	OutBytes    int64
	OutByThread []int64
	ReadBytes   int64
	CrossBytes  int64
	Modelled    bool // false: reads taken as whole inputs (a kind readMask does not know)
}

// regionTracer runs regions in place of the pool while Crossing counts.
type regionTracer struct {
	threads int
	depth   int
	outs    []*tracked
}

// tracked is a float value's writer per element (−1: not written yet).
type tracked struct {
	f, prev []float32
	own     []int8
}

var crossingMu sync.Mutex

// sentinel is the NaN pattern outputs start from while Crossing runs.
var sentinel = math.Float32frombits(0x7fc0dead)

func (tr *regionTracer) region(n, nchunks, threads int, fn func(lo, hi int)) {
	if tr.depth > 0 { // a region inside a chunk: part of that chunk
		fn(0, n)
		return
	}
	tr.flush(0)
	for c := 0; c < nchunks; c++ {
		tr.depth++
		fn(c*n/nchunks, (c+1)*n/nchunks)
		tr.depth--
		tr.flush(c * threads / nchunks)
	}
}

// flush credits every output element changed since the last flush to t.
func (tr *regionTracer) flush(t int) {
	for _, o := range tr.outs {
		for i, v := range o.f {
			if math.Float32bits(v) != math.Float32bits(o.prev[i]) {
				o.own[i] = int8(t)
				o.prev[i] = v
			}
		}
	}
}

// Crossing runs p once on inputs (as Run takes them) and counts, per node,
// the bytes each thread's share reads that another thread wrote, with the
// chunks split as when every thread is on time (see above). It runs on the
// calling goroutine only and must not run beside other runs of any plan in
// the process (it takes over the pool's regions while it counts).
func (p *Program) Crossing(ctx context.Context, inputs map[string]*tensor.Dense) (*CrossingReport, error) {
	w := p.newWorkspace()
	if err := p.readInputs(inputs, func(id int, d *data) {
		w.vals[id].f, w.vals[id].i = d.f, d.i
	}); err != nil {
		return nil, err
	}
	for _, id := range p.aliasOfInputs {
		r := w.vals[p.values[id].alias]
		w.vals[id].f, w.vals[id].i = r.f, r.i
	}
	crossingMu.Lock()
	defer crossingMu.Unlock()
	tr := &regionTracer{threads: p.threads}
	hook := tr.region
	regionHook.Store(&hook)
	defer regionHook.Store(nil)

	rep := &CrossingReport{Threads: p.threads}
	own := map[int][]int8{} // root value id → writer per element
	root := func(id int) int {
		if a := p.values[id].alias; a >= 0 {
			return a
		}
		return id
	}
	x := &exec{threads: p.threads, scratch: w.scratch}
	for i := range p.main.steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s := &p.main.steps[i]
		a := w.args[s.id]
		nc := NodeCrossing{Name: s.name, Op: s.op, Threads: s.threads, Modelled: true, OutByThread: make([]int64, p.threads)}
		if ck, ok := s.k.(*convKernel); ok {
			nc.Path = ck.path()
		}
		tr.outs = tr.outs[:0]
		for j, id := range s.out {
			if d := a[1][j]; d != nil && d.f != nil && p.values[id].alias < 0 {
				fill(d.f, sentinel)
				o := &tracked{f: d.f, prev: append([]float32(nil), d.f...), own: make([]int8, len(d.f))}
				for k := range o.own {
					o.own[k] = -1
				}
				tr.outs = append(tr.outs, o)
				own[id] = o.own
			}
		}
		x.threads = s.threads
		if s.sub != nil {
			if err := s.k.(*ifKernel).run(ctx, w, x, a[0], a[1]); err != nil {
				return nil, err
			}
			nc.Modelled = false
		} else {
			s.k.forward(x, a[0], a[1])
		}
		tr.flush(0)
		var out0 []int8
		if len(tr.outs) > 0 && len(s.out) > 0 && own[s.out[0]] != nil {
			out0 = own[s.out[0]]
		}
		for _, o := range tr.outs {
			nc.OutBytes += 4 * int64(len(o.own))
			for _, t := range o.own {
				if t >= 0 {
					nc.OutByThread[t] += 4
				}
			}
		}
		for j, id := range s.in {
			if id < 0 || p.values[id].konst != nil {
				continue
			}
			wr := own[root(id)]
			if wr == nil || len(wr) != numel(p.values[id].shape) {
				continue // a graph input, an integer value, or a view that is not flat
			}
			for t := 0; t < p.threads; t++ {
				var mask []bool
				ok := false
				if out0 != nil {
					mask, ok = readMask(s, p.values, j, out0, int8(t))
				}
				if !ok {
					nc.Modelled = false
					wrote := false
					for _, o := range tr.outs {
						for _, ot := range o.own {
							wrote = wrote || ot == int8(t)
						}
					}
					if !wrote {
						continue
					}
					mask = nil // every element
				}
				for e, wt := range wr {
					if mask != nil && !mask[e] {
						continue
					}
					nc.ReadBytes += 4
					if wt >= 0 && wt != int8(t) {
						nc.CrossBytes += 4
					}
				}
			}
		}
		rep.ReadBytes += nc.ReadBytes
		rep.CrossBytes += nc.CrossBytes
		rep.Nodes = append(rep.Nodes, nc)
	}
	return rep, nil
}

// readMask is which elements of step s's input j thread t reads, given
// the writer of each element of output 0 (out0), or false for a kind of
// node it does not model.
func readMask(s *step, values []*value, j int, out0 []int8, t int8) ([]bool, bool) {
	inShape := values[s.in[j]].shape
	outShape := values[s.out[0]].shape
	mask := make([]bool, numel(inShape))
	switch k := s.k.(type) {
	case *convKernel:
		if j == 0 {
			k.markWindow(mask, out0, t, k.n, k.c, k.m, k.group, false)
			return mask, true
		}
		if j == k.residIn {
			return broadcastMask(mask, inShape, outShape, out0, t), true
		}
		return nil, false // weights computed at run time
	case *convTransposeKernel:
		if j != 0 {
			return nil, false
		}
		k.markWindow(mask, out0, t, k.n, k.c, k.m, k.group, true)
		return mask, true
	case *poolKernel:
		k.markWindow(mask, out0, t, 1, k.nc, k.nc, k.nc, false)
		return mask, true
	case *globalPoolKernel:
		for nc := 0; nc < k.nc; nc++ {
			if out0[nc] == t {
				for i := nc * k.inner; i < (nc+1)*k.inner; i++ {
					mask[i] = true
				}
			}
		}
		return mask, true
	case *binaryKernel, *unaryKernel, *chainKernel, *variadicKernel:
		if !broadcastable(inShape, outShape) {
			return nil, false
		}
		return broadcastMask(mask, inShape, outShape, out0, t), true
	case *concatKernel:
		off := 0
		for jj := 0; jj < j; jj++ {
			off += k.sizes[jj]
		}
		tot := 0
		for _, sz := range k.sizes {
			tot += sz
		}
		for o := 0; o < k.outer; o++ {
			for e := 0; e < k.sizes[j]; e++ {
				mask[o*k.sizes[j]+e] = out0[o*tot+off+e] == t
			}
		}
		return mask, true
	case *resizeKernel:
		if !k.planar || len(k.in) < 2 {
			return nil, false
		}
		r := len(k.in)
		ih, iw, oh, ow := k.in[r-2], k.in[r-1], k.out[r-2], k.out[r-1]
		planes := numel(k.in[:r-2])
		for pl := 0; pl < planes; pl++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					if out0[(pl*oh+oy)*ow+ox] != t {
						continue
					}
					ys := []int{k.i0[r-2][oy]}
					xs := []int{k.i0[r-1][ox]}
					if k.linear {
						ys = append(ys, k.i1[r-2][oy])
						xs = append(xs, k.i1[r-1][ox])
					}
					for _, y := range ys {
						for _, xx := range xs {
							mask[(pl*ih+y)*iw+xx] = true
						}
					}
				}
			}
		}
		return mask, true
	}
	return nil, false
}

// markWindow marks in mask (the input [n, c, h, w]) what the outputs
// [n, m, oh, ow] written by t read: for each output position that t wrote
// in any channel of a group, the window of every input channel of that
// group. transposed: the geometry of a ConvTranspose (an input position
// feeds the outputs iy·sh − pt + ky·dh).
func (g *convGeom) markWindow(mask []bool, out0 []int8, t int8, n, c, m, group int, transposed bool) {
	cg, mg := c/group, m/group
	ohw, hw := g.oh*g.ow, g.h*g.w
	pos := make([]bool, ohw)
	win := make([]bool, hw)
	for b := 0; b < n; b++ {
		for gi := 0; gi < group; gi++ {
			clear(pos)
			wrote := false
			for mm := gi * mg; mm < (gi+1)*mg; mm++ {
				o := out0[(b*m+mm)*ohw : (b*m+mm+1)*ohw]
				for i, ot := range o {
					if ot == t {
						pos[i], wrote = true, true
					}
				}
			}
			if !wrote {
				continue
			}
			clear(win)
			if transposed {
				for iy := 0; iy < g.h; iy++ {
					for ix := 0; ix < g.w; ix++ {
						for ky := 0; ky < g.kh && !win[iy*g.w+ix]; ky++ {
							oy := iy*g.sh - g.pt + ky*g.dh
							if oy < 0 || oy >= g.oh {
								continue
							}
							for kx := 0; kx < g.kw; kx++ {
								ox := ix*g.sw - g.pl + kx*g.dw
								if ox >= 0 && ox < g.ow && pos[oy*g.ow+ox] {
									win[iy*g.w+ix] = true
									break
								}
							}
						}
					}
				}
			} else {
				for oy := 0; oy < g.oh; oy++ {
					for ox := 0; ox < g.ow; ox++ {
						if !pos[oy*g.ow+ox] {
							continue
						}
						for ky := 0; ky < g.kh; ky++ {
							iy := oy*g.sh - g.pt + ky*g.dh
							if iy < 0 || iy >= g.h {
								continue
							}
							for kx := 0; kx < g.kw; kx++ {
								if ix := ox*g.sw - g.pl + kx*g.dw; ix >= 0 && ix < g.w {
									win[iy*g.w+ix] = true
								}
							}
						}
					}
				}
			}
			for cc := gi * cg; cc < (gi+1)*cg; cc++ {
				copy(mask[(b*c+cc)*hw:(b*c+cc+1)*hw], win)
			}
		}
	}
}

// broadcastable reports whether in broadcasts to out (numpy rules).
func broadcastable(in, out []int) bool {
	if len(in) > len(out) {
		return false
	}
	off := len(out) - len(in)
	for i, d := range in {
		if d != 1 && d != out[off+i] {
			return false
		}
	}
	return true
}

// broadcastMask marks in mask (of shape in, broadcast to out) the elements
// that the outputs written by t read.
func broadcastMask(mask []bool, in, out []int, out0 []int8, t int8) []bool {
	if numel(in) == len(out0) {
		for i, ot := range out0 {
			mask[i] = ot == t
		}
		return mask
	}
	r := len(out)
	st := make([]int, r) // in's stride along each output dim (0: broadcast)
	s := 1
	for i := len(in) - 1; i >= 0; i-- {
		if in[i] != 1 {
			st[r-len(in)+i] = s
		}
		s *= in[i]
	}
	idx := make([]int, r)
	for _, ot := range out0 {
		if ot == t {
			off := 0
			for d := 0; d < r; d++ {
				off += idx[d] * st[d]
			}
			mask[off] = true
		}
		for d := r - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < out[d] {
				break
			}
			idx[d] = 0
		}
	}
	return mask
}

// String prints the report: one line a node, then the totals.
func (r *CrossingReport) String() string {
	s := fmt.Sprintf("%-44s %-10s %-8s %3s %10s %10s %6s\n", "node", "op", "path", "thr", "read", "cross", "t0 out")
	for _, n := range r.Nodes {
		frac := 0.0
		if n.OutBytes > 0 {
			frac = float64(n.OutByThread[0]) / float64(n.OutBytes)
		}
		m := ""
		if !n.Modelled {
			m = " (reads taken whole)"
		}
		s += fmt.Sprintf("%-44s %-10s %-8s %3d %10d %10d %5.0f%%%s\n", n.Name, n.Op, n.Path, n.Threads, n.ReadBytes, n.CrossBytes, 100*frac, m)
	}
	s += fmt.Sprintf("total: read %d B, crossing %d B (%.1f%%), %d threads\n", r.ReadBytes, r.CrossBytes,
		100*float64(r.CrossBytes)/math.Max(1, float64(r.ReadBytes)), r.Threads)
	return s
}

// spatialUnit is the positions of an NCHW plane that a 2-D kernel split
// over the plane hands out as one item: the implicit path's block of
// panels on the widest micro-kernel (implicitPanelsPerBlock × nr = 2 × 32),
// which the depthwise and element-wise spans follow so their halves of a
// plane are the pointwise convolutions' halves.
const spatialUnit = 64

// planeSplits switches the plane splits on (EDGEPRUNE_PLANE_SPLITS=1; off
// by default): the flat depthwise kernel (depthwiseFlatSpans) and the
// element-wise passes (planeSpans) split their planes as the pointwise
// convolutions do, instead of the channels or the flat tensor. They cut
// the bytes read across threads (mobilenet_v2 12.3 → 3.9 MB a run, det
// 26.3 → 19.1 MB, Crossing) but did not make the 2-thread runs faster in
// either placement of the vCPUs (docs/benchmarks.md, Threads, session 11):
// mobilenet_v2 3% faster in the last window measured, det 3–14% slower.
var planeSplits = os.Getenv("EDGEPRUNE_PLANE_SPLITS") == "1"

// spansOK reports whether planes of np positions are split in spans: the
// switch on, at least two units, and planes of whole 64-byte lines (14² is
// not: split in spans, every plane's last line would be written by both
// threads).
func spansOK(np int) bool {
	return planeSplits && np >= 2*spatialUnit && np%16 == 0
}

// spatialChunks is the chunks a region of units spans over a plane is cut
// into: as implicitGEMM cuts its units of work.
func spatialChunks(units, threads int) int {
	return min(units, chunksPerThread*threads)
}

// planeSpans runs fn over the flat ranges of an element-wise pass over a
// tensor of shape [N, C, H, W] on threads, split over the plane as the
// convolutions split theirs (the same span [p0, p1) of every plane per
// chunk), and reports true; or reports false and runs nothing when the
// tensor is not NCHW planes of at least two spatialUnits or threads is 1.
// Splitting the flat tensor in halves instead gave one thread the first
// half of the channels, all of whose planes the previous convolution had
// half written on the other core.
func planeSpans(shape []int, threads int, fn func(lo, hi int)) bool {
	return planeSpanChunks(shape, threads, func(p0, p1, np, planes int) {
		for q := 0; q < planes; q++ {
			fn(q*np+p0, q*np+p1)
		}
	})
}

// planeSpanChunks is planeSpans handing each chunk its span [p0, p1) of
// the planes (np positions each, planes of them) in one call.
func planeSpanChunks(shape []int, threads int, chunk func(p0, p1, np, planes int)) bool {
	if threads <= 1 || len(shape) != 4 {
		return false
	}
	np := shape[2] * shape[3]
	if !spansOK(np) {
		return false
	}
	planes := shape[0] * shape[1]
	units := (np + spatialUnit - 1) / spatialUnit
	parallelForChunks(units, threads, spatialChunks(units, threads), func(lo, hi int) {
		chunk(lo*spatialUnit, min(hi*spatialUnit, np), np, planes)
	})
	return true
}
