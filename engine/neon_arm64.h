// NEON instructions Go's arm64 assembler lacks, as encodings (checked
// against llvm-mc -triple=aarch64 -show-encoding). Arguments are register
// numbers: d, n, m for Vd, Vn, Vm; i a lane index 0..3. All act on four
// float32 lanes (the .4S arrangement).

// FMLA Vd.4S, Vn.4S, Vm.S[i]: Vd += Vn · Vm[i]
#define FMLAE(d, n, m, i) WORD $(0x4F801000 | ((i)&1)<<21 | ((i)>>1)<<11 | (m)<<16 | (n)<<5 | (d))
// FADD Vd.4S, Vn.4S, Vm.4S: Vd = Vn + Vm
#define VFADD4(d, n, m) WORD $(0x4E20D400 | (m)<<16 | (n)<<5 | (d))
// FSUB Vd.4S, Vn.4S, Vm.4S: Vd = Vn − Vm
#define VFSUB4(d, n, m) WORD $(0x4EA0D400 | (m)<<16 | (n)<<5 | (d))
// FMUL Vd.4S, Vn.4S, Vm.4S: Vd = Vn · Vm
#define VFMUL4(d, n, m) WORD $(0x6E20DC00 | (m)<<16 | (n)<<5 | (d))
// FDIV Vd.4S, Vn.4S, Vm.4S: Vd = Vn / Vm
#define VFDIV4(d, n, m) WORD $(0x6E20FC00 | (m)<<16 | (n)<<5 | (d))
// FMAX Vd.4S, Vn.4S, Vm.4S: Vd = max(Vn, Vm), NaN if either is NaN
#define VFMAX4(d, n, m) WORD $(0x4E20F400 | (m)<<16 | (n)<<5 | (d))
// FMIN Vd.4S, Vn.4S, Vm.4S: Vd = min(Vn, Vm), NaN if either is NaN
#define VFMIN4(d, n, m) WORD $(0x4EA0F400 | (m)<<16 | (n)<<5 | (d))
// FADDP Vd.4S, Vn.4S, Vm.4S: pairwise sums of Vn:Vm
#define VFADDP4(d, n, m) WORD $(0x6E20D400 | (m)<<16 | (n)<<5 | (d))
// FNEG Vd.4S, Vn.4S: Vd = −Vn
#define VFNEG4(d, n) WORD $(0x6EA0F800 | (n)<<5 | (d))
// FCVTNS Vd.4S, Vn.4S: Vd = int32(Vn), rounded to nearest, ties to even
#define VFCVTNS4(d, n) WORD $(0x4E21A800 | (n)<<5 | (d))
// SCVTF Vd.4S, Vn.4S: Vd = float32(int32 Vn)
#define VSCVTF4(d, n) WORD $(0x4E21D800 | (n)<<5 | (d))
// FMLS Vd.4S, Vn.4S, Vm.4S: Vd −= Vn · Vm (fused)
#define VFMLS4(d, n, m) WORD $(0x4EA0CC00 | (m)<<16 | (n)<<5 | (d))
