package engine

// Flat depthwise convolution: the output planes of a run of channels are
// computed 16 positions at a time, the block of 16 running across output
// rows, with no padded copy of the input. For output position j = oy·OW+ox
// and tap t = (ky, kx) the input read is
//
//	x[c·hw + j + disp[t]]
//
// when the tap lands inside the image, else 0. Which lanes of a block are
// inside is a per-layer table of bit masks (tap-major: mask[t·nblk + j/16]),
// so the kernel runs the same few instructions for every channel however
// small the plane: at 7² and 14² the row-by-row tap kernel (tapRows over a
// paddedPlane) used 7 or 14 of 16 lanes and paid a plane copy and a call per
// row. On mobilenet_v2 (AMD Zen 5, 1 thread, priority runs under load) the
// flat kernel took every depthwise layer from 7² to 112², stride 1 and 2,
// from 1.0× (112² → 56²) to 4× (14² → 7²) faster than the tap rows, so it
// is used wherever the geometry fits.
//
// x is the input itself when the stride is 1 and OW = W. With stride 2 and
// OW = W/2 (H, W even) it is the input split into its four phases (even or
// odd row × even or odd column, each (H/2)×(W/2), psz floats apart): tap
// (ky, kx) then reads one phase at a constant offset from j too.
//
// The reference, for c < nch, j < np (dwFlatGo):
//
//	out[c·np+j] = clamp(bias[c] + Σ_t w[c·ntaps+t] · (mask_t(j) ? x[c·hw + j + disp[t]] : 0))
type dwFlat struct {
	np, hw int // output positions; input floats per channel (per phase when split)
	nblk   int // blocks of 16 positions
	disp   []int
	mask   []uint16 // [t·nblk + j/16]: bit j%16 set where tap t is inside
	// phases: x is split with phaseSplit, the phases psz floats apart.
	phases bool
	psz    int
	// one, with phases, is the tables for one channel's phases (psz =
	// hw): depthwiseFlat and depthwiseFlatSpans split a channel at a time
	// into a buffer of its own.
	one *dwFlat
}

// dwFlatRun is the assembly kernel (vec_amd64.go) or nil, in which case
// depthwise convolutions take depthwiseForward's tap rows. phaseSplit
// splits rows (even count) of w floats (w even) into four phase planes psz
// floats apart: x[r, q] goes to plane (r%2)·2+q%2 at [r/2, q/2].
// dwFlatSpan runs the flat kernel over output positions [j0, j1) (j0 a
// multiple of 16) of channels [0, nch), as dwFlatRun runs all of them
// (dwFlatSpanGo); nil where dwFlatRun is.
var (
	dwFlatRun  func(d *dwFlat, out, x, w []float32, nch int, ep *kernEpi)
	dwFlatSpan func(d *dwFlat, out, x, w []float32, nch, j0, j1 int, ep *kernEpi)
	phaseSplit func(dst, src []float32, rows, w, psz int)
)

// newDWFlat builds the tables for k, or returns nil when the flat kernel is
// not available or does not fit k's geometry.
func newDWFlat(k *convKernel) *dwFlat {
	if dwFlatRun == nil || !k.depthwise || k.n == 0 {
		return nil
	}
	d := newDWFlatTables(k)
	if d != nil && d.phases {
		k1 := *k
		k1.c = 1
		if d.one = newDWFlatTables(&k1); d.one == nil {
			return nil // depthwiseFlat runs a stride-2 layer a channel at a time
		}
	}
	return d
}

// newDWFlatTables builds the flat kernel's tables for k's geometry (which
// dwFlatGo runs too), or returns nil when it does not fit.
func newDWFlatTables(k *convKernel) *dwFlat {
	np := k.oh * k.ow
	d := &dwFlat{np: np, hw: k.h * k.w, nblk: (np + 15) / 16}
	switch {
	case k.sh == 1 && k.sw == 1 && k.ow == k.w:
	case k.sh == 2 && k.sw == 2 && k.h%2 == 0 && k.w%2 == 0 && k.ow == k.w/2:
		d.phases = true
		d.hw = k.h / 2 * k.w / 2
		d.psz = k.c * d.hw
	default:
		return nil
	}
	for ky := 0; ky < k.kh; ky++ {
		for kx := 0; kx < k.kw; kx++ {
			dy, dx := ky*k.dh-k.pt, kx*k.dw-k.pl
			if !d.phases {
				d.disp = append(d.disp, dy*k.w+dx)
				continue
			}
			py, px := dy&1, dx&1 // two's complement: the parity of negative ones too
			d.disp = append(d.disp, (py*2+px)*d.psz+(dy-py)/2*k.ow+(dx-px)/2)
		}
	}
	d.mask = make([]uint16, len(d.disp)*d.nblk)
	for j := 0; j < np; j++ {
		oy, ox := j/k.ow, j%k.ow
		for ky := 0; ky < k.kh; ky++ {
			iy := oy*k.sh - k.pt + ky*k.dh
			for kx := 0; kx < k.kw; kx++ {
				ix := ox*k.sw - k.pl + kx*k.dw
				if iy >= 0 && iy < k.h && ix >= 0 && ix < k.w {
					d.mask[(ky*k.kw+kx)*d.nblk+j/16] |= 1 << (j % 16)
				}
			}
		}
	}
	return d
}

// scratch is the floats the flat path needs of the plan's scratch: none
// (with phases, depthwiseFlat splits a channel at a time into a buffer of
// its own).
func (d *dwFlat) scratch() int {
	return 0
}

// dwFlatGo is the reference loop of the flat kernel (see dwFlat).
func dwFlatGo(d *dwFlat, out, x, w []float32, nch int, ep *kernEpi) {
	nt := len(d.disp)
	for c := 0; c < nch; c++ {
		for j := 0; j < d.np; j++ {
			var s float32
			if ep.flags&epBias != 0 {
				s = ep.biasS[c]
			}
			for t, o := range d.disp {
				if d.mask[t*d.nblk+j/16]>>(j%16)&1 != 0 {
					s += w[c*nt+t] * x[c*d.hw+j+o]
				}
			}
			if ep.flags&epClamp != 0 {
				s = min(max(s, ep.lo), ep.hi)
			}
			out[c*d.np+j] = s
		}
	}
}

// dwFlatSpanGo is the reference loop of dwFlatSpan: dwFlatGo's sum for
// positions j0 ≤ j < j1.
func dwFlatSpanGo(d *dwFlat, out, x, w []float32, nch, j0, j1 int, ep *kernEpi) {
	nt := len(d.disp)
	for c := 0; c < nch; c++ {
		for j := j0; j < j1; j++ {
			var s float32
			if ep.flags&epBias != 0 {
				s = ep.biasS[c]
			}
			for t, o := range d.disp {
				if d.mask[t*d.nblk+j/16]>>(j%16)&1 != 0 {
					s += w[c*nt+t] * x[c*d.hw+j+o]
				}
			}
			if ep.flags&epClamp != 0 {
				s = min(max(s, ep.lo), ep.hi)
			}
			out[c*d.np+j] = s
		}
	}
}

// phaseSplitGo is phaseSplit in Go: x[r, q] of rows (even count) of w
// floats (w even) goes to plane (r%2)·2+q%2 at [r/2, q/2], planes psz
// floats apart.
func phaseSplitGo(dst, src []float32, rows, w, psz int) {
	hw := w / 2
	for r := 0; r < rows; r++ {
		for q := 0; q < w; q++ {
			dst[(r%2*2+q%2)*psz+r/2*hw+q/2] = src[r*w+q]
		}
	}
}

// depthwiseFlat runs the flat kernel over the channels, parallel over runs
// of them (with stride 2, each channel split into phases just before it
// runs), or on
// several threads over spans of positions (depthwiseFlatSpans).
func (k *convKernel) depthwiseFlat(x *exec, src, w, bias, dst []float32) {
	d := k.flat
	threads := x.threads
	if k.c*d.np*len(d.disp) < parallelMinElems {
		threads = 1
	}
	if threads > 1 && dwFlatSpan != nil && spansOK(d.np) {
		k.depthwiseFlatSpans(x, src, w, bias, dst, threads)
		return
	}
	hw := k.h * k.w
	nt := len(d.disp)
	for n := 0; n < k.n; n++ {
		xs := src[n*k.c*hw : (n+1)*k.c*hw]
		os := dst[n*k.c*d.np : (n+1)*k.c*d.np]
		parallelFor(k.c, threads, func(lo, hi int) {
			var ep kernEpi
			if k.act != nil {
				ep.flags, ep.lo, ep.hi = epClamp, k.act.lo, k.act.hi
			}
			if bias != nil {
				ep.flags |= epBias
				ep.bias, ep.biasS = &bias[lo], bias[lo:hi]
			}
			if !d.phases {
				dwFlatRun(d, os[lo*d.np:hi*d.np], xs[lo*hw:hi*hw], w[lo*nt:hi*nt], hi-lo, &ep)
				return
			}
			// With stride 2, a channel at a time: its phases into a
			// buffer of its own (in L1 or L2), then the channel from it
			// (d.one's tables). Split a chunk's channels at once, the
			// phases went through L2 or L3 between the two passes: on the
			// Intel Xeon (session 12) the 28² layer ran 59–63 µs that way,
			// 29–32 this way; the 56² one 244 and 80–86.
			bufp, buf := dwPhaseBuf(4 * d.one.hw)
			for c := lo; c < hi; c++ {
				phaseSplit(buf, xs[c*hw:(c+1)*hw], k.h, k.w, d.one.hw)
				if bias != nil {
					ep.bias, ep.biasS = &bias[c], bias[c:c+1]
				}
				dwFlatRun(d.one, os[c*d.np:(c+1)*d.np], buf, w[c*nt:(c+1)*nt], 1, &ep)
			}
			planePool.Put(bufp)
		})
	}
}

// depthwiseFlatSpans is depthwiseFlat on several threads split over the
// output plane instead of the channels: each chunk computes a span of
// positions (whole spatialUnits) of every channel, the spans cut as the
// pointwise convolutions before and after cut theirs (spatialChunks), so a
// thread reads mostly the rows its own core wrote and writes the rows its
// core's next pointwise reads (locality.go counts it). With stride 2 a
// chunk splits into phases, channel by channel, only the input rows its
// span reads, into a buffer of its own (one channel's phases, in L1 or
// L2), and runs the channel from it (d.one's tables). Each output is the
// same sum as on one thread.
func (k *convKernel) depthwiseFlatSpans(x *exec, src, w, bias, dst []float32, threads int) {
	d := k.flat
	hw := k.h * k.w
	nt := len(d.disp)
	units := (d.np + spatialUnit - 1) / spatialUnit
	for n := 0; n < k.n; n++ {
		xs := src[n*k.c*hw : (n+1)*k.c*hw]
		os := dst[n*k.c*d.np : (n+1)*k.c*d.np]
		parallelForChunks(units, threads, spatialChunks(units, threads), func(lo, hi int) {
			j0, j1 := lo*spatialUnit, min(hi*spatialUnit, d.np)
			var ep kernEpi
			if k.act != nil {
				ep.flags, ep.lo, ep.hi = epClamp, k.act.lo, k.act.hi
			}
			if bias != nil {
				ep.flags |= epBias
				ep.bias, ep.biasS = &bias[0], bias
			}
			if !d.phases {
				dwFlatSpan(d, os, xs, w, k.c, j0, j1, &ep)
				return
			}
			// The input rows the span's taps read, widened to even.
			r0 := max(0, (j0/k.ow)*k.sh-k.pt) &^ 1
			r1 := min(k.h, ((j1-1)/k.ow)*k.sh-k.pt+(k.kh-1)*k.dh+1)
			r1 += r1 & 1
			bufp, buf := dwPhaseBuf(4 * d.one.hw)
			for c := 0; c < k.c; c++ {
				phaseSplit(buf[r0/2*(k.w/2):], xs[c*hw+r0*k.w:c*hw+r1*k.w], r1-r0, k.w, d.one.hw)
				if bias != nil {
					ep.biasS = bias[c : c+1]
				}
				dwFlatSpan(d.one, os[c*d.np:(c+1)*d.np], buf, w[c*nt:(c+1)*nt], 1, j0, j1, &ep)
			}
			planePool.Put(bufp)
		})
	}
}

// dwPhaseBuf returns a buffer of at least n floats from planePool.
func dwPhaseBuf(n int) (*[]float32, []float32) {
	bufp := planePool.Get().(*[]float32)
	if cap(*bufp) < n {
		*bufp = make([]float32, n)
	}
	return bufp, (*bufp)[:n]
}
