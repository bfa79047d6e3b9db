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
	if code != 3 || !strings.Contains(stdout, "OVER by") || !strings.Contains(stdout, "best reachable") || !strings.Contains(stderr, "budgets cannot be met") {
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
	// --adaptive-bn takes auto, on or off; on needs calibration data and
	// BatchNormalization nodes.
	code, _, stderr = runCLI(t, "build", lenet5, "--profile", "../../configs/host-amd64.yaml", "--adaptive-bn", "yes", "-o", out)
	if code != 2 || !strings.Contains(stderr, `--adaptive-bn "yes"`) {
		t.Fatalf("bad --adaptive-bn: exit %d %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "build", lenet5, "--profile", "../../configs/host-amd64.yaml", "--measure", "no", "--adaptive-bn", "on", "-o", out)
	if code != 1 || !strings.Contains(stderr, "adaptive BN on: no calibration data") {
		t.Fatalf("--adaptive-bn on without --data: exit %d %s", code, stderr)
	}
	// Feasible without data: weight-based, warns, writes all three files.
	out = filepath.Join(dir, "ok")
	code, stdout, stderr = runCLI(t, "build", lenet5, "--profile", "../../configs/host-amd64.yaml", "--measure", "no",
		"--budget", "file_mb=0.5", "-o", out)
	if code != 0 || !strings.Contains(stderr, "accuracy was not measured") {
		t.Fatalf("build: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// A file budget: the package ships, and the budget is checked on it.
	for _, f := range []string{"model.onnx", "model.epk", "build.json", "report.html"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	var res struct {
		After struct {
			FileBytes   int64 `json:"file_bytes"`
			PackedBytes int64 `json:"packed_bytes"`
		} `json:"after"`
		Feasible bool `json:"feasible"`
	}
	data, _ := os.ReadFile(filepath.Join(out, "build.json"))
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(out, "model.onnx"))
	if !res.Feasible || res.After.FileBytes != st.Size() {
		t.Errorf("build.json file_bytes %d, model.onnx %d bytes, feasible %v", res.After.FileBytes, st.Size(), res.Feasible)
	}
	st, _ = os.Stat(filepath.Join(out, "model.epk"))
	if res.After.PackedBytes != st.Size() || st.Size() > 512*1024 {
		t.Errorf("build.json packed_bytes %d, model.epk %d bytes, budget 0.5 MB", res.After.PackedBytes, st.Size())
	}
	// report re-renders build.json.
	code, _, stderr = runCLI(t, "report", filepath.Join(out, "build.json"), "-o", filepath.Join(dir, "r.html"))
	if code != 0 {
		t.Fatalf("report: %d %s", code, stderr)
	}
}

// prune --report files (both schemas) render through report like a
// build.json: the layers, the groups, and a note that there are no budgets.
func TestReportOfPruneReports(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"unstructured", []string{"--sparsity", "0.5"}, []string{"prune --report", "<td>Conv_1</td>", "59.2%", "No budgets"}},
		{"structured", []string{"--structured", "--sparsity", "0.5", "--round-to", "1"}, []string{"prune --structured --report", `id="groups"`, "No budgets", "8 → 3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := filepath.Join(dir, c.name+".json")
			args := append([]string{"prune", "../../testdata/models/cnn.onnx", "-o", filepath.Join(dir, c.name+".onnx"), "--report", rep}, c.args...)
			if code, _, stderr := runCLI(t, args...); code != 0 {
				t.Fatalf("prune: exit %d %s", code, stderr)
			}
			html := filepath.Join(dir, c.name+".html")
			if code, _, stderr := runCLI(t, "report", rep, "-o", html); code != 0 {
				t.Fatalf("report: exit %d %s", code, stderr)
			}
			data, _ := os.ReadFile(html)
			for _, w := range c.want {
				if !strings.Contains(string(data), w) {
					t.Errorf("report lacks %q", w)
				}
			}
		})
	}
	// Anything else is refused by name.
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"schema":"x/v9"}`), 0o644)
	if code, _, stderr := runCLI(t, "report", bad, "-o", filepath.Join(dir, "bad.html")); code != 1 || !strings.Contains(stderr, `schema "x/v9"`) {
		t.Errorf("bad schema: exit %d %s", code, stderr)
	}
}
