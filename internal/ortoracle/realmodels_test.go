package ortoracle

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/testmodels"
)

// TestLeNet5MNIST checks the oracle end to end on a trained model: ORT's
// accuracy of lenet5 on the MNIST test set matches torch's, recorded when the
// model was made.
func TestLeNet5MNIST(t *testing.T) {
	o := ForTest(t)
	model := testmodels.Shared(t, "mnist/lenet5.onnx")
	var baseline struct {
		LeNet5 struct {
			DenseAcc float64 `json:"dense_acc"`
		} `json:"lenet5"`
	}
	raw, err := os.ReadFile(testmodels.Shared(t, "mnist/torch_baseline.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &baseline); err != nil {
		t.Fatal(err)
	}
	images, labels := testmodels.MNIST(t)
	n := int64(len(labels))

	out, err := o.Run(context.Background(), model, []Tensor{FromFloat32("input", []int64{n, 1, 28, 28}, images)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].Name != "logits" || !slices.Equal(out[0].Shape, []int64{n, 10}) {
		t.Fatalf("outputs %s %v, want logits [%d 10]", out[0].Name, out[0].Shape, n)
	}
	logits, err := out[0].Float32()
	if err != nil {
		t.Fatal(err)
	}
	correct := 0
	for i, label := range labels {
		row := logits[10*i : 10*i+10]
		if int64(slices.Index(row, slices.Max(row))) == label {
			correct++
		}
	}
	acc := float64(correct) / float64(n)
	t.Logf("lenet5 MNIST test accuracy under ORT %s: %.4f, torch's %.4f", o.Version(), acc, baseline.LeNet5.DenseAcc)
	// torch and ORT sum in different orders: allow a few near-ties to flip.
	if want := baseline.LeNet5.DenseAcc; math.Abs(acc-want) > 5/float64(n) {
		t.Errorf("lenet5 accuracy under ORT %.4f, torch's %.4f", acc, want)
	}
}

// TestAllModels runs every real model once on pseudo-random input, with each
// dynamic dimension 1 (the first) or 64 (the others), and checks the outputs
// are finite and have the shapes the models promise.
func TestAllModels(t *testing.T) {
	o := ForTest(t)
	ctx := context.Background()
	for _, m := range testmodels.All(t) {
		t.Run(m.Name, func(t *testing.T) {
			meta, err := o.Meta(ctx, m.Path)
			if err != nil {
				t.Fatal(err)
			}
			var in []Tensor
			for _, v := range meta.Inputs {
				if v.DType != DTypeFloat32 {
					t.Fatalf("input %s is %s; this test feeds float32", v.Name, v.DType)
				}
				shape := make([]int64, len(v.Shape))
				for i, d := range v.Shape {
					switch {
					case d.Value >= 0:
						shape[i] = d.Value
					case i == 0:
						shape[i] = 1
					default:
						shape[i] = 64
					}
				}
				n := Tensor{Shape: shape}.NumElements()
				in = append(in, FromFloat32(v.Name, shape, pseudoRandom(int(n))))
			}
			out, err := o.Run(ctx, m.Path, in)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != len(meta.Outputs) {
				t.Fatalf("%d outputs, Meta lists %d", len(out), len(meta.Outputs))
			}
			for i, y := range out {
				if y.Name != meta.Outputs[i].Name || len(y.Shape) != len(meta.Outputs[i].Shape) {
					t.Errorf("output %d: %s %v, Meta says %+v", i, y.Name, y.Shape, meta.Outputs[i])
				}
				for j, d := range meta.Outputs[i].Shape {
					if d.Value >= 0 && j < len(y.Shape) && y.Shape[j] != d.Value {
						t.Errorf("output %s: shape %v, Meta says %+v", y.Name, y.Shape, meta.Outputs[i].Shape)
					}
				}
				vals, err := y.Float32()
				if err != nil {
					t.Fatal(err)
				}
				for j, v := range vals {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("output %s[%d] = %v", y.Name, j, v)
					}
				}
				if strings.HasPrefix(y.Name, "softmax") { // PP-OCR cls: rows are distributions
					for r := 0; r+2 <= len(vals); r += 2 {
						if s := vals[r] + vals[r+1]; math.Abs(float64(s)-1) > 1e-5 {
							t.Errorf("output %s row %d sums to %v", y.Name, r/2, s)
						}
					}
				}
			}
		})
	}
}

// pseudoRandom returns n reproducible values in [0, 1).
func pseudoRandom(n int) []float32 {
	out := make([]float32, n)
	x := uint32(2463534242)
	for i := range out {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		out[i] = float32(x>>8) / (1 << 24)
	}
	return out
}
