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
// registers. mr and nr are the micro-kernel's.
const (
	gemmKC    = 256
	gemmMC    = 72 // a multiple of every kernel's mr
	gemmNC    = 512
	maxKernMR = 6
	maxKernNR = 16
)

// microKernel adds the product of a packed mr×kc panel of A (a[p*mr+r]) and
// a packed kc×nr panel of B (b[p*nr+q]) to the full mr×nr block of C at c.
type microKernel struct {
	mr, nr int
	name   string
	run    func(kc int, a, b, c []float32, ldc int)
}

// goKernel is the portable micro-kernel; simdKernel, when the CPU has one
// (sgemm_amd64.go), is used instead.
var (
	goKernel   = &microKernel{mr: 4, nr: 4, name: "go-4x4", run: kernel4x4}
	simdKernel *microKernel
)

func activeKernel() *microKernel {
	if simdKernel != nil {
		return simdKernel
	}
	return goKernel
}

var packPool = sync.Pool{New: func() any {
	b := make([]float32, gemmKC*(gemmMC+gemmNC+maxKernNR)+maxKernMR*maxKernNR)
	return &b
}}

// sgemm computes the same as sgemmRef with packed panels, a register-blocked
// micro-kernel, and up to threads goroutines over blocks of columns of C.
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, threads int) {
	sgemmWith(activeKernel(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads)
}

func sgemmWith(kern *microKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, threads int) {
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
	nr := kern.nr
	// Split the columns of C into blocks; threads take blocks.
	nb := (n + gemmNC - 1) / gemmNC
	if threads > 1 && nb < threads && n >= 2*nr {
		nb = threads
	}
	ncol := (n + nb - 1) / nb
	ncol = (ncol + nr - 1) / nr * nr
	nb = (n + ncol - 1) / ncol
	parallelFor(nb, threads, func(lo, hi int) {
		bufp := packPool.Get().(*[]float32)
		need := gemmKC*(gemmMC+ncol+nr) + maxKernMR*maxKernNR
		if len(*bufp) < need {
			*bufp = make([]float32, need)
		}
		buf := *bufp
		for jb := lo; jb < hi; jb++ {
			j0 := jb * ncol
			j1 := min(j0+ncol, n)
			sgemmBlock(kern, transA, transB, m, j0, j1, k, alpha, a, lda, b, ldb, c, ldc, buf)
		}
		packPool.Put(bufp)
	})
}

// sgemmBlock accumulates alpha*op(A)*op(B)[:, j0:j1] into C[:, j0:j1].
func sgemmBlock(kern *microKernel, transA, transB bool, m, j0, j1, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, buf []float32) {
	mr, nr := kern.mr, kern.nr
	nw := j1 - j0
	npan := (nw + nr - 1) / nr
	tmp := buf[len(buf)-maxKernMR*maxKernNR:]
	for p0 := 0; p0 < k; p0 += gemmKC {
		kc := min(gemmKC, k-p0)
		bp := buf[:npan*nr*kc]
		packB(transB, b, ldb, p0, kc, j0, nw, nr, bp)
		ap := buf[len(bp) : len(bp)+(gemmMC+mr)*kc]
		for i0 := 0; i0 < m; i0 += gemmMC {
			mc := min(gemmMC, m-i0)
			packA(transA, a, lda, i0, mc, p0, kc, mr, alpha, ap)
			for ip := 0; ip < mc; ip += mr {
				rows := min(mr, mc-ip)
				apan := ap[ip*kc : ip*kc+mr*kc]
				for jp := 0; jp < nw; jp += nr {
					cols := min(nr, nw-jp)
					bpan := bp[jp*kc : jp*kc+nr*kc]
					off := (i0+ip)*ldc + j0 + jp
					if rows == mr && cols == nr {
						kern.run(kc, apan, bpan, c[off:], ldc)
						continue
					}
					// Partial tile: run the kernel on a zeroed buffer, add
					// the valid part.
					t := tmp[:mr*nr]
					clear(t)
					kern.run(kc, apan, bpan, t, nr)
					for r := 0; r < rows; r++ {
						crow := c[off+r*ldc : off+r*ldc+cols]
						for q := range crow {
							crow[q] += t[r*nr+q]
						}
					}
				}
			}
		}
	}
}

// packA copies alpha*op(A)[i0:i0+mc, p0:p0+kc] into panels of mr rows:
// ap[(i/mr)*kc*mr + p*mr + i%mr], zero-padding the last panel.
func packA(trans bool, a []float32, lda, i0, mc, p0, kc, mr int, alpha float32, ap []float32) {
	for ip := 0; ip < mc; ip += mr {
		pan := ap[ip*kc : ip*kc+mr*kc]
		for r := 0; r < mr; r++ {
			i := i0 + ip + r
			if ip+r >= mc {
				for p := 0; p < kc; p++ {
					pan[p*mr+r] = 0
				}
				continue
			}
			if trans {
				for p := 0; p < kc; p++ {
					pan[p*mr+r] = alpha * a[(p0+p)*lda+i]
				}
			} else {
				row := a[i*lda+p0 : i*lda+p0+kc]
				for p, v := range row {
					pan[p*mr+r] = alpha * v
				}
			}
		}
	}
}

// packB copies op(B)[p0:p0+kc, j0:j0+nw] into panels of nr columns:
// bp[(j/nr)*kc*nr + p*nr + j%nr], zero-padding the last panel.
func packB(trans bool, b []float32, ldb, p0, kc, j0, nw, nr int, bp []float32) {
	for jp := 0; jp < nw; jp += nr {
		pan := bp[jp*kc : jp*kc+nr*kc]
		cols := min(nr, nw-jp)
		if !trans {
			for p := 0; p < kc; p++ {
				src := b[(p0+p)*ldb+j0+jp : (p0+p)*ldb+j0+jp+cols]
				dst := pan[p*nr : p*nr+nr]
				copy(dst, src)
				clear(dst[cols:])
			}
			continue
		}
		for q := 0; q < nr; q++ {
			if q >= cols {
				for p := 0; p < kc; p++ {
					pan[p*nr+q] = 0
				}
				continue
			}
			col := b[(j0+jp+q)*ldb+p0 : (j0+jp+q)*ldb+p0+kc]
			for p, v := range col {
				pan[p*nr+q] = v
			}
		}
	}
}

// kernel4x4 is the portable micro-kernel: mr = nr = 4.
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
