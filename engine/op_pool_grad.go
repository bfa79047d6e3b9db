package engine

import "math"

// Backward of MaxPool and AveragePool.
//
// MaxPool routes δ to the argmax of each window, recomputed from the saved
// input: the first position (in scan order) holding the maximum, as torch
// picks it. AveragePool spreads δ/count over the window's positions inside
// the input, count being what the forward divided by (count_include_pad
// counts the padded positions too). Parallel over planes.
func (k *poolKernel) backward(x *exec, in, out, dOut, dIn []*data) {
	src, d, g := in[0].f, dOut[0].f, dIn[0].f
	hw, ohw := k.h*k.w, k.oh*k.ow
	threads := x.threads
	if k.nc*ohw*k.kh*k.kw < 1<<15 {
		threads = 1
	}
	parallelFor(k.nc, threads, func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			xc, gc, dc := src[nc*hw:(nc+1)*hw], g[nc*hw:(nc+1)*hw], d[nc*ohw:(nc+1)*ohw]
			for oy := 0; oy < k.oh; oy++ {
				iy0 := oy*k.sh - k.pt
				ylo, yhi := tapRange(iy0, k.dh, k.kh, 0, k.h)
				for ox := 0; ox < k.ow; ox++ {
					ix0 := ox*k.sw - k.pl
					xlo, xhi := tapRange(ix0, k.dw, k.kw, 0, k.w)
					dv := dc[oy*k.ow+ox]
					if k.kind == poolMax {
						m, at := float32(math.Inf(-1)), -1
						for ky := ylo; ky < yhi; ky++ {
							r := (iy0 + ky*k.dh) * k.w
							for kx := xlo; kx < xhi; kx++ {
								if v := xc[r+ix0+kx*k.dw]; v > m || at < 0 || v != v {
									if v != v && at >= 0 && m != m {
										continue
									}
									m, at = v, r+ix0+kx*k.dw
								}
							}
						}
						if at >= 0 {
							gc[at] += dv
						}
						continue
					}
					cnt := (yhi - ylo) * (xhi - xlo)
					if k.includePad {
						a, b := tapRange(iy0, k.dh, k.kh, -k.pt, k.h+k.pb)
						c, e := tapRange(ix0, k.dw, k.kw, -k.pl, k.w+k.pr)
						cnt = (b - a) * (e - c)
					}
					if cnt == 0 {
						continue
					}
					dv /= float32(cnt)
					for ky := ylo; ky < yhi; ky++ {
						r := (iy0 + ky*k.dh) * k.w
						for kx := xlo; kx < xhi; kx++ {
							gc[r+ix0+kx*k.dw] += dv
						}
					}
				}
			}
		}
	})
}

// tapeNeeds: MaxPool reads x; AveragePool nothing.
func (k *poolKernel) tapeNeeds() (in, out uint64) {
	if k.kind == poolMax {
		return 1, 0
	}
	return 0, 0
}

// Backward of GlobalAveragePool: dx = δ/(H·W) over each plane. (GlobalMaxPool
// has no backward.)
func (k *globalPoolKernel) backward(x *exec, in, out, dOut, dIn []*data) {
	if k.kind != poolAvg {
		panic("engine: GlobalMaxPool has no backward")
	}
	d, g := dOut[0].f, dIn[0].f
	for nc := 0; nc < k.nc; nc++ {
		vecAddScalar(g[nc*k.inner:(nc+1)*k.inner], g[nc*k.inner:(nc+1)*k.inner], d[nc]/float32(k.inner))
	}
}

func (k *globalPoolKernel) tapeNeeds() (in, out uint64) { return 0, 0 }
