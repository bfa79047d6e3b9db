//go:build !purego

#include "textflag.h"

// Generated from a loop (8 vectors a block): edit every vector alike.

// func chainRunAVX512(dst, src *float32, nblk int, st *chainStage, nst int)
//
// Per block of 128 floats: x = v = src block (x in Z8–Z15, v in Z0–Z7;
// eight independent vectors, so each stage's latency overlaps); each
// stage (kind at 0, c at 8, lo at 12, hi at 16; 24 bytes apart) updates v,
// or x (stSetX); v is stored to dst. The instructions and operand orders
// are those of vec_amd64.s (vecAddScalar, vecMulScalar, vecDivScalar,
// vecClamp: max with lo then min with hi, v the second operand so a NaN
// stays NaN; vecMul, vecAdd: v the first operand).
TEXT ·chainRunAVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nblk+16(FP), CX
	MOVQ st+24(FP), R8
	MOVQ nst+32(FP), R9
block:
	TESTQ CX, CX
	JE    done
	VMOVUPS 0(SI), Z8
	VMOVUPS 64(SI), Z9
	VMOVUPS 128(SI), Z10
	VMOVUPS 192(SI), Z11
	VMOVUPS 256(SI), Z12
	VMOVUPS 320(SI), Z13
	VMOVUPS 384(SI), Z14
	VMOVUPS 448(SI), Z15
	VMOVAPS Z8, Z0
	VMOVAPS Z9, Z1
	VMOVAPS Z10, Z2
	VMOVAPS Z11, Z3
	VMOVAPS Z12, Z4
	VMOVAPS Z13, Z5
	VMOVAPS Z14, Z6
	VMOVAPS Z15, Z7
	MOVQ R8, R10
	MOVQ R9, R11
stage:
	TESTQ R11, R11
	JE    store
	MOVQ  0(R10), AX
	VBROADCASTSS 8(R10), Z16
	CMPQ  AX, $0
	JE    addS
	CMPQ  AX, $1
	JE    mulS
	CMPQ  AX, $2
	JE    divS
	CMPQ  AX, $3
	JE    clamp
	CMPQ  AX, $4
	JE    mulX
	CMPQ  AX, $5
	JE    addX
	// stSetX
	VMOVAPS Z0, Z8
	VMOVAPS Z1, Z9
	VMOVAPS Z2, Z10
	VMOVAPS Z3, Z11
	VMOVAPS Z4, Z12
	VMOVAPS Z5, Z13
	VMOVAPS Z6, Z14
	VMOVAPS Z7, Z15
	JMP   next
addS:
	VADDPS Z16, Z0, Z0
	VADDPS Z16, Z1, Z1
	VADDPS Z16, Z2, Z2
	VADDPS Z16, Z3, Z3
	VADDPS Z16, Z4, Z4
	VADDPS Z16, Z5, Z5
	VADDPS Z16, Z6, Z6
	VADDPS Z16, Z7, Z7
	JMP    next
mulS:
	VMULPS Z16, Z0, Z0
	VMULPS Z16, Z1, Z1
	VMULPS Z16, Z2, Z2
	VMULPS Z16, Z3, Z3
	VMULPS Z16, Z4, Z4
	VMULPS Z16, Z5, Z5
	VMULPS Z16, Z6, Z6
	VMULPS Z16, Z7, Z7
	JMP    next
divS:
	VDIVPS Z16, Z0, Z0
	VDIVPS Z16, Z1, Z1
	VDIVPS Z16, Z2, Z2
	VDIVPS Z16, Z3, Z3
	VDIVPS Z16, Z4, Z4
	VDIVPS Z16, Z5, Z5
	VDIVPS Z16, Z6, Z6
	VDIVPS Z16, Z7, Z7
	JMP    next
clamp:
	VBROADCASTSS 12(R10), Z17
	VBROADCASTSS 16(R10), Z18
	VMAXPS Z0, Z17, Z0
	VMINPS Z0, Z18, Z0
	VMAXPS Z1, Z17, Z1
	VMINPS Z1, Z18, Z1
	VMAXPS Z2, Z17, Z2
	VMINPS Z2, Z18, Z2
	VMAXPS Z3, Z17, Z3
	VMINPS Z3, Z18, Z3
	VMAXPS Z4, Z17, Z4
	VMINPS Z4, Z18, Z4
	VMAXPS Z5, Z17, Z5
	VMINPS Z5, Z18, Z5
	VMAXPS Z6, Z17, Z6
	VMINPS Z6, Z18, Z6
	VMAXPS Z7, Z17, Z7
	VMINPS Z7, Z18, Z7
	JMP    next
mulX:
	VMULPS Z8, Z0, Z0
	VMULPS Z9, Z1, Z1
	VMULPS Z10, Z2, Z2
	VMULPS Z11, Z3, Z3
	VMULPS Z12, Z4, Z4
	VMULPS Z13, Z5, Z5
	VMULPS Z14, Z6, Z6
	VMULPS Z15, Z7, Z7
	JMP    next
addX:
	VADDPS Z8, Z0, Z0
	VADDPS Z9, Z1, Z1
	VADDPS Z10, Z2, Z2
	VADDPS Z11, Z3, Z3
	VADDPS Z12, Z4, Z4
	VADDPS Z13, Z5, Z5
	VADDPS Z14, Z6, Z6
	VADDPS Z15, Z7, Z7
next:
	ADDQ $24, R10
	DECQ R11
	JMP  stage
store:
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VMOVUPS Z4, 256(DI)
	VMOVUPS Z5, 320(DI)
	VMOVUPS Z6, 384(DI)
	VMOVUPS Z7, 448(DI)
	ADDQ $512, SI
	ADDQ $512, DI
	DECQ CX
	JMP  block
done:
	VZEROUPPER
	RET
