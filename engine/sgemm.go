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

// Blocking of the fast SGEMM: op(A) is packed (once, for constant weights:
// packedA) in panels of mr rows, B in panels of nr columns, both gemmKC
// deep; the micro-kernel keeps an mr×nr block of C in registers.
const (
	gemmKC    = 256
	maxKernMR = 8
	maxKernNR = 32
)

// gemmNC is the column block's width: a tunable (Tunables.GemmNC), set by
// SetTunables before plans run.
var gemmNC = defaultGemmNC

// Epilogue flags of a micro-kernel call (kernEpi.flags).
const (
	epAccum = 1 << iota // add the block to C (else overwrite C)
	epBias              // add bias[r] to row r
	epClamp             // clamp to [lo, hi]
	epResid             // add the block of R at resid (row stride ldc) before the clamp
)

// kernEpi is what a micro-kernel does as it stores its block: C = clamp(
// A·B [+ C] [+ bias] [+ R]), added in that order (a residual Add fused into
// a convolution: the unfused graph's (conv + bias) + r, bit for bit). The
// layout of the fields before biasS is read by the assembly kernels
// (sgemm_amd64.go, sgemm_arm64.go check it).
type kernEpi struct {
	flags  int
	bias   *float32 // bias of the block's first row (epBias), for assembly
	lo, hi float32
	// rows and the column bit mask limit what a partial kernel (see
	// microKernel) reads and writes of C.
	rows  int32
	mask  uint32
	resid *float32  // R's element at the block's top left (epResid), for assembly; set by the kernel's Go wrapper from residS
	biasS []float32 // the bias rows, for Go
	// residS is R from the block's top left on, rows ldc apart (epResid).
	residS []float32
}

// microKernel stores the product of a packed mr×kc panel of A (a[p*mr+r])
// and a packed kc×nr panel of B (b[p*nr+q]) into the mr×nr block of C at c,
// with the epilogue ep. A partial kernel stores only the first ep.rows rows
// and the columns set in ep.mask, and touches nothing else of C; the others
// are only given full blocks in C.
type microKernel struct {
	mr, nr  int
	name    string
	partial bool
	run     func(kc int, a, b, c []float32, ldc int, ep *kernEpi)
	// runTaps, when not nil, is run with B unpacked: row p of the panel
	// is b[offs[p]:][:nr] (only the columns in ep.mask are read, and the
	// caller has checked they lie in b). Partial kernels only.
	runTaps func(kc int, a, b []float32, offs []int, c []float32, ldc int, ep *kernEpi)
	// tapsKC, when not 0, bounds the kc that runTaps takes.
	tapsKC int
}

// accumKernel adapts a micro-kernel that only does C += A·B to the
// epilogue interface, applying the rest of the epilogue in Go.
func accumKernel(mr, nr int, name string, acc func(kc int, a, b, c []float32, ldc int)) *microKernel {
	return &microKernel{mr: mr, nr: nr, name: name, run: func(kc int, a, b, c []float32, ldc int, ep *kernEpi) {
		if ep.flags&epAccum == 0 {
			for r := 0; r < mr; r++ {
				clear(c[r*ldc : r*ldc+nr])
			}
		}
		acc(kc, a, b, c, ldc)
		if ep.flags&(epBias|epClamp|epResid) != 0 {
			for r := 0; r < mr; r++ {
				row := c[r*ldc : r*ldc+nr]
				if ep.flags&epBias != 0 {
					bv := ep.biasS[r]
					for q := range row {
						row[q] += bv
					}
				}
				if ep.flags&epResid != 0 {
					vecAdd(row, row, ep.residS[r*ldc:r*ldc+nr])
				}
				if ep.flags&epClamp != 0 {
					clampRange(row, row, ep.lo, ep.hi)
				}
			}
		}
	}}
}

// goKernel is the portable micro-kernel; simdKernel, when the CPU has one
// (sgemm_amd64.go), is used instead. simdKernels lists every SIMD kernel
// this CPU can run, for tests and benchmarks.
var (
	goKernel    = accumKernel(4, 4, "go-4x4", kernel4x4)
	simdKernel  *microKernel
	simdKernels []*microKernel
)

func activeKernel() *microKernel {
	if simdKernel != nil {
		return simdKernel
	}
	return goKernel
}

var packPool = sync.Pool{New: func() any {
	b := make([]float32, gemmKC*(gemmNC+maxKernNR)+maxKernMR*maxKernNR)
	return &b
}}

// packedA is alpha·op(A) (m×k) packed for one micro-kernel: for the depth
// block starting at p0 (kc = min(gemmKC, k−p0) deep), panel ip (rows
// ip..ip+mr) is data[p0*mp+ip*kc:][:mr*kc], element [p*mr+r], with the rows
// past m zero. Constant weights are packed once when the plan is compiled.
type packedA struct {
	kern *microKernel
	m, k int
	mp   int // m rounded up to mr
	kcb  int // the depth blocks' depth: gemmKC, or packAllKC's
	data []float32
}

// packAll packs alpha·op(A) for kern into dst when it holds mp·k floats
// (mp: m rounded up to kern.mr), else into a new slice.
func packAll(kern *microKernel, trans bool, m, k int, alpha float32, a []float32, lda int, dst []float32) *packedA {
	return packAllKC(kern, trans, m, k, gemmKC, alpha, a, lda, dst)
}

// packAllKC is packAll in depth blocks of kcb instead of gemmKC (for the
// implicit convolution; gemmPacked takes only gemmKC).
func packAllKC(kern *microKernel, trans bool, m, k, kcb int, alpha float32, a []float32, lda int, dst []float32) *packedA {
	mr := kern.mr
	mp := (m + mr - 1) / mr * mr
	if len(dst) < mp*k {
		dst = make([]float32, mp*k)
	}
	pa := &packedA{kern: kern, m: m, k: k, mp: mp, kcb: kcb, data: dst[:mp*k]}
	for p0 := 0; p0 < k; p0 += kcb {
		kc := min(kcb, k-p0)
		packA(trans, a, lda, 0, m, p0, kc, mr, alpha, pa.data[p0*mp:p0*mp+mp*kc])
	}
	return pa
}

// sgemm computes the same as sgemmRef with packed panels, a register-blocked
// micro-kernel, and up to threads goroutines over blocks of columns of C.
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, threads int) {
	sgemmWith(activeKernel(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads)
}

func sgemmWith(kern *microKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, threads int) {
	if m == 0 || n == 0 {
		return
	}
	if beta != 0 && beta != 1 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
		}
	}
	if alpha == 0 {
		k = 0
	}
	mp := (m + kern.mr - 1) / kern.mr * kern.mr
	bufp := packPool.Get().(*[]float32)
	if len(*bufp) < mp*k {
		*bufp = make([]float32, mp*k)
	}
	pa := packAll(kern, transA, m, k, alpha, a, lda, *bufp)
	gemmPacked(pa, transB, n, b, ldb, c, ldc, beta != 0, nil, nil, nil, threads)
	packPool.Put(bufp)
}

// gemmPacked stores into C (m×n, row stride ldc) the product of the packed
// A and op(B) (k×n), plus C itself when accum, plus bias[i] on row i when
// bias is not nil, plus res (laid out as C) when not nil, clamped by act
// when not nil.
func gemmPacked(pa *packedA, transB bool, n int, b []float32, ldb int, c []float32, ldc int, accum bool, bias, res []float32, act *clampAct, threads int) {
	gemmPackedSplit(pa, transB, n, b, ldb, c, ldc, accum, bias, res, act, threads, false)
}

// gemmPackedSplit is gemmPacked; with byRows, on several threads, the
// threads share the rows of C (whole mr panels, one block a thread, all
// the columns each), so that each writes whole rows: where C's reader
// splits it by rows too (a depthwise convolution after a 1×1 one, split
// over channels), each thread then reads what its own core wrote.
func gemmPackedSplit(pa *packedA, transB bool, n int, b []float32, ldb int, c []float32, ldc int, accum bool, bias, res []float32, act *clampAct, threads int, byRows bool) {
	m, k, kern := pa.m, pa.k, pa.kern
	if m == 0 || n == 0 {
		return
	}
	if pa.kcb != gemmKC {
		panic("engine: gemmPacked given A packed in depth blocks other than gemmKC")
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			if !accum {
				clear(row)
			}
			if bias != nil {
				for j := range row {
					row[j] += bias[i]
				}
			}
			if res != nil {
				vecAdd(row, row, res[i*ldc:i*ldc+n])
			}
			act.apply(row)
		}
		return
	}
	nr, mr := kern.nr, kern.mr
	// Split the columns of C into blocks; threads take blocks. With
	// threads, at least two blocks each when the panels allow, so that one
	// goroutine can take over a late one's second block; when the columns
	// are too few for that (7², 14² maps), the rows are split too, in whole
	// mr panels (each row block then packs its own copy of B's block).
	// The blocks share the column panels out evenly, and with threads
	// their number is a multiple of threads where the panels allow: blocks
	// of a fixed width left a short last one (PP-OCR det's 20² maps, 400
	// columns: 128, 128, 128 and 16, so one core did 256 columns and the
	// other 144), and an odd count one block more on one core.
	pans := (n + nr - 1) / nr
	nb := (n + gemmNC - 1) / gemmNC
	rb := 1
	if threads > 1 {
		nb = max(nb, min(2*threads, pans))
		if r := nb % threads; r != 0 && nb+threads-r <= pans {
			nb += threads - r
		}
		if nb < 2*threads {
			rb = min((m+mr-1)/mr, (2*threads+nb-1)/nb)
		}
	}
	nb = min(nb, pans)
	mpan := (m + mr - 1) / mr
	rowsMajor := false
	switch {
	case gemmRowsSplit(n, nr, mpan, threads):
		nb, rb = 1, threads
	case byRows && threads > 1 && mpan >= 2*threads:
		// Column blocks of at most gemmNC, taken row block by row block.
		nb, rb, rowsMajor = (n+gemmNC-1)/gemmNC, threads, true
	}
	prb := (mpan + rb - 1) / rb // mr panels per row block
	rb = (mpan + prb - 1) / prb
	ncol := (pans + nb - 1) / nb * nr // the widest block
	parallelForChunks(nb*rb, threads, nb*rb, func(lo, hi int) {
		bufp := packPool.Get().(*[]float32)
		need := gemmKC*(ncol+nr) + maxKernMR*maxKernNR
		if len(*bufp) < need {
			*bufp = make([]float32, need)
		}
		buf := *bufp
		for u := lo; u < hi; u++ {
			jb, ib := u/rb, u%rb
			if rowsMajor {
				jb, ib = u%nb, u/nb
			}
			j0 := jb * pans / nb * nr
			j1 := min((jb+1)*pans/nb*nr, n)
			i0, i1 := ib*prb*mr, min((ib+1)*prb*mr, m)
			gemmBlock(pa, transB, i0, i1, j0, j1, b, ldb, c, ldc, accum, bias, res, act, buf)
		}
		packPool.Put(bufp)
	})
}

// gemmRowsSplit reports whether gemmPacked gives each of threads
// goroutines one block of whole mr panels of rows (mpan in all) and every
// column instead of blocks of columns: where the columns are one block of
// a few nr panels that the threads cannot share evenly (a 14² map is 196
// columns, 7 panels of 32: 4 on one goroutine, 3 on the other, the fourth
// a sliver). Each goroutine then packs all of B's columns, which costs far
// less than the product when A has many rows. On the Intel Xeon
// (docs/benchmarks.md, Threads, session 12) mobilenet_v2's 1×1 layers at
// 14² ran 10–17% faster at 2 threads (BenchmarkConvPaths). A late helper
// leaves its block to the caller, as a late second chunk does.
func gemmRowsSplit(n, nr, mpan, threads int) bool {
	npan := (n + nr - 1) / nr
	return threads > 1 && n <= gemmNC && npan%threads != 0 && npan < 4*threads && mpan >= 4*threads
}

// gemmBlock does gemmPacked's work for the rows ia..ib (ia a multiple of
// mr) and the columns j0..j1 of C.
func gemmBlock(pa *packedA, transB bool, ia, ib, j0, j1 int, b []float32, ldb int, c []float32, ldc int, accum bool, bias, res []float32, act *clampAct, buf []float32) {
	kern := pa.kern
	m, k, mr, nr := pa.m, pa.k, kern.mr, kern.nr
	nw := j1 - j0
	npan := (nw + nr - 1) / nr
	tmp := buf[len(buf)-maxKernMR*maxKernNR:]
	var ep, tep kernEpi
	for p0 := 0; p0 < k; p0 += gemmKC {
		kc := min(gemmKC, k-p0)
		last := p0+kc == k
		bp := buf[:npan*nr*kc]
		packB(transB, b, ldb, p0, kc, j0, nw, nr, bp)
		ablk := pa.data[p0*pa.mp:]
		flags := 0
		if accum || p0 > 0 {
			flags |= epAccum
		}
		if bias != nil && p0 == 0 {
			flags |= epBias
		}
		if act != nil && last {
			flags |= epClamp
			ep.lo, ep.hi = act.lo, act.hi
		}
		if res != nil && last {
			flags |= epResid
		}
		for i0 := ia; i0 < ib; i0 += mr {
			rows := min(mr, m-i0)
			apan := ablk[i0*kc : i0*kc+mr*kc]
			ep.flags = flags
			if flags&epBias != 0 {
				ep.bias, ep.biasS = &bias[i0], bias[i0:i0+rows]
			}
			for jp := 0; jp < nw; jp += nr {
				cols := min(nr, nw-jp)
				bpan := bp[jp*kc : jp*kc+nr*kc]
				off := i0*ldc + j0 + jp
				if flags&epResid != 0 {
					ep.residS = res[off:]
				}
				if rows == mr && cols == nr {
					ep.rows, ep.mask = int32(mr), 1<<nr-1
					kern.run(kc, apan, bpan, c[off:], ldc, &ep)
					continue
				}
				if kern.partial {
					ep.rows, ep.mask = int32(rows), 1<<cols-1
					kern.run(kc, apan, bpan, c[off:], ldc, &ep)
					continue
				}
				// Partial tile: run the kernel into a buffer, store the
				// valid part with the epilogue.
				t := tmp[:mr*nr]
				kern.run(kc, apan, bpan, t, nr, &tep)
				storeEdge(c[off:], ldc, t, nr, rows, cols, &ep)
			}
		}
	}
}

// storeEdge stores the rows × cols top-left part of the block t (row
// stride ldt, computed without epilogue) into c (row stride ldc) with ep's
// epilogue: the edge tiles of a kernel that only takes full blocks.
func storeEdge(c []float32, ldc int, t []float32, ldt, rows, cols int, ep *kernEpi) {
	for r := 0; r < rows; r++ {
		crow := c[r*ldc : r*ldc+cols]
		trow := t[r*ldt : r*ldt+cols]
		if ep.flags&epAccum != 0 {
			for q := range crow {
				trow[q] += crow[q]
			}
		}
		if ep.flags&epBias != 0 {
			bv := ep.biasS[r]
			for q := range trow {
				trow[q] += bv
			}
		}
		if ep.flags&epResid != 0 {
			vecAdd(trow, trow, ep.residS[r*ldc:r*ldc+cols])
		}
		if ep.flags&epClamp != 0 {
			clampRange(crow, trow, ep.lo, ep.hi)
		} else {
			copy(crow, trow)
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
			if nr == 32 {
				packB32(pan, b[p0*ldb+j0+jp:], ldb, kc, cols)
				continue
			}
			if nr == 12 {
				packB12(pan, b[p0*ldb+j0+jp:], ldb, kc, cols)
				continue
			}
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
