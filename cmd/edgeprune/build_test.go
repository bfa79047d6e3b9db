package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const lenet5 = "../../../shared/models/mnist/lenet5.onnx"

func TestBuildCLI(t *testing.T) {
	if _, err := os.Stat(lenet5); err != nil {
		t.Skip("../shared/models/mnist/lenet5.onnx not found (the shared reference models)")
	}
	dir := t.TempDir()
	// Infeasible: exit 3, the table with the gap, nothing written.
	out := filepath.Join(dir, "inf")
	code, stdout, stderr := runCLI(t, "build", lenet5, "--profile", "../../configs/host-amd64.yaml", "--measure", "no",
		"--budget", "latency_ms=0.0001", "-o", out)
	if code != 3 || !strings.Contains(stdout, "OVER by") || !strings.Contains(stderr, "budgets cannot be met") {
		t.Fatalf("infeasible: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("infeasible build wrote %s", out)
	}
	// A bad override is a usage error naming it.
	code, _, stderr = runCLI(t, "build", lenet5, "--profile", "../../configs/host-amd64.yaml", "--budget", "latency_ms=-1", "-o", out)
	if code != 2 || !strings.Contains(stderr, "--budget latency_ms=-1") {
		t.Fatalf("bad --budget: exit %d %s", code, stderr)
	}
	// Feasible without data: weight-based, warns, writes all three files.
	out = filepath.Join(dir, "ok")
	code, stdout, stderr = runCLI(t, "build", lenet5, "--profile", "../../configs/host-amd64.yaml", "--measure", "no",
		"--budget", "file_mb=0.5", "-o", out)
	if code != 0 || !strings.Contains(stderr, "accuracy was not measured") {
		t.Fatalf("build: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, f := range []string{"model.onnx", "build.json", "report.html"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	var res struct {
		After struct {
			FileBytes int64 `json:"file_bytes"`
		} `json:"after"`
		Feasible bool `json:"feasible"`
	}
	data, _ := os.ReadFile(filepath.Join(out, "build.json"))
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(out, "model.onnx"))
	if !res.Feasible || res.After.FileBytes != st.Size() || st.Size() > 512*1024 {
		t.Errorf("build.json file_bytes %d, model.onnx %d bytes, budget 0.5 MB, feasible %v", res.After.FileBytes, st.Size(), res.Feasible)
	}
	// report re-renders build.json.
	code, _, stderr = runCLI(t, "report", filepath.Join(out, "build.json"), "-o", filepath.Join(dir, "r.html"))
	if code != 0 {
		t.Fatalf("report: %d %s", code, stderr)
	}
}
