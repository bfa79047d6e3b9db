//go:build !purego

package engine

import "golang.org/x/sys/cpu"

// dwFlatSpanAVX512 is dwFlatSpan on the flat kernel's assembly: one call a
// channel, over positions [j0, j1) of it (the kernel's channel strides are
// its position count, so a span runs channel by channel).
func dwFlatSpanAVX512(d *dwFlat, out, x, w []float32, nch, j0, j1 int, ep *kernEpi) {
	nt := len(d.disp)
	if nch == 0 || j1 <= j0 {
		return
	}
	if j0 < 0 || j0%16 != 0 || j1 > d.np {
		panic("engine: depthwise span outside the plane or not on a block")
	}
	_, _ = out[nch*d.np-1], w[nch*nt-1]
	if d.phases {
		_ = x[3*d.psz+nch*d.hw-1]
	} else {
		_ = x[nch*d.hw-1]
	}
	_ = d.mask[nt*d.nblk-1]
	if ep.flags&epBias != 0 {
		_ = ep.biasS[nch-1]
	}
	e := *ep
	for c := 0; c < nch; c++ {
		if e.flags&epBias != 0 {
			e.bias = &ep.biasS[c]
		}
		// Unmasked lanes read inside channel c (newDWFlat's masks), as in
		// the whole-plane call.
		dwFlatContigAVX512(&out[c*d.np+j0], &x[c*d.hw+j0], 1, j1-j0, d.hw, &d.disp[0], &w[c*nt], nt, &d.mask[j0/16], 2*d.nblk, &e)
	}
}

func init() {
	if cpu.X86.HasAVX512F {
		dwFlatSpan = dwFlatSpanAVX512
	}
}
