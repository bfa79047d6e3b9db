package build

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
)

// The tails' held cut (cutValues) runs the original's nodes from the last
// cut, not from the graph inputs: the outputs it gives every level must be
// bit for bit those of the plain path (every head from the graph inputs),
// whatever the order of the cuts (in node order, backwards, and again),
// and it must run fewer of the original's nodes.
func TestTailsHeldCutMatchesPlain(t *testing.T) {
	paths := []string{"../testdata/demo/demonet.onnx", "mnist/bncnn.onnx", "mnist/lenet5.onnx"}
	if !testing.Short() {
		paths = append(paths, "tv/resnet18.onnx")
	}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			if !strings.HasPrefix(path, "../") {
				path = testmodels.Shared(t, path)
			}
			m, err := onnxio.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			space, err := NewSpace(m, []float64{1, .5}, 4, nil)
			if err != nil {
				t.Fatal(err)
			}
			batches := randomBatches(t, m, 2, 2)
			fast, err := newTails(context.Background(), m, batches, 2)
			if err != nil {
				t.Fatal(err)
			}
			plain, err := newTails(context.Background(), m, batches, 2)
			if err != nil {
				t.Fatal(err)
			}
			plain.fromInputs, plain.sequential = true, true
			var order []int
			for g := range space.Groups {
				order = append(order, g)
			}
			for g := len(space.Groups) - 1; g >= 0; g-- {
				order = append(order, g)
			}
			for g := range space.Groups {
				order = append(order, g)
			}
			for _, g := range order {
				c := space.Uniform(0)
				c[g] = 1
				pm, _, err := space.Model(c)
				if err != nil {
					t.Fatal(err)
				}
				cut := firstChanged(m.Graph(), pm.Graph())
				got, ok, err := fast.run(cut, []*onnxio.Model{pm})
				if err != nil || !ok {
					t.Fatalf("group %d: held cut: ok %v, %v", g, ok, err)
				}
				want, ok, err := plain.run(cut, []*onnxio.Model{pm})
				if err != nil || !ok {
					t.Fatalf("group %d: plain: ok %v, %v", g, ok, err)
				}
				for s := range want[0] {
					for j := range want[0][s] {
						if math.Float32bits(got[0][s][j]) != math.Float32bits(want[0][s][j]) {
							t.Fatalf("group %d (cut %d) sample %d output %d: %g with the held cut, %g from the inputs", g, cut, s, j, got[0][s][j], want[0][s][j])
						}
					}
				}
			}
			if fast.headNodes >= plain.headNodes && plain.headNodes > 0 {
				t.Errorf("the held cut ran %d of the original's nodes, the plain path %d: nothing saved", fast.headNodes, plain.headNodes)
			}
			t.Logf("original's nodes run for the heads: %d held, %d plain", fast.headNodes, plain.headNodes)
		})
	}
}
