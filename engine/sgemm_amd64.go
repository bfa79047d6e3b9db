//go:build !purego

package engine

import "golang.org/x/sys/cpu"

// kernel6x16AVX2 is the AVX2/FMA micro-kernel (sgemm_amd64.s): it adds the
// product of a packed 6×kc panel of A and a packed kc×16 panel of B to the
// 6×16 block of C at c (row stride ldc).
//
//go:noescape
func kernel6x16AVX2(kc int, a, b, c *float32, ldc int)

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		simdKernel = &microKernel{mr: 6, nr: 16, name: "avx2-6x16", run: func(kc int, a, b, c []float32, ldc int) {
			kernel6x16AVX2(kc, &a[0], &b[0], &c[0], ldc)
		}}
	}
}
