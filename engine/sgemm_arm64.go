//go:build !purego

package engine

import (
	"math/bits"
	"unsafe"
)

// kernel8x12NEON is the NEON micro-kernel (sgemm_arm64.s): it stores the
// product of a packed 8×kc panel of A and a packed kc×12 panel of B into
// the 8×12 block of C at c (row stride ldc), with the epilogue ep (accum,
// bias, clamp). It only takes full blocks; neonRun (the kernel's run,
// "partial") and neonTaps run the edge tiles into a scratch block.
//
//go:noescape
func kernel8x12NEON(kc int, a, b, c *float32, ldc int, ep *kernEpi)

// kernel8x12TapsNEON is kernel8x12NEON with B unpacked: row p of the
// kc×12 panel is the 12 floats at base+offs[p].
//
//go:noescape
func kernel8x12TapsNEON(kc int, a, base *float32, offs *int, c *float32, ldc int, ep *kernEpi)

// The assembly reads kernEpi's flags, bias, lo, hi and resid at offsets 0,
// 8, 16, 20 and 32: these fail to compile if the layout changes.
var (
	_ = [1]struct{}{}[unsafe.Offsetof(kernEpi{}.resid)-32]
	_ = [1]struct{}{}[unsafe.Offsetof(kernEpi{}.bias)-8]
	_ = [1]struct{}{}[unsafe.Offsetof(kernEpi{}.lo)-16]
	_ = [1]struct{}{}[unsafe.Offsetof(kernEpi{}.hi)-20]
)

var neonKernel *microKernel

// Every arm64 CPU has Advanced SIMD (NEON): it is part of ARMv8-A, so the
// kernel is selected without a feature check.
func init() {
	neonKernel = &microKernel{mr: 8, nr: 12, name: "neon-8x12", partial: true, run: neonRun}
	neonKernel.runTaps = neonTaps
	neonKernel.tapsKC = gemmKC // its edge blocks' panel is on the stack
	simdKernel = neonKernel
	simdKernels = append(simdKernels, neonKernel)
}

// neonRun is the NEON kernel's run. It is partial (it stores only the
// ep.rows × ep.mask part of the block, a contiguous mask from bit 0, and
// touches nothing else of C), as the swapped convolution needs: a full
// 8×12 block runs kernel8x12NEON on C, an edge block runs it into a
// scratch block whose valid part storeEdge stores with the epilogue.
func neonRun(kc int, a, b, c []float32, ldc int, ep *kernEpi) {
	rows, cols := int(ep.rows), bits.Len32(ep.mask)
	// Bounds the assembly relies on.
	_, _ = a[8*kc-1], b[12*kc-1]
	_ = c[(rows-1)*ldc+cols-1]
	if ep.flags&epBias != 0 {
		_ = ep.biasS[rows-1]
	}
	if ep.flags&epResid != 0 {
		_ = ep.residS[(rows-1)*ldc+cols-1]
	}
	if rows == 8 && cols == 12 {
		ep.resid = residHead(ep)
		kernel8x12NEON(kc, &a[0], &b[0], &c[0], ldc, ep)
		return
	}
	var t [8 * 12]float32
	var none kernEpi
	kernel8x12NEON(kc, &a[0], &b[0], &t[0], 12, &none)
	storeEdge(c, ldc, t[:], 12, rows, cols, ep)
}

// neonTaps is the NEON kernel's runTaps (implicit-GEMM convolution). Full
// 8×12 blocks run kernel8x12TapsNEON on C; an edge block (ep.rows < 8 or
// fewer than 12 columns in ep.mask, a contiguous mask from bit 0) gathers
// its valid columns into a packed panel, runs kernel8x12NEON into a
// scratch block and stores the valid part with the epilogue in Go, so
// nothing outside the block's rows and columns is read or written.
func neonTaps(kc int, a, b []float32, offs []int, c []float32, ldc int, ep *kernEpi) {
	rows, cols := int(ep.rows), bits.Len32(ep.mask)
	_, _ = a[8*kc-1], offs[kc-1]
	_ = c[(rows-1)*ldc+cols-1]
	if ep.flags&epBias != 0 {
		_ = ep.biasS[rows-1]
	}
	if ep.flags&epResid != 0 {
		_ = ep.residS[(rows-1)*ldc+cols-1]
	}
	if rows == 8 && cols == 12 {
		ep.resid = residHead(ep)
		// The caller has checked that b[offs[p]:][:12] lies in b.
		kernel8x12TapsNEON(kc, &a[0], &b[0], &offs[0], &c[0], ldc, ep)
		return
	}
	var bp [12 * gemmKC]float32
	var t [8 * 12]float32
	var none kernEpi
	pan := bp[:12*kc]
	for p, o := range offs[:kc] {
		copy(pan[p*12:p*12+cols], b[o:o+cols])
		clear(pan[p*12+cols : p*12+12])
	}
	kernel8x12NEON(kc, &a[0], &pan[0], &t[0], 12, &none)
	storeEdge(c, ldc, t[:], 12, rows, cols, ep)
}

// residHead is ep.resid for the assembly: R's first element (epResid), else nil.
func residHead(ep *kernEpi) *float32 {
	if ep.flags&epResid != 0 {
		return &ep.residS[0]
	}
	return nil
}
