package engine

import "math"

type poolKind int

const (
	poolMax poolKind = iota
	poolAvg
)

// poolKernel is MaxPool / AveragePool over 1 or 2 spatial dims. Reference:
//
//	out[n,c,oy,ox] = max / mean over ky<kh, kx<kw of x[n,c, oy·sh−pt+ky·dh, ox·sw−pl+kx·dw]
//
// skipping positions outside the input; AveragePool divides by the number of
// positions inside the input, or (count_include_pad) inside the padded input.
type poolKernel struct {
	convGeom
	kind       poolKind
	nc         int
	includePad bool
	// row, for MaxPool with a horizontal stride of 1 or 2, lays out one
	// row of the window maxima down the columns (maxRows).
	row *paddedPlane
}

func buildPool(kind poolKind) opBuilder {
	return func(b *buildCtx) (*built, error) {
		if err := b.need(1); err != nil {
			return nil, err
		}
		x := b.in[0]
		if x.isInt() || len(x.shape) < 3 {
			return nil, notImpl("pooling %v %v", x.dt, x.shape)
		}
		if b.nOut > 1 && b.node.GetOutput()[1] != "" {
			return nil, notImpl("MaxPool Indices output")
		}
		if b.attrInt("storage_order", 0) != 0 {
			return nil, notImpl("storage_order=1")
		}
		ks, ok := b.attrInts("kernel_shape")
		if !ok {
			return nil, invalid("kernel_shape missing")
		}
		g, err := spatialAttrs(b, x.shape[2:], ints(ks), b.attrInt("ceil_mode", 0) != 0)
		if err != nil {
			return nil, err
		}
		k := &poolKernel{convGeom: *g, kind: kind, nc: x.shape[0] * x.shape[1], includePad: b.attrInt("count_include_pad", 0) != 0}
		if kind == poolMax && planeOK(g) {
			rg := *g // one row: the vertical taps are taken before (maxRows)
			rg.h, rg.oh, rg.kh, rg.sh, rg.dh, rg.pt, rg.pb = 1, 1, 1, 1, 1, 0, 0
			k.row = newPaddedPlane(&rg)
		}
		out := append([]int{x.shape[0], x.shape[1]}, g.outSpatial()...)
		return &built{k: k, out: one(x.dt, out), alias: -1, flops: int64(numel(out) * g.kh * g.kw)}, nil
	}
}

func (k *poolKernel) forward(x *exec, in, out []*data) {
	if k.is3x3s2() {
		k.max3x3s2(x, in[0].f, out[0].f)
		return
	}
	if k.row != nil {
		k.maxRows(x, in[0].f, out[0].f)
		return
	}
	k.forwardRef(x, in[0].f, out[0].f)
}

// is3x3s2 reports whether k is the 3×3, stride-2 MaxPool with a padding
// of 1 above and to the left of an input of even sides whose windows all
// end inside it (resnet18's pool of its stem): max3x3s2.
func (k *poolKernel) is3x3s2() bool {
	return k.kind == poolMax && k.row != nil && k.kh == 3 && k.kw == 3 && k.sh == 2 && k.sw == 2 && k.dh == 1 && k.dw == 1 &&
		k.pt == 1 && k.pl == 1 && k.h%2 == 0 && k.w%2 == 0 && k.oh == k.h/2 && k.ow == k.w/2
}

// max3x3s2Plane, when not nil, is max3x3s2's work on one plane of h×w
// (both even) in one pass (AVX-512: max3x3s2PlaneAVX512): the same
// maxima, a NaN in a window giving NaN.
var max3x3s2Plane func(out, in []float32, h, w int)

// max3x3s2 is maxRows for is3x3s2, a channel in a few whole-plane passes
// instead of a few calls per output row: the channel's even and odd
// columns e and o (one deinterleave); the row maxima max(o[j−1], e[j],
// o[j]) over the plane as one run (the first column, whose window starts
// in the padding, redone as max(e, o)), below a row of −∞; the column
// maxima of three such rows, for every output row at once (rows 2·oy−1,
// 2·oy, 2·oy+1 of the input: one run that also computes the odd rows,
// which are dropped); then the output rows copied out.
func (k *poolKernel) max3x3s2(x *exec, src, dst []float32) {
	h, w, oh, ow := k.h, k.w, k.oh, k.ow
	hw, ohw := h*w, oh*ow
	threads := x.threads
	if k.nc*ohw*9 < parallelMinElems {
		threads = 1
	}
	if max3x3s2Plane != nil {
		parallelFor(k.nc, threads, func(lo, hi int) {
			for nc := lo; nc < hi; nc++ {
				max3x3s2Plane(dst[nc*ohw:(nc+1)*ohw], src[nc*hw:(nc+1)*hw], h, w)
			}
		})
		return
	}
	ninf := float32(math.Inf(-1))
	nv := (oh-1)*2*ow + ow // the column maxima's run
	parallelFor(k.nc, threads, func(lo, hi int) {
		const gap = 16 // a cache line around each part (see maxRows)
		bufp := planePool.Get().(*[]float32)
		if n := gap + h*ow + gap + h*ow + gap + (h+1)*ow + gap + nv + gap; len(*bufp) < n {
			*bufp = make([]float32, n)
		}
		buf := *bufp
		eo := gap
		oo := eo + h*ow + gap
		ho := oo + h*ow + gap
		vo := ho + (h+1)*ow + gap
		e, o := buf[eo:eo+h*ow], buf[oo:oo+h*ow]
		hm, vm := buf[ho:ho+(h+1)*ow], buf[vo:vo+nv]
		fill(hm[:ow], ninf)
		hoffs := []int{oo - 1, eo, oo}
		voffs := []int{0, ow, 2 * ow}
		for nc := lo; nc < hi; nc++ {
			xc, oc := src[nc*hw:(nc+1)*hw], dst[nc*ohw:(nc+1)*ohw]
			deinterleave(e, o, xc)
			tapMaxRow(hm[ow:], buf, hoffs)
			for r := 0; r < h; r++ {
				m, v := e[r*ow], o[r*ow]
				if v > m || v != v {
					m = v
				}
				hm[(r+1)*ow] = m
			}
			tapMaxRow(vm, hm, voffs)
			for oy := 0; oy < oh; oy++ {
				copy(oc[oy*ow:(oy+1)*ow], vm[oy*2*ow:])
			}
		}
		planePool.Put(bufp)
	})
}

// maxRows is MaxPool taken apart: for each output row, the maximum down
// the columns over the window's input rows inside the input (tapMaxRow
// over whole rows), written into a row padded with −∞ (which never wins,
// as skipping the position would) and, for a horizontal stride of 2,
// split into its even and odd columns; then the maximum across the
// window's columns, each a contiguous run of that row (tapMaxRow again).
// An output row whose window has no input row is −∞, as in the reference.
// The maximum is taken in another order than forwardRef's, which only
// the sign of a zero or which NaN comes out can tell.
func (k *poolKernel) maxRows(x *exec, src, dst []float32) {
	hw, ohw := k.h*k.w, k.oh*k.ow
	threads := x.threads
	if k.nc*ohw*k.kh*k.kw < parallelMinElems {
		threads = 1
	}
	rp := k.row
	ninf := float32(math.Inf(-1))
	// With a stride of 2, where the input's even and odd columns go in
	// the padded row (paddedPlane.fill's runs, without its per-row work).
	e0, o0, pairs, last := rp.col(k.pl), rp.col(k.pl+1), k.w/2, -1
	if k.w%2 == 1 {
		last = rp.col(k.pl + k.w - 1)
	}
	parallelFor(k.nc, threads, func(lo, hi int) {
		// One buffer of this goroutine's own, with a cache line of margin
		// around each part: both are written for every output row, and a
		// line shared with another core's buffer would go back and forth.
		const gap = 16
		buf := make([]float32, gap+rp.planeSz+gap+k.w+gap)
		prow := buf[gap : gap+rp.planeSz]
		fill(prow, ninf)
		cols := prow[k.pl : k.pl+k.w] // stride 1: the input's columns in place
		if k.sw != 1 {
			cols = buf[2*gap+rp.planeSz : 2*gap+rp.planeSz+k.w]
		}
		offs := make([]int, 0, k.kh)
		for nc := lo; nc < hi; nc++ {
			xc, oc := src[nc*hw:(nc+1)*hw], dst[nc*ohw:(nc+1)*ohw]
			for oy := 0; oy < k.oh; oy++ {
				orow := oc[oy*k.ow : (oy+1)*k.ow]
				offs = offs[:0]
				for ky := 0; ky < k.kh; ky++ {
					if iy := oy*k.sh - k.pt + ky*k.dh; iy >= 0 && iy < k.h {
						offs = append(offs, iy*k.w)
					}
				}
				if len(offs) == 0 {
					fill(orow, ninf)
					continue
				}
				tapMaxRow(cols, xc, offs)
				if k.sw != 1 {
					if pairs > 0 {
						deinterleave(prow[e0:e0+pairs], prow[o0:o0+pairs], cols)
					}
					if last >= 0 {
						prow[last] = cols[k.w-1]
					}
				}
				tapMaxRow(orow, prow, rp.offs)
			}
		}
	})
}

// forwardRef is the reference loop (with the taps inside the input hoisted
// out of the inner loops); it serves every pool the fast path does not.
func (k *poolKernel) forwardRef(x *exec, src, dst []float32) {
	hw, ohw := k.h*k.w, k.oh*k.ow
	threads := x.threads
	if k.nc*ohw*k.kh*k.kw < parallelMinElems {
		threads = 1
	}
	parallelFor(k.nc, threads, func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			xc, oc := src[nc*hw:(nc+1)*hw], dst[nc*ohw:(nc+1)*ohw]
			for oy := 0; oy < k.oh; oy++ {
				iy0 := oy*k.sh - k.pt
				ylo, yhi := tapRange(iy0, k.dh, k.kh, 0, k.h)
				for ox := 0; ox < k.ow; ox++ {
					ix0 := ox*k.sw - k.pl
					xlo, xhi := tapRange(ix0, k.dw, k.kw, 0, k.w)
					orow := &oc[oy*k.ow+ox]
					if k.kind == poolMax {
						m := float32(math.Inf(-1))
						for ky := ylo; ky < yhi; ky++ {
							row := xc[(iy0+ky*k.dh)*k.w:]
							for kx := xlo; kx < xhi; kx++ {
								if v := row[ix0+kx*k.dw]; v > m || v != v {
									m = v
								}
							}
						}
						*orow = m
						continue
					}
					var s float32
					for ky := ylo; ky < yhi; ky++ {
						row := xc[(iy0+ky*k.dh)*k.w:]
						for kx := xlo; kx < xhi; kx++ {
							s += row[ix0+kx*k.dw]
						}
					}
					cnt := (yhi - ylo) * (xhi - xlo)
					if k.includePad {
						a, b := tapRange(iy0, k.dh, k.kh, -k.pt, k.h+k.pb)
						c, d := tapRange(ix0, k.dw, k.kw, -k.pl, k.w+k.pr)
						cnt = (b - a) * (d - c)
					}
					if cnt == 0 {
						*orow = 0
					} else {
						*orow = s / float32(cnt)
					}
				}
			}
		}
	})
}

// tapRange returns the kernel taps [a, b) of a window starting at i0 with
// dilation d and k taps whose positions i0 + t·d lie in [lo, hi).
func tapRange(i0, d, k, lo, hi int) (a, b int) {
	if i0 < lo {
		a = (lo - i0 + d - 1) / d
	}
	if hi <= i0 {
		return a, a
	}
	b = min(k, (hi-1-i0)/d+1)
	if b < a {
		b = a
	}
	return a, b
}

// globalPoolKernel reduces every (n, c) plane to one value (mean or max).
type globalPoolKernel struct {
	kind      poolKind
	nc, inner int
}

func buildGlobalPool(kind poolKind) opBuilder {
	return func(b *buildCtx) (*built, error) {
		if err := b.need(1); err != nil {
			return nil, err
		}
		x := b.in[0]
		if x.isInt() || len(x.shape) < 3 {
			return nil, notImpl("global pooling %v %v", x.dt, x.shape)
		}
		out := cloneInts(x.shape)
		for i := 2; i < len(out); i++ {
			out[i] = 1
		}
		k := &globalPoolKernel{kind: kind, nc: x.shape[0] * x.shape[1], inner: numel(x.shape[2:])}
		return &built{k: k, out: one(x.dt, out), alias: -1, flops: int64(numel(x.shape))}, nil
	}
}

func (k *globalPoolKernel) forward(x *exec, in, out []*data) {
	src, dst := in[0].f, out[0].f
	threads := x.threads
	if k.nc*k.inner < parallelMinElems {
		threads = 1
	}
	parallelFor(k.nc, threads, func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			s := src[nc*k.inner : (nc+1)*k.inner]
			if k.kind == poolMax {
				m := float32(math.Inf(-1))
				for _, v := range s {
					if v > m || v != v {
						m = v
					}
				}
				dst[nc] = m
				continue
			}
			dst[nc] = vecSum(s) / float32(k.inner)
		}
	})
}
