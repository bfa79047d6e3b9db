package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"gorgonia.org/tensor"
)

// TestPackCheck: lossless packs are measured as exact; a 2-bit codebook is
// measured as costing fidelity.
func TestPackCheck(t *testing.T) {
	dir := t.TempDir()
	// an MLP whose weights are big enough (≥256 elements) for lossy codes
	b := onnxbuild.New(13)
	b.InputDyn("x", onnxbuild.Float, "N", 32)
	w := b.Init("w", []int64{32, 64}, onnxbuild.Rand(11, 32*64, 0.5))
	b.Node("MatMul", []string{"x", w}, []string{"h"})
	b.Node("Relu", []string{"h"}, []string{"r"})
	w2 := b.Init("w2", []int64{64, 10}, onnxbuild.Rand(12, 64*10, 0.5))
	b.Node("MatMul", []string{"r", w2}, []string{"y"})
	b.OutputDyn("y", onnxbuild.Float, "N", 10)
	model := writeCanned(t, "mlp", b.Model())
	data := filepath.Join(dir, "x.npy")
	x := tensor.New(tensor.WithShape(50, 32), tensor.WithBacking(onnxbuild.Rand(13, 50*32, 1)))
	if err := dataset.WriteNPY(data, x); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		values string
		exact  bool
	}{{"fp32", true}, {"codebook:2", false}} {
		code, out, errs := runCLI(t, "pack", model, "-o", filepath.Join(dir, tc.values+".epk"), "--values", tc.values, "--check", data, "--json")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.values, code, errs)
		}
		var rep packJSON
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		c := rep.Check
		if c == nil || c.Samples != 50 {
			t.Fatalf("%s: check %+v", tc.values, c)
		}
		if exact := c.MaxAbsDiff == 0 && c.AgreementTop1 == 1; exact != tc.exact {
			t.Fatalf("%s: check measured max diff %g agreement %g, want exact=%v", tc.values, c.MaxAbsDiff, c.AgreementTop1, tc.exact)
		}
	}
	if code, _, _ := runCLI(t, "pack", model, "-o", filepath.Join(dir, "z.epk"), "--check", filepath.Join(dir, "missing.npz")); code != 1 {
		t.Fatalf("missing check data: exit %d", code)
	}
}

// TestRunRandom: run --random feeds the same deterministic inputs every
// time, so two runs of one model write identical outputs, and --shape binds
// a dynamic dimension.
func TestRunRandom(t *testing.T) {
	model := writeCanned(t, "mlp", onnxbuild.MLP())
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, out := range []string{a, b} {
		if code, _, errs := runCLI(t, "run", model, "--random", "--shape", "x=3,16", "-o", out); code != 0 {
			t.Fatal(errs)
		}
	}
	ya, err := dataset.ReadNPY(filepath.Join(a, "y.npy"))
	if err != nil {
		t.Fatal(err)
	}
	yb, err := dataset.ReadNPY(filepath.Join(b, "y.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ya.Shape()) != 2 || ya.Shape()[0] != 3 {
		t.Fatalf("output shape %v, want [3 4]", ya.Shape())
	}
	da, db := ya.Data().([]float32), yb.Data().([]float32)
	for i := range da {
		if da[i] != db[i] {
			t.Fatalf("two --random runs differ at %d", i)
		}
	}
	if code, _, _ := runCLI(t, "run", model, "--shape", "x=3,16"); code != 2 {
		t.Fatalf("--shape without --random: exit %d, want 2", code)
	}
}
