package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
)

// TestPruneStructured runs prune --structured with every output and checks
// the files against the report.
func TestPruneStructured(t *testing.T) {
	dir := t.TempDir()
	in := writeCanned(t, "cnn", onnxbuild.CNN())
	out, masked, rep := filepath.Join(dir, "out.onnx"), filepath.Join(dir, "masked.onnx"), filepath.Join(dir, "rep.json")
	code, stdout, stderr := runCLI(t, "prune", in, "-o", out, "--structured", "--sparsity", "0.5", "--scope", "layer",
		"--round-to", "2", "--criterion", "bn", "--emit-masked", masked, "--report", rep)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"channels before → after", "8 → 4", "parameters:", "FLOPs (engine", "refused: y is a graph output", "channels aligned to 2"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	raw, err := os.ReadFile(rep)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Schema string `json:"schema"`
		Totals struct {
			ParamsBefore int64 `json:"params_before"`
			ParamsAfter  int64 `json:"params_after"`
			FLOPsBefore  int64 `json:"flops_before"`
			FLOPsAfter   int64 `json:"flops_after"`
		} `json:"totals"`
		Masked string `json:"masked_output"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	count := func(path string) int64 {
		m, err := onnxio.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, p := range m.Params() {
			if p.DataType().IsFloat() {
				n += p.NumElements()
			}
		}
		return n
	}
	if r.Schema != "edgeprune.prune.structured/v1" || r.Masked != masked {
		t.Errorf("report: schema %q, masked %q", r.Schema, r.Masked)
	}
	if got := count(out); got != r.Totals.ParamsAfter || got >= r.Totals.ParamsBefore {
		t.Errorf("output has %d parameters, report %d → %d", got, r.Totals.ParamsBefore, r.Totals.ParamsAfter)
	}
	if got := count(masked); got != r.Totals.ParamsBefore {
		t.Errorf("masked output has %d parameters, want %d", got, r.Totals.ParamsBefore)
	}
	if !(r.Totals.FLOPsAfter > 0 && r.Totals.FLOPsAfter < r.Totals.FLOPsBefore) {
		t.Errorf("FLOPs %d → %d", r.Totals.FLOPsBefore, r.Totals.FLOPsAfter)
	}
	// Replay the report as a plan.
	again := filepath.Join(dir, "again.onnx")
	if code, _, stderr := runCLI(t, "prune", in, "-o", again, "--structured", "--plan", rep); code != 0 {
		t.Fatalf("replay: exit %d: %s", code, stderr)
	}
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(again)
	if string(a) != string(b) {
		t.Error("replaying the report gives another model")
	}
}

func TestPruneStructuredUsage(t *testing.T) {
	dir := t.TempDir()
	cnn := writeCanned(t, "cnn", onnxbuild.CNN())
	mlp := writeCanned(t, "mlp", onnxbuild.MLP())
	out := filepath.Join(dir, "o.onnx")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"prune", cnn, "-o", out, "--sparsity", "0.5", "--criterion", "bn"}, "--criterion bn: "},
		{[]string{"prune", cnn, "-o", out, "--structured", "--sparsity", "0.5", "--pattern", "2:4"}, "does not apply to --structured"},
		{[]string{"prune", cnn, "-o", out, "--structured"}, "needs --sparsity"},
		{[]string{"prune", cnn, "-o", out, "--structured", "--sparsity", "0.5", "--criterion", "sensitivity"}, "want l1, l2, bn or random"},
		{[]string{"prune", cnn, "-o", out, "--structured", "--sparsity", "0.5", "--criterion", "taylor"}, "add --data"},
		{[]string{"prune", mlp, "-o", out, "--structured", "--sparsity", "0.5", "--criterion", "bn"}, "no BatchNormalization"},
		{[]string{"prune", cnn, "-o", out, "--structured", "--sparsity", "0.5", "--shape", "x=1,3,a"}, "must be an integer"},
	} {
		code, _, stderr := runCLI(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args[3:], code, stderr, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused run wrote its output")
	}
}

// TestPruneStructuredDefaultAlignment: with no --round-to the output says
// which alignment it used and the kept counts follow it.
func TestPruneStructuredDefaultAlignment(t *testing.T) {
	dir := t.TempDir()
	in := writeCanned(t, "cnn", onnxbuild.CNN())
	code, stdout, stderr := runCLI(t, "prune", in, "-o", filepath.Join(dir, "out.onnx"), "--structured", "--sparsity", "0.5", "--scope", "layer")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"channels aligned to 8 (--round-to 1 for exact ratios)", "16 → 8", "8 → 8"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, stderr = runCLI(t, "prune", in, "-o", filepath.Join(dir, "exact.onnx"), "--structured", "--sparsity", "0.5", "--scope", "layer", "--round-to", "1")
	if code != 0 || !strings.Contains(stdout, "channels not aligned") || !strings.Contains(stdout, "8 → 4") {
		t.Errorf("--round-to 1: exit %d, %s\n%s", code, stderr, stdout)
	}
}

// TestPruneStructuredWrongRank: an input shape of the wrong rank cannot be
// analysed: exit 1 naming the input, and no output written (it used to
// write the model unpruned and succeed).
func TestPruneStructuredWrongRank(t *testing.T) {
	dir := t.TempDir()
	in := writeCanned(t, "cnn", onnxbuild.CNN())
	m, err := onnxio.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	name := m.Graph().GetInput()[0].GetName()
	out := filepath.Join(dir, "out.onnx")
	code, _, stderr := runCLI(t, "prune", in, "-o", out, "--structured", "--sparsity", "0.5", "--input-shape", name+"=1,3")
	if code != 1 || !strings.Contains(stderr, name) || !strings.Contains(stderr, "rank") {
		t.Errorf("exit %d, stderr %q: want 1 and a message naming input %q and its rank", code, stderr, name)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s written", out)
	}
}
