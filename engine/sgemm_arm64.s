//go:build !purego

#include "textflag.h"
#include "neon_arm64.h"

// func kernel8x12NEON(kc int, a, b, c *float32, ldc int, ep *kernEpi)
//
// The NEON micro-kernel: C[0:8, 0:12] = clamp(A·B [+ C] [+ bias] [+ R])
// as ep.flags says (R: the block at ep.resid, row stride ldc), A a packed 8×kc panel (a[p*8+r]), B a packed kc×12 panel
// (b[p*12+q]), C row stride ldc floats.
//
// Registers: the 8×12 block of C lives in V8..V31, row r in V(8+3r),
// V(9+3r), V(10+3r) (columns 0-3, 4-7, 8-11); each step p loads the eight
// floats of A into V0, V1 and the twelve of B into V2..V4 and does 24
// FMLAs by element (Vc += Vb · Va[r]): 2 loads (5 vectors) per 24 FMLAs.
TEXT ·kernel8x12NEON(SB), NOSPLIT, $0-48
	MOVD	kc+0(FP), R0
	MOVD	a+8(FP), R1
	MOVD	b+16(FP), R2
	MOVD	c+24(FP), R3
	MOVD	ldc+32(FP), R4
	MOVD	ep+40(FP), R5
	VEOR	V8.B16, V8.B16, V8.B16
	VEOR	V9.B16, V9.B16, V9.B16
	VEOR	V10.B16, V10.B16, V10.B16
	VEOR	V11.B16, V11.B16, V11.B16
	VEOR	V12.B16, V12.B16, V12.B16
	VEOR	V13.B16, V13.B16, V13.B16
	VEOR	V14.B16, V14.B16, V14.B16
	VEOR	V15.B16, V15.B16, V15.B16
	VEOR	V16.B16, V16.B16, V16.B16
	VEOR	V17.B16, V17.B16, V17.B16
	VEOR	V18.B16, V18.B16, V18.B16
	VEOR	V19.B16, V19.B16, V19.B16
	VEOR	V20.B16, V20.B16, V20.B16
	VEOR	V21.B16, V21.B16, V21.B16
	VEOR	V22.B16, V22.B16, V22.B16
	VEOR	V23.B16, V23.B16, V23.B16
	VEOR	V24.B16, V24.B16, V24.B16
	VEOR	V25.B16, V25.B16, V25.B16
	VEOR	V26.B16, V26.B16, V26.B16
	VEOR	V27.B16, V27.B16, V27.B16
	VEOR	V28.B16, V28.B16, V28.B16
	VEOR	V29.B16, V29.B16, V29.B16
	VEOR	V30.B16, V30.B16, V30.B16
	VEOR	V31.B16, V31.B16, V31.B16
	CBZ	R0, epilogue

loop:
	VLD1.P	32(R1), [V0.S4, V1.S4]
	VLD1.P	48(R2), [V2.S4, V3.S4, V4.S4]
	FMLAE(8, 2, 0, 0)
	FMLAE(9, 3, 0, 0)
	FMLAE(10, 4, 0, 0)
	FMLAE(11, 2, 0, 1)
	FMLAE(12, 3, 0, 1)
	FMLAE(13, 4, 0, 1)
	FMLAE(14, 2, 0, 2)
	FMLAE(15, 3, 0, 2)
	FMLAE(16, 4, 0, 2)
	FMLAE(17, 2, 0, 3)
	FMLAE(18, 3, 0, 3)
	FMLAE(19, 4, 0, 3)
	FMLAE(20, 2, 1, 0)
	FMLAE(21, 3, 1, 0)
	FMLAE(22, 4, 1, 0)
	FMLAE(23, 2, 1, 1)
	FMLAE(24, 3, 1, 1)
	FMLAE(25, 4, 1, 1)
	FMLAE(26, 2, 1, 2)
	FMLAE(27, 3, 1, 2)
	FMLAE(28, 4, 1, 2)
	FMLAE(29, 2, 1, 3)
	FMLAE(30, 3, 1, 3)
	FMLAE(31, 4, 1, 3)
	SUBS	$1, R0
	BNE	loop

epilogue:
	JMP	epilogue8x12NEON<>(SB)

// func kernel8x12TapsNEON(kc int, a, base *float32, offs *int, c *float32, ldc int, ep *kernEpi)
//
// kernel8x12NEON with B unpacked: row p of the kc×12 panel is the twelve
// floats at base+offs[p] (implicit-GEMM convolution). Each step adds one
// scalar load of offs[p] to the packed kernel's loads.
TEXT ·kernel8x12TapsNEON(SB), NOSPLIT, $0-56
	MOVD	kc+0(FP), R0
	MOVD	a+8(FP), R1
	MOVD	base+16(FP), R2
	MOVD	offs+24(FP), R8
	MOVD	c+32(FP), R3
	MOVD	ldc+40(FP), R4
	MOVD	ep+48(FP), R5
	VEOR	V8.B16, V8.B16, V8.B16
	VEOR	V9.B16, V9.B16, V9.B16
	VEOR	V10.B16, V10.B16, V10.B16
	VEOR	V11.B16, V11.B16, V11.B16
	VEOR	V12.B16, V12.B16, V12.B16
	VEOR	V13.B16, V13.B16, V13.B16
	VEOR	V14.B16, V14.B16, V14.B16
	VEOR	V15.B16, V15.B16, V15.B16
	VEOR	V16.B16, V16.B16, V16.B16
	VEOR	V17.B16, V17.B16, V17.B16
	VEOR	V18.B16, V18.B16, V18.B16
	VEOR	V19.B16, V19.B16, V19.B16
	VEOR	V20.B16, V20.B16, V20.B16
	VEOR	V21.B16, V21.B16, V21.B16
	VEOR	V22.B16, V22.B16, V22.B16
	VEOR	V23.B16, V23.B16, V23.B16
	VEOR	V24.B16, V24.B16, V24.B16
	VEOR	V25.B16, V25.B16, V25.B16
	VEOR	V26.B16, V26.B16, V26.B16
	VEOR	V27.B16, V27.B16, V27.B16
	VEOR	V28.B16, V28.B16, V28.B16
	VEOR	V29.B16, V29.B16, V29.B16
	VEOR	V30.B16, V30.B16, V30.B16
	VEOR	V31.B16, V31.B16, V31.B16
	CBZ	R0, epilogue

loop:
	VLD1.P	32(R1), [V0.S4, V1.S4]
	MOVD.P	8(R8), R9
	ADD	R9<<2, R2, R9
	VLD1	(R9), [V2.S4, V3.S4, V4.S4]
	FMLAE(8, 2, 0, 0)
	FMLAE(9, 3, 0, 0)
	FMLAE(10, 4, 0, 0)
	FMLAE(11, 2, 0, 1)
	FMLAE(12, 3, 0, 1)
	FMLAE(13, 4, 0, 1)
	FMLAE(14, 2, 0, 2)
	FMLAE(15, 3, 0, 2)
	FMLAE(16, 4, 0, 2)
	FMLAE(17, 2, 0, 3)
	FMLAE(18, 3, 0, 3)
	FMLAE(19, 4, 0, 3)
	FMLAE(20, 2, 1, 0)
	FMLAE(21, 3, 1, 0)
	FMLAE(22, 4, 1, 0)
	FMLAE(23, 2, 1, 1)
	FMLAE(24, 3, 1, 1)
	FMLAE(25, 4, 1, 1)
	FMLAE(26, 2, 1, 2)
	FMLAE(27, 3, 1, 2)
	FMLAE(28, 4, 1, 2)
	FMLAE(29, 2, 1, 3)
	FMLAE(30, 3, 1, 3)
	FMLAE(31, 4, 1, 3)
	SUBS	$1, R0
	BNE	loop

epilogue:
	JMP	epilogue8x12NEON<>(SB)

// epilogue8x12NEON<> is the two kernels' common end, reached by a tail
// jump with the 8×12 block in V8..V31, R3 = c, R4 = ldc (floats), R5 = ep;
// it applies ep.flags (accumulate C, bias, residual R, clamp) and stores
// the block, returning to the kernel's caller (the kernels are leaves
// without a frame, so LR still holds that return address).
TEXT epilogue8x12NEON<>(SB), NOSPLIT|NOFRAME, $0-0
	MOVD	(R5), R6 // ep.flags
	LSL	$2, R4   // ldc in bytes
	TBZ	$0, R6, noaccum // epAccum: add C
	MOVD	R3, R7
	VLD1	(R7), [V2.S4, V3.S4, V4.S4]
	VFADD4(8, 8, 2)
	VFADD4(9, 9, 3)
	VFADD4(10, 10, 4)
	ADD	R4, R7
	VLD1	(R7), [V2.S4, V3.S4, V4.S4]
	VFADD4(11, 11, 2)
	VFADD4(12, 12, 3)
	VFADD4(13, 13, 4)
	ADD	R4, R7
	VLD1	(R7), [V2.S4, V3.S4, V4.S4]
	VFADD4(14, 14, 2)
	VFADD4(15, 15, 3)
	VFADD4(16, 16, 4)
	ADD	R4, R7
	VLD1	(R7), [V2.S4, V3.S4, V4.S4]
	VFADD4(17, 17, 2)
	VFADD4(18, 18, 3)
	VFADD4(19, 19, 4)
	ADD	R4, R7
	VLD1	(R7), [V2.S4, V3.S4, V4.S4]
	VFADD4(20, 20, 2)
	VFADD4(21, 21, 3)
	VFADD4(22, 22, 4)
	ADD	R4, R7
	VLD1	(R7), [V2.S4, V3.S4, V4.S4]
	VFADD4(23, 23, 2)
	VFADD4(24, 24, 3)
	VFADD4(25, 25, 4)
	ADD	R4, R7
	VLD1	(R7), [V2.S4, V3.S4, V4.S4]
	VFADD4(26, 26, 2)
	VFADD4(27, 27, 3)
	VFADD4(28, 28, 4)
	ADD	R4, R7
	VLD1	(R7), [V2.S4, V3.S4, V4.S4]
	VFADD4(29, 29, 2)
	VFADD4(30, 30, 3)
	VFADD4(31, 31, 4)

noaccum:
	TBZ	$1, R6, nobias // epBias: add bias[r] to row r
	MOVD	8(R5), R7
	VLD1R.P	4(R7), [V5.S4]
	VFADD4(8, 8, 5)
	VFADD4(9, 9, 5)
	VFADD4(10, 10, 5)
	VLD1R.P	4(R7), [V5.S4]
	VFADD4(11, 11, 5)
	VFADD4(12, 12, 5)
	VFADD4(13, 13, 5)
	VLD1R.P	4(R7), [V5.S4]
	VFADD4(14, 14, 5)
	VFADD4(15, 15, 5)
	VFADD4(16, 16, 5)
	VLD1R.P	4(R7), [V5.S4]
	VFADD4(17, 17, 5)
	VFADD4(18, 18, 5)
	VFADD4(19, 19, 5)
	VLD1R.P	4(R7), [V5.S4]
	VFADD4(20, 20, 5)
	VFADD4(21, 21, 5)
	VFADD4(22, 22, 5)
	VLD1R.P	4(R7), [V5.S4]
	VFADD4(23, 23, 5)
	VFADD4(24, 24, 5)
	VFADD4(25, 25, 5)
	VLD1R.P	4(R7), [V5.S4]
	VFADD4(26, 26, 5)
	VFADD4(27, 27, 5)
	VFADD4(28, 28, 5)
	VLD1R.P	4(R7), [V5.S4]
	VFADD4(29, 29, 5)
	VFADD4(30, 30, 5)
	VFADD4(31, 31, 5)

nobias:
	TBZ	$3, R6, nores // epResid: add R (ep.resid, row stride ldc)
	MOVD	32(R5), R7
	VLD1	(R7), [V2.S4, V3.S4, V4.S4]
	VFADD4(8, 8, 2)
	VFADD4(9, 9, 3)
	VFADD4(10, 10, 4)
	ADD	R4, R7
	VLD1	(R7), [V2.S4, V3.S4, V4.S4]
	VFADD4(11, 11, 2)
	VFADD4(12, 12, 3)
	VFADD4(13, 13, 4)
	ADD	R4, R7
	VLD1	(R7), [V2.S4, V3.S4, V4.S4]
	VFADD4(14, 14, 2)
	VFADD4(15, 15, 3)
	VFADD4(16, 16, 4)
	ADD	R4, R7
	VLD1	(R7), [V2.S4, V3.S4, V4.S4]
	VFADD4(17, 17, 2)
	VFADD4(18, 18, 3)
	VFADD4(19, 19, 4)
	ADD	R4, R7
	VLD1	(R7), [V2.S4, V3.S4, V4.S4]
	VFADD4(20, 20, 2)
	VFADD4(21, 21, 3)
	VFADD4(22, 22, 4)
	ADD	R4, R7
	VLD1	(R7), [V2.S4, V3.S4, V4.S4]
	VFADD4(23, 23, 2)
	VFADD4(24, 24, 3)
	VFADD4(25, 25, 4)
	ADD	R4, R7
	VLD1	(R7), [V2.S4, V3.S4, V4.S4]
	VFADD4(26, 26, 2)
	VFADD4(27, 27, 3)
	VFADD4(28, 28, 4)
	ADD	R4, R7
	VLD1	(R7), [V2.S4, V3.S4, V4.S4]
	VFADD4(29, 29, 2)
	VFADD4(30, 30, 3)
	VFADD4(31, 31, 4)

nores:
	TBZ	$2, R6, store // epClamp: clamp to [lo, hi]
	FMOVS	16(R5), F6
	FMOVS	20(R5), F7
	VDUP	V6.S[0], V6.S4
	VDUP	V7.S[0], V7.S4
	VFMAX4(8, 8, 6)
	VFMIN4(8, 8, 7)
	VFMAX4(9, 9, 6)
	VFMIN4(9, 9, 7)
	VFMAX4(10, 10, 6)
	VFMIN4(10, 10, 7)
	VFMAX4(11, 11, 6)
	VFMIN4(11, 11, 7)
	VFMAX4(12, 12, 6)
	VFMIN4(12, 12, 7)
	VFMAX4(13, 13, 6)
	VFMIN4(13, 13, 7)
	VFMAX4(14, 14, 6)
	VFMIN4(14, 14, 7)
	VFMAX4(15, 15, 6)
	VFMIN4(15, 15, 7)
	VFMAX4(16, 16, 6)
	VFMIN4(16, 16, 7)
	VFMAX4(17, 17, 6)
	VFMIN4(17, 17, 7)
	VFMAX4(18, 18, 6)
	VFMIN4(18, 18, 7)
	VFMAX4(19, 19, 6)
	VFMIN4(19, 19, 7)
	VFMAX4(20, 20, 6)
	VFMIN4(20, 20, 7)
	VFMAX4(21, 21, 6)
	VFMIN4(21, 21, 7)
	VFMAX4(22, 22, 6)
	VFMIN4(22, 22, 7)
	VFMAX4(23, 23, 6)
	VFMIN4(23, 23, 7)
	VFMAX4(24, 24, 6)
	VFMIN4(24, 24, 7)
	VFMAX4(25, 25, 6)
	VFMIN4(25, 25, 7)
	VFMAX4(26, 26, 6)
	VFMIN4(26, 26, 7)
	VFMAX4(27, 27, 6)
	VFMIN4(27, 27, 7)
	VFMAX4(28, 28, 6)
	VFMIN4(28, 28, 7)
	VFMAX4(29, 29, 6)
	VFMIN4(29, 29, 7)
	VFMAX4(30, 30, 6)
	VFMIN4(30, 30, 7)
	VFMAX4(31, 31, 6)
	VFMIN4(31, 31, 7)

store:
	VST1	[V8.S4, V9.S4, V10.S4], (R3)
	ADD	R4, R3
	VST1	[V11.S4, V12.S4, V13.S4], (R3)
	ADD	R4, R3
	VST1	[V14.S4, V15.S4, V16.S4], (R3)
	ADD	R4, R3
	VST1	[V17.S4, V18.S4, V19.S4], (R3)
	ADD	R4, R3
	VST1	[V20.S4, V21.S4, V22.S4], (R3)
	ADD	R4, R3
	VST1	[V23.S4, V24.S4, V25.S4], (R3)
	ADD	R4, R3
	VST1	[V26.S4, V27.S4, V28.S4], (R3)
	ADD	R4, R3
	VST1	[V29.S4, V30.S4, V31.S4], (R3)
	RET
