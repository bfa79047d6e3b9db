package engine

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// TestLeNetAccuracyMatchesTorch evaluates the trained LeNets on the MNIST
// test set and requires torch's dense accuracy to 0.01 percentage points.
func TestLeNetAccuracyMatchesTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("10000-sample MNIST evaluation: skipped in -short mode")
	}
	raw, err := os.ReadFile(testmodels.Shared(t, "mnist/torch_baseline.json"))
	if err != nil {
		t.Fatal(err)
	}
	var baseline map[string]struct {
		DenseAcc float64 `json:"dense_acc"`
	}
	if err := json.Unmarshal(raw, &baseline); err != nil {
		t.Fatal(err)
	}
	images, labels := testmodels.MNIST(t)
	input := tensor.New(tensor.WithShape(len(labels), 1, 28, 28), tensor.WithBacking(images))
	batches, err := SplitBatches(map[string]*tensor.Dense{"input": input}, labels, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"lenet300", "lenet5"} {
		t.Run(name, func(t *testing.T) {
			m, err := onnxio.ReadFile(testmodels.Shared(t, "mnist/"+name+".onnx"))
			if err != nil {
				t.Fatal(err)
			}
			res, err := Evaluate(context.Background(), m, batches, EvalOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := baseline[name].DenseAcc
			t.Logf("%s: top-1 %.4f (torch %.4f), top-5 %.4f, %d samples", name, res.Top1, want, res.Top5, res.Samples)
			if res.Samples != 10000 || !res.Labeled {
				t.Fatalf("evaluated %d samples (labeled %v), want 10000", res.Samples, res.Labeled)
			}
			if math.Abs(res.Top1-want) > 0.0001+1e-9 {
				t.Errorf("top-1 %.4f, torch %.4f: differ by more than 0.01 points", res.Top1, want)
			}
			if res.Top5 < res.Top1 {
				t.Errorf("top-5 %.4f < top-1 %.4f", res.Top5, res.Top1)
			}
			// The model against itself: a property of the fidelity metrics.
			if res, err = Evaluate(context.Background(), m, batches[:1], EvalOptions{Reference: m}); err != nil {
				t.Fatal(err)
			}
			if !res.Compared || res.AgreementTop1 != 1 || res.MaxAbsDiff != 0 || math.Abs(res.CosineMean-1) > 1e-6 {
				t.Errorf("self-fidelity: agreement %v, max diff %v, cosine %v", res.AgreementTop1, res.MaxAbsDiff, res.CosineMean)
			}
		})
	}
}

func TestRandomInputsDeterministic(t *testing.T) {
	m, err := onnxio.Decode(onnxbuild.Marshal(onnxbuild.MLP()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(m, WithInputShape("x", 3, 16))
	if err != nil {
		t.Fatal(err)
	}
	a, b := RandomInputs(p)["x"], RandomInputs(p)["x"]
	if !slices.Equal(a.Shape(), tensor.Shape{3, 16}) {
		t.Fatalf("shape %v", a.Shape())
	}
	da, db := a.Data().([]float32), b.Data().([]float32)
	for i := range da {
		if da[i] != db[i] || da[i] < 0 || da[i] >= 1 {
			t.Fatalf("value %d: %v then %v", i, da[i], db[i])
		}
	}
}
