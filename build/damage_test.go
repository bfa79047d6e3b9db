package build

import (
	"math"
	"math/rand/v2"
	"testing"
)

// outputs makes n samples of c scores: a fixed vector times scale plus
// input-dependent noise of standard deviation vary.
func outputs(n, c int, scale, vary float64, seed uint64) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	base := make([]float64, c)
	for j := range base {
		base[j] = r.NormFloat64()
	}
	out := make([][]float32, n)
	for i := range out {
		out[i] = make([]float32, c)
		for j := range out[i] {
			out[i][j] = float32(scale*base[j] + vary*r.NormFloat64())
		}
	}
	return out
}

func TestChooseFidelity(t *testing.T) {
	for _, tc := range []struct {
		name        string
		ref         [][]float32
		metric      string
		independent bool
	}{
		// resnet18-like: logits of a few units varying with the input.
		{"informative softmax", outputs(64, 100, 3, 1, 1), "kl", false},
		// mobilenet_v2 with random weights: ±0.1, the same for every input.
		{"input-independent", outputs(64, 100, 0.04, 0, 2), "relative-mse", true},
		// Tiny logits that do vary: a nearly uniform softmax.
		{"nearly uniform softmax", outputs(64, 100, 0.01, 0.01, 3), "relative-mse", false},
		// Huge logits: a one-hot softmax.
		{"saturated softmax", outputs(64, 10, 300, 100, 4), "relative-mse", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := ChooseFidelity(tc.ref)
			if f.Metric != tc.metric || f.InputIndependent != tc.independent || f.Reason == "" {
				t.Fatalf("got %s (input-independent %v, %q), want %s (%v)", f.Metric, f.InputIndependent, f.Reason, tc.metric, tc.independent)
			}
			if f.Damage(tc.ref, tc.ref) != 0 {
				t.Errorf("damage of the original itself is %g, want 0", f.Damage(tc.ref, tc.ref))
			}
		})
	}
}

// TestRelativeMSEScale checks the meaning of 1: over the data, predicting
// the mean output; for input-independent outputs, a constant vector.
func TestRelativeMSEScale(t *testing.T) {
	ref := outputs(256, 50, 0.01, 0.01, 5)
	f := ChooseFidelity(ref)
	mean := make([]float32, 50)
	for _, r := range ref {
		for j, x := range r {
			mean[j] += x / 256
		}
	}
	got := make([][]float32, len(ref))
	for i := range got {
		got[i] = mean
	}
	if d := f.Damage(ref, got); math.Abs(d-1) > 1e-4 {
		t.Errorf("relative MSE of the mean output = %g, want 1", d)
	}

	ref = outputs(16, 50, 0.04, 0, 6)
	f = ChooseFidelity(ref)
	for i := range got[:16] {
		got[i] = make([]float32, 50)
		var mu float32
		for _, x := range ref[i] {
			mu += x / 50
		}
		for j := range got[i] {
			got[i][j] = mu
		}
	}
	if d := f.Damage(ref, got[:16]); math.Abs(d-1) > 1e-4 {
		t.Errorf("input-independent: relative MSE of the outputs' mean = %g, want 1", d)
	}
	// A half-size change of the outputs is 0.25 and KL would be tiny.
	for i := range got[:16] {
		for j := range got[i] {
			got[i][j] = ref[i][j] + 0.5*(ref[i][j]-got[i][j])
		}
	}
	if d, kl := f.Damage(ref, got[:16]), meanKL(ref, got[:16]); math.Abs(d-0.25) > 1e-4 || kl > 1e-3 {
		t.Errorf("half-size change: relative MSE %g (want 0.25), KL %g (want tiny)", d, kl)
	}
}
