package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/dataset"
	"github.com/edgeprune/edgeprune/internal/testmodels"
	"gorgonia.org/tensor"
)

// TestBuildFinetune: build with --train fine-tunes the chosen model (the
// same search and structure as without it), build.json and the terminal
// say what was trained, and the accuracy verified is the written model's
// on the held-out data; without --train it says it was skipped; a training
// flag without --train is a usage error. bncnn (BatchNorm in training mode)
// on its 64-sample fixture batch: seconds.
func TestBuildFinetune(t *testing.T) {
	model := testmodels.Shared(t, "mnist/bncnn.onnx")
	data, fx := fixtureBatch(t, "bncnn_train", nil)
	dir := t.TempDir()
	// The held-out half (--calib-images 32 --batch 32: samples 32..63).
	in := fx["input"].Data().([]float32)
	lab := fx["labels"].Data().([]int64)
	per := len(in) / len(lab)
	held := filepath.Join(dir, "held.npz")
	if err := dataset.WriteNPZ(held, map[string]*tensor.Dense{
		"input":  tensor.New(tensor.WithShape(32, 1, 28, 28), tensor.WithBacking(append([]float32(nil), in[32*per:]...))),
		"labels": tensor.New(tensor.WithShape(32), tensor.WithBacking(append([]int64(nil), lab[32:]...)))}); err != nil {
		t.Fatal(err)
	}
	common := []string{"build", model, "--profile", "../../configs/host-amd64.yaml", "--measure", "no", "--data", data,
		"--calib-images", "32", "--batch", "32", "--threads", "2", "--budget", "latency_ms=1000", "--budget", "file_mb=0.05", "--budget", "accuracy=1"}
	type result struct {
		Groups []struct {
			Choice int `json:"choice"`
		} `json:"groups"`
		After struct {
			Top1 *float64 `json:"top1"`
		} `json:"after"`
		Finetune    string `json:"finetune"`
		FinetuneRun *struct {
			Loss   string `json:"loss"`
			BN     string `json:"bn"`
			Epochs []struct {
				Loss float64 `json:"loss"`
			} `json:"epochs"`
			Seconds float64 `json:"seconds"`
		} `json:"finetune_run"`
	}
	run := func(name string, extra ...string) (result, string) {
		t.Helper()
		out := filepath.Join(dir, name)
		code, stdout, stderr := runCLI(t, append(append(append([]string{}, common...), extra...), "-o", out)...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s\n%s", name, code, stdout, stderr)
		}
		var r result
		b, err := os.ReadFile(filepath.Join(out, "build.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return r, stderr
	}
	plain, _ := run("plain")
	if !strings.HasPrefix(plain.Finetune, "skipped: no training data") || plain.FinetuneRun != nil {
		t.Errorf("without --train: finetune %q, run %v", plain.Finetune, plain.FinetuneRun)
	}
	// --probe-fraction 0: the candidates are compared without fine-tuning,
	// as without --train, so the search is the same.
	tuned, stderr := run("tuned", "--train", data, "--probe-fraction", "0", "--finetune-epochs", "2", "--train-batch", "16", "--lr", "0.05", "--schedule", "constant", "--bn", "train")
	ft := tuned.FinetuneRun
	if ft == nil || len(ft.Epochs) != 2 || !strings.Contains(ft.Loss, "cross_entropy") || ft.BN != "train" || ft.Seconds <= 0 {
		t.Fatalf("finetune_run %+v", ft)
	}
	if !strings.HasPrefix(tuned.Finetune, "2 epochs on "+data) || !strings.Contains(stderr, "fine-tune") || !strings.Contains(stderr, tuned.Finetune) {
		t.Errorf("summary %q not in the terminal:\n%s", tuned.Finetune, stderr)
	}
	if len(tuned.Groups) != len(plain.Groups) {
		t.Fatalf("%d groups with --train, %d without", len(tuned.Groups), len(plain.Groups))
	}
	for g := range plain.Groups {
		if tuned.Groups[g].Choice != plain.Groups[g].Choice {
			t.Errorf("group %d: choice %d with --train, %d without: fine-tuning must come after the search", g, tuned.Groups[g].Choice, plain.Groups[g].Choice)
		}
	}
	a, b := readParams(t, filepath.Join(dir, "plain", "model.onnx")), readParams(t, filepath.Join(dir, "tuned", "model.onnx"))
	moved := 0
	for id, w := range a {
		if len(b[id]) != len(w) {
			t.Fatalf("%s: %d elements with --train, %d without: the structure changed", id, len(b[id]), len(w))
		}
		for i := range w {
			if w[i] != b[id][i] {
				moved++
				break
			}
		}
	}
	if moved == 0 {
		t.Fatal("--train changed no weight")
	}
	// The accuracy verified is the written (fine-tuned) model's on the held-out samples.
	code, stdout, stderr := runCLI(t, "eval", filepath.Join(dir, "tuned", "model.onnx"), "--data", held, "--json")
	if code != 0 {
		t.Fatalf("eval: %d %s", code, stderr)
	}
	var ev struct {
		Top1 float64 `json:"top1"`
	}
	if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if tuned.After.Top1 == nil || *tuned.After.Top1 != ev.Top1 {
		t.Errorf("build.json after.top1 %v, eval of model.onnx on the held-out samples %v", tuned.After.Top1, ev.Top1)
	}
	// A cost budget the chosen model misses: fine-tuning cannot help and is skipped.
	args := append(append([]string{}, common...), "--budget", "latency_ms=0.0001", "--train", data, "-o", filepath.Join(dir, "inf"))
	code, _, stderr = runCLI(t, args...)
	if code != 3 || !strings.Contains(stderr, "fine-tune: skipped: the chosen model misses latency_ms") || strings.Contains(stderr, "epoch 1/") {
		t.Errorf("unreachable latency with --train: exit %d\n%s", code, stderr)
	}
	// A training setting without --train is a usage error.
	code, _, stderr = runCLI(t, append(append([]string{}, common...), "--lr", "0.1", "-o", filepath.Join(dir, "bad"))...)
	if code != 2 || !strings.Contains(stderr, "--lr sets the fine-tuning, which needs --train") {
		t.Errorf("--lr without --train: exit %d %s", code, stderr)
	}
}

// TestBuildCandidates: with labelled --data and --train, the accuracy
// budget is searched: several candidate choices meeting the cost budgets
// (the solver's, the uniform baseline, ...) are each fine-tuned briefly
// and scored on the calibration samples; build.json says which were tried
// and why the kept one won (the lowest calibration loss), and the groups'
// choices are the kept candidate's. bncnn on its 64-sample fixture: seconds.
func TestBuildCandidates(t *testing.T) {
	model := testmodels.Shared(t, "mnist/bncnn.onnx")
	data, _ := fixtureBatch(t, "bncnn_train", nil)
	dir := t.TempDir()
	common := []string{"build", model, "--profile", "../../configs/host-amd64.yaml", "--measure", "no", "--data", data,
		"--calib-images", "32", "--batch", "32", "--threads", "2", "--budget", "accuracy=1"}
	type result struct {
		Groups []struct {
			Choice int `json:"choice"`
		} `json:"groups"`
		Before struct {
			LatencyMS float64 `json:"latency_ms"`
		} `json:"before"`
		Selection *struct {
			Rule       string `json:"rule"`
			Why        string `json:"why"`
			Candidates []struct {
				Name     string   `json:"name"`
				Choice   []int    `json:"choice"`
				Kept     []int    `json:"kept"`
				Excluded string   `json:"excluded"`
				Probe    string   `json:"probe"`
				Loss     *float64 `json:"calib_loss"`
				Chosen   bool     `json:"chosen"`
			} `json:"candidates"`
		} `json:"selection"`
	}
	run := func(name string, extra ...string) (result, string) {
		t.Helper()
		out := filepath.Join(dir, name)
		code, stdout, stderr := runCLI(t, append(append(append([]string{}, common...), extra...), "-o", out)...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s\n%s", name, code, stdout, stderr)
		}
		var r result
		b, err := os.ReadFile(filepath.Join(out, "build.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return r, stderr
	}
	dense, _ := run("dense", "--budget", "latency_ms=1000")
	r, stderr := run("half", "--budget", fmt.Sprintf("latency_ms=%g", 0.75*dense.Before.LatencyMS),
		"--train", data, "--probe-fraction", "0.5", "--finetune-epochs", "1", "--train-batch", "16", "--lr", "0.05", "--bn", "train")
	if r.Selection == nil {
		t.Fatalf("no selection in build.json:\n%s", stderr)
	}
	if !strings.Contains(stderr, "[3a/5] candidates") {
		t.Errorf("the terminal does not show the candidates:\n%s", stderr)
	}
	var chosen []int
	var best float64
	uniform, probed := false, 0
	for _, c := range r.Selection.Candidates {
		uniform = uniform || strings.Contains(c.Name, "uniform")
		if c.Excluded != "" {
			continue
		}
		if c.Loss == nil || !strings.HasPrefix(c.Probe, "1 epochs on 32 samples of "+data) {
			t.Fatalf("candidate %s not probed and scored: %+v", c.Name, c)
		}
		probed++
		if c.Chosen {
			chosen, best = c.Choice, *c.Loss
		}
	}
	if !uniform || probed < 2 || chosen == nil {
		t.Fatalf("want ≥ 2 candidates scored, a uniform one among them, one kept:\n%s", stderr)
	}
	for _, c := range r.Selection.Candidates {
		if c.Excluded == "" && *c.Loss < best {
			t.Errorf("kept loss %g, but %s scored %g", best, c.Name, *c.Loss)
		}
	}
	for g, gr := range r.Groups {
		if gr.Choice != chosen[g] {
			t.Errorf("group %d: choice %d, the kept candidate's %d", g, gr.Choice, chosen[g])
		}
	}
	if !strings.Contains(r.Selection.Why, "calibration loss") {
		t.Errorf("why: %q", r.Selection.Why)
	}
}

// TestBuildFidelityIgnoresLabels: with a fidelity budget the data's labels
// (an image folder's class names, say) are not the model's task, so the
// build neither scores task loss nor runs the candidate search on them.
func TestBuildFidelityIgnoresLabels(t *testing.T) {
	model := testmodels.Shared(t, "mnist/bncnn.onnx")
	data, _ := fixtureBatch(t, "bncnn_train", nil)
	dir := t.TempDir()
	base, err := filepath.Abs("../../configs/host-amd64.yaml")
	if err != nil {
		t.Fatal(err)
	}
	prof := filepath.Join(dir, "fid.yaml")
	if err := os.WriteFile(prof, []byte("schema: edgeprune/profile/v1\nname: fid\nextends: "+base+
		"\nbudgets:\n  accuracy: {metric: fidelity, goal: max-degradation, value: 1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	code, stdout, stderr := runCLI(t, "build", model, "--profile", prof, "--measure", "no", "--data", data,
		"--calib-images", "32", "--batch", "32", "--threads", "2", "--budget", "latency_ms=0.3", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if strings.Contains(stderr, "[3a/5] candidates") {
		t.Errorf("a fidelity build ran the labelled candidate search:\n%s", stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "build.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"selection"`) || strings.Contains(string(b), `"task_damage"`) {
		t.Errorf("build.json ranks by the labels under a fidelity budget")
	}
}
