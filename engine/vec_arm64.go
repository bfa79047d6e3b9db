//go:build !purego

package engine

// NEON versions of the kernels in vec.go and of packB12 and packA8
// (vec_arm64.s). NEON is part of ARMv8-A, so every arm64 CPU runs them.
// packB32 and deinterleave keep their Go loops here (they serve the
// 32-wide amd64 kernels and a path arm64 does not take).

//go:noescape
func vecAddNEON(dst, a, b *float32, n int)

//go:noescape
func vecSubNEON(dst, a, b *float32, n int)

//go:noescape
func vecMulNEON(dst, a, b *float32, n int)

//go:noescape
func vecDivNEON(dst, a, b *float32, n int)

//go:noescape
func vecAddScalarNEON(dst, a *float32, s float32, n int)

//go:noescape
func vecMulScalarNEON(dst, a *float32, s float32, n int)

//go:noescape
func vecDivScalarNEON(dst, a *float32, s float32, n int)

//go:noescape
func vecScaleShiftNEON(dst, a *float32, s, t float32, n int)

//go:noescape
func vecClampNEON(dst, a *float32, lo, hi float32, n int)

//go:noescape
func vecSumNEON(a *float32, n int) float32

//go:noescape
func vecDotNEON(a, b *float32, n int) float32

//go:noescape
func tapRowsNEON(out *float32, n, rows, ostride int, base *float32, istride int, offs *int, w *float32, ntaps int, ep *kernEpi)

//go:noescape
func tapMaxRowNEON(out *float32, n int, base *float32, offs *int, ntaps int)

//go:noescape
func vecSigmoidNEON(dst, src *float32, n int, k *float32)

// neonSigmoidConsts are vecSigmoidNEON's constants (see its comment).
var neonSigmoidConsts = [12]float32{
	1.44269504088896341, // log2 e
	-88, 88,             // the clamp of t
	0.693359375, -2.12194440e-4, // ln2 = hi + lo
	1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1,
}

//go:noescape
func packB12NEON(dst, src *float32, ldb, kc int)

//go:noescape
func packA8NEON(dst, a *float32, lda, kc int)

func init() {
	vecKernelName, tapKernelName, sigmoidKernelName = "neon", "neon", "neon"
	vecAdd, vecSub, vecMul, vecDiv = asmBin(vecAddNEON), asmBin(vecSubNEON), asmBin(vecMulNEON), asmBin(vecDivNEON)
	vecAddScalar, vecMulScalar, vecDivScalar = asmScal(vecAddScalarNEON), asmScal(vecMulScalarNEON), asmScal(vecDivScalarNEON)
	vecScaleShift, vecClamp = asmScal2(vecScaleShiftNEON), asmScal2(vecClampNEON)
	vecDot, vecSum = asmDot(vecDotNEON), asmSum(vecSumNEON)
	tapRows, tapMaxRow = asmTapRows(tapRowsNEON), asmTapMaxRow(tapMaxRowNEON)
	vecSigmoid = func(dst, src []float32) {
		n := len(dst)
		if n == 0 {
			return
		}
		_ = src[n-1]
		n4 := n &^ 3
		if n4 > 0 {
			vecSigmoidNEON(&dst[0], &src[0], n4, &neonSigmoidConsts[0])
		}
		if n4 < n { // the last 1-3 through a block of four
			var in, out [4]float32
			copy(in[:], src[n4:n])
			vecSigmoidNEON(&out[0], &in[0], 4, &neonSigmoidConsts[0])
			copy(dst[n4:n], out[:])
		}
	}
	packB12 = func(dst, b []float32, ldb, kc, cols int) {
		if kc == 0 {
			return
		}
		if cols != 12 {
			packB12Go(dst, b, ldb, kc, cols) // the last, partial panel
			return
		}
		_ = dst[12*kc-1]
		_ = b[(kc-1)*ldb+11] // the rows the assembly reads
		packB12NEON(&dst[0], &b[0], ldb, kc)
	}
	packA8 = func(dst, a []float32, lda, kc, rows int) {
		if kc == 0 {
			return
		}
		if rows != 8 {
			packA8Go(dst, a, lda, kc, rows) // the last, partial panel
			return
		}
		_ = dst[8*kc-1]
		_ = a[(kc-1)*lda+7] // the rows the assembly reads
		packA8NEON(&dst[0], &a[0], lda, kc)
	}
}
