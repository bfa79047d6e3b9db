package engine

import "sync"

// sgemmRef is the reference single-precision matrix product, row-major:
//
//	for i < m, j < n:
//	    s := 0
//	    for p < k: s += op(A)[i,p] * op(B)[p,j]
//	    C[i,j] = alpha*s + beta*C[i,j]     (C is not read when beta == 0)
//
// where op(A) is A or Aᵀ as transA says (A is m×k, or k×m when transposed,
// with row stride lda), and likewise for B (k×n, row stride ldb).
func sgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

// Blocking of the fast SGEMM: A is packed in panels of mr rows, B in panels
// of nr columns, both kc deep; the micro-kernel keeps an mr×nr block of C in
// registers.
const (
	gemmMR = 4
	gemmNR = 4
	gemmKC = 256
	gemmMC = 64
	gemmNC = 512
)

var packPool = sync.Pool{New: func() any {
	b := make([]float32, gemmKC*(gemmMC+gemmNC))
	return &b
}}

// sgemm computes the same as sgemmRef with packed panels, a register-blocked
// micro-kernel, and up to threads goroutines over blocks of C.
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, threads int) {
	if m == 0 || n == 0 {
		return
	}
	// C = beta*C first; the blocked loops then only accumulate.
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
		} else if beta != 1 {
			for j := range row {
				row[j] *= beta
			}
		}
	}
	if k == 0 || alpha == 0 {
		return
	}
	// Split C into tiles; threads take tiles.
	nb := (n + gemmNC - 1) / gemmNC
	mb := (m + gemmMC - 1) / gemmMC
	if threads > 1 && nb*mb < threads {
		// Cut columns finer so every thread has work.
		per := (n + threads - 1) / threads
		per = (per + gemmNR - 1) / gemmNR * gemmNR
		if per > 0 {
			nb = (n + per - 1) / per
		}
	}
	ncol := (n + nb - 1) / nb
	ncol = (ncol + gemmNR - 1) / gemmNR * gemmNR
	nb = (n + ncol - 1) / ncol
	parallelFor(nb, threads, func(lo, hi int) {
		bufp := packPool.Get().(*[]float32)
		need := gemmKC * (gemmMC + ncol + gemmNR)
		if len(*bufp) < need {
			*bufp = make([]float32, need)
		}
		buf := *bufp
		for jb := lo; jb < hi; jb++ {
			j0 := jb * ncol
			j1 := min(j0+ncol, n)
			sgemmBlock(transA, transB, m, j0, j1, k, alpha, a, lda, b, ldb, c, ldc, buf)
		}
		packPool.Put(bufp)
	})
}

// sgemmBlock accumulates alpha*op(A)*op(B)[:, j0:j1] into C[:, j0:j1].
func sgemmBlock(transA, transB bool, m, j0, j1, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, buf []float32) {
	nw := j1 - j0
	npan := (nw + gemmNR - 1) / gemmNR
	for p0 := 0; p0 < k; p0 += gemmKC {
		kc := min(gemmKC, k-p0)
		bp := buf[:npan*gemmNR*kc]
		packB(transB, b, ldb, p0, kc, j0, nw, bp)
		ap := buf[len(bp) : len(bp)+gemmMC*kc]
		for i0 := 0; i0 < m; i0 += gemmMC {
			mc := min(gemmMC, m-i0)
			packA(transA, a, lda, i0, mc, p0, kc, alpha, ap)
			for ip := 0; ip < mc; ip += gemmMR {
				mr := min(gemmMR, mc-ip)
				apan := ap[ip*kc : ip*kc+gemmMR*kc]
				for jp := 0; jp < nw; jp += gemmNR {
					nr := min(gemmNR, nw-jp)
					bpan := bp[jp*kc : jp*kc+gemmNR*kc]
					cc := c[(i0+ip)*ldc+j0+jp:]
					if mr == gemmMR && nr == gemmNR {
						kernel4x4(kc, apan, bpan, cc, ldc)
					} else {
						kernelEdge(kc, apan, bpan, cc, ldc, mr, nr)
					}
				}
			}
		}
	}
}

// packA copies alpha*op(A)[i0:i0+mc, p0:p0+kc] into panels of gemmMR rows:
// ap[(i/MR)*kc*MR + p*MR + i%MR], zero-padding the last panel.
func packA(trans bool, a []float32, lda, i0, mc, p0, kc int, alpha float32, ap []float32) {
	for ip := 0; ip < mc; ip += gemmMR {
		pan := ap[ip*kc : ip*kc+gemmMR*kc]
		for r := 0; r < gemmMR; r++ {
			i := i0 + ip + r
			if ip+r >= mc {
				for p := 0; p < kc; p++ {
					pan[p*gemmMR+r] = 0
				}
				continue
			}
			if trans {
				for p := 0; p < kc; p++ {
					pan[p*gemmMR+r] = alpha * a[(p0+p)*lda+i]
				}
			} else {
				row := a[i*lda+p0 : i*lda+p0+kc]
				for p, v := range row {
					pan[p*gemmMR+r] = alpha * v
				}
			}
		}
	}
}

// packB copies op(B)[p0:p0+kc, j0:j0+nw] into panels of gemmNR columns:
// bp[(j/NR)*kc*NR + p*NR + j%NR], zero-padding the last panel.
func packB(trans bool, b []float32, ldb, p0, kc, j0, nw int, bp []float32) {
	for jp := 0; jp < nw; jp += gemmNR {
		pan := bp[jp*kc : jp*kc+gemmNR*kc]
		nr := min(gemmNR, nw-jp)
		if !trans && nr == gemmNR {
			for p := 0; p < kc; p++ {
				src := b[(p0+p)*ldb+j0+jp : (p0+p)*ldb+j0+jp+4]
				dst := pan[p*4 : p*4+4]
				dst[0], dst[1], dst[2], dst[3] = src[0], src[1], src[2], src[3]
			}
			continue
		}
		for p := 0; p < kc; p++ {
			for r := 0; r < gemmNR; r++ {
				var v float32
				if r < nr {
					j := j0 + jp + r
					if trans {
						v = b[j*ldb+p0+p]
					} else {
						v = b[(p0+p)*ldb+j]
					}
				}
				pan[p*gemmNR+r] = v
			}
		}
	}
}

// kernel4x4 adds the product of a 4×kc panel of A and a kc×4 panel of B to
// the 4×4 block of C at c (row stride ldc).
func kernel4x4(kc int, ap, bp []float32, c []float32, ldc int) {
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 float32
	ap = ap[:kc*4]
	bp = bp[:kc*4]
	for p := 0; p+4 <= len(ap); p += 4 {
		a := ap[p : p+4 : p+4]
		b := bp[p : p+4 : p+4]
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		a0 := a[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := a[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := a[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := a[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	r := c[0:4:4]
	r[0] += c00
	r[1] += c01
	r[2] += c02
	r[3] += c03
	r = c[ldc : ldc+4 : ldc+4]
	r[0] += c10
	r[1] += c11
	r[2] += c12
	r[3] += c13
	r = c[2*ldc : 2*ldc+4 : 2*ldc+4]
	r[0] += c20
	r[1] += c21
	r[2] += c22
	r[3] += c23
	r = c[3*ldc : 3*ldc+4 : 3*ldc+4]
	r[0] += c30
	r[1] += c31
	r[2] += c32
	r[3] += c33
}

// kernelEdge is kernel4x4 for a partial block of mr×nr.
func kernelEdge(kc int, ap, bp []float32, c []float32, ldc, mr, nr int) {
	var acc [gemmMR * gemmNR]float32
	for p := 0; p < kc; p++ {
		for r := 0; r < gemmMR; r++ {
			av := ap[p*gemmMR+r]
			for q := 0; q < gemmNR; q++ {
				acc[r*gemmNR+q] += av * bp[p*gemmNR+q]
			}
		}
	}
	for r := 0; r < mr; r++ {
		for q := 0; q < nr; q++ {
			c[r*ldc+q] += acc[r*gemmNR+q]
		}
	}
}
