package magprune

import (
	"math"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
)

func TestGlobal(t *testing.T) {
	for _, s := range []float64{0, 0.5, 0.9, 1} {
		m, err := onnxio.Decode(onnxbuild.Marshal(onnxbuild.MLP()))
		if err != nil {
			t.Fatal(err)
		}
		var before []float32
		n := 0
		for _, p := range Weights(m) {
			d, _, _ := p.Float32()
			before = append(before, d...)
			n += len(d)
		}
		if n != 32*16+32*16+16*4 {
			t.Fatalf("Weights: %d elements, want the three MLP weights", n)
		}
		if _, err := Global(m, s); err != nil {
			t.Fatal(err)
		}
		var after []float32
		for _, p := range Weights(m) {
			d, _, _ := p.Float32()
			after = append(after, d...)
		}
		zeros := 0
		maxZeroed, minKept := 0.0, math.Inf(1)
		for i, v := range after {
			if v == 0 {
				zeros++
				maxZeroed = math.Max(maxZeroed, math.Abs(float64(before[i])))
			} else {
				if v != before[i] {
					t.Fatalf("sparsity %g: kept weight %d changed", s, i)
				}
				minKept = math.Min(minKept, math.Abs(float64(v)))
			}
		}
		if want := int(math.Round(s * float64(n))); zeros != want {
			t.Errorf("sparsity %g: %d zeros, want %d", s, zeros, want)
		}
		if maxZeroed > minKept {
			t.Errorf("sparsity %g: zeroed |w| %g above kept |w| %g", s, maxZeroed, minKept)
		}
	}
}
