//go:build !purego

package engine

import "github.com/edgeprune/edgeprune/sparse"

// NEON versions of the spmm kernels in op_sparse.go (op_sparse_arm64.s),
// installed through the same hooks as the AVX-512 ones. The vector
// kernels (spDot, sellKernel: the batch-1 Gemm) keep their Go loops on
// arm64: NEON has no gather, so a row's nonzeros would be loaded lane by
// lane as the Go loop does.

// spmmRowsNEON is spmmRowGo over consecutive rows in one call: rowptr holds
// rows+1 offsets into vals and cols, bias (nil for none) the rows' biases,
// and with accum each row starts from dst. Any w; the caller has checked
// that every x[cols[k]·ldx + j], j < w, is in bounds.
//
//go:noescape
func spmmRowsNEON(dst *float32, ldd int, x *float32, ldx int, vals *float32, cols, rowptr *int32, rows, w int, bias *float32, accum bool)

// spmmGroup4NEON is spmmRowGo (without accum) for four rows that share
// their column indices, reading each input tile once for the four. The
// caller has checked the bounds of x, as for spmmRowsNEON.
//
//go:noescape
func spmmGroup4NEON(dst *float32, ldd int, x *float32, ldx int, vals *float32, stride int, cols *int32, nnz, w int, bias *float32)

func init() {
	spmmKernelName = "neon"
	spmmRow = func(dst, x []float32, ldx int, vals []float32, cols []int32, b float32, accum bool) {
		if len(dst) == 0 {
			return
		}
		nnz := len(vals)
		rp := [2]int32{0, int32(nnz)}
		var vp *float32
		var cp *int32
		if nnz > 0 {
			_ = cols[nnz-1]
			vp, cp = &vals[0], &cols[0]
		}
		spmmRowsNEON(&dst[0], 0, ptrOrNil(x), ldx, vp, cp, &rp[0], 1, len(dst), &b, accum)
	}
	spmmRows = func(dst []float32, ldd int, x []float32, ldx int, a *sparse.CSR, ptr []int32, pstride, rows, w int, bias []float32, accum bool) {
		if rows <= 0 || w == 0 {
			return
		}
		_ = dst[(rows-1)*ldd+w-1]
		_ = ptr[(rows-1)*pstride+1]
		var vp *float32
		var cp *int32
		if len(a.Values) > 0 {
			_ = a.ColIdx[len(a.Values)-1]
			vp, cp = &a.Values[0], &a.ColIdx[0]
		}
		if bias != nil {
			_ = bias[rows-1]
		}
		if pstride == 1 {
			var bp *float32
			if bias != nil {
				bp = &bias[0]
			}
			spmmRowsNEON(&dst[0], ldd, ptrOrNil(x), ldx, vp, cp, &ptr[0], rows, w, bp, accum)
			return
		}
		// Column blocks (spWeight.kptr): the NEON kernel reads
		// consecutive row pointers, so one row per call.
		for i := 0; i < rows; i++ {
			rp := [2]int32{ptr[i*pstride], ptr[i*pstride+1]}
			var bp *float32
			if bias != nil {
				bp = &bias[i]
			}
			spmmRowsNEON(&dst[i*ldd], ldd, ptrOrNil(x), ldx, vp, cp, &rp[0], 1, w, bp, accum)
		}
	}
	spmmGroup4 = func(dst []float32, ldd int, x []float32, ldx int, vals []float32, stride int, cols []int32, w int, bias []float32) {
		if w == 0 {
			return
		}
		nnz := len(cols)
		_ = dst[3*ldd+w-1]
		var vp *float32
		var cp *int32
		if nnz > 0 {
			_ = vals[3*stride+nnz-1]
			vp, cp = &vals[0], &cols[0]
		}
		var bp *float32
		if bias != nil {
			_ = bias[3]
			bp = &bias[0]
		}
		spmmGroup4NEON(&dst[0], ldd, ptrOrNil(x), ldx, vp, stride, cp, nnz, w, bp)
	}
}

// ptrOrNil is &x[0], or nil for an empty x (a weight with no columns, whose
// rows have no nonzeros to read it).
func ptrOrNil(x []float32) *float32 {
	if len(x) == 0 {
		return nil
	}
	return &x[0]
}
