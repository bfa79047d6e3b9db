package prune

import (
	"bytes"
	"math"
	"slices"
	"testing"
)

// TestRowScope prunes every weight layout of zooModel by magnitude, row by
// row: each output row (along the weight's output-channel axis, strided for
// ConvTranspose, Gemm transB=0 and MatMul) loses exactly round(s·len) of
// its smallest |w|, and the plan replays to the same weights.
func TestRowScope(t *testing.T) {
	for _, s := range []float64{0.5, 0.7} {
		m := decode(t, zooModel())
		orig := map[string][]float32{}
		for _, p := range m.Params() {
			w, _, _ := p.Float32()
			orig[p.ID] = slices.Clone(w)
		}
		pr, err := New(WithSparsity(s), WithScope(Row))
		if err != nil {
			t.Fatal(err)
		}
		plan, err := pr.Prune(m)
		if err != nil {
			t.Fatal(err)
		}
		if plan.Scope != "row" {
			t.Errorf("plan scope %q", plan.Scope)
		}
		targets, _ := Targets(m, Selection{})
		for _, tg := range targets {
			w, _ := tg.Values()
			g := newRowGeom(tg)
			k := roundHalfEven(s, g.rowLen)
			for r := range g.rows {
				var kept, pruned []float64
				for j := range g.rowLen {
					i := g.index(r, j)
					if w[i] == 0 {
						pruned = append(pruned, math.Abs(float64(orig[tg.ID()][i])))
					} else {
						kept = append(kept, math.Abs(float64(w[i])))
					}
				}
				if len(pruned) != k {
					t.Fatalf("%s row %d: %d pruned, want %d of %d", tg.ID(), r, len(pruned), k, g.rowLen)
				}
				if len(kept) > 0 && len(pruned) > 0 && slices.Max(pruned) > slices.Min(kept) {
					t.Errorf("%s row %d: pruned |w| up to %v, kept one of %v", tg.ID(), r, slices.Max(pruned), slices.Min(kept))
				}
			}
		}
		// The plan replays on a fresh copy to the same weights.
		var buf bytes.Buffer
		if err := plan.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := ReadPlan(&buf)
		if err != nil {
			t.Fatal(err)
		}
		m2 := decode(t, zooModel())
		if err := Apply(m2, back); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(marshal(t, m), marshal(t, m2)) {
			t.Error("replaying the row plan gives other weights")
		}
	}
	if _, err := New(WithSparsity(0.5), WithScope(Row), WithPattern(Pattern{Kind: Block, R: 1, C: 4})); err == nil {
		t.Error("row scope with blocks accepted")
	}
}
