//go:build !purego

package engine

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// chainRunAVX512 applies the nst stages at st to nblk blocks of 128 floats
// of src into dst, each block held in registers through every stage (v in
// Z0–Z7, x in Z8–Z15): the same instruction per stage as the vec kernels
// chainKernel.run calls one after another, so the same bits.
//
//go:noescape
func chainRunAVX512(dst, src *float32, nblk int, st *chainStage, nst int)

// The assembly reads chainStage's kind, c, lo and hi at offsets 0, 8, 12
// and 16, stages 24 bytes apart: these fail to compile if the layout changes.
var (
	_ = [1]struct{}{}[unsafe.Offsetof(chainStage{}.c)-8]
	_ = [1]struct{}{}[unsafe.Offsetof(chainStage{}.lo)-12]
	_ = [1]struct{}{}[unsafe.Offsetof(chainStage{}.hi)-16]
	_ = [1]struct{}{}[unsafe.Sizeof(chainStage{})-24]
	_ = [1]struct{}{}[stAddS]
	_ = [1]struct{}{}[stMulS-1]
	_ = [1]struct{}{}[stDivS-2]
	_ = [1]struct{}{}[stClamp-3]
	_ = [1]struct{}{}[stMulX-4]
	_ = [1]struct{}{}[stAddX-5]
	_ = [1]struct{}{}[stSetX-6]
)

func init() {
	if !cpu.X86.HasAVX512F {
		return
	}
	chainBlocks = func(dst, src []float32, st []chainStage) int {
		nblk := min(len(dst), len(src)) / 128
		if nblk == 0 || len(st) == 0 {
			return 0
		}
		chainRunAVX512(&dst[0], &src[0], nblk, &st[0], len(st))
		return 128 * nblk
	}
}
