//go:build !purego

#include "textflag.h"

// func spmmRowAVX512(dst, x *float32, ldx int, vals *float32, cols *int32, nnz, w int, b float32, accum bool)
//
// dst[j] = init + Σ_k vals[k]·x[cols[k]·ldx + j] for j < w ≤ 64, init =
// dst[j] with accum, else b. Accumulators Z0–Z3 (even k) and Z4–Z7 (odd k),
// lanes masked by K1–K4.
TEXT ·spmmRowAVX512(SB), NOSPLIT, $0-61
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ ldx+16(FP), R10
	SHLQ $2, R10
	MOVQ vals+24(FP), R8
	MOVQ cols+32(FP), R9
	MOVQ nnz+40(FP), CX
	MOVQ w+48(FP), DX
	// Lane mask of the w columns.
	MOVQ $-1, AX
	CMPQ DX, $64
	JAE  masks
	MOVQ DX, BX
	MOVQ $1, AX
	MOVQ BX, CX
	SHLQ CX, AX
	DECQ AX
	MOVQ nnz+40(FP), CX
masks:
	KMOVW AX, K1
	SHRQ  $16, AX
	KMOVW AX, K2
	SHRQ  $16, AX
	KMOVW AX, K3
	SHRQ  $16, AX
	KMOVW AX, K4
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	MOVBLZX accum+60(FP), AX
	TESTQ AX, AX
	JE    initbias
	VMOVUPS.Z 0(DI), K1, Z0
	VMOVUPS.Z 64(DI), K2, Z1
	VMOVUPS.Z 128(DI), K3, Z2
	VMOVUPS.Z 192(DI), K4, Z3
	JMP   loop2
initbias:
	VBROADCASTSS b+56(FP), Z0
	VMOVAPS Z0, Z1
	VMOVAPS Z0, Z2
	VMOVAPS Z0, Z3
loop2:
	CMPQ CX, $2
	JB   tail
	MOVLQSX 0(R9), AX
	MOVLQSX 4(R9), BX
	IMULQ R10, AX
	IMULQ R10, BX
	ADDQ SI, AX
	ADDQ SI, BX
	VBROADCASTSS 0(R8), Z8
	VBROADCASTSS 4(R8), Z9
	VFMADD231PS 0(AX), Z8, K1, Z0
	VFMADD231PS 64(AX), Z8, K2, Z1
	VFMADD231PS 128(AX), Z8, K3, Z2
	VFMADD231PS 192(AX), Z8, K4, Z3
	VFMADD231PS 0(BX), Z9, K1, Z4
	VFMADD231PS 64(BX), Z9, K2, Z5
	VFMADD231PS 128(BX), Z9, K3, Z6
	VFMADD231PS 192(BX), Z9, K4, Z7
	ADDQ $8, R8
	ADDQ $8, R9
	SUBQ $2, CX
	JMP  loop2
tail:
	TESTQ CX, CX
	JE    done
	MOVLQSX 0(R9), AX
	IMULQ R10, AX
	ADDQ SI, AX
	VBROADCASTSS 0(R8), Z8
	VFMADD231PS 0(AX), Z8, K1, Z0
	VFMADD231PS 64(AX), Z8, K2, Z1
	VFMADD231PS 128(AX), Z8, K3, Z2
	VFMADD231PS 192(AX), Z8, K4, Z3
done:
	VADDPS Z4, Z0, Z0
	VADDPS Z5, Z1, Z1
	VADDPS Z6, Z2, Z2
	VADDPS Z7, Z3, Z3
	VMOVUPS Z0, K1, 0(DI)
	VMOVUPS Z1, K2, 64(DI)
	VMOVUPS Z2, K3, 128(DI)
	VMOVUPS Z3, K4, 192(DI)
	VZEROUPPER
	RET

// func spDotAVX512(vals *float32, cols *int32, n int, x *float32) float32
//
// Σ_k vals[k]·x[cols[k]] for k < n: 16-lane gathers into two accumulators,
// added at the end.
TEXT ·spDotAVX512(SB), NOSPLIT, $0-36
	MOVQ vals+0(FP), SI
	MOVQ cols+8(FP), DX
	MOVQ n+16(FP), CX
	MOVQ x+24(FP), DI
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
dot32:
	CMPQ CX, $32
	JB   dot16
	VMOVDQU32 0(DX), Z2
	VMOVDQU32 64(DX), Z3
	KXNORW K1, K1, K1
	KXNORW K2, K2, K2
	VGATHERDPS (DI)(Z2*4), K1, Z4
	VGATHERDPS (DI)(Z3*4), K2, Z5
	VFMADD231PS 0(SI), Z4, Z0
	VFMADD231PS 64(SI), Z5, Z1
	ADDQ $128, SI
	ADDQ $128, DX
	SUBQ $32, CX
	JMP  dot32
dot16:
	CMPQ CX, $16
	JB   dottail
	VMOVDQU32 0(DX), Z2
	KXNORW K1, K1, K1
	VGATHERDPS (DI)(Z2*4), K1, Z4
	VFMADD231PS 0(SI), Z4, Z0
	ADDQ $64, SI
	ADDQ $64, DX
	SUBQ $16, CX
dottail:
	TESTQ CX, CX
	JE    dotreduce
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	KMOVW AX, K2
	VMOVDQU32.Z 0(DX), K1, Z2
	VMOVUPS.Z 0(SI), K1, Z6
	VPXORD Z4, Z4, Z4
	VGATHERDPS (DI)(Z2*4), K2, Z4
	VFMADD231PS Z6, Z4, Z1
dotreduce:
	VADDPS Z1, Z0, Z0
	VEXTRACTF32X8 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X1, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VMOVSS X0, ret+32(FP)
	VZEROUPPER
	RET

// func sellAVX512(out, vals *float32, cols, width *int32, nslices int, x *float32)
//
// sellGo: per slice, 16 lanes accumulated over its columns from 16-lane
// gathers, two columns per iteration into two accumulators.
TEXT ·sellAVX512(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ vals+8(FP), SI
	MOVQ cols+16(FP), DX
	MOVQ width+24(FP), R8
	MOVQ nslices+32(FP), R9
	MOVQ x+40(FP), R10
slice:
	TESTQ R9, R9
	JE    selldone
	MOVLQSX 0(R8), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
col2:
	CMPQ CX, $2
	JB   col1
	VMOVDQU32 0(DX), Z2
	VMOVDQU32 64(DX), Z3
	KXNORW K1, K1, K1
	KXNORW K2, K2, K2
	VGATHERDPS (R10)(Z2*4), K1, Z4
	VGATHERDPS (R10)(Z3*4), K2, Z5
	VFMADD231PS 0(SI), Z4, Z0
	VFMADD231PS 64(SI), Z5, Z1
	ADDQ $128, SI
	ADDQ $128, DX
	SUBQ $2, CX
	JMP  col2
col1:
	TESTQ CX, CX
	JE    store
	VMOVDQU32 0(DX), Z2
	KXNORW K1, K1, K1
	VGATHERDPS (R10)(Z2*4), K1, Z4
	VFMADD231PS 0(SI), Z4, Z0
	ADDQ $64, SI
	ADDQ $64, DX
store:
	VADDPS Z1, Z0, Z0
	VMOVUPS Z0, 0(DI)
	ADDQ $64, DI
	ADDQ $4, R8
	DECQ R9
	JMP  slice
selldone:
	VZEROUPPER
	RET

// func spmmGroup4AVX512(dst *float32, ldd int, x *float32, ldx int, vals *float32, stride int, cols *int32, nnz, w int, bias *float32)
//
// Four rows that share their column indices (a row run of a block=4x…
// weight), one chunk of w ≤ 64 columns: for row i < 4 and j < w,
// dst[i·ldd+j] = bias[i] (0 when bias is nil) + Σ_k vals[i·stride+k]·x[cols[k]·ldx+j].
// Each input row is loaded once for the four rows: accumulators Z0–Z15
// (row i, 16 columns q at Z(4i+q)), input Z16–Z19, values Z20–Z23.
TEXT ·spmmGroup4AVX512(SB), NOSPLIT, $0-80
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R14
	SHLQ $2, R14
	MOVQ x+16(FP), SI
	MOVQ ldx+24(FP), R10
	SHLQ $2, R10
	MOVQ vals+32(FP), R8
	MOVQ stride+40(FP), R11
	SHLQ $2, R11
	LEAQ (R11)(R11*1), R12
	LEAQ (R12)(R11*1), R13
	MOVQ cols+48(FP), R9
	MOVQ w+64(FP), DX
	MOVQ $-1, AX
	CMPQ DX, $64
	JAE  gmasks
	MOVQ DX, CX
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
gmasks:
	KMOVW AX, K1
	SHRQ  $16, AX
	KMOVW AX, K2
	SHRQ  $16, AX
	KMOVW AX, K3
	SHRQ  $16, AX
	KMOVW AX, K4
	MOVQ bias+72(FP), BX
	TESTQ BX, BX
	JE    gzero
	VBROADCASTSS 0(BX), Z0
	VBROADCASTSS 4(BX), Z4
	VBROADCASTSS 8(BX), Z8
	VBROADCASTSS 12(BX), Z12
	JMP  gsplat
gzero:
	VPXORD Z0, Z0, Z0
	VPXORD Z4, Z4, Z4
	VPXORD Z8, Z8, Z8
	VPXORD Z12, Z12, Z12
gsplat:
	VMOVAPS Z0, Z1
	VMOVAPS Z0, Z2
	VMOVAPS Z0, Z3
	VMOVAPS Z4, Z5
	VMOVAPS Z4, Z6
	VMOVAPS Z4, Z7
	VMOVAPS Z8, Z9
	VMOVAPS Z8, Z10
	VMOVAPS Z8, Z11
	VMOVAPS Z12, Z13
	VMOVAPS Z12, Z14
	VMOVAPS Z12, Z15
	MOVQ nnz+56(FP), CX
gloop:
	TESTQ CX, CX
	JE    gstore
	MOVLQSX 0(R9), AX
	IMULQ R10, AX
	ADDQ SI, AX
	VMOVUPS.Z 0(AX), K1, Z16
	VMOVUPS.Z 64(AX), K2, Z17
	VMOVUPS.Z 128(AX), K3, Z18
	VMOVUPS.Z 192(AX), K4, Z19
	VBROADCASTSS 0(R8), Z20
	VBROADCASTSS (R8)(R11*1), Z21
	VBROADCASTSS (R8)(R12*1), Z22
	VBROADCASTSS (R8)(R13*1), Z23
	VFMADD231PS Z16, Z20, Z0
	VFMADD231PS Z17, Z20, Z1
	VFMADD231PS Z18, Z20, Z2
	VFMADD231PS Z19, Z20, Z3
	VFMADD231PS Z16, Z21, Z4
	VFMADD231PS Z17, Z21, Z5
	VFMADD231PS Z18, Z21, Z6
	VFMADD231PS Z19, Z21, Z7
	VFMADD231PS Z16, Z22, Z8
	VFMADD231PS Z17, Z22, Z9
	VFMADD231PS Z18, Z22, Z10
	VFMADD231PS Z19, Z22, Z11
	VFMADD231PS Z16, Z23, Z12
	VFMADD231PS Z17, Z23, Z13
	VFMADD231PS Z18, Z23, Z14
	VFMADD231PS Z19, Z23, Z15
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ CX
	JMP  gloop
gstore:
	VMOVUPS Z0, K1, 0(DI)
	VMOVUPS Z1, K2, 64(DI)
	VMOVUPS Z2, K3, 128(DI)
	VMOVUPS Z3, K4, 192(DI)
	ADDQ R14, DI
	VMOVUPS Z4, K1, 0(DI)
	VMOVUPS Z5, K2, 64(DI)
	VMOVUPS Z6, K3, 128(DI)
	VMOVUPS Z7, K4, 192(DI)
	ADDQ R14, DI
	VMOVUPS Z8, K1, 0(DI)
	VMOVUPS Z9, K2, 64(DI)
	VMOVUPS Z10, K3, 128(DI)
	VMOVUPS Z11, K4, 192(DI)
	ADDQ R14, DI
	VMOVUPS Z12, K1, 0(DI)
	VMOVUPS Z13, K2, 64(DI)
	VMOVUPS Z14, K3, 128(DI)
	VMOVUPS Z15, K4, 192(DI)
	VZEROUPPER
	RET

// func spmmRowsAVX512(dst *float32, ldd int, x *float32, ldx int, vals *float32, cols, rowptr *int32, rows, w int, bias *float32)
//
// spmmRowAVX512 (without accum) for rows consecutive rows of one column
// chunk, in one call: row r's nonzeros are vals/cols[rowptr[r]:rowptr[r+1]]
// (rowptr relative to vals and cols), its output dst + r·ldd, its initial
// value bias[r] (0 when bias is nil).
TEXT ·spmmRowsAVX512(SB), NOSPLIT, $0-80
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R14
	SHLQ $2, R14
	MOVQ x+16(FP), SI
	MOVQ ldx+24(FP), R10
	SHLQ $2, R10
	MOVQ rowptr+48(FP), R11
	MOVQ rows+56(FP), R12
	MOVQ bias+72(FP), R13
	MOVQ w+64(FP), DX
	MOVQ $-1, AX
	CMPQ DX, $64
	JAE  rmasks
	MOVQ DX, CX
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
rmasks:
	KMOVW AX, K1
	SHRQ  $16, AX
	KMOVW AX, K2
	SHRQ  $16, AX
	KMOVW AX, K3
	SHRQ  $16, AX
	KMOVW AX, K4
rrow:
	TESTQ R12, R12
	JE    rdone
	// Nonzeros of this row: k from rowptr[0] to rowptr[1].
	MOVLQSX 0(R11), AX
	MOVLQSX 4(R11), CX
	SUBQ AX, CX
	MOVQ vals+32(FP), R8
	LEAQ (R8)(AX*4), R8
	MOVQ cols+40(FP), R9
	LEAQ (R9)(AX*4), R9
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	TESTQ R13, R13
	JE    rzero
	VBROADCASTSS 0(R13), Z0
	ADDQ $4, R13
	JMP  rsplat
rzero:
	VPXORD Z0, Z0, Z0
rsplat:
	VMOVAPS Z0, Z1
	VMOVAPS Z0, Z2
	VMOVAPS Z0, Z3
rloop2:
	CMPQ CX, $2
	JB   rtail
	MOVLQSX 0(R9), AX
	MOVLQSX 4(R9), BX
	IMULQ R10, AX
	IMULQ R10, BX
	ADDQ SI, AX
	ADDQ SI, BX
	VBROADCASTSS 0(R8), Z8
	VBROADCASTSS 4(R8), Z9
	VFMADD231PS 0(AX), Z8, K1, Z0
	VFMADD231PS 64(AX), Z8, K2, Z1
	VFMADD231PS 128(AX), Z8, K3, Z2
	VFMADD231PS 192(AX), Z8, K4, Z3
	VFMADD231PS 0(BX), Z9, K1, Z4
	VFMADD231PS 64(BX), Z9, K2, Z5
	VFMADD231PS 128(BX), Z9, K3, Z6
	VFMADD231PS 192(BX), Z9, K4, Z7
	ADDQ $8, R8
	ADDQ $8, R9
	SUBQ $2, CX
	JMP  rloop2
rtail:
	TESTQ CX, CX
	JE    rstore
	MOVLQSX 0(R9), AX
	IMULQ R10, AX
	ADDQ SI, AX
	VBROADCASTSS 0(R8), Z8
	VFMADD231PS 0(AX), Z8, K1, Z0
	VFMADD231PS 64(AX), Z8, K2, Z1
	VFMADD231PS 128(AX), Z8, K3, Z2
	VFMADD231PS 192(AX), Z8, K4, Z3
rstore:
	VADDPS Z4, Z0, Z0
	VADDPS Z5, Z1, Z1
	VADDPS Z6, Z2, Z2
	VADDPS Z7, Z3, Z3
	VMOVUPS Z0, K1, 0(DI)
	VMOVUPS Z1, K2, 64(DI)
	VMOVUPS Z2, K3, 128(DI)
	VMOVUPS Z3, K4, 192(DI)
	ADDQ R14, DI
	ADDQ $4, R11
	DECQ R12
	JMP  rrow
rdone:
	VZEROUPPER
	RET
