//go:build !purego

package engine

import "golang.org/x/sys/cpu"

// AVX-512 versions of the kernels in vec.go (vec_amd64.s).

//go:noescape
func vecAddAVX512(dst, a, b *float32, n int)

//go:noescape
func vecSubAVX512(dst, a, b *float32, n int)

//go:noescape
func vecMulAVX512(dst, a, b *float32, n int)

//go:noescape
func vecAddScalarAVX512(dst, a *float32, s float32, n int)

//go:noescape
func vecMulScalarAVX512(dst, a *float32, s float32, n int)

//go:noescape
func vecClampAVX512(dst, s *float32, lo, hi float32, n int)

//go:noescape
func tapRowsAVX512(out *float32, n, rows, ostride int, base *float32, istride int, offs *int, w *float32, ntaps int, ep *kernEpi)

//go:noescape
func tapMaxRowAVX512(out *float32, n int, base *float32, offs *int, ntaps int)

//go:noescape
func packB32AVX512(dst, src *float32, ldb, kc int, mask uint32)

//go:noescape
func deinterleaveAVX512(even, odd, src *float32, n int, idx *uint32)

var deinterleaveIdx = func() (t [32]uint32) {
	for i := range 16 {
		t[i], t[16+i] = uint32(2*i), uint32(2*i+1)
	}
	return t
}()

//go:noescape
func vecDivAVX512(dst, a, b *float32, n int)

//go:noescape
func vecDivScalarAVX512(dst, a *float32, s float32, n int)

//go:noescape
func vecScaleShiftAVX512(dst, a *float32, s, t float32, n int)

//go:noescape
func vecSumAVX512(a *float32, n int) float32

//go:noescape
func vecDotAVX512(a, b *float32, n int) float32

//go:noescape
func vecSigmoidAVX512(dst, src *float32, n int, k *float32)

// sigmoidConsts are vecSigmoidAVX512's constants (see its comment).
var sigmoidConsts = [14]float32{
	1.44269504088896341, // log2 e
	-88, 88,             // the clamp of t
	0.693359375, -2.12194440e-4, // ln2 = hi + lo
	1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1, 1,
	1,
}

//go:noescape
func dwFlatContigAVX512(out, x *float32, nch, np, hw int, disp *int, w *float32, ntaps int, mask *uint16, mstride int, ep *kernEpi)

//go:noescape
func phaseSplitAVX512(dst, src *float32, rows, w, psz int, idx *uint32)

// dwFlatAVX512 checks the bounds the flat depthwise kernel relies on (every
// unmasked lane reads inside its channel: newDWFlat's masks say so).
func dwFlatAVX512(d *dwFlat, out, x, w []float32, nch int, ep *kernEpi) {
	nt := len(d.disp)
	if nch == 0 || d.np == 0 {
		return
	}
	_, _ = out[nch*d.np-1], w[nch*nt-1]
	if d.phases {
		_ = x[3*d.psz+nch*d.hw-1] // x from the channel's phase 0 on
	} else {
		_ = x[nch*d.hw-1]
	}
	_ = d.mask[nt*d.nblk-1]
	if ep.flags&epBias != 0 {
		_ = ep.biasS[nch-1]
	}
	dwFlatContigAVX512(&out[0], &x[0], nch, d.np, d.hw, &d.disp[0], &w[0], nt, &d.mask[0], 2*d.nblk, ep)
}

//go:noescape
func packA8AVX512(dst, src *float32, lda, kc int, mask uint16)

func init() {
	if !cpu.X86.HasAVX512F {
		return
	}
	vecKernelName, tapKernelName, sigmoidKernelName = "avx512", "avx512", "avx512"
	vecAdd, vecSub, vecMul, vecDiv = asmBin(vecAddAVX512), asmBin(vecSubAVX512), asmBin(vecMulAVX512), asmBin(vecDivAVX512)
	vecAddScalar, vecMulScalar, vecDivScalar = asmScal(vecAddScalarAVX512), asmScal(vecMulScalarAVX512), asmScal(vecDivScalarAVX512)
	vecScaleShift, vecClamp = asmScal2(vecScaleShiftAVX512), asmScal2(vecClampAVX512)
	vecSigmoid = func(dst, src []float32) {
		if n := len(dst); n > 0 {
			_ = src[n-1]
			vecSigmoidAVX512(&dst[0], &src[0], n, &sigmoidConsts[0])
		}
	}
	vecDot, vecSum = asmDot(vecDotAVX512), asmSum(vecSumAVX512)
	dwFlatRun = dwFlatAVX512
	phaseSplit = func(dst, src []float32, rows, w, psz int) {
		if rows == 0 || w == 0 {
			return
		}
		_ = src[rows*w-1]
		_ = dst[3*psz+rows/2*w/2-1]
		phaseSplitAVX512(&dst[0], &src[0], rows, w, psz, &deinterleaveIdx[0])
	}
	tapRows, tapMaxRow = asmTapRows(tapRowsAVX512), asmTapMaxRow(tapMaxRowAVX512)
	packB32 = func(dst, b []float32, ldb, kc, cols int) {
		if kc == 0 {
			return
		}
		_ = dst[32*kc-1]
		_ = b[(kc-1)*ldb+cols-1] // the rows the assembly reads
		packB32AVX512(&dst[0], &b[0], ldb, kc, 1<<cols-1)
	}
	deinterleave = func(even, odd, src []float32) {
		if n := len(even); n > 0 {
			_, _ = odd[n-1], src[2*n-1]
			deinterleaveAVX512(&even[0], &odd[0], &src[0], n, &deinterleaveIdx[0])
		}
	}
	packA8 = func(dst, a []float32, lda, kc, rows int) {
		if kc == 0 {
			return
		}
		_ = dst[8*kc-1]
		_ = a[(kc-1)*lda+rows-1] // the rows the assembly reads
		packA8AVX512(&dst[0], &a[0], lda, kc, 1<<rows-1)
	}
}
