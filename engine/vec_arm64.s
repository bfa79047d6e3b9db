//go:build !purego

#include "textflag.h"
#include "neon_arm64.h"

// NEON versions of the kernels in vec.go (vec_arm64.go). Each walks its
// slices 16 floats (four vectors) at a time, then 4, then one by one.

// func vecAddNEON(dst, a, b *float32, n int)
//
// dst[i] = a[i] + b[i]
TEXT ·vecAddNEON(SB), NOSPLIT, $0-32
	MOVD	dst+0(FP), R0
	MOVD	a+8(FP), R1
	MOVD	b+16(FP), R2
	MOVD	n+24(FP), R3

loop16:
	CMP	$16, R3
	BLT	loop4
	VLD1.P	64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P	64(R2), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFADD4(0, 0, 4)
	VFADD4(1, 1, 5)
	VFADD4(2, 2, 6)
	VFADD4(3, 3, 7)
	VST1.P	[V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUB	$16, R3
	B	loop16

loop4:
	CMP	$4, R3
	BLT	tail
	VLD1.P	16(R1), [V0.S4]
	VLD1.P	16(R2), [V4.S4]
	VFADD4(0, 0, 4)
	VST1.P	[V0.S4], 16(R0)
	SUB	$4, R3
	B	loop4

tail:
	CBZ	R3, done
	FMOVS	(R1), F0
	FMOVS	(R2), F4
	FADDS	F4, F0, F0
	FMOVS	F0, (R0)
	ADD	$4, R0
	ADD	$4, R1
	ADD	$4, R2
	SUB	$1, R3
	B	tail

done:
	RET

// func vecSubNEON(dst, a, b *float32, n int)
//
// dst[i] = a[i] − b[i]
TEXT ·vecSubNEON(SB), NOSPLIT, $0-32
	MOVD	dst+0(FP), R0
	MOVD	a+8(FP), R1
	MOVD	b+16(FP), R2
	MOVD	n+24(FP), R3

loop16:
	CMP	$16, R3
	BLT	loop4
	VLD1.P	64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P	64(R2), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFSUB4(0, 0, 4)
	VFSUB4(1, 1, 5)
	VFSUB4(2, 2, 6)
	VFSUB4(3, 3, 7)
	VST1.P	[V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUB	$16, R3
	B	loop16

loop4:
	CMP	$4, R3
	BLT	tail
	VLD1.P	16(R1), [V0.S4]
	VLD1.P	16(R2), [V4.S4]
	VFSUB4(0, 0, 4)
	VST1.P	[V0.S4], 16(R0)
	SUB	$4, R3
	B	loop4

tail:
	CBZ	R3, done
	FMOVS	(R1), F0
	FMOVS	(R2), F4
	FSUBS	F4, F0, F0
	FMOVS	F0, (R0)
	ADD	$4, R0
	ADD	$4, R1
	ADD	$4, R2
	SUB	$1, R3
	B	tail

done:
	RET

// func vecMulNEON(dst, a, b *float32, n int)
//
// dst[i] = a[i] · b[i]
TEXT ·vecMulNEON(SB), NOSPLIT, $0-32
	MOVD	dst+0(FP), R0
	MOVD	a+8(FP), R1
	MOVD	b+16(FP), R2
	MOVD	n+24(FP), R3

loop16:
	CMP	$16, R3
	BLT	loop4
	VLD1.P	64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P	64(R2), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMUL4(0, 0, 4)
	VFMUL4(1, 1, 5)
	VFMUL4(2, 2, 6)
	VFMUL4(3, 3, 7)
	VST1.P	[V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUB	$16, R3
	B	loop16

loop4:
	CMP	$4, R3
	BLT	tail
	VLD1.P	16(R1), [V0.S4]
	VLD1.P	16(R2), [V4.S4]
	VFMUL4(0, 0, 4)
	VST1.P	[V0.S4], 16(R0)
	SUB	$4, R3
	B	loop4

tail:
	CBZ	R3, done
	FMOVS	(R1), F0
	FMOVS	(R2), F4
	FMULS	F4, F0, F0
	FMOVS	F0, (R0)
	ADD	$4, R0
	ADD	$4, R1
	ADD	$4, R2
	SUB	$1, R3
	B	tail

done:
	RET

// func vecDivNEON(dst, a, b *float32, n int)
//
// dst[i] = a[i] / b[i]
TEXT ·vecDivNEON(SB), NOSPLIT, $0-32
	MOVD	dst+0(FP), R0
	MOVD	a+8(FP), R1
	MOVD	b+16(FP), R2
	MOVD	n+24(FP), R3

loop16:
	CMP	$16, R3
	BLT	loop4
	VLD1.P	64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P	64(R2), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFDIV4(0, 0, 4)
	VFDIV4(1, 1, 5)
	VFDIV4(2, 2, 6)
	VFDIV4(3, 3, 7)
	VST1.P	[V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUB	$16, R3
	B	loop16

loop4:
	CMP	$4, R3
	BLT	tail
	VLD1.P	16(R1), [V0.S4]
	VLD1.P	16(R2), [V4.S4]
	VFDIV4(0, 0, 4)
	VST1.P	[V0.S4], 16(R0)
	SUB	$4, R3
	B	loop4

tail:
	CBZ	R3, done
	FMOVS	(R1), F0
	FMOVS	(R2), F4
	FDIVS	F4, F0, F0
	FMOVS	F0, (R0)
	ADD	$4, R0
	ADD	$4, R1
	ADD	$4, R2
	SUB	$1, R3
	B	tail

done:
	RET

// func vecAddScalarNEON(dst, a *float32, s float32, n int)
//
// dst[i] = a[i] + s
TEXT ·vecAddScalarNEON(SB), NOSPLIT, $0-32
	MOVD	dst+0(FP), R0
	MOVD	a+8(FP), R1
	MOVD	n+24(FP), R3
	FMOVS	s+16(FP), F31
	VDUP	V31.S[0], V31.S4

loop16:
	CMP	$16, R3
	BLT	loop4
	VLD1.P	64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VFADD4(0, 0, 31)
	VFADD4(1, 1, 31)
	VFADD4(2, 2, 31)
	VFADD4(3, 3, 31)
	VST1.P	[V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUB	$16, R3
	B	loop16

loop4:
	CMP	$4, R3
	BLT	tail
	VLD1.P	16(R1), [V0.S4]
	VFADD4(0, 0, 31)
	VST1.P	[V0.S4], 16(R0)
	SUB	$4, R3
	B	loop4

tail:
	CBZ	R3, done
	FMOVS	(R1), F0
	FADDS	F31, F0, F0
	FMOVS	F0, (R0)
	ADD	$4, R0
	ADD	$4, R1
	SUB	$1, R3
	B	tail

done:
	RET

// func vecMulScalarNEON(dst, a *float32, s float32, n int)
//
// dst[i] = a[i] · s
TEXT ·vecMulScalarNEON(SB), NOSPLIT, $0-32
	MOVD	dst+0(FP), R0
	MOVD	a+8(FP), R1
	MOVD	n+24(FP), R3
	FMOVS	s+16(FP), F31
	VDUP	V31.S[0], V31.S4

loop16:
	CMP	$16, R3
	BLT	loop4
	VLD1.P	64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VFMUL4(0, 0, 31)
	VFMUL4(1, 1, 31)
	VFMUL4(2, 2, 31)
	VFMUL4(3, 3, 31)
	VST1.P	[V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUB	$16, R3
	B	loop16

loop4:
	CMP	$4, R3
	BLT	tail
	VLD1.P	16(R1), [V0.S4]
	VFMUL4(0, 0, 31)
	VST1.P	[V0.S4], 16(R0)
	SUB	$4, R3
	B	loop4

tail:
	CBZ	R3, done
	FMOVS	(R1), F0
	FMULS	F31, F0, F0
	FMOVS	F0, (R0)
	ADD	$4, R0
	ADD	$4, R1
	SUB	$1, R3
	B	tail

done:
	RET

// func vecDivScalarNEON(dst, a *float32, s float32, n int)
//
// dst[i] = a[i] / s
TEXT ·vecDivScalarNEON(SB), NOSPLIT, $0-32
	MOVD	dst+0(FP), R0
	MOVD	a+8(FP), R1
	MOVD	n+24(FP), R3
	FMOVS	s+16(FP), F31
	VDUP	V31.S[0], V31.S4

loop16:
	CMP	$16, R3
	BLT	loop4
	VLD1.P	64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VFDIV4(0, 0, 31)
	VFDIV4(1, 1, 31)
	VFDIV4(2, 2, 31)
	VFDIV4(3, 3, 31)
	VST1.P	[V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUB	$16, R3
	B	loop16

loop4:
	CMP	$4, R3
	BLT	tail
	VLD1.P	16(R1), [V0.S4]
	VFDIV4(0, 0, 31)
	VST1.P	[V0.S4], 16(R0)
	SUB	$4, R3
	B	loop4

tail:
	CBZ	R3, done
	FMOVS	(R1), F0
	FDIVS	F31, F0, F0
	FMOVS	F0, (R0)
	ADD	$4, R0
	ADD	$4, R1
	SUB	$1, R3
	B	tail

done:
	RET

// func vecScaleShiftNEON(dst, a *float32, s, t float32, n int)
//
// dst[i] = a[i]·s + t, rounded after the product and after the sum (no FMLA)
TEXT ·vecScaleShiftNEON(SB), NOSPLIT, $0-32
	MOVD	dst+0(FP), R0
	MOVD	a+8(FP), R1
	MOVD	n+24(FP), R3
	FMOVS	s+16(FP), F30
	VDUP	V30.S[0], V30.S4
	FMOVS	t+20(FP), F31
	VDUP	V31.S[0], V31.S4

loop16:
	CMP	$16, R3
	BLT	loop4
	VLD1.P	64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VFMUL4(0, 0, 30)
	VFMUL4(1, 1, 30)
	VFMUL4(2, 2, 30)
	VFMUL4(3, 3, 30)
	VFADD4(0, 0, 31)
	VFADD4(1, 1, 31)
	VFADD4(2, 2, 31)
	VFADD4(3, 3, 31)
	VST1.P	[V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUB	$16, R3
	B	loop16

loop4:
	CMP	$4, R3
	BLT	tail
	VLD1.P	16(R1), [V0.S4]
	VFMUL4(0, 0, 30)
	VFADD4(0, 0, 31)
	VST1.P	[V0.S4], 16(R0)
	SUB	$4, R3
	B	loop4

tail:
	CBZ	R3, done
	FMOVS	(R1), F0
	FMULS	F30, F0, F0
	FADDS	F31, F0, F0
	FMOVS	F0, (R0)
	ADD	$4, R0
	ADD	$4, R1
	SUB	$1, R3
	B	tail

done:
	RET

// func vecClampNEON(dst, a *float32, lo, hi float32, n int)
//
// dst[i] = min(max(a[i], lo), hi); FMAX and FMIN give NaN for a NaN, as Go's max and min do
TEXT ·vecClampNEON(SB), NOSPLIT, $0-32
	MOVD	dst+0(FP), R0
	MOVD	a+8(FP), R1
	MOVD	n+24(FP), R3
	FMOVS	lo+16(FP), F30
	VDUP	V30.S[0], V30.S4
	FMOVS	hi+20(FP), F31
	VDUP	V31.S[0], V31.S4

loop16:
	CMP	$16, R3
	BLT	loop4
	VLD1.P	64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VFMAX4(0, 0, 30)
	VFMAX4(1, 1, 30)
	VFMAX4(2, 2, 30)
	VFMAX4(3, 3, 30)
	VFMIN4(0, 0, 31)
	VFMIN4(1, 1, 31)
	VFMIN4(2, 2, 31)
	VFMIN4(3, 3, 31)
	VST1.P	[V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUB	$16, R3
	B	loop16

loop4:
	CMP	$4, R3
	BLT	tail
	VLD1.P	16(R1), [V0.S4]
	VFMAX4(0, 0, 30)
	VFMIN4(0, 0, 31)
	VST1.P	[V0.S4], 16(R0)
	SUB	$4, R3
	B	loop4

tail:
	CBZ	R3, done
	FMOVS	(R1), F0
	FMAXS	F30, F0, F0
	FMINS	F31, F0, F0
	FMOVS	F0, (R0)
	ADD	$4, R0
	ADD	$4, R1
	SUB	$1, R3
	B	tail

done:
	RET

// func vecSumNEON(a *float32, n int) float32
//
// Σ a[i], in four vector accumulators (16 lanes) added at the end.
TEXT ·vecSumNEON(SB), NOSPLIT, $0-20
	MOVD	a+0(FP), R1
	MOVD	n+8(FP), R3
	VEOR	V16.B16, V16.B16, V16.B16
	VEOR	V17.B16, V17.B16, V17.B16
	VEOR	V18.B16, V18.B16, V18.B16
	VEOR	V19.B16, V19.B16, V19.B16

loop16:
	CMP	$16, R3
	BLT	loop4
	VLD1.P	64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VFADD4(16, 16, 0)
	VFADD4(17, 17, 1)
	VFADD4(18, 18, 2)
	VFADD4(19, 19, 3)
	SUB	$16, R3
	B	loop16

loop4:
	CMP	$4, R3
	BLT	reduce
	VLD1.P	16(R1), [V0.S4]
	VFADD4(16, 16, 0)
	SUB	$4, R3
	B	loop4

reduce:
	VFADD4(16, 16, 17)
	VFADD4(18, 18, 19)
	VFADD4(16, 16, 18)
	VFADDP4(16, 16, 16)
	VFADDP4(16, 16, 16) // every lane holds the sum: F16 is lane 0

tail:
	CBZ	R3, done
	FMOVS	(R1), F0
	ADD	$4, R1
	FADDS	F0, F16, F16
	SUB	$1, R3
	B	tail

done:
	FMOVS	F16, ret+16(FP)
	RET

// func vecDotNEON(a, b *float32, n int) float32
//
// Σ a[i]·b[i], in four vector accumulators (16 lanes) added at the end.
TEXT ·vecDotNEON(SB), NOSPLIT, $0-28
	MOVD	a+0(FP), R1
	MOVD	b+8(FP), R2
	MOVD	n+16(FP), R3
	VEOR	V16.B16, V16.B16, V16.B16
	VEOR	V17.B16, V17.B16, V17.B16
	VEOR	V18.B16, V18.B16, V18.B16
	VEOR	V19.B16, V19.B16, V19.B16

loop16:
	CMP	$16, R3
	BLT	loop4
	VLD1.P	64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P	64(R2), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMLA	V4.S4, V0.S4, V16.S4
	VFMLA	V5.S4, V1.S4, V17.S4
	VFMLA	V6.S4, V2.S4, V18.S4
	VFMLA	V7.S4, V3.S4, V19.S4
	SUB	$16, R3
	B	loop16

loop4:
	CMP	$4, R3
	BLT	reduce
	VLD1.P	16(R1), [V0.S4]
	VLD1.P	16(R2), [V4.S4]
	VFMLA	V4.S4, V0.S4, V16.S4
	SUB	$4, R3
	B	loop4

reduce:
	VFADD4(16, 16, 17)
	VFADD4(18, 18, 19)
	VFADD4(16, 16, 18)
	VFADDP4(16, 16, 16)
	VFADDP4(16, 16, 16) // every lane holds the sum: F16 is lane 0

tail:
	CBZ	R3, done
	FMOVS	(R1), F0
	ADD	$4, R1
	FMOVS	(R2), F4
	ADD	$4, R2
	FMULS	F4, F0, F0
	FADDS	F0, F16, F16
	SUB	$1, R3
	B	tail

done:
	FMOVS	F16, ret+24(FP)
	RET

// func tapRowsNEON(out *float32, n, rows, ostride int, base *float32, istride int, offs *int, w *float32, ntaps int, ep *kernEpi)
//
// tapRowsGo (vec.go) with n, rows, ntaps ≥ 1. Each row is done 32 outputs
// at a time (eight vector accumulators, V0..V7), then 4, then 1; per tap
// it loads offs[t] and broadcasts w[t] (LD1R), then loads the 32 inputs
// at base[offs[t]+j:] and does 8 FMLAs. V28 holds the bias (or zero),
// V29 and V30 the clamp bounds.
TEXT ·tapRowsNEON(SB), NOSPLIT, $0-80
	MOVD	out+0(FP), R0
	MOVD	n+8(FP), R1
	MOVD	rows+16(FP), R2
	MOVD	ostride+24(FP), R3
	MOVD	base+32(FP), R4
	MOVD	istride+40(FP), R5
	MOVD	offs+48(FP), R6
	MOVD	w+56(FP), R7
	MOVD	ntaps+64(FP), R8
	MOVD	ep+72(FP), R9
	LSL	$2, R3
	LSL	$2, R5
	MOVD	(R9), R10 // ep.flags
	VEOR	V28.B16, V28.B16, V28.B16
	TBZ	$1, R10, nobias // epBias
	MOVD	8(R9), R11
	VLD1R	(R11), [V28.S4]

nobias:
	FMOVS	16(R9), F29
	VDUP	V29.S[0], V29.S4
	FMOVS	20(R9), F30
	VDUP	V30.S[0], V30.S4

row:
	MOVD	R0, R11 // output
	MOVD	R4, R12 // input at the output's column
	MOVD	R1, R13 // outputs left in the row

chunk32:
	CMP	$32, R13
	BLT	chunk4
	VMOV	V28.B16, V0.B16
	VMOV	V28.B16, V1.B16
	VMOV	V28.B16, V2.B16
	VMOV	V28.B16, V3.B16
	VMOV	V28.B16, V4.B16
	VMOV	V28.B16, V5.B16
	VMOV	V28.B16, V6.B16
	VMOV	V28.B16, V7.B16
	MOVD	R6, R14
	MOVD	R7, R15
	MOVD	R8, R19

taps32:
	MOVD.P	8(R14), R20
	ADD	R20<<2, R12, R21
	VLD1R.P	4(R15), [V31.S4]
	VLD1.P	64(R21), [V16.S4, V17.S4, V18.S4, V19.S4]
	VLD1	(R21), [V20.S4, V21.S4, V22.S4, V23.S4]
	VFMLA	V31.S4, V16.S4, V0.S4
	VFMLA	V31.S4, V17.S4, V1.S4
	VFMLA	V31.S4, V18.S4, V2.S4
	VFMLA	V31.S4, V19.S4, V3.S4
	VFMLA	V31.S4, V20.S4, V4.S4
	VFMLA	V31.S4, V21.S4, V5.S4
	VFMLA	V31.S4, V22.S4, V6.S4
	VFMLA	V31.S4, V23.S4, V7.S4
	SUBS	$1, R19
	BNE	taps32
	TBZ	$2, R10, store32 // epClamp
	VFMAX4(0, 0, 29)
	VFMIN4(0, 0, 30)
	VFMAX4(1, 1, 29)
	VFMIN4(1, 1, 30)
	VFMAX4(2, 2, 29)
	VFMIN4(2, 2, 30)
	VFMAX4(3, 3, 29)
	VFMIN4(3, 3, 30)
	VFMAX4(4, 4, 29)
	VFMIN4(4, 4, 30)
	VFMAX4(5, 5, 29)
	VFMIN4(5, 5, 30)
	VFMAX4(6, 6, 29)
	VFMIN4(6, 6, 30)
	VFMAX4(7, 7, 29)
	VFMIN4(7, 7, 30)

store32:
	VST1.P	[V0.S4, V1.S4, V2.S4, V3.S4], 64(R11)
	VST1.P	[V4.S4, V5.S4, V6.S4, V7.S4], 64(R11)
	ADD	$128, R12
	SUB	$32, R13
	B	chunk32

chunk4:
	CMP	$4, R13
	BLT	chunk1
	VMOV	V28.B16, V0.B16
	MOVD	R6, R14
	MOVD	R7, R15
	MOVD	R8, R19

taps4:
	MOVD.P	8(R14), R20
	ADD	R20<<2, R12, R21
	VLD1R.P	4(R15), [V31.S4]
	VLD1	(R21), [V16.S4]
	VFMLA	V31.S4, V16.S4, V0.S4
	SUBS	$1, R19
	BNE	taps4
	TBZ	$2, R10, store4
	VFMAX4(0, 0, 29)
	VFMIN4(0, 0, 30)

store4:
	VST1.P	[V0.S4], 16(R11)
	ADD	$16, R12
	SUB	$4, R13
	B	chunk4

chunk1:
	CBZ	R13, nextrow
	FMOVS	F28, F0
	MOVD	R6, R14
	MOVD	R7, R15
	MOVD	R8, R19

taps1:
	MOVD.P	8(R14), R20
	ADD	R20<<2, R12, R21
	FMOVS	(R21), F16
	FMOVS	(R15), F31
	ADD	$4, R15
	FMULS	F31, F16, F16
	FADDS	F16, F0, F0
	SUBS	$1, R19
	BNE	taps1
	TBZ	$2, R10, store1
	FMAXS	F29, F0, F0
	FMINS	F30, F0, F0

store1:
	FMOVS	F0, (R11)
	ADD	$4, R11
	ADD	$4, R12
	SUB	$1, R13
	B	chunk1

nextrow:
	ADD	R3, R0
	ADD	R5, R4
	SUBS	$1, R2
	BNE	row
	RET

// func tapMaxRowNEON(out *float32, n int, base *float32, offs *int, ntaps int)
//
// tapMaxRowGo (vec.go) with n, ntaps ≥ 1, 16 outputs at a time, then 4,
// then 1. FMAX gives NaN when either input is NaN, so a NaN in any tap
// gives NaN, as in the reference.
TEXT ·tapMaxRowNEON(SB), NOSPLIT, $0-40
	MOVD	out+0(FP), R11
	MOVD	n+8(FP), R13
	MOVD	base+16(FP), R12
	MOVD	offs+24(FP), R6
	MOVD	ntaps+32(FP), R8
	SUB	$1, R8 // taps after the first

chunk16:
	CMP	$16, R13
	BLT	chunk4
	MOVD	R6, R14
	MOVD.P	8(R14), R20
	ADD	R20<<2, R12, R21
	VLD1	(R21), [V0.S4, V1.S4, V2.S4, V3.S4]
	CBZ	R8, store16
	MOVD	R8, R19

taps16:
	MOVD.P	8(R14), R20
	ADD	R20<<2, R12, R21
	VLD1	(R21), [V16.S4, V17.S4, V18.S4, V19.S4]
	VFMAX4(0, 0, 16)
	VFMAX4(1, 1, 17)
	VFMAX4(2, 2, 18)
	VFMAX4(3, 3, 19)
	SUBS	$1, R19
	BNE	taps16

store16:
	VST1.P	[V0.S4, V1.S4, V2.S4, V3.S4], 64(R11)
	ADD	$64, R12
	SUB	$16, R13
	B	chunk16

chunk4:
	CMP	$4, R13
	BLT	chunk1
	MOVD	R6, R14
	MOVD.P	8(R14), R20
	ADD	R20<<2, R12, R21
	VLD1	(R21), [V0.S4]
	CBZ	R8, store4
	MOVD	R8, R19

taps4:
	MOVD.P	8(R14), R20
	ADD	R20<<2, R12, R21
	VLD1	(R21), [V16.S4]
	VFMAX4(0, 0, 16)
	SUBS	$1, R19
	BNE	taps4

store4:
	VST1.P	[V0.S4], 16(R11)
	ADD	$16, R12
	SUB	$4, R13
	B	chunk4

chunk1:
	CBZ	R13, done
	MOVD	R6, R14
	MOVD.P	8(R14), R20
	ADD	R20<<2, R12, R21
	FMOVS	(R21), F0
	CBZ	R8, store1
	MOVD	R8, R19

taps1:
	MOVD.P	8(R14), R20
	ADD	R20<<2, R12, R21
	FMOVS	(R21), F16
	FMAXS	F16, F0, F0
	SUBS	$1, R19
	BNE	taps1

store1:
	FMOVS	F0, (R11)
	ADD	$4, R11
	ADD	$4, R12
	SUB	$1, R13
	B	chunk1

done:
	RET

// func packB12NEON(dst, src *float32, ldb, kc int)
//
// packB12Go (pack12.go) for full panels (cols = 12), kc ≥ 1: each row is
// three vector loads and stores.
TEXT ·packB12NEON(SB), NOSPLIT, $0-32
	MOVD	dst+0(FP), R0
	MOVD	src+8(FP), R1
	MOVD	ldb+16(FP), R2
	MOVD	kc+24(FP), R3
	LSL	$2, R2

loop:
	VLD1	(R1), [V0.S4, V1.S4, V2.S4]
	VST1.P	[V0.S4, V1.S4, V2.S4], 48(R0)
	ADD	R2, R1
	SUBS	$1, R3
	BNE	loop
	RET

// func vecSigmoidNEON(dst, src *float32, n int, k *float32)
//
// dst[i] = 1 / (1 + exp(−src[i])) for n a multiple of 4, four at a time,
// with the constants k (neonSigmoidConsts): t = clamp(−x, −88, 88),
// j = round(t·log2 e), r = t − j·ln2 (ln2 in two parts), exp(t) = 2^j ·
// p(r) with p the degree-7 Taylor polynomial of exp (Horner, fused), 2^j
// built in the exponent bits (j + 127) << 23. As vecSigmoidAVX512, within
// 1e-6 of the float64 reference; NaN stays NaN.
TEXT ·vecSigmoidNEON(SB), NOSPLIT, $0-32
	MOVD	dst+0(FP), R0
	MOVD	src+8(FP), R1
	MOVD	n+16(FP), R2
	MOVD	k+24(FP), R3
	VLD1R.P	4(R3), [V16.S4] // log2 e
	VLD1R.P	4(R3), [V17.S4] // −88
	VLD1R.P	4(R3), [V18.S4] // 88
	VLD1R.P	4(R3), [V19.S4] // ln2 hi
	VLD1R.P	4(R3), [V20.S4] // ln2 lo
	VLD1R.P	4(R3), [V21.S4] // 1/5040
	VLD1R.P	4(R3), [V22.S4] // 1/720
	VLD1R.P	4(R3), [V23.S4] // 1/120
	VLD1R.P	4(R3), [V24.S4] // 1/24
	VLD1R.P	4(R3), [V25.S4] // 1/6
	VLD1R.P	4(R3), [V26.S4] // 1/2
	VLD1R.P	4(R3), [V27.S4] // 1
	MOVD	$127, R4
	VDUP	R4, V28.S4

loop:
	CBZ	R2, done
	VLD1.P	16(R1), [V0.S4]
	VFNEG4(0, 0)
	VFMAX4(0, 0, 17)
	VFMIN4(0, 0, 18)  // t
	VFMUL4(1, 0, 16)
	VFCVTNS4(2, 1)    // j (int32)
	VSCVTF4(1, 2)     // j (float32)
	VMOV	V0.B16, V3.B16
	VFMLS4(3, 1, 19)
	VFMLS4(3, 1, 20)  // r
	VMOV	V22.B16, V5.B16
	VFMLA	V3.S4, V21.S4, V5.S4 // 1/720 + r/5040
	VMOV	V23.B16, V4.B16
	VFMLA	V3.S4, V5.S4, V4.S4
	VMOV	V24.B16, V5.B16
	VFMLA	V3.S4, V4.S4, V5.S4
	VMOV	V25.B16, V4.B16
	VFMLA	V3.S4, V5.S4, V4.S4
	VMOV	V26.B16, V5.B16
	VFMLA	V3.S4, V4.S4, V5.S4
	VMOV	V27.B16, V4.B16
	VFMLA	V3.S4, V5.S4, V4.S4
	VMOV	V27.B16, V5.B16
	VFMLA	V3.S4, V4.S4, V5.S4 // p(r)
	VADD	V28.S4, V2.S4, V2.S4
	VSHL	$23, V2.S4, V2.S4  // 2^j
	VFMUL4(5, 5, 2)           // exp(t)
	VFADD4(5, 5, 27)
	VFDIV4(5, 27, 5)          // 1 / (1 + exp(t))
	VST1.P	[V5.S4], 16(R0)
	SUB	$4, R2
	B	loop

done:
	RET

// func packA8NEON(dst, a *float32, lda, kc int)
//
// packA8Go for full panels (rows = 8): dst[p*8+r] = a[p*lda+r] for p < kc,
// r < 8, one 8-float row (two vectors) loaded and stored per step.
TEXT ·packA8NEON(SB), NOSPLIT, $0-32
	MOVD	dst+0(FP), R0
	MOVD	a+8(FP), R1
	MOVD	lda+16(FP), R2
	MOVD	kc+24(FP), R3
	LSL	$2, R2

loop:
	VLD1	(R1), [V0.S4, V1.S4]
	VST1.P	[V0.S4, V1.S4], 32(R0)
	ADD	R2, R1
	SUBS	$1, R3
	BNE	loop
	RET
