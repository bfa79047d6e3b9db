package build

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// randomBatches makes n batches of b samples for m's inputs at their
// declared shapes (batch dimension b).
func randomBatches(t *testing.T, m *onnxio.Model, n, b int) []engine.Batch {
	t.Helper()
	p, err := engine.Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var out []engine.Batch
	for range n {
		bt := engine.Batch{Inputs: map[string]*tensor.Dense{}}
		for _, in := range p.Inputs() {
			shape := append([]int{b}, in.Shape[1:]...)
			size := 1
			for _, d := range shape {
				size *= d
			}
			f := make([]float32, size)
			for i := range f {
				f[i] = float32(rng.NormFloat64())
			}
			bt.Inputs[in.Name] = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f))
		}
		out = append(out, bt)
	}
	return out
}

// Running only the part of a pruned model after its first changed node,
// from the original's values there, gives what the whole pruned model
// gives, for every group and level; and the split really skips nodes.
func TestTailsMatchWholeModels(t *testing.T) {
	for _, path := range []string{"../testdata/demo/demonet.onnx", "../../shared/models/mnist/bncnn.onnx"} {
		t.Run(path, func(t *testing.T) {
			if _, err := os.Stat(path); err != nil {
				t.Skipf("%s absent (../shared holds the reference models; CI has it)", path)
			}
			m, err := onnxio.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			space, err := NewSpace(m, []float64{1, .5, .25}, 4, nil)
			if err != nil {
				t.Fatal(err)
			}
			batches := randomBatches(t, m, 2, 3)
			tl, err := newTails(context.Background(), m, batches, 1)
			if err != nil {
				t.Fatal(err)
			}
			skipped := 0
			for g := range space.Groups {
				var models []*onnxio.Model
				cut := len(m.Graph().GetNode())
				for l := 1; l < len(space.Keep); l++ {
					c := space.Uniform(0)
					c[g] = l
					pm, _, err := space.Model(c)
					if err != nil {
						t.Fatal(err)
					}
					models = append(models, pm)
					cut = min(cut, firstChanged(m.Graph(), pm.Graph()))
				}
				got, ok, err := tl.run(cut, models)
				if err != nil || !ok {
					t.Fatalf("group %d: cut at %d: ok %v, %v", g, cut, ok, err)
				}
				skipped += cut
				for i, pm := range models {
					want, err := scores(context.Background(), pm, batches, 1)
					if err != nil {
						t.Fatal(err)
					}
					if len(got[i]) != len(want) {
						t.Fatalf("group %d level %d: %d samples, want %d", g, i+1, len(got[i]), len(want))
					}
					for s := range want {
						for j := range want[s] {
							if d := math.Abs(float64(got[i][s][j] - want[s][j])); d > 1e-4*(1+math.Abs(float64(want[s][j]))) {
								t.Fatalf("group %d level %d sample %d output %d: %g from the cut, %g whole", g, i+1, s, j, got[i][s][j], want[s][j])
							}
						}
					}
				}
			}
			if skipped == 0 {
				t.Errorf("no group was cut after node 0: nothing was reused")
			}
		})
	}
}
