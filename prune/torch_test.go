package prune

import (
	"fmt"
	"math"
	"testing"

	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
)

// TestTorchGlobalL1 checks global magnitude pruning against the masks of
// torch.nn.utils.prune.global_unstructured(L1Unstructured) on the trained
// LeNets (../shared/models/mnist): a weight may differ only if its |w| is the
// threshold itself (a tie torch's topk breaks its own way).
func TestTorchGlobalL1(t *testing.T) {
	for _, model := range []string{"lenet300", "lenet5"} {
		for _, s := range []float64{0.9, 0.95} {
			t.Run(fmt.Sprintf("%s/%g", model, s), func(t *testing.T) {
				m, err := onnxio.ReadFile(testmodels.Shared(t, "mnist/"+model+".onnx"))
				if err != nil {
					t.Fatal(err)
				}
				masks := readMasks(t, testmodels.Shared(t, fmt.Sprintf("mnist/%s_torch_global_l1_%g_mask.npz", model, s)))
				orig := map[string][]float32{}
				for _, p := range m.Params() {
					w, _, err := p.Float32()
					if err != nil {
						t.Fatal(err)
					}
					orig[p.ID] = append([]float32(nil), w...)
				}
				pr, err := New(WithSparsity(s), WithScope(Global))
				if err != nil {
					t.Fatal(err)
				}
				plan, err := pr.Prune(m)
				if err != nil {
					t.Fatal(err)
				}
				if len(plan.Params) != len(masks) {
					t.Fatalf("pruned %d parameters, torch %d", len(plan.Params), len(masks))
				}
				// The threshold: the largest |w| pruned.
				var thr float32
				for _, e := range plan.Params {
					mask, ok := masks[e.ID]
					if !ok {
						t.Fatalf("pruned %s, which torch did not", e.ID)
					}
					for i, v := range orig[e.ID] {
						if mask[i] == 0 {
							thr = max(thr, abs32(v))
						}
					}
				}
				differ, total, pruned, ties := 0, 0, 0, 0
				for _, p := range m.Params() {
					mask, ok := masks[p.ID]
					if !ok {
						continue
					}
					w, _, _ := p.Float32()
					if len(w) != len(mask) {
						t.Fatalf("%s: %d weights, torch mask %d", p.ID, len(w), len(mask))
					}
					for i, v := range w {
						total++
						if abs32(orig[p.ID][i]) == thr {
							ties++
						}
						if v == 0 {
							pruned++
						}
						if (v == 0) != (mask[i] == 0) {
							differ++
							if a := abs32(orig[p.ID][i]); a != thr {
								t.Errorf("%s[%d] (|w| = %g, threshold %g): ours pruned=%v, torch pruned=%v", p.ID, i, a, thr, v == 0, mask[i] == 0)
							}
						}
					}
				}
				if want := int(math.RoundToEven(s * float64(total))); pruned != want {
					t.Errorf("pruned %d of %d, want %d", pruned, total, want)
				}
				t.Logf("%s at %g: %d of %d weights pruned; %d differ from torch's mask; %d weights have |w| = threshold %g", model, s, pruned, total, differ, ties, thr)
			})
		}
	}
}

func abs32(v float32) float32 { return float32(math.Abs(float64(v))) }

// readMasks reads torch's masks: one uint8 array per weight, keyed by ID
// (or "<group>/<ID>").
func readMasks(t *testing.T, path string) map[string][]int64 {
	t.Helper()
	arrays, err := dataset.ReadNPZ(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]int64{}
	for k, a := range arrays {
		m, ok := a.Data().([]int64)
		if !ok {
			t.Fatalf("%s: %s is %v, want an integer mask", path, k, a.Dtype())
		}
		out[k] = m
	}
	return out
}
