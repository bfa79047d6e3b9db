package engine

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDWFlatSpans checks dwFlatSpan, which 2-thread plans run over spans
// of positions: any cut of the plane into spans of whole blocks gives the
// bits of the whole-plane kernel (dwFlatRun), and the reference loop
// (dwFlatSpanGo) agrees within float32 rounding (the assembly fuses the
// multiply-adds).
func TestDWFlatSpans(t *testing.T) {
	if dwFlatSpan == nil {
		t.Skip("no native flat depthwise kernel here (dwFlatSpan is nil): 2-thread plans split the channels")
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ c, h, w, k, s int }{{3, 14, 14, 3, 1}, {5, 28, 28, 3, 2}, {4, 20, 20, 5, 1}, {2, 11, 13, 3, 1}} {
		pad := tc.k / 2
		g := convGeom{h: tc.h, w: tc.w, kh: tc.k, kw: tc.k, sh: tc.s, sw: tc.s, dh: 1, dw: 1, pt: pad, pl: pad, pb: pad, pr: pad, spatial: 2}
		g.oh, g.ow = (tc.h+2*pad-tc.k)/tc.s+1, (tc.w+2*pad-tc.k)/tc.s+1
		k := &convKernel{convGeom: g, n: 1, c: tc.c, m: tc.c, group: tc.c, depthwise: true}
		d := newDWFlatTables(k)
		if d == nil {
			t.Fatalf("%+v: no flat tables", tc)
		}
		x := randSlice(r, tc.c*tc.h*tc.w)
		in := x
		if d.phases {
			in = make([]float32, 4*d.psz)
			phaseSplitGo(in, x, tc.c*tc.h, tc.w, d.psz)
		}
		w, bias := randSlice(r, tc.c*tc.k*tc.k), randSlice(r, tc.c)
		ep := kernEpi{flags: epBias | epClamp, bias: &bias[0], biasS: bias, lo: -0.5, hi: 0.75}
		whole, spans, ref := make([]float32, tc.c*d.np), make([]float32, tc.c*d.np), make([]float32, tc.c*d.np)
		dwFlatRun(d, whole, in, w, tc.c, &ep)
		cuts := []int{0, 16, 64, 80, d.np}
		for i := 0; i+1 < len(cuts); i++ {
			if cuts[i] < d.np {
				dwFlatSpan(d, spans, in, w, tc.c, cuts[i], min(cuts[i+1], d.np), &ep)
			}
		}
		dwFlatSpanGo(d, ref, in, w, tc.c, 0, d.np, &ep)
		for i := range whole {
			if math.Float32bits(spans[i]) != math.Float32bits(whole[i]) {
				t.Fatalf("%+v: spans[%d] = %v, the whole plane %v", tc, i, spans[i], whole[i])
			}
			if math.Abs(float64(ref[i]-whole[i])) > 1e-5*(1+math.Abs(float64(ref[i]))) {
				t.Fatalf("%+v: [%d] = %v, reference %v", tc, i, whole[i], ref[i])
			}
		}
	}
}

// TestDepthwiseFlatSpansBitwise checks depthwiseFlat on 2 and 3 threads
// (spans of the plane, the stride-2 phases split per span and channel)
// against 1 thread (runs of channels), bit for bit.
func TestDepthwiseFlatSpansBitwise(t *testing.T) {
	if dwFlatSpan == nil {
		t.Skip("no native flat depthwise kernel here (dwFlatSpan is nil)")
	}
	withPlaneSplits(t)
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct{ c, h, w, k, s int }{{16, 24, 24, 3, 1}, {32, 30, 28, 3, 2}, {8, 20, 20, 5, 1}, {16, 26, 26, 5, 2}, {16, 17, 19, 3, 1}} {
		pad := tc.k / 2
		g := convGeom{h: tc.h, w: tc.w, kh: tc.k, kw: tc.k, sh: tc.s, sw: tc.s, dh: 1, dw: 1, pt: pad, pl: pad, pb: pad, pr: pad, spatial: 2}
		g.oh, g.ow = (tc.h+2*pad-tc.k)/tc.s+1, (tc.w+2*pad-tc.k)/tc.s+1
		k := &convKernel{convGeom: g, n: 2, c: tc.c, m: tc.c, group: tc.c, depthwise: true, act: &clampAct{-0.5, 0.75}}
		k.flat = newDWFlat(k)
		if k.flat == nil {
			t.Fatalf("%+v: no flat tables", tc)
		}
		if k.flat.np < 2*spatialUnit || tc.c*k.flat.np*tc.k*tc.k < parallelMinElems {
			t.Fatalf("%+v: %d positions, too few for spans", tc, k.flat.np)
		}
		x := randSlice(r, k.n*tc.c*tc.h*tc.w)
		w, bias := randSlice(r, tc.c*tc.k*tc.k), randSlice(r, tc.c)
		var ref []float32
		for _, threads := range []int{1, 2, 3} {
			out := make([]float32, k.n*tc.c*k.flat.np)
			k.depthwiseFlat(&exec{threads: threads, scratch: make([]float32, k.flat.scratch())}, x, w, bias, out)
			if threads == 1 {
				ref = out
				continue
			}
			for i := range out {
				if math.Float32bits(out[i]) != math.Float32bits(ref[i]) {
					t.Fatalf("%+v, %d threads: [%d] = %v, 1 thread %v", tc, threads, i, out[i], ref[i])
				}
			}
		}
	}
}
