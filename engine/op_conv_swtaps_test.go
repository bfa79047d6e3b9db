package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestSwTapsKernel checks the swapped implicit path's kernel against its
// reference loop, for every rows/columns limit and with and without epAccum,
// and that it writes nothing outside its rows and columns.
func TestSwTapsKernel(t *testing.T) {
	if swTapsKernel == nil {
		t.Skip("no swapped implicit kernel on this CPU (AVX-512 only)")
	}
	r := rand.New(rand.NewPCG(7, 8))
	base := randSlice(r, 500)
	for _, kc := range []int{1, 7, 64, 193} {
		for _, c := range []struct {
			rows int32
			mask uint32
			acc  bool
		}{{8, 1<<32 - 1, false}, {8, 1<<32 - 1, true}, {3, 1<<32 - 1, false}, {8, 1<<5 - 1, true}, {1, 1<<20 - 1, true}, {5, 1<<17 - 1, false}} {
			t.Run(fmt.Sprintf("kc=%d/rows=%d/mask=%x/acc=%v", kc, c.rows, c.mask, c.acc), func(t *testing.T) {
				pos := make([]int, 8)
				for i := range pos {
					pos[i] = r.IntN(200)
				}
				offs := make([]int, kc)
				for i := range offs {
					offs[i] = r.IntN(300)
				}
				b := randSlice(r, 32*kc)
				const ldc = 37
				got := randSlice(r, 8*ldc)
				want := append([]float32(nil), got...)
				ep := kernEpi{rows: c.rows, mask: c.mask}
				if c.acc {
					ep.flags = epAccum
				}
				// Odd kc: the loop that prefetches (pf, here a buffer
				// of the weights' size) as well.
				var pf []float32
				if kc%2 == 1 {
					pf = randSlice(r, 32*kc)
				}
				swTapsRef(kc, pos, base, offs, b, want, ldc, &ep, nil, 0, nil)
				swTapsKernel(kc, pos, base, offs, b, got, ldc, &ep, nil, 0, pf)
				for i := range got {
					d := got[i] - want[i]
					if d < 0 {
						d = -d
					}
					if d > 1e-4*float32(kc+1) {
						t.Fatalf("C[%d,%d] = %v, want %v", i/ldc, i%ldc, got[i], want[i])
					}
				}
			})
		}
	}
}

// TestSwTapsKernelTransposed checks the kernel's transposed store (epSwT)
// against the reference, with every combination of its flags, and that it
// leaves C and the rest of the output alone.
func TestSwTapsKernelTransposed(t *testing.T) {
	if swTapsKernel == nil {
		t.Skip("no swapped implicit kernel on this CPU (AVX-512 only)")
	}
	r := rand.New(rand.NewPCG(9, 10))
	base := randSlice(r, 500)
	bias := randSlice(r, 32)
	for _, kc := range []int{1, 9, 150} {
		for fl := 0; fl < 16; fl++ { // epAccum, epBias, epClamp, epResid
			t.Run(fmt.Sprintf("kc=%d/flags=%d", kc, fl), func(t *testing.T) {
				pos := make([]int, 8)
				for i := range pos {
					pos[i] = r.IntN(200)
				}
				offs := make([]int, kc)
				for i := range offs {
					offs[i] = r.IntN(300)
				}
				b := randSlice(r, 32*kc)
				const ldc, ldo = 33, 11
				c := randSlice(r, 8*ldc)
				c0 := append([]float32(nil), c...)
				got := randSlice(r, 32*ldo)
				want := append([]float32(nil), got...)
				ep := kernEpi{flags: fl | epSwT, rows: 8, mask: 1<<32 - 1, lo: -0.5, hi: 0.75}
				ep.bias, ep.biasS = &bias[0], bias
				resid := randSlice(r, 32*ldo)
				resid[3*ldo+5] = float32(math.NaN()) // stays NaN through the clamp
				ep.residS = resid
				var pf []float32 // kc 1 and 150: the loop that prefetches
				if kc != 9 {
					pf = b
				}
				swTapsRef(kc, pos, base, offs, b, c, ldc, &ep, want, ldo, nil)
				swTapsKernel(kc, pos, base, offs, b, c, ldc, &ep, got, ldo, pf)
				for i := range c {
					if c[i] != c0[i] {
						t.Fatalf("C[%d] written", i)
					}
				}
				for i := range got {
					if math.IsNaN(float64(got[i])) != math.IsNaN(float64(want[i])) {
						t.Fatalf("o[%d,%d] = %v, want %v", i/ldo, i%ldo, got[i], want[i])
					}
					d := got[i] - want[i]
					if d < 0 {
						d = -d
					}
					if d > 1e-4*float32(kc+1) {
						t.Fatalf("o[%d,%d] = %v, want %v", i/ldo, i%ldo, got[i], want[i])
					}
				}
			})
		}
	}
}

// TestSwTapsSplit checks swTapsSplit's cuts: every position block and
// channel panel in exactly one unit, at least a unit per thread as far as
// the channel panels go, and weights from swTapsBigW up in as few pieces
// of positions as the threads allow (each weight read once per piece).
func TestSwTapsSplit(t *testing.T) {
	for _, nt := range []int{1, 7, 25, 98, 392, 1568} {
		for _, nb := range []int{1, 2, 4, 8, 16} {
			for _, big := range []bool{false, true} {
				for _, threads := range []int{1, 2, 3, 4, 8} {
					w := 1000
					if big {
						w = swTapsBigW
					}
					tpp, cs, bps := swTapsSplit(nt, nb, w, threads)
					pieces := (nt + tpp - 1) / tpp
					if tpp < 1 || tpp > nt || bps < 1 || (cs-1)*bps >= nb || cs*bps < nb {
						t.Fatalf("nt %d nb %d big %v threads %d: tpp %d, %d sets of %d panels", nt, nb, big, threads, tpp, cs, bps)
					}
					if units := pieces * cs; units < min(threads, nb) {
						t.Errorf("nt %d nb %d big %v threads %d: %d units", nt, nb, big, threads, units)
					}
					if big && pieces > (threads+nb-1)/nb {
						t.Errorf("nt %d nb %d threads %d, big weights: %d pieces", nt, nb, threads, pieces)
					}
					if !big && tpp != min(nt, swTapsTiles) {
						t.Errorf("nt %d nb %d threads %d, small weights: %d blocks a piece", nt, nb, threads, tpp)
					}
				}
			}
		}
	}
}

// TestSwTapsBigWeightsSplit runs the swapped implicit path with the split
// and the prefetch of large weights (swTapsBigW and swTapsPrefetchW
// lowered to 0) against the default ones and the reference: with a bias, a residual and a clamp, on 1, 2 and 3
// threads, the same bits as the default split on 1 thread.
func TestSwTapsBigWeightsSplit(t *testing.T) {
	if swTapsKernel == nil {
		t.Skip("no swapped implicit kernel on this CPU (AVX-512 only)")
	}
	r := rand.New(rand.NewPCG(9, 10))
	for i, c := range []struct{ x, w []int }{
		{[]int{1, 80, 7, 7}, []int{100, 80, 3, 3}},  // 4 panels (the last partial), 3 depth blocks, a partial last block
		{[]int{1, 40, 20, 20}, []int{30, 40, 3, 3}}, // 1 panel: the positions split for the threads
		{[]int{1, 64, 14, 14}, []int{96, 64, 3, 3}}, // 3 panels, 25 position blocks
		{[]int{1, 16, 23, 21}, []int{70, 16, 3, 3}}, // many position blocks, partial panel
	} {
		attrs := map[string][]int64{"pads": {1, 1, 1, 1}}
		x, w, b := randSlice(r, numel(c.x)), randSlice(r, numel(c.w)), randSlice(r, c.w[0])
		k, outShape := convCase(t, c.x, c.w, w, true, attrs, "")
		k.act = &clampAct{lo: -0.25, hi: 0.5}
		res := randSlice(r, numel(outShape))
		want := make([]float32, numel(outShape))
		k.convRef(x, w, b, want)
		scale := maxAbs(want)
		vecAdd(want, want, res)
		k.act.apply(want)
		scratch := useConvPath(k, pathSwTaps, w, k.flat)
		run := func(threads int) []float32 {
			got := make([]float32, numel(outShape))
			fill(got, 1e9)
			k.swTapsForward(&exec{threads: threads, scratch: scratch}, x, b, res, got)
			return got
		}
		one := run(1)
		if e := relErr(want, one) * maxAbs(want) / scale; e > 1e-5 || math.IsNaN(e) {
			t.Fatalf("case %d: differs from the reference by %.3g", i, e)
		}
		defer func(v, p int) { swTapsBigW, swTapsPrefetchW = v, p }(swTapsBigW, swTapsPrefetchW)
		swTapsBigW, swTapsPrefetchW = 0, 0
		for _, threads := range []int{1, 2, 3} {
			got := run(threads)
			for j := range one {
				if math.Float32bits(got[j]) != math.Float32bits(one[j]) {
					t.Fatalf("case %d, one piece, %d threads: output[%d] = %v, the default split gave %v", i, threads, j, got[j], one[j])
				}
			}
		}
		swTapsBigW, swTapsPrefetchW = 512<<10, 512<<10
	}
}
