//go:build !purego

package engine

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// kernel6x16AVX2 is the AVX2/FMA micro-kernel (sgemm_amd64.s): it adds the
// product of a packed 6×kc panel of A and a packed kc×16 panel of B to the
// 6×16 block of C at c (row stride ldc).
//
//go:noescape
func kernel6x16AVX2(kc int, a, b, c *float32, ldc int)

// kernel12x32AVX512 is the AVX-512 micro-kernel (sgemm_avx512_amd64.s): it
// stores the product of a packed 12×kc panel of A and a packed kc×32 panel
// of B into the 12×32 block of C at c (row stride ldc), with the epilogue ep.
//
//go:noescape
func kernel12x32AVX512(kc int, a, b, c *float32, ldc int, ep *kernEpi)

// The assembly reads kernEpi's flags, bias, lo and hi at offsets 0, 8, 16
// and 20: these fail to compile if the layout changes.
var (
	_ = [1]struct{}{}[unsafe.Offsetof(kernEpi{}.bias)-8]
	_ = [1]struct{}{}[unsafe.Offsetof(kernEpi{}.lo)-16]
	_ = [1]struct{}{}[unsafe.Offsetof(kernEpi{}.hi)-20]
)

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
		avx512Kernel = &microKernel{mr: 12, nr: 32, name: "avx512-12x32", run: func(kc int, a, b, c []float32, ldc int, ep *kernEpi) {
			// Bounds the assembly relies on.
			_, _ = a[12*kc-1], b[32*kc-1]
			_ = c[11*ldc+31]
			kernel12x32AVX512(kc, &a[0], &b[0], &c[0], ldc, ep)
		}}
		simdKernel = avx512Kernel
		simdKernels = append(simdKernels, avx512Kernel)
	}
}
