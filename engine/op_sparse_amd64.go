//go:build !purego

package engine

import "golang.org/x/sys/cpu"

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

func init() {
	if !cpu.X86.HasAVX512F {
		return
	}
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
	spDot = func(vals []float32, cols []int32, x []float32) float32 {
		if len(vals) == 0 {
			return 0
		}
		_ = cols[len(vals)-1]
		return spDotAVX512(&vals[0], &cols[0], len(vals), &x[0])
	}
}
