//go:build !purego

#include "textflag.h"
#include "neon_arm64.h"

// NEON versions of the spmm kernels of op_sparse.go (op_sparse_arm64.go).
// Both hold a tile of output columns of a row (or of four rows) in
// registers and, per nonzero, load the input row's tile at
// x + cols[k]·ldx once and add it times the weight with FMLA by element.
// A row chunk of w columns goes in tiles of 64, 32, 16, 8, 4 and then 1
// column, each tile one pass over the row's nonzeros.

// func spmmRowsNEON(dst *float32, ldd int, x *float32, ldx int, vals *float32, cols, rowptr *int32, rows, w int, bias *float32, accum bool)
//
// For r < rows and j < w, with k over rowptr[r] ≤ k < rowptr[r+1]:
//
//	dst[r·ldd + j] = init + Σ_k vals[k] · x[cols[k]·ldx + j]
//
// init is dst[r·ldd + j] itself with accum, else bias[r] (0 if bias is nil).
//
// Registers: R0 dst row, R1 x, R2 ldx bytes, R3 vals, R4 cols, R5 rowptr,
// R6 rows left, R7 w, R8 bias, R9 ldd bytes, R10 accum; per row R12 its
// nonzeros, R13/R14 its vals/cols, R15 the tile's byte offset in the row,
// R16 columns left, V1 init broadcast; per tile R19 dst, R20 x, R21/R22/R23
// vals/cols/count, R24 the input row; accumulators V16–V31, x in V2–V9,
// the weight in V0 (lane 0).
TEXT ·spmmRowsNEON(SB), NOSPLIT, $0-81
	MOVD	dst+0(FP), R0
	MOVD	ldd+8(FP), R9
	LSL	$2, R9
	MOVD	x+16(FP), R1
	MOVD	ldx+24(FP), R2
	LSL	$2, R2
	MOVD	vals+32(FP), R3
	MOVD	cols+40(FP), R4
	MOVD	rowptr+48(FP), R5
	MOVD	rows+56(FP), R6
	MOVD	w+64(FP), R7
	MOVD	bias+72(FP), R8
	MOVBU	accum+80(FP), R10
	CBZ	R6, done

row:
	MOVWU	(R5), R11
	MOVWU	4(R5), R12
	ADD	$4, R5
	SUB	R11, R12, R12
	ADD	R11<<2, R3, R13
	ADD	R11<<2, R4, R14
	VEOR	V1.B16, V1.B16, V1.B16
	CBZ	R8, nobias
	FMOVS.P	4(R8), F1

nobias:
	MOVD	ZR, R15
	MOVD	R7, R16

t64:
	CMP	$64, R16
	BLT	t64end
	ADD	R15, R0, R19
	ADD	R15, R1, R20
	CBZ	R10, t64init
	MOVD	R19, R24
	VLD1.P	64(R24), [V16.S4, V17.S4, V18.S4, V19.S4]
	VLD1.P	64(R24), [V20.S4, V21.S4, V22.S4, V23.S4]
	VLD1.P	64(R24), [V24.S4, V25.S4, V26.S4, V27.S4]
	VLD1.P	64(R24), [V28.S4, V29.S4, V30.S4, V31.S4]
	B	t64nz

t64init:
	VDUP	V1.S[0], V16.S4
	VDUP	V1.S[0], V17.S4
	VDUP	V1.S[0], V18.S4
	VDUP	V1.S[0], V19.S4
	VDUP	V1.S[0], V20.S4
	VDUP	V1.S[0], V21.S4
	VDUP	V1.S[0], V22.S4
	VDUP	V1.S[0], V23.S4
	VDUP	V1.S[0], V24.S4
	VDUP	V1.S[0], V25.S4
	VDUP	V1.S[0], V26.S4
	VDUP	V1.S[0], V27.S4
	VDUP	V1.S[0], V28.S4
	VDUP	V1.S[0], V29.S4
	VDUP	V1.S[0], V30.S4
	VDUP	V1.S[0], V31.S4

t64nz:
	MOVD	R13, R21
	MOVD	R14, R22
	MOVD	R12, R23
	CBZ	R23, t64store

t64loop:
	FMOVS.P	4(R21), F0
	MOVWU.P	4(R22), R24
	MADD	R2, R20, R24, R24
	VLD1.P	64(R24), [V2.S4, V3.S4, V4.S4, V5.S4]
	FMLAE(16, 2, 0, 0)
	FMLAE(17, 3, 0, 0)
	FMLAE(18, 4, 0, 0)
	FMLAE(19, 5, 0, 0)
	VLD1.P	64(R24), [V6.S4, V7.S4, V8.S4, V9.S4]
	FMLAE(20, 6, 0, 0)
	FMLAE(21, 7, 0, 0)
	FMLAE(22, 8, 0, 0)
	FMLAE(23, 9, 0, 0)
	VLD1.P	64(R24), [V2.S4, V3.S4, V4.S4, V5.S4]
	FMLAE(24, 2, 0, 0)
	FMLAE(25, 3, 0, 0)
	FMLAE(26, 4, 0, 0)
	FMLAE(27, 5, 0, 0)
	VLD1.P	64(R24), [V6.S4, V7.S4, V8.S4, V9.S4]
	FMLAE(28, 6, 0, 0)
	FMLAE(29, 7, 0, 0)
	FMLAE(30, 8, 0, 0)
	FMLAE(31, 9, 0, 0)
	SUBS	$1, R23
	BNE	t64loop

t64store:
	VST1.P	[V16.S4, V17.S4, V18.S4, V19.S4], 64(R19)
	VST1.P	[V20.S4, V21.S4, V22.S4, V23.S4], 64(R19)
	VST1.P	[V24.S4, V25.S4, V26.S4, V27.S4], 64(R19)
	VST1.P	[V28.S4, V29.S4, V30.S4, V31.S4], 64(R19)
	ADD	$256, R15
	SUB	$64, R16
	B	t64

t64end:
t32:
	CMP	$32, R16
	BLT	t32end
	ADD	R15, R0, R19
	ADD	R15, R1, R20
	CBZ	R10, t32init
	MOVD	R19, R24
	VLD1.P	64(R24), [V16.S4, V17.S4, V18.S4, V19.S4]
	VLD1.P	64(R24), [V20.S4, V21.S4, V22.S4, V23.S4]
	B	t32nz

t32init:
	VDUP	V1.S[0], V16.S4
	VDUP	V1.S[0], V17.S4
	VDUP	V1.S[0], V18.S4
	VDUP	V1.S[0], V19.S4
	VDUP	V1.S[0], V20.S4
	VDUP	V1.S[0], V21.S4
	VDUP	V1.S[0], V22.S4
	VDUP	V1.S[0], V23.S4

t32nz:
	MOVD	R13, R21
	MOVD	R14, R22
	MOVD	R12, R23
	CBZ	R23, t32store

t32loop:
	FMOVS.P	4(R21), F0
	MOVWU.P	4(R22), R24
	MADD	R2, R20, R24, R24
	VLD1.P	64(R24), [V2.S4, V3.S4, V4.S4, V5.S4]
	FMLAE(16, 2, 0, 0)
	FMLAE(17, 3, 0, 0)
	FMLAE(18, 4, 0, 0)
	FMLAE(19, 5, 0, 0)
	VLD1.P	64(R24), [V6.S4, V7.S4, V8.S4, V9.S4]
	FMLAE(20, 6, 0, 0)
	FMLAE(21, 7, 0, 0)
	FMLAE(22, 8, 0, 0)
	FMLAE(23, 9, 0, 0)
	SUBS	$1, R23
	BNE	t32loop

t32store:
	VST1.P	[V16.S4, V17.S4, V18.S4, V19.S4], 64(R19)
	VST1.P	[V20.S4, V21.S4, V22.S4, V23.S4], 64(R19)
	ADD	$128, R15
	SUB	$32, R16
	B	t32

t32end:
t16:
	CMP	$16, R16
	BLT	t16end
	ADD	R15, R0, R19
	ADD	R15, R1, R20
	CBZ	R10, t16init
	MOVD	R19, R24
	VLD1.P	64(R24), [V16.S4, V17.S4, V18.S4, V19.S4]
	B	t16nz

t16init:
	VDUP	V1.S[0], V16.S4
	VDUP	V1.S[0], V17.S4
	VDUP	V1.S[0], V18.S4
	VDUP	V1.S[0], V19.S4

t16nz:
	MOVD	R13, R21
	MOVD	R14, R22
	MOVD	R12, R23
	CBZ	R23, t16store

t16loop:
	FMOVS.P	4(R21), F0
	MOVWU.P	4(R22), R24
	MADD	R2, R20, R24, R24
	VLD1.P	64(R24), [V2.S4, V3.S4, V4.S4, V5.S4]
	FMLAE(16, 2, 0, 0)
	FMLAE(17, 3, 0, 0)
	FMLAE(18, 4, 0, 0)
	FMLAE(19, 5, 0, 0)
	SUBS	$1, R23
	BNE	t16loop

t16store:
	VST1.P	[V16.S4, V17.S4, V18.S4, V19.S4], 64(R19)
	ADD	$64, R15
	SUB	$16, R16
	B	t16

t16end:
t8:
	CMP	$8, R16
	BLT	t8end
	ADD	R15, R0, R19
	ADD	R15, R1, R20
	CBZ	R10, t8init
	MOVD	R19, R24
	VLD1.P	32(R24), [V16.S4, V17.S4]
	B	t8nz

t8init:
	VDUP	V1.S[0], V16.S4
	VDUP	V1.S[0], V17.S4

t8nz:
	MOVD	R13, R21
	MOVD	R14, R22
	MOVD	R12, R23
	CBZ	R23, t8store

t8loop:
	FMOVS.P	4(R21), F0
	MOVWU.P	4(R22), R24
	MADD	R2, R20, R24, R24
	VLD1.P	32(R24), [V2.S4, V3.S4]
	FMLAE(16, 2, 0, 0)
	FMLAE(17, 3, 0, 0)
	SUBS	$1, R23
	BNE	t8loop

t8store:
	VST1.P	[V16.S4, V17.S4], 32(R19)
	ADD	$32, R15
	SUB	$8, R16
	B	t8

t8end:
t4:
	CMP	$4, R16
	BLT	t4end
	ADD	R15, R0, R19
	ADD	R15, R1, R20
	CBZ	R10, t4init
	MOVD	R19, R24
	VLD1.P	16(R24), [V16.S4]
	B	t4nz

t4init:
	VDUP	V1.S[0], V16.S4

t4nz:
	MOVD	R13, R21
	MOVD	R14, R22
	MOVD	R12, R23
	CBZ	R23, t4store

t4loop:
	FMOVS.P	4(R21), F0
	MOVWU.P	4(R22), R24
	MADD	R2, R20, R24, R24
	VLD1.P	16(R24), [V2.S4]
	FMLAE(16, 2, 0, 0)
	SUBS	$1, R23
	BNE	t4loop

t4store:
	VST1.P	[V16.S4], 16(R19)
	ADD	$16, R15
	SUB	$4, R16
	B	t4

t4end:
t1:
	CBZ	R16, rowdone
	ADD	R15, R0, R19
	ADD	R15, R1, R20
	FMOVS	F1, F16
	CBZ	R10, t1nz
	FMOVS	(R19), F16

t1nz:
	MOVD	R13, R21
	MOVD	R14, R22
	MOVD	R12, R23
	CBZ	R23, t1store

t1loop:
	FMOVS.P	4(R21), F0
	MOVWU.P	4(R22), R24
	MADD	R2, R20, R24, R24
	FMOVS	(R24), F2
	FMADDS	F0, F16, F2, F16
	SUBS	$1, R23
	BNE	t1loop

t1store:
	FMOVS	F16, (R19)
	ADD	$4, R15
	SUB	$1, R16
	B	t1

rowdone:
	ADD	R9, R0
	SUBS	$1, R6
	BNE	row

done:
	RET

// func spmmGroup4NEON(dst *float32, ldd int, x *float32, ldx int, vals *float32, stride int, cols *int32, nnz, w int, bias *float32)
//
// spmmRowsNEON (without accum) for four rows i < 4 that share the column
// indices cols[:nnz], row i's values at vals[i·stride:]: each input tile is
// loaded once for the four rows. Tiles of 16, 4 and 1 column.
//
// Registers: R0 dst, R1 x, R2 ldx bytes, R3 vals, R4 cols, R6 stride
// bytes, R9 ldd bytes, R12 nnz, R15 tile offset, R16 columns left, V1 the
// four biases; per tile R19 dst, R20 x, R21/R10/R11/R13 the four rows'
// values, R22 cols, R23 count, R24 the input row; weights in V0–V3 (lane
// 0), x in V4–V7, accumulators V16–V31 (row i in V16+4i…).
TEXT ·spmmGroup4NEON(SB), NOSPLIT, $0-80
	MOVD	dst+0(FP), R0
	MOVD	ldd+8(FP), R9
	LSL	$2, R9
	MOVD	x+16(FP), R1
	MOVD	ldx+24(FP), R2
	LSL	$2, R2
	MOVD	vals+32(FP), R3
	MOVD	stride+40(FP), R6
	LSL	$2, R6
	MOVD	cols+48(FP), R4
	MOVD	nnz+56(FP), R12
	MOVD	w+64(FP), R16
	MOVD	bias+72(FP), R8
	VEOR	V8.B16, V8.B16, V8.B16
	CBZ	R8, g4nobias
	VLD1	(R8), [V8.S4]

g4nobias:
	MOVD	ZR, R15

g16:
	CMP	$16, R16
	BLT	g16end
	ADD	R15, R0, R19
	ADD	R15, R1, R20
	VDUP	V8.S[0], V16.S4
	VDUP	V8.S[0], V17.S4
	VDUP	V8.S[0], V18.S4
	VDUP	V8.S[0], V19.S4
	VDUP	V8.S[1], V20.S4
	VDUP	V8.S[1], V21.S4
	VDUP	V8.S[1], V22.S4
	VDUP	V8.S[1], V23.S4
	VDUP	V8.S[2], V24.S4
	VDUP	V8.S[2], V25.S4
	VDUP	V8.S[2], V26.S4
	VDUP	V8.S[2], V27.S4
	VDUP	V8.S[3], V28.S4
	VDUP	V8.S[3], V29.S4
	VDUP	V8.S[3], V30.S4
	VDUP	V8.S[3], V31.S4
	MOVD	R3, R21
	ADD	R6, R21, R10
	ADD	R6, R10, R11
	ADD	R6, R11, R13
	MOVD	R4, R22
	MOVD	R12, R23
	CBZ	R23, g16store

g16loop:
	FMOVS.P	4(R21), F0
	FMOVS.P	4(R10), F1
	FMOVS.P	4(R11), F2
	FMOVS.P	4(R13), F3
	MOVWU.P	4(R22), R24
	MADD	R2, R20, R24, R24
	VLD1	(R24), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMLAE(16, 4, 0, 0)
	FMLAE(17, 5, 0, 0)
	FMLAE(18, 6, 0, 0)
	FMLAE(19, 7, 0, 0)
	FMLAE(20, 4, 1, 0)
	FMLAE(21, 5, 1, 0)
	FMLAE(22, 6, 1, 0)
	FMLAE(23, 7, 1, 0)
	FMLAE(24, 4, 2, 0)
	FMLAE(25, 5, 2, 0)
	FMLAE(26, 6, 2, 0)
	FMLAE(27, 7, 2, 0)
	FMLAE(28, 4, 3, 0)
	FMLAE(29, 5, 3, 0)
	FMLAE(30, 6, 3, 0)
	FMLAE(31, 7, 3, 0)
	SUBS	$1, R23
	BNE	g16loop

g16store:
	MOVD	R19, R24
	VST1	[V16.S4, V17.S4, V18.S4, V19.S4], (R24)
	ADD	R9, R24
	VST1	[V20.S4, V21.S4, V22.S4, V23.S4], (R24)
	ADD	R9, R24
	VST1	[V24.S4, V25.S4, V26.S4, V27.S4], (R24)
	ADD	R9, R24
	VST1	[V28.S4, V29.S4, V30.S4, V31.S4], (R24)
	ADD	$64, R15
	SUB	$16, R16
	B	g16

g16end:
g4:
	CMP	$4, R16
	BLT	g4end
	ADD	R15, R0, R19
	ADD	R15, R1, R20
	VDUP	V8.S[0], V16.S4
	VDUP	V8.S[1], V20.S4
	VDUP	V8.S[2], V24.S4
	VDUP	V8.S[3], V28.S4
	MOVD	R3, R21
	ADD	R6, R21, R10
	ADD	R6, R10, R11
	ADD	R6, R11, R13
	MOVD	R4, R22
	MOVD	R12, R23
	CBZ	R23, g4store

g4loop:
	FMOVS.P	4(R21), F0
	FMOVS.P	4(R10), F1
	FMOVS.P	4(R11), F2
	FMOVS.P	4(R13), F3
	MOVWU.P	4(R22), R24
	MADD	R2, R20, R24, R24
	VLD1	(R24), [V4.S4]
	FMLAE(16, 4, 0, 0)
	FMLAE(20, 4, 1, 0)
	FMLAE(24, 4, 2, 0)
	FMLAE(28, 4, 3, 0)
	SUBS	$1, R23
	BNE	g4loop

g4store:
	MOVD	R19, R24
	VST1	[V16.S4], (R24)
	ADD	R9, R24
	VST1	[V20.S4], (R24)
	ADD	R9, R24
	VST1	[V24.S4], (R24)
	ADD	R9, R24
	VST1	[V28.S4], (R24)
	ADD	$16, R15
	SUB	$4, R16
	B	g4

g4end:
g1:
	CMP	$1, R16
	BLT	g1end
	ADD	R15, R0, R19
	ADD	R15, R1, R20
	VDUP	V8.S[0], V16.S4
	VDUP	V8.S[1], V20.S4
	VDUP	V8.S[2], V24.S4
	VDUP	V8.S[3], V28.S4
	MOVD	R3, R21
	ADD	R6, R21, R10
	ADD	R6, R10, R11
	ADD	R6, R11, R13
	MOVD	R4, R22
	MOVD	R12, R23
	CBZ	R23, g1store

g1loop:
	FMOVS.P	4(R21), F0
	FMOVS.P	4(R10), F1
	FMOVS.P	4(R11), F2
	FMOVS.P	4(R13), F3
	MOVWU.P	4(R22), R24
	MADD	R2, R20, R24, R24
	FMOVS	(R24), F4
	FMADDS	F0, F16, F4, F16
	FMADDS	F1, F20, F4, F20
	FMADDS	F2, F24, F4, F24
	FMADDS	F3, F28, F4, F28
	SUBS	$1, R23
	BNE	g1loop

g1store:
	MOVD	R19, R24
	FMOVS	F16, (R24)
	ADD	R9, R24
	FMOVS	F20, (R24)
	ADD	R9, R24
	FMOVS	F24, (R24)
	ADD	R9, R24
	FMOVS	F28, (R24)
	ADD	$4, R15
	SUB	$1, R16
	B	g1

g1end:
	RET
