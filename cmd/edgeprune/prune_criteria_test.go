package main

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// zeroMaskDiff counts the weights of the pruned model at path whose
// zero/nonzero state differs from the reference masks "<prefix>/<ID>", and
// the weights compared.
func zeroMaskDiff(t *testing.T, path string, masks map[string]*tensor.Dense, prefix string) (differ, total int) {
	t.Helper()
	m, err := onnxio.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		mk, ok := masks[prefix+"/"+p.ID]
		if !ok {
			continue
		}
		w, _, _ := p.Float32()
		mask := mk.Data().([]int64)
		for i, v := range w {
			total++
			if (v == 0) != (mask[i] == 0) {
				differ++
			}
		}
	}
	if total == 0 {
		t.Fatalf("no weight of %s has a %s mask", path, prefix)
	}
	return differ, total
}

// TestPruneCriteria runs prune --criterion taylor (global) and wanda (its
// default row scope) on lenet5 with the first 128 training samples and
// compares the written models with torch's reference masks; replays a
// taylor plan with --data; and runs the structured form.
func TestPruneCriteria(t *testing.T) {
	model := testmodels.Shared(t, "mnist/lenet5.onnx")
	train := testmodels.SharedData(t, "mnist_train.npz")
	masks, err := dataset.ReadNPZ(testmodels.Shared(t, "mnist/lenet5_criteria_masks.npz"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range []struct {
		crit, sparsity, key string
	}{{"taylor", "0.9", "taylor_global_0.9"}, {"wanda", "0.5", "wanda_row_0.5"}} {
		out := filepath.Join(dir, c.crit+".onnx")
		report := filepath.Join(dir, c.crit+".json")
		code, _, stderr := runCLI(t, "prune", model, "-o", out, "--sparsity", c.sparsity, "--criterion", c.crit,
			"--data", train, "--samples", "128", "--report", report)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", c.crit, code, stderr)
		}
		differ, total := zeroMaskDiff(t, out, masks, c.key)
		if differ*1000 > total {
			t.Errorf("%s: %d of %d weights differ from torch's %s mask (at most 0.1%% may)", c.crit, differ, total, c.key)
		}
		// The plan replays with the same data to the same file.
		again := filepath.Join(dir, c.crit+"-again.onnx")
		if code, _, stderr := runCLI(t, "prune", model, "-o", again, "--plan", report, "--data", train, "--samples", "128"); code != 0 {
			t.Fatalf("%s --plan: exit %d: %s", c.crit, code, stderr)
		}
		a, _ := os.ReadFile(out)
		b, _ := os.ReadFile(again)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: replaying the plan wrote another model", c.crit)
		}
	}
	out := filepath.Join(dir, "slim.onnx")
	code, stdout, stderr := runCLI(t, "prune", model, "-o", out, "--structured", "--sparsity", "0.3", "--criterion", "taylor",
		"--data", train, "--samples", "64", "--round-to", "1")
	if code != 0 || !strings.Contains(stdout, "criterion taylor") {
		t.Fatalf("structured taylor: exit %d: %s%s", code, stdout, stderr)
	}
}

// TestPruneCriteriaErrors: a data criterion without data, data without a
// data criterion, data the model cannot take, and gradient criteria on
// unlabelled data are refused, naming what to change.
func TestPruneCriteriaErrors(t *testing.T) {
	model := testmodels.Shared(t, "mnist/lenet5.onnx")
	dir := t.TempDir()
	out := filepath.Join(dir, "out.onnx")
	// 4 unlabelled MNIST-shaped samples, and 4 of the wrong shape.
	unlabelled := filepath.Join(dir, "x.npy")
	if err := dataset.WriteNPY(unlabelled, tensor.New(tensor.WithShape(4, 1, 28, 28), tensor.WithBacking(make([]float32, 4*784)))); err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(dir, "wrong.npz")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, x := range map[string]*tensor.Dense{
		"input":  tensor.New(tensor.WithShape(4, 3, 28, 28), tensor.WithBacking(make([]float32, 4*3*784))),
		"labels": tensor.New(tensor.WithShape(4), tensor.WithBacking([]int64{0, 1, 2, 3})),
	} {
		w, _ := zw.Create(name + ".npy")
		if err := dataset.EncodeNPY(w, x); err != nil {
			t.Fatal(err)
		}
	}
	zw.Close()
	os.WriteFile(wrong, buf.Bytes(), 0o644)
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"--criterion", "taylor"}, exitUsage, "add --data"},
		{[]string{"--data", unlabelled}, exitUsage, "--data is for the criteria"},
		{[]string{"--criterion", "wanda", "--importance", "l2", "--data", unlabelled}, exitUsage, "use --criterion"},
		{[]string{"--criterion", "taylor", "--data", unlabelled, "--samples", "-1"}, exitUsage, "--samples -1"},
		{[]string{"--criterion", "taylor", "--data", unlabelled}, 1, "needs labels"},
		{[]string{"--criterion", "obd", "--data", wrong}, 1, "wrong.npz"},
		{[]string{"--criterion", "taylor", "--data", unlabelled, "--resize", "28,28"}, exitUsage, "image folders"},
	} {
		args := append([]string{"prune", model, "-o", out, "--sparsity", "0.5"}, c.args...)
		code, _, stderr := runCLI(t, args...)
		if code != c.code || !strings.Contains(stderr, c.says) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d saying %q", c.args, code, stderr, c.code, c.says)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%v: wrote %s", c.args, out)
		}
	}
	// wanda needs no labels.
	if code, _, stderr := runCLI(t, "prune", model, "-o", out, "--sparsity", "0.5", "--criterion", "wanda", "--data", unlabelled); code != 0 {
		t.Errorf("wanda on unlabelled data: exit %d: %s", code, stderr)
	}
}
