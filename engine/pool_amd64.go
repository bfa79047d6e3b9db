//go:build !purego

package engine

import "golang.org/x/sys/cpu"

// max3x3s2PlaneAVX512 is max3x3s2Plane's loop (op_pool.go) in one pass:
// per output row, the column maxima of its three input rows in registers,
// split into even and odd columns (deinterleaveIdx) and the maximum
// across each window's three columns, a NaN winning as in tapMaxRowGo.
//
//go:noescape
func max3x3s2PlaneAVX512(out, in *float32, oh, w int, idx *uint32)

func init() {
	if !cpu.X86.HasAVX512F {
		return
	}
	max3x3s2Plane = func(out, in []float32, h, w int) {
		if h < 2 || w < 2 {
			panic("engine: max3x3s2Plane of a plane under 2×2")
		}
		_, _ = in[h*w-1], out[h/2*(w/2)-1]
		max3x3s2PlaneAVX512(&out[0], &in[0], h/2, w, &deinterleaveIdx[0])
	}
}
