//go:build !purego

#include "textflag.h"

// NMAX folds src into acc: acc = max(acc, src), NaN if either is (the
// masked move puts a NaN of src in; VMAXPS keeps a NaN of acc).
#define NMAX(src, acc) \
	VCMPPS $3, src, src, K3 \
	VMAXPS acc, src, acc \
	VMOVAPS src, K3, acc

// func max3x3s2PlaneAVX512(out, in *float32, oh, w int, idx *uint32)
//
// MaxPool 3×3, stride 2, padding 1 above and to the left, of one plane of
// 2·oh rows of w (even) floats into oh rows of w/2 (op_pool.go,
// max3x3s2Plane). Output row oy: V = the column maxima of input rows
// 2oy−1 (row 0 again for oy = 0: the padding row never wins), 2oy and
// 2oy+1; in chunks of 32 columns, E and O its even and odd columns
// (VPERMT2PS with idx: 0, 2, …, 30 then 1, 3, …, 31), P the odd columns
// one to the right (VALIGND: the previous chunk's last odd column, −∞ at
// the row's start), out = max(P, E, O). The last chunk (w mod 32 columns)
// reads and stores under masks.
// Z28/Z29 the indices, Z30 −∞, Z31 the previous chunk's O; Z0–Z5 the rows.
TEXT ·max3x3s2PlaneAVX512(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ in+8(FP), SI
	MOVQ oh+16(FP), R8
	MOVQ w+24(FP), R9
	MOVQ idx+32(FP), AX
	VMOVDQU32 0(AX), Z28
	VMOVDQU32 64(AX), Z29
	MOVL $0xff800000, AX
	VPBROADCASTD AX, Z30
	// The tail's masks: K1/K2 its input columns (rem = w mod 32), K4
	// its rem/2 outputs.
	MOVQ R9, CX
	ANDQ $31, CX
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVW AX, K1
	SHRQ $16, AX
	KMOVW AX, K2
	MOVQ CX, DX
	SHRQ $1, DX
	MOVQ $1, AX
	MOVQ DX, CX
	SHLQ CX, AX
	DECQ AX
	KMOVW AX, K4
	MOVQ R9, R10
	SHLQ $2, R10 // row stride in bytes
	MOVQ SI, R11 // row 2oy−1 (row 0 for oy = 0)
	MOVQ SI, R12 // row 2oy
	XORQ BX, BX  // oy
rowloop:
	LEAQ (R12)(R10*1), R13 // row 2oy+1
	VMOVAPS Z30, Z31
	XORQ CX, CX // byte offset of the chunk in the input row
	MOVQ DI, DX // output
	MOVQ R9, R14
chunk32:
	CMPQ R14, $32
	JB   tail
	VMOVUPS 0(R11)(CX*1), Z0
	VMOVUPS 64(R11)(CX*1), Z1
	VMOVUPS 0(R12)(CX*1), Z2
	VMOVUPS 64(R12)(CX*1), Z3
	VMOVUPS 0(R13)(CX*1), Z4
	VMOVUPS 64(R13)(CX*1), Z5
	NMAX(Z2, Z0)
	NMAX(Z3, Z1)
	NMAX(Z4, Z0)
	NMAX(Z5, Z1)
	VMOVAPS Z0, Z6
	VPERMT2PS Z1, Z28, Z6 // even columns
	VMOVAPS Z0, Z7
	VPERMT2PS Z1, Z29, Z7 // odd columns
	VALIGND $15, Z31, Z7, Z8 // odd columns one to the right
	VMOVAPS Z7, Z31
	NMAX(Z6, Z8)
	NMAX(Z7, Z8)
	VMOVUPS Z8, (DX)
	ADDQ $64, DX
	ADDQ $128, CX
	SUBQ $32, R14
	JMP  chunk32
tail:
	TESTQ R14, R14
	JE    nextrow
	VMOVAPS Z30, Z0
	VMOVAPS Z30, Z1
	VMOVAPS Z30, Z2
	VMOVAPS Z30, Z3
	VMOVAPS Z30, Z4
	VMOVAPS Z30, Z5
	VMOVUPS 0(R11)(CX*1), K1, Z0
	VMOVUPS 64(R11)(CX*1), K2, Z1
	VMOVUPS 0(R12)(CX*1), K1, Z2
	VMOVUPS 64(R12)(CX*1), K2, Z3
	VMOVUPS 0(R13)(CX*1), K1, Z4
	VMOVUPS 64(R13)(CX*1), K2, Z5
	NMAX(Z2, Z0)
	NMAX(Z3, Z1)
	NMAX(Z4, Z0)
	NMAX(Z5, Z1)
	VMOVAPS Z0, Z6
	VPERMT2PS Z1, Z28, Z6
	VMOVAPS Z0, Z7
	VPERMT2PS Z1, Z29, Z7
	VALIGND $15, Z31, Z7, Z8
	NMAX(Z6, Z8)
	NMAX(Z7, Z8)
	VMOVUPS Z8, K4, (DX)
nextrow:
	MOVQ R9, AX
	SHLQ $1, AX // w/2 floats a row, in bytes
	ADDQ AX, DI
	LEAQ (R13)(R10*1), R12 // row 2oy+2
	MOVQ R13, R11          // row 2oy+1
	INCQ BX
	CMPQ BX, R8
	JB   rowloop
	VZEROUPPER
	RET
