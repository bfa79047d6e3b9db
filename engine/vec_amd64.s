//go:build !purego

#include "textflag.h"

// AVX-512 elementwise kernels (vec_amd64.go); tails use a mask, so they
// never touch memory past n elements.

// func vecAddAVX512(dst, a, b *float32, n int)
TEXT ·vecAddAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
Addloop64:
	CMPQ CX, $64
	JB   Addloop16
	VMOVUPS 0(SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS 128(SI), Z2
	VMOVUPS 192(SI), Z3
	VADDPS 0(DX), Z0, Z0
	VADDPS 64(DX), Z1, Z1
	VADDPS 128(DX), Z2, Z2
	VADDPS 192(DX), Z3, Z3
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, SI
	ADDQ $256, DX
	ADDQ $256, DI
	SUBQ $64, CX
	JMP  Addloop64
Addloop16:
	CMPQ CX, $16
	JB   Addtail
	VMOVUPS (SI), Z0
	VADDPS (DX), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  Addloop16
Addtail:
	TESTQ CX, CX
	JE    Adddone
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z1
	VADDPS Z1, Z0, Z0
	VMOVUPS Z0, K1, (DI)
Adddone:
	VZEROUPPER
	RET

// func vecSubAVX512(dst, a, b *float32, n int)
TEXT ·vecSubAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
Subloop64:
	CMPQ CX, $64
	JB   Subloop16
	VMOVUPS 0(SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS 128(SI), Z2
	VMOVUPS 192(SI), Z3
	VSUBPS 0(DX), Z0, Z0
	VSUBPS 64(DX), Z1, Z1
	VSUBPS 128(DX), Z2, Z2
	VSUBPS 192(DX), Z3, Z3
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, SI
	ADDQ $256, DX
	ADDQ $256, DI
	SUBQ $64, CX
	JMP  Subloop64
Subloop16:
	CMPQ CX, $16
	JB   Subtail
	VMOVUPS (SI), Z0
	VSUBPS (DX), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  Subloop16
Subtail:
	TESTQ CX, CX
	JE    Subdone
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z1
	VSUBPS Z1, Z0, Z0
	VMOVUPS Z0, K1, (DI)
Subdone:
	VZEROUPPER
	RET

// func vecMulAVX512(dst, a, b *float32, n int)
TEXT ·vecMulAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
Mulloop64:
	CMPQ CX, $64
	JB   Mulloop16
	VMOVUPS 0(SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS 128(SI), Z2
	VMOVUPS 192(SI), Z3
	VMULPS 0(DX), Z0, Z0
	VMULPS 64(DX), Z1, Z1
	VMULPS 128(DX), Z2, Z2
	VMULPS 192(DX), Z3, Z3
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, SI
	ADDQ $256, DX
	ADDQ $256, DI
	SUBQ $64, CX
	JMP  Mulloop64
Mulloop16:
	CMPQ CX, $16
	JB   Multail
	VMOVUPS (SI), Z0
	VMULPS (DX), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  Mulloop16
Multail:
	TESTQ CX, CX
	JE    Muldone
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z1
	VMULPS Z1, Z0, Z0
	VMOVUPS Z0, K1, (DI)
Muldone:
	VZEROUPPER
	RET

// func vecAddScalarAVX512(dst, a *float32, s float32, n int)
TEXT ·vecAddScalarAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	VBROADCASTSS s+16(FP), Z8
	MOVQ n+24(FP), CX
AddScalarloop64:
	CMPQ CX, $64
	JB   AddScalarloop16
	VADDPS 0(SI), Z8, Z0
	VADDPS 64(SI), Z8, Z1
	VADDPS 128(SI), Z8, Z2
	VADDPS 192(SI), Z8, Z3
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $64, CX
	JMP  AddScalarloop64
AddScalarloop16:
	CMPQ CX, $16
	JB   AddScalartail
	VADDPS (SI), Z8, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  AddScalarloop16
AddScalartail:
	TESTQ CX, CX
	JE    AddScalardone
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z0
	VADDPS Z8, Z0, Z0
	VMOVUPS Z0, K1, (DI)
AddScalardone:
	VZEROUPPER
	RET

// func vecMulScalarAVX512(dst, a *float32, s float32, n int)
TEXT ·vecMulScalarAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	VBROADCASTSS s+16(FP), Z8
	MOVQ n+24(FP), CX
MulScalarloop64:
	CMPQ CX, $64
	JB   MulScalarloop16
	VMULPS 0(SI), Z8, Z0
	VMULPS 64(SI), Z8, Z1
	VMULPS 128(SI), Z8, Z2
	VMULPS 192(SI), Z8, Z3
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $64, CX
	JMP  MulScalarloop64
MulScalarloop16:
	CMPQ CX, $16
	JB   MulScalartail
	VMULPS (SI), Z8, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  MulScalarloop16
MulScalartail:
	TESTQ CX, CX
	JE    MulScalardone
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z0
	VMULPS Z8, Z0, Z0
	VMOVUPS Z0, K1, (DI)
MulScalardone:
	VZEROUPPER
	RET

// func vecClampAVX512(dst, s *float32, lo, hi float32, n int)
TEXT ·vecClampAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ s+8(FP), SI
	VBROADCASTSS lo+16(FP), Z8
	VBROADCASTSS hi+20(FP), Z9
	MOVQ n+24(FP), CX
Clamploop64:
	CMPQ CX, $64
	JB   Clamploop16
	VMOVUPS 0(SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS 128(SI), Z2
	VMOVUPS 192(SI), Z3
	VMAXPS Z0, Z8, Z0
	VMINPS Z0, Z9, Z0
	VMAXPS Z1, Z8, Z1
	VMINPS Z1, Z9, Z1
	VMAXPS Z2, Z8, Z2
	VMINPS Z2, Z9, Z2
	VMAXPS Z3, Z8, Z3
	VMINPS Z3, Z9, Z3
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $64, CX
	JMP  Clamploop64
Clamploop16:
	CMPQ CX, $16
	JB   Clamptail
	VMOVUPS (SI), Z0
	VMAXPS Z0, Z8, Z0
	VMINPS Z0, Z9, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  Clamploop16
Clamptail:
	TESTQ CX, CX
	JE    Clampdone
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z0
	VMAXPS Z0, Z8, Z0
	VMINPS Z0, Z9, Z0
	VMOVUPS Z0, K1, (DI)
Clampdone:
	VZEROUPPER
	RET

// func tapRowsAVX512(out *float32, n, rows, ostride int, base *float32, istride int, offs *int, w *float32, ntaps int, ep *kernEpi)
//
// For r < rows, j < n: out[r*ostride+j] = bias + Σ_{t<ntaps}
// w[t]·base[r*istride+offs[t]+j], then the clamp; bias and clamp as ep
// says (epBias, epClamp).
TEXT ·tapRowsAVX512(SB), NOSPLIT, $0-80
	MOVQ out+0(FP), DI
	MOVQ rows+16(FP), R14
	MOVQ ostride+24(FP), R15
	SHLQ $2, R15
	MOVQ base+32(FP), R12
	MOVQ istride+40(FP), R13
	SHLQ $2, R13
	MOVQ offs+48(FP), SI
	MOVQ w+56(FP), DX
	MOVQ ntaps+64(FP), R8
	MOVQ ep+72(FP), R9
	VPXORD Z30, Z30, Z30
	MOVQ  0(R9), R10
	TESTQ $2, R10
	JE    tapsnobias
	MOVQ  8(R9), R11
	VBROADCASTSS (R11), Z30
tapsnobias:
	VBROADCASTSS 16(R9), Z28
	VBROADCASTSS 20(R9), Z29
	TESTQ R14, R14
	JE    tapsdone
tapsrow:
	MOVQ n+8(FP), CX
	XORQ BX, BX
tapsloop64:
	CMPQ CX, $64
	JB   tapsloop16
	VMOVAPS Z30, Z0
	VMOVAPS Z30, Z1
	VMOVAPS Z30, Z2
	VMOVAPS Z30, Z3
	XORQ AX, AX
taps4:
	MOVQ (SI)(AX*8), R11
	LEAQ (R12)(R11*4), R11
	ADDQ BX, R11
	VMOVUPS 0(R11), Z10
	VMOVUPS 64(R11), Z11
	VMOVUPS 128(R11), Z12
	VMOVUPS 192(R11), Z13
	VFMADD231PS.BCST (DX)(AX*4), Z10, Z0
	VFMADD231PS.BCST (DX)(AX*4), Z11, Z1
	VFMADD231PS.BCST (DX)(AX*4), Z12, Z2
	VFMADD231PS.BCST (DX)(AX*4), Z13, Z3
	INCQ AX
	CMPQ AX, R8
	JB   taps4
	TESTQ $4, R10
	JE    taps4st
	VMAXPS Z0, Z28, Z0
	VMINPS Z0, Z29, Z0
	VMAXPS Z1, Z28, Z1
	VMINPS Z1, Z29, Z1
	VMAXPS Z2, Z28, Z2
	VMINPS Z2, Z29, Z2
	VMAXPS Z3, Z28, Z3
	VMINPS Z3, Z29, Z3
taps4st:
	VMOVUPS Z0, 0(DI)(BX*1)
	VMOVUPS Z1, 64(DI)(BX*1)
	VMOVUPS Z2, 128(DI)(BX*1)
	VMOVUPS Z3, 192(DI)(BX*1)
	ADDQ $256, BX
	SUBQ $64, CX
	JMP  tapsloop64
tapsloop16:
	CMPQ CX, $16
	JB   tapstail
	VMOVAPS Z30, Z0
	XORQ AX, AX
taps1:
	MOVQ (SI)(AX*8), R11
	LEAQ (R12)(R11*4), R11
	ADDQ BX, R11
	VMOVUPS 0(R11), Z10
	VFMADD231PS.BCST (DX)(AX*4), Z10, Z0
	INCQ AX
	CMPQ AX, R8
	JB   taps1
	TESTQ $4, R10
	JE    taps1st
	VMAXPS Z0, Z28, Z0
	VMINPS Z0, Z29, Z0
taps1st:
	VMOVUPS Z0, 0(DI)(BX*1)
	ADDQ $64, BX
	SUBQ $16, CX
	JMP  tapsloop16
tapstail:
	TESTQ CX, CX
	JE    tapsnext
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVAPS Z30, Z0
	XORQ AX, AX
taps1m:
	MOVQ (SI)(AX*8), R11
	LEAQ (R12)(R11*4), R11
	ADDQ BX, R11
	VMOVUPS.Z 0(R11), K1, Z10
	VFMADD231PS.BCST (DX)(AX*4), Z10, Z0
	INCQ AX
	CMPQ AX, R8
	JB   taps1m
	TESTQ $4, R10
	JE    taps1mst
	VMAXPS Z0, Z28, Z0
	VMINPS Z0, Z29, Z0
taps1mst:
	VMOVUPS Z0, K1, 0(DI)(BX*1)
tapsnext:
	ADDQ R15, DI
	ADDQ R13, R12
	DECQ R14
	JNE  tapsrow
tapsdone:
	VZEROUPPER
	RET

// func tapMaxRowAVX512(out *float32, n int, base *float32, offs *int, ntaps int)
//
// out[j] = max_{t<ntaps} base[offs[t]+j] for j < n (ntaps ≥ 1); a NaN among
// the taps gives NaN.
TEXT ·tapMaxRowAVX512(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ n+8(FP), CX
	MOVQ base+16(FP), R12
	MOVQ offs+24(FP), SI
	MOVQ ntaps+32(FP), R8
	XORQ BX, BX
maxloop64:
	CMPQ CX, $64
	JB   maxloop16
	MOVQ (SI), R11
	LEAQ (R12)(R11*4), R11
	ADDQ BX, R11
	VMOVUPS 0(R11), Z0
	VMOVUPS 64(R11), Z1
	VMOVUPS 128(R11), Z2
	VMOVUPS 192(R11), Z3
	MOVQ $1, AX
	CMPQ AX, R8
	JAE  max4st
max4:
	MOVQ (SI)(AX*8), R11
	LEAQ (R12)(R11*4), R11
	ADDQ BX, R11
	VMOVUPS 0(R11), Z10
	VMOVUPS 64(R11), Z11
	VMOVUPS 128(R11), Z12
	VMOVUPS 192(R11), Z13
	VCMPPS $3, Z10, Z10, K3
	VMAXPS Z0, Z10, Z0
	VMOVAPS Z10, K3, Z0
	VCMPPS $3, Z11, Z11, K3
	VMAXPS Z1, Z11, Z1
	VMOVAPS Z11, K3, Z1
	VCMPPS $3, Z12, Z12, K3
	VMAXPS Z2, Z12, Z2
	VMOVAPS Z12, K3, Z2
	VCMPPS $3, Z13, Z13, K3
	VMAXPS Z3, Z13, Z3
	VMOVAPS Z13, K3, Z3
	INCQ AX
	CMPQ AX, R8
	JB   max4
max4st:
	VMOVUPS Z0, 0(DI)(BX*1)
	VMOVUPS Z1, 64(DI)(BX*1)
	VMOVUPS Z2, 128(DI)(BX*1)
	VMOVUPS Z3, 192(DI)(BX*1)
	ADDQ $256, BX
	SUBQ $64, CX
	JMP  maxloop64
maxloop16:
	CMPQ CX, $16
	JB   maxtail
	MOVQ (SI), R11
	LEAQ (R12)(R11*4), R11
	ADDQ BX, R11
	VMOVUPS 0(R11), Z0
	MOVQ $1, AX
	CMPQ AX, R8
	JAE  max1st
max1:
	MOVQ (SI)(AX*8), R11
	LEAQ (R12)(R11*4), R11
	ADDQ BX, R11
	VMOVUPS 0(R11), Z10
	VCMPPS $3, Z10, Z10, K3
	VMAXPS Z0, Z10, Z0
	VMOVAPS Z10, K3, Z0
	INCQ AX
	CMPQ AX, R8
	JB   max1
max1st:
	VMOVUPS Z0, 0(DI)(BX*1)
	ADDQ $64, BX
	SUBQ $16, CX
	JMP  maxloop16
maxtail:
	TESTQ CX, CX
	JE    maxdone
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	MOVQ (SI), R11
	LEAQ (R12)(R11*4), R11
	ADDQ BX, R11
	VMOVUPS.Z 0(R11), K1, Z0
	MOVQ $1, AX
	CMPQ AX, R8
	JAE  max1mst
max1m:
	MOVQ (SI)(AX*8), R11
	LEAQ (R12)(R11*4), R11
	ADDQ BX, R11
	VMOVUPS.Z 0(R11), K1, Z10
	VCMPPS $3, Z10, Z10, K3
	VMAXPS Z0, Z10, Z0
	VMOVAPS Z10, K3, Z0
	INCQ AX
	CMPQ AX, R8
	JB   max1m
max1mst:
	VMOVUPS Z0, K1, 0(DI)(BX*1)
maxdone:
	VZEROUPPER
	RET

// func packB32AVX512(dst, src *float32, ldb, kc int, mask uint32)
//
// dst[p*32+q] = src[p*ldb+q] for p < kc and the columns q set in mask, 0
// for the others; src is read only at the columns in mask.
TEXT ·packB32AVX512(SB), NOSPLIT, $0-36
	MOVQ  dst+0(FP), DI
	MOVQ  src+8(FP), SI
	MOVQ  ldb+16(FP), R8
	MOVQ  kc+24(FP), CX
	MOVL  mask+32(FP), AX
	SHLQ  $2, R8
	KMOVW AX, K1
	SHRL  $16, AX
	KMOVW AX, K2
	TESTQ CX, CX
	JE    packdone

packloop:
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z 64(SI), K2, Z1
	VMOVUPS   Z0, (DI)
	VMOVUPS   Z1, 64(DI)
	ADDQ      R8, SI
	ADDQ      $128, DI
	DECQ      CX
	JNE       packloop

packdone:
	VZEROUPPER
	RET

// func deinterleaveAVX512(even, odd, src *float32, n int, idx *uint32)
//
// even[i] = src[2i], odd[i] = src[2i+1] for i < n; idx holds the 32
// permutation indices 0, 2, …, 30, 1, 3, …, 31. The last n%16 pairs are
// read and written under masks.
TEXT ·deinterleaveAVX512(SB), NOSPLIT, $0-40
	MOVQ      even+0(FP), DI
	MOVQ      odd+8(FP), DX
	MOVQ      src+16(FP), SI
	MOVQ      n+24(FP), CX
	MOVQ      idx+32(FP), AX
	VMOVDQU32 (AX), Z4
	VMOVDQU32 64(AX), Z5

deintloop:
	CMPQ      CX, $16
	JB        deinttail
	VMOVUPS   (SI), Z0
	VMOVUPS   64(SI), Z1
	VMOVAPS   Z4, Z2
	VMOVAPS   Z5, Z3
	VPERMI2PS Z1, Z0, Z2
	VPERMI2PS Z1, Z0, Z3
	VMOVUPS   Z2, (DI)
	VMOVUPS   Z3, (DX)
	ADDQ      $128, SI
	ADDQ      $64, DI
	ADDQ      $64, DX
	SUBQ      $16, CX
	JMP       deintloop

deinttail:
	TESTQ     CX, CX
	JE        deintdone
	// K3: the n%16 pairs; K1, K2: the 2·(n%16) floats of src.
	MOVL      $1, AX
	SHLL      CX, AX
	DECL      AX
	KMOVW     AX, K3
	SHLQ      $1, CX
	MOVQ      $1, AX
	SHLQ      CX, AX
	DECQ      AX
	KMOVW     AX, K1
	SHRQ      $16, AX
	KMOVW     AX, K2
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z 64(SI), K2, Z1
	VMOVAPS   Z4, Z2
	VMOVAPS   Z5, Z3
	VPERMI2PS Z1, Z0, Z2
	VPERMI2PS Z1, Z0, Z3
	VMOVUPS   Z2, K3, (DI)
	VMOVUPS   Z3, K3, (DX)

deintdone:
	VZEROUPPER
	RET

// func vecDivAVX512(dst, a, b *float32, n int)
TEXT ·vecDivAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
Divloop16:
	CMPQ CX, $16
	JB   Divtail
	VMOVUPS (SI), Z0
	VDIVPS (DX), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  Divloop16
Divtail:
	TESTQ CX, CX
	JE    Divdone
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z1
	VDIVPS Z1, Z0, Z0
	VMOVUPS Z0, K1, (DI)
Divdone:
	VZEROUPPER
	RET

// func vecDivScalarAVX512(dst, a *float32, s float32, n int)
TEXT ·vecDivScalarAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	VBROADCASTSS s+16(FP), Z8
	MOVQ n+24(FP), CX
DivScalarloop16:
	CMPQ CX, $16
	JB   DivScalartail
	VMOVUPS (SI), Z0
	VDIVPS Z8, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  DivScalarloop16
DivScalartail:
	TESTQ CX, CX
	JE    DivScalardone
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z0
	VDIVPS Z8, Z0, Z0
	VMOVUPS Z0, K1, (DI)
DivScalardone:
	VZEROUPPER
	RET

// func vecScaleShiftAVX512(dst, a *float32, s, t float32, n int)
//
// dst[i] = a[i]*s + t, rounded after the product as in Go (no FMA).
TEXT ·vecScaleShiftAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	VBROADCASTSS s+16(FP), Z8
	VBROADCASTSS t+20(FP), Z9
	MOVQ n+24(FP), CX
ScaleShiftloop64:
	CMPQ CX, $64
	JB   ScaleShiftloop16
	VMULPS 0(SI), Z8, Z0
	VMULPS 64(SI), Z8, Z1
	VMULPS 128(SI), Z8, Z2
	VMULPS 192(SI), Z8, Z3
	VADDPS Z9, Z0, Z0
	VADDPS Z9, Z1, Z1
	VADDPS Z9, Z2, Z2
	VADDPS Z9, Z3, Z3
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $64, CX
	JMP  ScaleShiftloop64
ScaleShiftloop16:
	CMPQ CX, $16
	JB   ScaleShifttail
	VMULPS (SI), Z8, Z0
	VADDPS Z9, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  ScaleShiftloop16
ScaleShifttail:
	TESTQ CX, CX
	JE    ScaleShiftdone
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z0
	VMULPS Z8, Z0, Z0
	VADDPS Z9, Z0, Z0
	VMOVUPS Z0, K1, (DI)
ScaleShiftdone:
	VZEROUPPER
	RET

// func vecSumAVX512(a *float32, n int) float32
//
// The sum of a[:n], in 64 lanes added pairwise at the end.
TEXT ·vecSumAVX512(SB), NOSPLIT, $0-20
	MOVQ a+0(FP), SI
	MOVQ n+8(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
Sumloop64:
	CMPQ CX, $64
	JB   Sumloop16
	VADDPS 0(SI), Z0, Z0
	VADDPS 64(SI), Z1, Z1
	VADDPS 128(SI), Z2, Z2
	VADDPS 192(SI), Z3, Z3
	ADDQ $256, SI
	SUBQ $64, CX
	JMP  Sumloop64
Sumloop16:
	CMPQ CX, $16
	JB   Sumtail
	VADDPS (SI), Z0, Z0
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  Sumloop16
Sumtail:
	TESTQ CX, CX
	JE    Sumreduce
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z4
	VADDPS Z4, Z1, Z1
Sumreduce:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	VEXTRACTF32X8 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X1, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func vecDotAVX512(a, b *float32, n int) float32
//
// Σ a[i]·b[i] for i < n, in 64 lanes added pairwise at the end.
TEXT ·vecDotAVX512(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DX
	MOVQ n+16(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
dotloop64:
	CMPQ CX, $64
	JB   dotloop16
	VMOVUPS 0(SI), Z4
	VMOVUPS 64(SI), Z5
	VMOVUPS 128(SI), Z6
	VMOVUPS 192(SI), Z7
	VFMADD231PS 0(DX), Z4, Z0
	VFMADD231PS 64(DX), Z5, Z1
	VFMADD231PS 128(DX), Z6, Z2
	VFMADD231PS 192(DX), Z7, Z3
	ADDQ $256, SI
	ADDQ $256, DX
	SUBQ $64, CX
	JMP  dotloop64
dotloop16:
	CMPQ CX, $16
	JB   dottail
	VMOVUPS (SI), Z4
	VFMADD231PS (DX), Z4, Z0
	ADDQ $64, SI
	ADDQ $64, DX
	SUBQ $16, CX
	JMP  dotloop16
dottail:
	TESTQ CX, CX
	JE    dotreduce
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z4
	VMOVUPS.Z (DX), K1, Z5
	VFMADD231PS Z5, Z4, Z1
dotreduce:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	VEXTRACTF32X8 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X1, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func vecSigmoidAVX512(dst, src *float32, n int, k *float32)
//
// dst[i] = 1/(1+exp(−src[i])) for i < n. exp(t), t = −src[i] clamped to
// [k[1], k[2]] (NaN kept), is 2ⁿ·P(r) with n = round(t·log2 e),
// r = t − n·ln2 (ln2 in two parts, k[3] and k[4]) and P the degree-7
// Taylor polynomial of exp on |r| ≤ ln2/2 (k[5..12], highest first);
// k[0] is log2 e, k[13] is 1.
TEXT ·vecSigmoidAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ k+24(FP), AX
	VBROADCASTSS 0(AX), Z16
	VBROADCASTSS 4(AX), Z17
	VBROADCASTSS 8(AX), Z18
	VBROADCASTSS 12(AX), Z19
	VBROADCASTSS 16(AX), Z20
	VBROADCASTSS 20(AX), Z21
	VBROADCASTSS 24(AX), Z22
	VBROADCASTSS 28(AX), Z23
	VBROADCASTSS 32(AX), Z24
	VBROADCASTSS 36(AX), Z25
	VBROADCASTSS 40(AX), Z26
	VBROADCASTSS 44(AX), Z27
	VBROADCASTSS 48(AX), Z28
	VBROADCASTSS 52(AX), Z29
sigloop:
	CMPQ CX, $16
	JB   sigtail
	VMOVUPS (SI), Z0
	VXORPS Z1, Z1, Z1
	VSUBPS Z0, Z1, Z0
	VMAXPS Z0, Z17, Z0
	VMINPS Z0, Z18, Z0
	VMULPS Z16, Z0, Z2
	VRNDSCALEPS $0, Z2, Z2
	VMOVAPS Z0, Z3
	VFNMADD231PS Z19, Z2, Z3
	VFNMADD231PS Z20, Z2, Z3
	VMOVAPS Z21, Z4
	VFMADD213PS Z22, Z3, Z4
	VFMADD213PS Z23, Z3, Z4
	VFMADD213PS Z24, Z3, Z4
	VFMADD213PS Z25, Z3, Z4
	VFMADD213PS Z26, Z3, Z4
	VFMADD213PS Z27, Z3, Z4
	VFMADD213PS Z28, Z3, Z4
	VSCALEFPS Z2, Z4, Z4
	VADDPS Z29, Z4, Z4
	VDIVPS Z4, Z29, Z4
	VMOVUPS Z4, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  sigloop
sigtail:
	TESTQ CX, CX
	JE    sigdone
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z0
	VXORPS Z1, Z1, Z1
	VSUBPS Z0, Z1, Z0
	VMAXPS Z0, Z17, Z0
	VMINPS Z0, Z18, Z0
	VMULPS Z16, Z0, Z2
	VRNDSCALEPS $0, Z2, Z2
	VMOVAPS Z0, Z3
	VFNMADD231PS Z19, Z2, Z3
	VFNMADD231PS Z20, Z2, Z3
	VMOVAPS Z21, Z4
	VFMADD213PS Z22, Z3, Z4
	VFMADD213PS Z23, Z3, Z4
	VFMADD213PS Z24, Z3, Z4
	VFMADD213PS Z25, Z3, Z4
	VFMADD213PS Z26, Z3, Z4
	VFMADD213PS Z27, Z3, Z4
	VFMADD213PS Z28, Z3, Z4
	VSCALEFPS Z2, Z4, Z4
	VADDPS Z29, Z4, Z4
	VDIVPS Z4, Z29, Z4
	VMOVUPS Z4, K1, (DI)
sigdone:
	VZEROUPPER
	RET

// func packA8AVX512(dst, src *float32, lda, kc int, mask uint16)
//
// dst[p*8+r] = src[p*lda+r] for p < kc and the r < 8 set in mask, 0 for
// the others; src is read only at those r.
TEXT ·packA8AVX512(SB), NOSPLIT, $0-34
	MOVQ  dst+0(FP), DI
	MOVQ  src+8(FP), SI
	MOVQ  lda+16(FP), R8
	MOVQ  kc+24(FP), CX
	MOVWLZX mask+32(FP), AX
	SHLQ  $2, R8
	KMOVW AX, K1
	TESTQ CX, CX
	JE    pack8done

pack8loop:
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS   Y0, (DI)
	ADDQ      R8, SI
	ADDQ      $32, DI
	DECQ      CX
	JNE       pack8loop

pack8done:
	VZEROUPPER
	RET

// func dwFlatContigAVX512(out, x *float32, nch, np, hw int, disp *int, w *float32, ntaps int, mask *uint16, mstride int, ep *kernEpi)
//
// The flat depthwise kernel (op_conv_dw.go, dwFlatGo), stride 1 with OW = W:
// for c < nch, j < np: out[c*np+j] = clamp(bias[c] + Σ_{t<ntaps}
// w[c*ntaps+t]·x[c*hw+j+disp[t]]), the product taken only where bit j%16 of
// mask[t*mstride/2 + j/16] is set (mstride: bytes between taps' masks);
// bias and clamp as ep says (ep.bias is channel 0's). Masked-off lanes are
// not read. Z30 holds the bias, Z28/Z29 the clamp, Z0–Z7 eight blocks
// (then four, then one), Z31 the tap's weight.
TEXT ·dwFlatContigAVX512(SB), NOSPLIT, $0-88
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ w+48(FP), DX
	MOVQ ntaps+56(FP), R8
	MOVQ ep+80(FP), R9
	MOVQ 0(R9), R10
	MOVQ 8(R9), R12
	VBROADCASTSS 16(R9), Z28
	VBROADCASTSS 20(R9), Z29
	MOVQ nch+16(FP), R14
	TESTQ R14, R14
	JE dwcdone
dwcchan:
	VPXORD Z30, Z30, Z30
	TESTQ $2, R10
	JE dwcnob
	VBROADCASTSS (R12), Z30
	ADDQ $4, R12
dwcnob:
	MOVQ np+24(FP), CX
	XORQ R13, R13
	MOVQ mask+64(FP), R9
dwc8:
	CMPQ CX, $128
	JLT  dwc4
	VMOVAPS Z30, Z0
	VMOVAPS Z30, Z1
	VMOVAPS Z30, Z2
	VMOVAPS Z30, Z3
	VMOVAPS Z30, Z4
	VMOVAPS Z30, Z5
	VMOVAPS Z30, Z6
	VMOVAPS Z30, Z7
	MOVQ disp+40(FP), BX
	MOVQ R9, R15
	XORQ AX, AX
dwc8t:
	MOVQ (BX)(AX*8), R11
	LEAQ (SI)(R11*4), R11
	ADDQ R13, R11
	VBROADCASTSS (DX)(AX*4), Z31
	KMOVW 0(R15), K1
	KMOVW 2(R15), K2
	KMOVW 4(R15), K3
	KMOVW 6(R15), K4
	VMOVUPS.Z 0(R11), K1, Z10
	VMOVUPS.Z 64(R11), K2, Z11
	VMOVUPS.Z 128(R11), K3, Z12
	VMOVUPS.Z 192(R11), K4, Z13
	KMOVW 8(R15), K1
	KMOVW 10(R15), K2
	KMOVW 12(R15), K3
	KMOVW 14(R15), K4
	VMOVUPS.Z 256(R11), K1, Z14
	VMOVUPS.Z 320(R11), K2, Z15
	VMOVUPS.Z 384(R11), K3, Z16
	VMOVUPS.Z 448(R11), K4, Z17
	VFMADD231PS Z31, Z10, Z0
	VFMADD231PS Z31, Z11, Z1
	VFMADD231PS Z31, Z12, Z2
	VFMADD231PS Z31, Z13, Z3
	VFMADD231PS Z31, Z14, Z4
	VFMADD231PS Z31, Z15, Z5
	VFMADD231PS Z31, Z16, Z6
	VFMADD231PS Z31, Z17, Z7
	ADDQ mstride+72(FP), R15
	INCQ AX
	CMPQ AX, R8
	JB   dwc8t
	TESTQ $4, R10
	JE    dwc8st
	VMAXPS Z0, Z28, Z0
	VMINPS Z0, Z29, Z0
	VMAXPS Z1, Z28, Z1
	VMINPS Z1, Z29, Z1
	VMAXPS Z2, Z28, Z2
	VMINPS Z2, Z29, Z2
	VMAXPS Z3, Z28, Z3
	VMINPS Z3, Z29, Z3
	VMAXPS Z4, Z28, Z4
	VMINPS Z4, Z29, Z4
	VMAXPS Z5, Z28, Z5
	VMINPS Z5, Z29, Z5
	VMAXPS Z6, Z28, Z6
	VMINPS Z6, Z29, Z6
	VMAXPS Z7, Z28, Z7
	VMINPS Z7, Z29, Z7
dwc8st:
	VMOVUPS Z0, 0(DI)(R13*1)
	VMOVUPS Z1, 64(DI)(R13*1)
	VMOVUPS Z2, 128(DI)(R13*1)
	VMOVUPS Z3, 192(DI)(R13*1)
	VMOVUPS Z4, 256(DI)(R13*1)
	VMOVUPS Z5, 320(DI)(R13*1)
	VMOVUPS Z6, 384(DI)(R13*1)
	VMOVUPS Z7, 448(DI)(R13*1)
	ADDQ $512, R13
	ADDQ $16, R9
	SUBQ $128, CX
	JMP  dwc8
dwc4:
	CMPQ CX, $64
	JLT dwc1
	VMOVAPS Z30, Z0
	VMOVAPS Z30, Z1
	VMOVAPS Z30, Z2
	VMOVAPS Z30, Z3
	MOVQ disp+40(FP), BX
	MOVQ R9, R15
	XORQ AX, AX
dwc4t:
	MOVQ (BX)(AX*8), R11
	LEAQ (SI)(R11*4), R11
	ADDQ R13, R11
	KMOVW 0(R15), K1
	KMOVW 2(R15), K2
	KMOVW 4(R15), K3
	KMOVW 6(R15), K4
	VMOVUPS.Z 0(R11), K1, Z10
	VMOVUPS.Z 64(R11), K2, Z11
	VMOVUPS.Z 128(R11), K3, Z12
	VMOVUPS.Z 192(R11), K4, Z13
	VFMADD231PS.BCST (DX)(AX*4), Z10, Z0
	VFMADD231PS.BCST (DX)(AX*4), Z11, Z1
	VFMADD231PS.BCST (DX)(AX*4), Z12, Z2
	VFMADD231PS.BCST (DX)(AX*4), Z13, Z3
	ADDQ mstride+72(FP), R15
	INCQ AX
	CMPQ AX, R8
	JB   dwc4t
	TESTQ $4, R10
	JE    dwc4st
	VMAXPS Z0, Z28, Z0
	VMINPS Z0, Z29, Z0
	VMAXPS Z1, Z28, Z1
	VMINPS Z1, Z29, Z1
	VMAXPS Z2, Z28, Z2
	VMINPS Z2, Z29, Z2
	VMAXPS Z3, Z28, Z3
	VMINPS Z3, Z29, Z3
dwc4st:
	VMOVUPS Z0, 0(DI)(R13*1)
	VMOVUPS Z1, 64(DI)(R13*1)
	VMOVUPS Z2, 128(DI)(R13*1)
	VMOVUPS Z3, 192(DI)(R13*1)
	ADDQ $256, R13
	ADDQ $8, R9
	SUBQ $64, CX
	JMP  dwc4
dwc1:
	CMPQ CX, $0
	JLE  dwcnext
	MOVL $0xffff, AX
	CMPQ CX, $16
	JGE  dwc1full
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
dwc1full:
	KMOVW AX, K5
	VMOVAPS Z30, Z0
	MOVQ disp+40(FP), BX
	MOVQ R9, R15
	XORQ AX, AX
dwc1t:
	MOVQ (BX)(AX*8), R11
	LEAQ (SI)(R11*4), R11
	KMOVW 0(R15), K1
	ADDQ R13, R11
	VMOVUPS.Z 0(R11), K1, Z10
	VFMADD231PS.BCST (DX)(AX*4), Z10, Z0
	ADDQ mstride+72(FP), R15
	INCQ AX
	CMPQ AX, R8
	JB   dwc1t
	TESTQ $4, R10
	JE    dwc1st
	VMAXPS Z0, Z28, Z0
	VMINPS Z0, Z29, Z0
dwc1st:
	VMOVUPS Z0, K5, 0(DI)(R13*1)
	ADDQ $64, R13
	ADDQ $2, R9
	SUBQ $16, CX
	JMP  dwc1
dwcnext:
	MOVQ np+24(FP), AX
	LEAQ (DI)(AX*4), DI
	MOVQ hw+32(FP), AX
	LEAQ (SI)(AX*4), SI
	LEAQ (DX)(R8*4), DX
	DECQ R14
	JNE  dwcchan
dwcdone:
	VZEROUPPER
	RET

// func phaseSplitAVX512(dst, src *float32, rows, w, psz int, idx *uint32)
//
// Splits rows (an even count) of w floats (w even) into four phase planes
// psz floats apart: row r, column q goes to plane (r%2)·2 + q%2 at row r/2,
// column q/2 (rows of w/2). idx is deinterleaveIdx.
TEXT ·phaseSplitAVX512(SB), NOSPLIT, $0-48
	MOVQ      dst+0(FP), DI
	MOVQ      src+8(FP), SI
	MOVQ      rows+16(FP), R14
	MOVQ      psz+32(FP), R8
	SHLQ      $2, R8
	MOVQ      idx+40(FP), AX
	VMOVDQU32 (AX), Z4
	VMOVDQU32 64(AX), Z5
	MOVQ      w+24(FP), R9
	SHRQ      $1, R9
	// K3: the w/2 % 16 pairs of a row's tail; K1, K2: their floats.
	MOVQ      R9, CX
	ANDQ      $15, CX
	MOVL      $1, AX
	SHLL      CX, AX
	DECL      AX
	KMOVW     AX, K3
	SHLQ      $1, CX
	MOVQ      $1, AX
	SHLQ      CX, AX
	DECQ      AX
	KMOVW     AX, K1
	SHRQ      $16, AX
	KMOVW     AX, K2
	XORQ      R13, R13

psrow:
	TESTQ     R14, R14
	JE        psdone
	LEAQ      (DI)(R13*1), R10
	LEAQ      (R10)(R8*1), R11
	MOVQ      R9, CX
	XORQ      BX, BX

psloop:
	CMPQ      CX, $16
	JB        pstail
	VMOVUPS   (SI), Z0
	VMOVUPS   64(SI), Z1
	VMOVAPS   Z4, Z2
	VMOVAPS   Z5, Z3
	VPERMI2PS Z1, Z0, Z2
	VPERMI2PS Z1, Z0, Z3
	VMOVUPS   Z2, (R10)(BX*1)
	VMOVUPS   Z3, (R11)(BX*1)
	ADDQ      $128, SI
	ADDQ      $64, BX
	SUBQ      $16, CX
	JMP       psloop

pstail:
	TESTQ     CX, CX
	JE        psrowend
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z 64(SI), K2, Z1
	VMOVAPS   Z4, Z2
	VMOVAPS   Z5, Z3
	VPERMI2PS Z1, Z0, Z2
	VPERMI2PS Z1, Z0, Z3
	VMOVUPS   Z2, K3, (R10)(BX*1)
	VMOVUPS   Z3, K3, (R11)(BX*1)
	LEAQ      (SI)(CX*8), SI

psrowend:
	TESTQ     R13, R13
	JNE       psodd
	LEAQ      (R8)(R8*1), R13
	JMP       psnext

psodd:
	XORQ      R13, R13
	LEAQ      (DI)(R9*4), DI

psnext:
	DECQ      R14
	JMP       psrow

psdone:
	VZEROUPPER
	RET
