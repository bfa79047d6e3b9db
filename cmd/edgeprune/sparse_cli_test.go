package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/edgeprune/edgeprune/internal/testmodels"
)

// TestPackRunsWithoutUnpack prunes lenet300 to 95%, packs it, and runs the
// .epk directly: eval gives exactly the ONNX file's accuracy with sparse
// kernels on and off, and bench --json reports the big layer on the sparse
// kernel with fewer resident weight bytes than the dense plan.
func TestPackRunsWithoutUnpack(t *testing.T) {
	src := testmodels.Shared(t, "mnist/lenet300.onnx")
	data := testmodels.SharedData(t, "mnist_test.npz")
	dir := t.TempDir()
	pruned, epk := filepath.Join(dir, "p.onnx"), filepath.Join(dir, "p.epk")
	if code, _, errs := runCLI(t, "prune", src, "-o", pruned, "--sparsity", "0.95"); code != 0 {
		t.Fatalf("prune: %s", errs)
	}
	if code, _, errs := runCLI(t, "pack", pruned, "-o", epk); code != 0 {
		t.Fatalf("pack: %s", errs)
	}
	top1 := func(model, mode string) float64 {
		code, out, errs := runCLI(t, "eval", model, "--data", data, "--sparse", mode, "--json")
		if code != 0 {
			t.Fatalf("eval %s --sparse %s: %s", model, mode, errs)
		}
		var r struct{ Top1 float64 }
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		return r.Top1
	}
	want := top1(pruned, "off")
	for _, c := range [][2]string{{epk, "auto"}, {epk, "off"}, {epk, "always"}, {pruned, "always"}} {
		if got := top1(c[0], c[1]); got != want {
			t.Errorf("%s --sparse %s: top-1 %v, dense ONNX %v", filepath.Base(c[0]), c[1], got, want)
		}
	}
	bench := func(model, mode string) benchJSON {
		code, out, errs := runCLI(t, "bench", model, "--runs", "2", "--warmup", "0", "--sparse", mode, "--json")
		if code != 0 {
			t.Fatalf("bench: %s", errs)
		}
		var b benchJSON
		if err := json.Unmarshal([]byte(out), &b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	sp, dense := bench(epk, "auto"), bench(pruned, "off")
	if len(sp.Nodes) != 3 || sp.Nodes[0].Kernel == "dense" || sp.Nodes[0].Density <= 0 || sp.Nodes[0].Density > 0.1 {
		t.Fatalf("bench of the pack: nodes %+v, want fc1 sparse at density ≤ 0.1", sp.Nodes)
	}
	if sp.SparseWeightBytes == 0 || sp.WeightBytes >= dense.WeightBytes/2 {
		t.Fatalf("resident weights: pack %d (sparse %d), dense %d", sp.WeightBytes, sp.SparseWeightBytes, dense.WeightBytes)
	}
	if code, _, _ := runCLI(t, "bench", epk, "--sparse", "sometimes"); code != 2 {
		t.Fatalf("--sparse sometimes: exit %d, want 2", code)
	}
}
