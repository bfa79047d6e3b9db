//go:build !purego

package engine

import (
	"math/bits"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// kernel6x16AVX2 is the AVX2/FMA micro-kernel (sgemm_amd64.s): it adds the
// product of a packed 6×kc panel of A and a packed kc×16 panel of B to the
// 6×16 block of C at c (row stride ldc).
//
//go:noescape
func kernel6x16AVX2(kc int, a, b, c *float32, ldc int)

// kernel8x32AVX512 is the AVX-512 micro-kernel (sgemm_avx512_amd64.s): it
// stores the product of a packed 8×kc panel of A and a packed kc×32 panel
// of B into the first ep.rows rows and the columns in ep.mask of the 8×32
// block of C at c (row stride ldc), with the epilogue ep. (A 12×32 variant
// measured 10% slower on the models, on AMD Zen 5.)
//
//go:noescape
func kernel8x32AVX512(kc int, a, b, c *float32, ldc int, ep *kernEpi)

// kernel8x32TapsAVX512 is kernel8x32AVX512 with B unpacked: row p of the
// kc×32 panel is the 32 floats at base+offs[p].
//
//go:noescape
func kernel8x32TapsAVX512(kc int, a, base *float32, offs *int, c *float32, ldc int, ep *kernEpi)

// kernel8x32SwTapsAVX512 is swTapsRef's loop (op_conv_swtaps.go), with
// the rows past ep.rows and the columns outside ep.mask computed but not
// stored; when pf is not nil it also prefetches kc cache lines from pf on
// into L2 (a hint: they need not be in bounds).
//
//go:noescape
func kernel8x32SwTapsAVX512(kc int, pos *int, base *float32, offs *int, b, c *float32, ldc int, ep *kernEpi, o *float32, ldo int, pf *float32)

// The assembly reads kernEpi's flags, bias, lo, hi, rows, mask and resid
// at offsets 0, 8, 16, 20, 24, 28 and 32: these fail to compile if the
// layout changes.
var (
	_ = [1]struct{}{}[unsafe.Offsetof(kernEpi{}.resid)-32]
	_ = [1]struct{}{}[unsafe.Offsetof(kernEpi{}.bias)-8]
	_ = [1]struct{}{}[unsafe.Offsetof(kernEpi{}.lo)-16]
	_ = [1]struct{}{}[unsafe.Offsetof(kernEpi{}.hi)-20]
	_ = [1]struct{}{}[unsafe.Offsetof(kernEpi{}.rows)-24]
	_ = [1]struct{}{}[unsafe.Offsetof(kernEpi{}.mask)-28]
)

// avx512Partial wraps an AVX-512 micro-kernel of mr rows.
func avx512Partial(mr int, name string, f func(kc int, a, b, c *float32, ldc int, ep *kernEpi)) *microKernel {
	return &microKernel{mr: mr, nr: 32, name: name, partial: true, run: func(kc int, a, b, c []float32, ldc int, ep *kernEpi) {
		// Bounds the assembly relies on.
		_, _ = a[mr*kc-1], b[32*kc-1]
		_ = c[int(ep.rows-1)*ldc+bits.Len32(ep.mask)-1]
		if ep.flags&epBias != 0 {
			_ = ep.biasS[ep.rows-1]
		}
		residPtr(ldc, ep)
		f(kc, &a[0], &b[0], &c[0], ldc, ep)
	}}
}

var avx2Kernel, avx512Kernel *microKernel

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		avx2Kernel = accumKernel(6, 16, "avx2-6x16", func(kc int, a, b, c []float32, ldc int) {
			kernel6x16AVX2(kc, &a[0], &b[0], &c[0], ldc)
		})
		simdKernel = avx2Kernel
		simdKernels = append(simdKernels, avx2Kernel)
	}
	if cpu.X86.HasAVX512F {
		avx512Kernel = avx512Partial(8, "avx512-8x32", kernel8x32AVX512)
		avx512Kernel.runTaps = func(kc int, a, b []float32, offs []int, c []float32, ldc int, ep *kernEpi) {
			_, _ = a[8*kc-1], offs[kc-1]
			_ = c[int(ep.rows-1)*ldc+bits.Len32(ep.mask)-1]
			if ep.flags&epBias != 0 {
				_ = ep.biasS[ep.rows-1]
			}
			residPtr(ldc, ep)
			kernel8x32TapsAVX512(kc, &a[0], &b[0], &offs[0], &c[0], ldc, ep)
		}
		simdKernel = avx512Kernel
		simdKernels = append(simdKernels, avx512Kernel)
		swTapsKernel = func(kc int, pos []int, base []float32, offs []int, b, c []float32, ldc int, ep *kernEpi, o []float32, ldo int, pf []float32) {
			// Bounds the assembly relies on (base is checked by the caller
			// for every offset it is given).
			_, _, _ = pos[7], offs[kc-1], b[32*kc-1]
			_ = c[int(ep.rows-1)*ldc+bits.Len32(ep.mask)-1]
			op := &c[0]
			if ep.flags&epSwT != 0 {
				if ep.rows != 8 || ep.mask != 1<<32-1 {
					panic("engine: transposed store of a partial block")
				}
				_ = o[31*ldo+7]
				if ep.flags&epBias != 0 {
					_ = ep.biasS[31]
				}
				if ep.flags&epResid != 0 {
					_ = ep.residS[31*ldo+7]
					ep.resid = &ep.residS[0]
				}
				op = &o[0]
			}
			var pp *float32
			if len(pf) > 0 {
				pp = &pf[0]
			}
			kernel8x32SwTapsAVX512(kc, &pos[0], &base[0], &offs[0], &b[0], &c[0], ldc, ep, op, ldo, pp)
		}
	}
}

// residPtr sets ep.resid for the assembly from ep.residS, after checking
// that the block's rows and columns of R lie in it (epResid).
func residPtr(ldc int, ep *kernEpi) {
	if ep.flags&epResid != 0 {
		_ = ep.residS[int(ep.rows-1)*ldc+bits.Len32(ep.mask)-1]
		ep.resid = &ep.residS[0]
	}
}
