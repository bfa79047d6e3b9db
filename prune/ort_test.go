package prune

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/internal/ortoracle"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
)

// runPruned prunes the model at path, writes it, runs it in ORT (inputs from
// ortoracle.InputsFor at the given shapes) and checks
// the outputs have the dense model's shapes and are finite.
func runPruned(t *testing.T, o *ortoracle.Oracle, path string, shapes map[string][]int64, opts ...Option) *Plan {
	t.Helper()
	ctx := context.Background()
	m, err := onnxio.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	plan := mustPrune(t, m, opts...)
	out := filepath.Join(t.TempDir(), "pruned.onnx")
	if err := m.WriteFile(out); err != nil {
		t.Fatal(err)
	}
	in, err := ortoracle.InputsFor(path, 7, shapes)
	if err != nil {
		t.Fatal(err)
	}
	want, err := o.Run(ctx, path, in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := o.Run(ctx, out, in)
	if err != nil {
		t.Fatalf("pruned model does not run in ORT: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d outputs, dense model %d", len(got), len(want))
	}
	changed := false
	for i := range got {
		if got[i].Name != want[i].Name || len(got[i].Shape) != len(want[i].Shape) {
			t.Fatalf("output %d: %s %v, dense %s %v", i, got[i].Name, got[i].Shape, want[i].Name, want[i].Shape)
		}
		g, err1 := got[i].Float32()
		w, err2 := want[i].Float32()
		if err1 != nil || err2 != nil {
			continue // non-float outputs: shape checked above
		}
		for j, v := range g {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("output %s[%d] = %v", got[i].Name, j, v)
			}
			if v != w[j] {
				changed = true
			}
		}
	}
	if plan.Totals.ZerosAfter > plan.Totals.ZerosBefore && !changed {
		t.Error("pruning changed no output value")
	}
	return plan
}

// TestORTRealModels prunes every real model (../shared and the PP-OCR
// models, whose weights are Constant nodes) and runs it in ONNX Runtime.
func TestORTRealModels(t *testing.T) {
	o := ortoracle.ForTest(t)
	patterns := map[string][]Option{
		"resnet18":     {WithPattern(Pattern{Kind: NM, N: 2, M: 4})},
		"mobilenet_v2": {WithPattern(Pattern{Kind: Block, R: 1, C: 4}), WithSparsity(0.5), WithScope(Layer)},
		"ppocr_det":    {WithPattern(Pattern{Kind: NM, N: 2, M: 4})},
		"lenet5":       {WithSparsity(0.95), WithScope(Layer)},
	}
	for _, m := range testmodels.All(t) {
		t.Run(m.Name, func(t *testing.T) {
			opts, ok := patterns[m.Name]
			if !ok {
				opts = []Option{WithSparsity(0.8), WithLayerBounds(0, 0.95)}
			}
			plan := runPruned(t, o, m.Path, ortoracle.OCRShapes[m.Name], opts...)
			if plan.Totals.Pruned == 0 {
				t.Fatal("nothing pruned")
			}
			where := map[string]int{}
			for _, e := range plan.Params {
				where[e.Where]++
			}
			if strings.HasPrefix(m.Name, "ppocr") && where["constant"] == 0 {
				t.Errorf("PP-OCR weights are Constant nodes, but the plan prunes %v", where)
			}
			t.Logf("%s %s %s: %d params pruned, %d dense; sparsity %.3f → %.3f",
				m.Name, plan.Pattern, plan.Scope, plan.Totals.Pruned, plan.Totals.Dense, plan.Totals.SparsityBefore, plan.Totals.SparsityAfter)
		})
	}
}

// TestORTCanned runs the pruned canned models — Constant-node weights,
// subgraph weights in If branches, float16/float64 weights — in ORT.
func TestORTCanned(t *testing.T) {
	o := ortoracle.ForTest(t)
	for _, c := range onnxbuild.CannedModels() {
		t.Run(c.Name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), c.Name+".onnx")
			if err := os.WriteFile(path, onnxbuild.Marshal(c.Build()), 0o644); err != nil {
				t.Fatal(err)
			}
			runPruned(t, o, path, nil, WithSparsity(0.6))
		})
	}
}

// TestORTMNISTAccuracy prunes the trained LeNets as torch's
// global_unstructured does and checks the one-shot MNIST test accuracy in
// ORT equals torch's (../shared/models/mnist/torch_baseline.json), up to a
// few near-ties that torch and ORT sum differently.
func TestORTMNISTAccuracy(t *testing.T) {
	o := ortoracle.ForTest(t)
	raw, err := os.ReadFile(testmodels.Shared(t, "mnist/torch_baseline.json"))
	if err != nil {
		t.Fatal(err)
	}
	var baseline map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &baseline); err != nil {
		t.Fatal(err)
	}
	images, labels := testmodels.MNIST(t)
	n := int64(len(labels))
	for _, model := range []string{"lenet300", "lenet5"} {
		var torch struct {
			Acc float64 `json:"oneshot_acc"`
		}
		if err := json.Unmarshal(baseline[model]["torch_global_l1_0.9"], &torch); err != nil {
			t.Fatal(err)
		}
		m, err := onnxio.ReadFile(testmodels.Shared(t, "mnist/"+model+".onnx"))
		if err != nil {
			t.Fatal(err)
		}
		mustPrune(t, m, WithSparsity(0.9))
		path := filepath.Join(t.TempDir(), model+".onnx")
		if err := m.WriteFile(path); err != nil {
			t.Fatal(err)
		}
		out, err := o.Run(context.Background(), path, []ortoracle.Tensor{ortoracle.FromFloat32("input", []int64{n, 1, 28, 28}, images)})
		if err != nil {
			t.Fatal(err)
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
		t.Logf("%s global 0.9: MNIST accuracy %.4f in ORT, torch one-shot %.4f", model, acc, torch.Acc)
		if math.Abs(acc-torch.Acc) > 5/float64(n) {
			t.Errorf("%s: accuracy %.4f, torch's %.4f", model, acc, torch.Acc)
		}
	}
}
