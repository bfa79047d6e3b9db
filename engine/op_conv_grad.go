package engine

// Backward of Conv, per image n and group g, with col = im2col(x_g)
// [K × OH·OW], K = C/G·kh·kw (as the forward forms it):
//
//	dW_g += δ_g · colᵀ            (SGEMM)
//	dx_g += col2im(W_gᵀ · δ_g)    (SGEMM, then col2im)
//	dB[m] += Σ δ[n, m, ·]
//
// 1×1 stride-1 unpadded convolutions skip im2col (col is x_g itself, and
// Wᵀ·δ accumulates straight into dx). Depthwise convolutions take a direct
// loop (depthwiseBackward), their GEMMs being degenerate.
func (k *convKernel) backward(x *exec, in, out, dOut, dIn []*data) {
	src, w, d := in[0].f, in[1].f, dOut[0].f
	if k.hasBias && len(dIn) > 2 && dIn[2] != nil {
		np := k.oh * k.ow
		db := dIn[2].f
		for n := 0; n < k.n; n++ {
			for m := 0; m < k.m; m++ {
				db[m] += vecSum(d[(n*k.m+m)*np : (n*k.m+m+1)*np])
			}
		}
	}
	var dx, dw []float32
	if dIn[0] != nil {
		dx = dIn[0].f
	}
	if dIn[1] != nil {
		dw = dIn[1].f
	}
	if dx == nil && dw == nil {
		return
	}
	if k.depthwise {
		k.depthwiseBackward(x, src, w, d, dx, dw)
		return
	}
	kk := k.c / k.group * k.kh * k.kw
	// Images are split into one contiguous chunk per thread; each chunk
	// accumulates its own dW (from zero) and the partial sums are added in
	// chunk order, so a thread count fixes the result.
	chunks := min(x.threads, k.n)
	per := k.colSize()
	wsize := k.m * kk
	parts := x.scratch[chunks*per : chunks*(per+wsize)]
	if dw != nil {
		clear(parts)
	}
	parallelFor(chunks, chunks, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			buf := x.scratch[ch*per : (ch+1)*per]
			var pw []float32
			if dw != nil {
				pw = parts[ch*wsize : (ch+1)*wsize]
			}
			n0, n1 := ch*k.n/chunks, (ch+1)*k.n/chunks
			one := &exec{threads: 1}
			for n := n0; n < n1; n++ {
				k.backwardImage(one, buf, src, w, d, dx, pw, n)
			}
		}
	})
	if dw != nil {
		for ch := 0; ch < chunks; ch++ {
			vecAdd(dw, dw, parts[ch*wsize:(ch+1)*wsize])
		}
	}
}

// backwardImage adds image n's dW (into dw, when not nil) and dx (when not
// nil) with one thread; buf holds its im2col and col2im columns.
func (k *convKernel) backwardImage(x *exec, buf, src, w, d, dx, dw []float32, n int) {
	cg, mg := k.c/k.group, k.m/k.group
	kk := cg * k.kh * k.kw
	np := k.oh * k.ow
	for g := 0; g < k.group; g++ {
		xg := src[(n*k.c+g*cg)*k.h*k.w:]
		dg := d[(n*k.m+g*mg)*np : (n*k.m+(g+1)*mg)*np]
		wg := w[g*mg*kk:]
		if k.pointwise {
			if dw != nil {
				sgemm(false, true, mg, kk, np, 1, dg, np, xg, np, 1, dw[g*mg*kk:], kk, 1)
			}
			if dx != nil {
				sgemm(true, false, kk, np, mg, 1, wg, kk, dg, np, 1, dx[(n*k.c+g*cg)*k.h*k.w:], np, 1)
			}
			continue
		}
		if dw != nil {
			col := buf[:kk*np]
			k.im2colStrided(x, xg, col)
			sgemm(false, true, mg, kk, np, 1, dg, np, col, np, 1, dw[g*mg*kk:], kk, 1)
		}
		if dx != nil {
			dcol := buf[kk*np : 2*kk*np]
			sgemm(true, false, kk, np, mg, 1, wg, kk, dg, np, 0, dcol, np, 1)
			k.col2im(x, dcol, dx[(n*k.c+g*cg)*k.h*k.w:(n*k.c+(g+1)*cg)*k.h*k.w])
		}
	}
}

// colSize is the scratch one image's backward needs (im2col and col2im
// columns of one group).
func (k *convKernel) colSize() int {
	if k.pointwise {
		return 0
	}
	return 2 * k.c / k.group * k.kh * k.kw * k.oh * k.ow
}

func (k *convKernel) gradScratch(threads int) int {
	if k.depthwise {
		return 0
	}
	chunks := min(threads, k.n)
	return chunks * (k.colSize() + k.m*k.c/k.group*k.kh*k.kw)
}

// tapeNeeds: x and W.
func (k *convKernel) tapeNeeds() (in, out uint64) { return 0b011, 0 }

// col2im is the adjoint of im2colStrided: dx[c, iy, ix] += col[(c·kh+ky)·kw+kx,
// oy·OW+ox] over the taps that read (iy, ix); parallel over channels, each
// channel summed in a fixed order.
func (k *convKernel) col2im(x *exec, col, dx []float32) {
	cg := k.c / k.group
	np := k.oh * k.ow
	threads := x.threads
	if cg*k.kh*k.kw*np < 1<<15 {
		threads = 1
	}
	parallelFor(cg, threads, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			xc := dx[c*k.h*k.w : (c+1)*k.h*k.w]
			for ky := 0; ky < k.kh; ky++ {
				for kx := 0; kx < k.kw; kx++ {
					row := col[((c*k.kh+ky)*k.kw+kx)*np:]
					xlo, xhi := validRange(k.ow, k.w, k.sw, k.pl, kx*k.dw)
					ylo, yhi := validRange(k.oh, k.h, k.sh, k.pt, ky*k.dh)
					off := -k.pl + kx*k.dw
					for oy := ylo; oy < yhi; oy++ {
						iy := oy*k.sh - k.pt + ky*k.dh
						xrow := xc[iy*k.w : (iy+1)*k.w]
						orow := row[oy*k.ow : (oy+1)*k.ow]
						if k.sw == 1 {
							dst := xrow[xlo+off : xhi+off]
							vecAdd(dst, dst, orow[xlo:xhi])
							continue
						}
						for ox := xlo; ox < xhi; ox++ {
							xrow[ox*k.sw+off] += orow[ox]
						}
					}
				}
			}
		}
	})
}

// depthwiseBackward is the backward of a depthwise convolution, one channel
// per task (the batch summed inside it, in order):
//
//	dW[c,ky,kx] += Σ_{n,oy,ox} δ[n,c,oy,ox]·x[n,c,iy,ix],  dx[n,c,iy,ix] += W[c,ky,kx]·δ[n,c,oy,ox]
func (k *convKernel) depthwiseBackward(x *exec, src, w, d, dx, dw []float32) {
	np, hw := k.oh*k.ow, k.h*k.w
	threads := x.threads
	if k.n*k.c*np*k.kh*k.kw < 1<<15 {
		threads = 1
	}
	parallelFor(k.c, threads, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			wc := w[c*k.kh*k.kw : (c+1)*k.kh*k.kw]
			for ky := 0; ky < k.kh; ky++ {
				ylo, yhi := validRange(k.oh, k.h, k.sh, k.pt, ky*k.dh)
				for kx := 0; kx < k.kw; kx++ {
					xlo, xhi := validRange(k.ow, k.w, k.sw, k.pl, kx*k.dw)
					if xlo >= xhi {
						continue
					}
					off := -k.pl + kx*k.dw
					wv := wc[ky*k.kw+kx]
					var acc float32
					for n := 0; n < k.n; n++ {
						nc := n*k.c + c
						xc, dc := src[nc*hw:(nc+1)*hw], d[nc*np:(nc+1)*np]
						var gx []float32
						if dx != nil {
							gx = dx[nc*hw : (nc+1)*hw]
						}
						for oy := ylo; oy < yhi; oy++ {
							iy := oy*k.sh - k.pt + ky*k.dh
							drow := dc[oy*k.ow:]
							base := iy*k.w + off
							if k.sw == 1 {
								ds := drow[xlo:xhi]
								if dw != nil {
									acc += vecDot(ds, xc[base+xlo:base+xhi])
								}
								if gx != nil {
									for j, v := range ds {
										gx[base+xlo+j] += wv * v
									}
								}
								continue
							}
							for ox := xlo; ox < xhi; ox++ {
								v := drow[ox]
								if dw != nil {
									acc += v * xc[base+ox*k.sw]
								}
								if gx != nil {
									gx[base+ox*k.sw] += wv * v
								}
							}
						}
					}
					if dw != nil {
						dw[c*k.kh*k.kw+ky*k.kw+kx] += acc
					}
				}
			}
		}
	})
}

// packWeights packs run-time weights for the SGEMM micro-kernel, per group,
// into buffers the kernel keeps (a Trainable runs one forward at a time).
func (k *convKernel) packWeights(w []float32) {
	mg, kk := k.m/k.group, k.c/k.group*k.kh*k.kw
	kern := activeKernel()
	if k.packBuf == nil {
		k.packBuf = make([][]float32, k.group)
		k.packed = make([]*packedA, k.group)
	}
	for g := 0; g < k.group; g++ {
		k.packed[g] = packAll(kern, false, mg, kk, 1, w[g*mg*kk:], kk, k.packBuf[g])
		k.packBuf[g] = k.packed[g].data
	}
}
