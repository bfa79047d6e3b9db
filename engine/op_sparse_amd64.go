//go:build !purego

package engine

import (
	"github.com/edgeprune/edgeprune/sparse"
	"golang.org/x/sys/cpu"
)

// AVX-512 versions of the sparse kernels in op_sparse.go
// (op_sparse_amd64.s).

// spmmRowAVX512 is spmmRowGo for w = len(dst) ≤ 64 columns: the chunk is
// held in four zmm accumulators (masked to w lanes), two nonzeros per
// iteration into two accumulator sets added at the end. The caller has
// checked that every x[cols[k]·ldx + j], j < w, is in bounds.
//
//go:noescape
func spmmRowAVX512(dst, x *float32, ldx int, vals *float32, cols *int32, nnz, w int, b float32, accum bool)

// spDotAVX512 is spDotGo with 16-lane gathers, 32 nonzeros per iteration.
// The caller has checked that every x[cols[k]] is in bounds.
//
//go:noescape
func spDotAVX512(vals *float32, cols *int32, n int, x *float32) float32

// sellAVX512 is sellGo. The caller has checked that every column index
// is in bounds of x.
//
//go:noescape
func sellAVX512(out, vals *float32, cols, width *int32, nslices int, x *float32)

// permAVX512 is permGo (op_sparse_perm.go). The caller has checked that
// x holds every block an entry names.
//
//go:noescape
func permAVX512(out, vals *float32, idx *uint8, nent, blk, wid *int32, nslices int, x *float32)

// spmmGroup4AVX512 is spmmRowGo (without accum) for four rows that share
// their column indices, reading each input row once for the four. The
// caller has checked the bounds of x, as for spmmRowAVX512.
//
//go:noescape
func spmmGroup4AVX512(dst *float32, ldd int, x *float32, ldx int, vals *float32, stride int, cols *int32, nnz, w int, bias *float32)

// spmmRowsAVX512 is spmmRows (op_sparse.go) with ptr and bias as
// pointers. The caller has checked the bounds of x, as for spmmRowAVX512.
//
//go:noescape
func spmmRowsAVX512(dst *float32, ldd int, x *float32, ldx int, vals *float32, cols, ptr *int32, pstride, rows, w int, bias *float32, accum bool)

func init() {
	if !cpu.X86.HasAVX512F {
		return
	}
	spmmKernelName = "avx512"
	spmmRow = func(dst, x []float32, ldx int, vals []float32, cols []int32, b float32, accum bool) {
		if len(dst) == 0 {
			return
		}
		if len(vals) == 0 {
			spmmRowGo(dst, x, ldx, vals, cols, b, accum)
			return
		}
		_ = cols[len(vals)-1]
		spmmRowAVX512(&dst[0], &x[0], ldx, &vals[0], &cols[0], len(vals), len(dst), b, accum)
	}
	spmmGroup4 = func(dst []float32, ldd int, x []float32, ldx int, vals []float32, stride int, cols []int32, w int, bias []float32) {
		nnz := len(cols)
		_ = dst[3*ldd+w-1]
		if nnz > 0 {
			_ = vals[3*stride+nnz-1]
		}
		var bp *float32
		if bias != nil {
			_ = bias[3]
			bp = &bias[0]
		}
		var vp *float32
		var cp *int32
		if nnz > 0 {
			vp, cp = &vals[0], &cols[0]
		}
		spmmGroup4AVX512(&dst[0], ldd, &x[0], ldx, vp, stride, cp, nnz, w, bp)
	}
	spmmRows = func(dst []float32, ldd int, x []float32, ldx int, a *sparse.CSR, ptr []int32, pstride, rows, w int, bias []float32, accum bool) {
		if rows <= 0 || w <= 0 {
			return
		}
		_ = dst[(rows-1)*ldd+w-1]
		_ = ptr[(rows-1)*pstride+1]
		var vp *float32
		var cp *int32
		if len(a.Values) > 0 {
			vp, cp = &a.Values[0], &a.ColIdx[0]
		}
		var bp *float32
		if bias != nil {
			_ = bias[rows-1]
			bp = &bias[0]
		}
		spmmRowsAVX512(&dst[0], ldd, &x[0], ldx, vp, cp, &ptr[0], pstride, rows, w, bp, accum)
	}
	sellKernel = func(out []float32, p *sellPack, x []float32) {
		if len(p.width) == 0 {
			return
		}
		_ = out[len(p.width)*sellC-1]
		var vp *float32
		var cp *int32
		if len(p.vals) > 0 {
			vp, cp = &p.vals[0], &p.cols[0]
		}
		sellAVX512(&out[0], vp, cp, &p.width[0], len(p.width), &x[0])
	}
	permKernel = func(out []float32, p *permPack, x []float32) {
		if len(p.nent) == 0 {
			return
		}
		_ = out[len(p.nent)*sellC-1]
		_ = x[p.xlen-1]
		if len(p.blk) == 0 {
			clear(out[:len(p.nent)*sellC])
			return
		}
		permAVX512(&out[0], &p.vals[0], &p.idx[0], &p.nent[0], &p.blk[0], &p.wid[0], len(p.nent), &x[0])
	}
	spDot = func(vals []float32, cols []int32, x []float32) float32 {
		if len(vals) == 0 {
			return 0
		}
		_ = cols[len(vals)-1]
		return spDotAVX512(&vals[0], &cols[0], len(vals), &x[0])
	}
}
