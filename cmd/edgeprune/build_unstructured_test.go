package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildUnstructuredFileBudget: LeNet-300-100 under a 45 KB file budget
// at most 1 point of top-1 below the original (configs/host-amd64-file.yaml).
// Structured pruning alone cannot meet it (exit 3: the smallest structured
// model packs to about 0.24 MB); with search.unstructured the build meets
// it with sparsity and coding, model.epk is within the budget to the byte,
// and `eval model.epk` gives the verified accuracy.
func TestBuildUnstructuredFileBudget(t *testing.T) {
	const lenet300 = "../../../shared/models/mnist/lenet300.onnx"
	const mnist = "../../../shared/data/mnist_test.npz"
	for _, f := range []string{lenet300, mnist} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("%s not found (the shared reference models and data)", f)
		}
	}
	dir := t.TempDir()
	host, _ := filepath.Abs("../../configs/host-amd64.yaml")
	structured := filepath.Join(dir, "structured.yaml")
	os.WriteFile(structured, []byte("schema: edgeprune/profile/v1\nextends: "+host+"\nname: s\nbudgets:\n"+
		"  file_mb: {max: 0.045}\n  accuracy: {metric: top1, goal: max-degradation, value: 0.01}\n"), 0o644)
	args := func(profile, out string) []string {
		return []string{"build", lenet300, "--profile", profile, "--data", mnist, "--calib-images", "64", "--measure", "no", "--threads", "1", "-o", out}
	}
	code, stdout, stderr := runCLI(t, args(structured, filepath.Join(dir, "s"))...)
	if code != 3 || !strings.Contains(stdout, "file_mb") || !strings.Contains(stdout, "OVER by") {
		t.Fatalf("structured only: exit %d, want 3 (infeasible)\n%s\n%s", code, stdout, stderr)
	}

	out := filepath.Join(dir, "u")
	code, stdout, stderr = runCLI(t, args("../../configs/host-amd64-file.yaml", out)...)
	if code != 0 {
		t.Fatalf("with search.unstructured: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var res struct {
		Layers []struct {
			Node     string  `json:"node"`
			Sparsity float64 `json:"sparsity"`
			Pattern  string  `json:"pattern"`
			Coding   string  `json:"coding"`
		} `json:"layers"`
		After struct {
			PackedBytes int64    `json:"packed_bytes"`
			Top1        *float64 `json:"top1"`
		} `json:"after"`
		Groups []struct {
			Kind string `json:"kind"`
		} `json:"groups"`
	}
	data, _ := os.ReadFile(filepath.Join(out, "build.json"))
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(out, "model.epk"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != res.After.PackedBytes || float64(st.Size()) > 0.045*1024*1024 {
		t.Errorf("model.epk %d bytes, build.json %d, budget %.0f", st.Size(), res.After.PackedBytes, 0.045*1024*1024)
	}
	sparse, coded, unstructured := false, false, 0
	for _, l := range res.Layers {
		sparse = sparse || (l.Sparsity > 0.4 && l.Pattern != "")
		coded = coded || (l.Coding != "" && l.Coding != "exact")
	}
	for _, g := range res.Groups {
		if g.Kind == "unstructured" {
			unstructured++
		}
	}
	if !sparse || !coded || unstructured != 2 {
		t.Errorf("want sparse and coded layers among %+v and 2 unstructured groups (got %d)", res.Layers, unstructured)
	}
	html, _ := os.ReadFile(filepath.Join(out, "report.html"))
	if !strings.Contains(string(html), "codebook:4") {
		t.Errorf("report.html does not show the coding")
	}
	if !strings.Contains(stderr+stdout, "codebook:4") {
		t.Errorf("the terminal does not show the per-layer choice:\n%s", stderr)
	}
	// eval model.epk on the same data: it decodes to model.onnx's weights
	// exactly (agreement 1), and its top-1 on all 10,000 samples is the
	// verified held-out top-1 (the 9,936 after the 64 calibration ones)
	// within the 64 samples' weight.
	code, stdout, stderr = runCLI(t, "eval", filepath.Join(out, "model.epk"), "--data", mnist, "--reference", filepath.Join(out, "model.onnx"), "--json")
	if code != 0 {
		t.Fatalf("eval model.epk: exit %d %s", code, stderr)
	}
	var ev struct {
		Top1      float64 `json:"top1"`
		Agreement float64 `json:"agreement_top1"`
		MaxAbs    float64 `json:"max_abs_diff"`
	}
	if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
		t.Fatalf("eval --json: %v\n%s", err, stdout)
	}
	if ev.Agreement != 1 || ev.MaxAbs > 1e-4 || res.After.Top1 == nil || math.Abs(ev.Top1-*res.After.Top1) > 64.0/10000 {
		t.Errorf("eval model.epk: top-1 %.4f (verified %v), agreement with model.onnx %g, max |diff| %g", ev.Top1, res.After.Top1, ev.Agreement, ev.MaxAbs)
	}
	t.Logf("model.epk %d bytes; top-1 verified %.4f, eval %.4f", st.Size(), *res.After.Top1, ev.Top1)
}
