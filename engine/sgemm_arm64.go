//go:build !purego

package engine

import "unsafe"

// kernel8x12NEON is the NEON micro-kernel (sgemm_arm64.s): it stores the
// product of a packed 8×kc panel of A and a packed kc×12 panel of B into
// the 8×12 block of C at c (row stride ldc), with the epilogue ep (accum,
// bias, clamp). It only takes full blocks: gemmBlock runs the edge tiles
// into a buffer.
//
//go:noescape
func kernel8x12NEON(kc int, a, b, c *float32, ldc int, ep *kernEpi)

// The assembly reads kernEpi's flags, bias, lo and hi at offsets 0, 8, 16
// and 20: these fail to compile if the layout changes.
var (
	_ = [1]struct{}{}[unsafe.Offsetof(kernEpi{}.bias)-8]
	_ = [1]struct{}{}[unsafe.Offsetof(kernEpi{}.lo)-16]
	_ = [1]struct{}{}[unsafe.Offsetof(kernEpi{}.hi)-20]
)

var neonKernel *microKernel

// Every arm64 CPU has Advanced SIMD (NEON): it is part of ARMv8-A, so the
// kernel is selected without a feature check.
func init() {
	neonKernel = &microKernel{mr: 8, nr: 12, name: "neon-8x12", run: func(kc int, a, b, c []float32, ldc int, ep *kernEpi) {
		// Bounds the assembly relies on.
		_, _ = a[8*kc-1], b[12*kc-1]
		_ = c[7*ldc+11]
		if ep.flags&epBias != 0 {
			_ = ep.biasS[7]
		}
		kernel8x12NEON(kc, &a[0], &b[0], &c[0], ldc, ep)
	}}
	simdKernel = neonKernel
	simdKernels = append(simdKernels, neonKernel)
}
