package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestChainBlocksMatchStages runs random chains (every stage kind, stSetX
// anywhere, constants of both signs, zero and clamps with infinite ends)
// over inputs with NaNs, signed zeros, infinities and subnormals, through
// chainKernel.run (chainBlocks where the CPU has it, then the stages for
// the tail) and through the stage-by-stage reference, and requires the
// same bits, for lengths around the 128-float blocks.
func TestChainBlocksMatchStages(t *testing.T) {
	if chainBlocks == nil {
		t.Skip("no chainBlocks kernel on this CPU or build (amd64 AVX-512 only): run is the reference itself")
	}
	r := rand.New(rand.NewPCG(11, 12))
	consts := []float32{3, 6, -0.5, 0, 1.0 / 3, 1e-3, -7.25, 0.1666667}
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)), 1e-40, -1e-40, 3, -3, 6}
	for trial := 0; trial < 300; trial++ {
		var k chainKernel
		for s := 1 + r.IntN(10); s > 0; s-- {
			st := chainStage{kind: chainStageKind(r.IntN(int(stSetX) + 1)), c: consts[r.IntN(len(consts))]}
			if st.kind == stClamp {
				st.lo, st.hi = -r.Float32()*4, r.Float32()*8
				if r.IntN(3) == 0 {
					st.hi = float32(math.Inf(1))
				}
			}
			k.stages = append(k.stages, st)
		}
		n := []int{1, 127, 128, 129, 300, 1024}[trial%6]
		x := make([]float32, n)
		for i := range x {
			if r.IntN(8) == 0 {
				x[i] = special[r.IntN(len(special))]
			} else {
				x[i] = (r.Float32() - 0.5) * 20
			}
		}
		got, want := make([]float32, n), make([]float32, n)
		var xb1, xb2 [chainBlock]float32
		k.run(got, x, &xb1)
		k.runStages(want, x, &xb2)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("trial %d, stages %+v, n %d: [%d] (x %v) = %v, stage by stage %v", trial, k.stages, n, i, x[i], got[i], want[i])
			}
		}
	}
}

// BenchmarkChain runs PP-OCR det's merged chain (scale and shift, HardSwish
// written out, scale and shift) over one 1024-float block at a time, as
// chainKernel.forward does, with chainBlocks (run) and stage by stage.
func BenchmarkChain(b *testing.B) {
	k := &chainKernel{stages: []chainStage{{kind: stMulS, c: 0.9}, {kind: stAddS, c: 0.1}, {kind: stSetX},
		{kind: stAddS, c: 3}, {kind: stClamp, lo: 0, hi: 6}, {kind: stMulX}, {kind: stDivS, c: 6}, {kind: stMulS, c: 1.1}, {kind: stAddS, c: -0.05}}}
	for _, n := range []int{16 * 1024, 256 * 1024} {
		x := randSlice(rand.New(rand.NewPCG(1, 2)), n)
		y := make([]float32, n)
		var xb [chainBlock]float32
		for _, v := range []struct {
			name string
			run  func(v, xs []float32, xb *[chainBlock]float32)
		}{{"run", k.run}, {"stages", k.runStages}} {
			b.Run(fmt.Sprintf("%s/%d", v.name, n), func(b *testing.B) {
				b.SetBytes(int64(8 * n))
				b.ReportAllocs()
				for range b.N {
					for i := 0; i < n; i += chainBlock {
						v.run(y[i:i+chainBlock], x[i:i+chainBlock], &xb)
					}
				}
			})
		}
	}
}
