//go:build !purego

#include "textflag.h"

// func kernel8x32SwTapsAVX512(kc int, pos *int, base *float32, offs *int, b, c *float32, ldc int, ep *kernEpi)
//
// The 8×32 block of the swapped implicit convolution (op_conv_swtaps.go):
// row r of the packed-A panel of kernel8x32AVX512 is read in place, its
// element p at base + pos[r] + offs[p] (output position r of the block,
// tap p), and b is a packed kc×32 panel (b[p*32+q]). The first ep.rows
// rows and the columns in ep.mask of the block at c (row stride ldc
// floats) receive A·B, plus C when ep.flags has epAccum; no other flag is
// taken (the caller adds the bias and clamps as it transposes the block).
// Z0–Z15 hold the block, Z16/Z17 a row of B, Z26–Z29 broadcasts; AX, BX,
// DX, R8, R9, R10, R12, R13 point at the eight positions.
TEXT ·kernel8x32SwTapsAVX512(SB), NOSPLIT, $0-64
	MOVQ kc+0(FP), CX
	MOVQ pos+8(FP), R11
	MOVQ base+16(FP), R12
	MOVQ offs+24(FP), SI
	MOVQ b+32(FP), DI
	MOVQ 0(R11), AX
	LEAQ (R12)(AX*4), AX
	MOVQ 8(R11), BX
	LEAQ (R12)(BX*4), BX
	MOVQ 16(R11), DX
	LEAQ (R12)(DX*4), DX
	MOVQ 24(R11), R8
	LEAQ (R12)(R8*4), R8
	MOVQ 32(R11), R9
	LEAQ (R12)(R9*4), R9
	MOVQ 40(R11), R10
	LEAQ (R12)(R10*4), R10
	MOVQ 48(R11), R13
	LEAQ (R12)(R13*4), R13
	MOVQ 56(R11), R11
	LEAQ (R12)(R11*4), R12
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	TESTQ CX, CX
	JE    sepilogue
sloop:
	MOVQ (SI), R11
	VMOVUPS (DI), Z16
	VMOVUPS 64(DI), Z17
	VBROADCASTSS (AX)(R11*4), Z26
	VFMADD231PS  Z16, Z26, Z0
	VFMADD231PS  Z17, Z26, Z1
	VBROADCASTSS (BX)(R11*4), Z27
	VFMADD231PS  Z16, Z27, Z2
	VFMADD231PS  Z17, Z27, Z3
	VBROADCASTSS (DX)(R11*4), Z28
	VFMADD231PS  Z16, Z28, Z4
	VFMADD231PS  Z17, Z28, Z5
	VBROADCASTSS (R8)(R11*4), Z29
	VFMADD231PS  Z16, Z29, Z6
	VFMADD231PS  Z17, Z29, Z7
	VBROADCASTSS (R9)(R11*4), Z26
	VFMADD231PS  Z16, Z26, Z8
	VFMADD231PS  Z17, Z26, Z9
	VBROADCASTSS (R10)(R11*4), Z27
	VFMADD231PS  Z16, Z27, Z10
	VFMADD231PS  Z17, Z27, Z11
	VBROADCASTSS (R13)(R11*4), Z28
	VFMADD231PS  Z16, Z28, Z12
	VFMADD231PS  Z17, Z28, Z13
	VBROADCASTSS (R12)(R11*4), Z29
	VFMADD231PS  Z16, Z29, Z14
	VFMADD231PS  Z17, Z29, Z15
	ADDQ $8, SI
	ADDQ $128, DI
	DECQ CX
	JNE  sloop
sepilogue:
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	MOVQ ep+56(FP), R9
	SHLQ $2, R8
	MOVQ  0(R9), R10
	MOVL  24(R9), R12
	MOVL  28(R9), AX
	KMOVW AX, K1
	SHRL  $16, AX
	KMOVW AX, K2
	ANDQ  $1, R10
	TESTQ R10, R10
	JE    snoacc0
	VMOVUPS.Z (DX), K1, Z26
	VMOVUPS.Z 64(DX), K2, Z27
	VADDPS Z26, Z0, Z0
	VADDPS Z27, Z1, Z1
snoacc0:
	VMOVUPS Z0, K1, (DX)
	VMOVUPS Z1, K2, 64(DX)
	DECL R12
	JE   sdone
	ADDQ R8, DX
	TESTQ R10, R10
	JE    snoacc1
	VMOVUPS.Z (DX), K1, Z26
	VMOVUPS.Z 64(DX), K2, Z27
	VADDPS Z26, Z2, Z2
	VADDPS Z27, Z3, Z3
snoacc1:
	VMOVUPS Z2, K1, (DX)
	VMOVUPS Z3, K2, 64(DX)
	DECL R12
	JE   sdone
	ADDQ R8, DX
	TESTQ R10, R10
	JE    snoacc2
	VMOVUPS.Z (DX), K1, Z26
	VMOVUPS.Z 64(DX), K2, Z27
	VADDPS Z26, Z4, Z4
	VADDPS Z27, Z5, Z5
snoacc2:
	VMOVUPS Z4, K1, (DX)
	VMOVUPS Z5, K2, 64(DX)
	DECL R12
	JE   sdone
	ADDQ R8, DX
	TESTQ R10, R10
	JE    snoacc3
	VMOVUPS.Z (DX), K1, Z26
	VMOVUPS.Z 64(DX), K2, Z27
	VADDPS Z26, Z6, Z6
	VADDPS Z27, Z7, Z7
snoacc3:
	VMOVUPS Z6, K1, (DX)
	VMOVUPS Z7, K2, 64(DX)
	DECL R12
	JE   sdone
	ADDQ R8, DX
	TESTQ R10, R10
	JE    snoacc4
	VMOVUPS.Z (DX), K1, Z26
	VMOVUPS.Z 64(DX), K2, Z27
	VADDPS Z26, Z8, Z8
	VADDPS Z27, Z9, Z9
snoacc4:
	VMOVUPS Z8, K1, (DX)
	VMOVUPS Z9, K2, 64(DX)
	DECL R12
	JE   sdone
	ADDQ R8, DX
	TESTQ R10, R10
	JE    snoacc5
	VMOVUPS.Z (DX), K1, Z26
	VMOVUPS.Z 64(DX), K2, Z27
	VADDPS Z26, Z10, Z10
	VADDPS Z27, Z11, Z11
snoacc5:
	VMOVUPS Z10, K1, (DX)
	VMOVUPS Z11, K2, 64(DX)
	DECL R12
	JE   sdone
	ADDQ R8, DX
	TESTQ R10, R10
	JE    snoacc6
	VMOVUPS.Z (DX), K1, Z26
	VMOVUPS.Z 64(DX), K2, Z27
	VADDPS Z26, Z12, Z12
	VADDPS Z27, Z13, Z13
snoacc6:
	VMOVUPS Z12, K1, (DX)
	VMOVUPS Z13, K2, 64(DX)
	DECL R12
	JE   sdone
	ADDQ R8, DX
	TESTQ R10, R10
	JE    snoacc7
	VMOVUPS.Z (DX), K1, Z26
	VMOVUPS.Z 64(DX), K2, Z27
	VADDPS Z26, Z14, Z14
	VADDPS Z27, Z15, Z15
snoacc7:
	VMOVUPS Z14, K1, (DX)
	VMOVUPS Z15, K2, 64(DX)
sdone:
	VZEROUPPER
	RET
