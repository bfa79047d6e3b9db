package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/internal/onnxbuild"
	"github.com/edgeprune/edgeprune/onnxio"
)

// TestPruneUsage: bad arguments exit 2 with a message that says what to
// change, and write nothing.
func TestPruneUsage(t *testing.T) {
	model := writeCanned(t, "cnn", onnxbuild.CNN())
	out := filepath.Join(t.TempDir(), "out.onnx")
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"prune", model, "--sparsity", "0.5"}, "-o"},
		{[]string{"prune", model, "-o", out}, "--sparsity"},
		{[]string{"prune", model, "-o", out, "--sparsity", "1"}, "[0, 1)"},
		{[]string{"prune", model, "-o", out, "--sparsity", "-0.2"}, "[0, 1)"},
		{[]string{"prune", model, "-o", out, "--sparsity", "0.5", "--pattern", "2-4"}, "N:M such as 2:4"},
		{[]string{"prune", model, "-o", out, "--sparsity", "0.5", "--pattern", "block=3"}, "RxC"},
		{[]string{"prune", model, "-o", out, "--pattern", "2:4", "--sparsity", "0.9"}, "fixes sparsity at 0.5"},
		{[]string{"prune", model, "-o", out, "--sparsity", "0.5", "--scope", "net"}, "global, layer or row"},
		{[]string{"prune", model, "-o", out, "--sparsity", "0.5", "--include", "nothing-here"}, "matches no parameter"},
		{[]string{"prune", model, "-o", out, "--sparsity", "0.5", "--include", "conv1.bias"}, "not prunable"},
		{[]string{"prune", model, "-o", out, "--sparsity", "0.5", "--include", "("}, "not a valid regular expression"},
		{[]string{"prune", model, "-o", out, "--sparsity", "0.5", "--op-types", "Add"}, "choose among"},
		{[]string{"prune", model, "-o", out, "--sparsity", "0.9", "--max-sparsity", "0.5"}, "widen the bounds"},
		{[]string{"prune", model, "-o", model, "--sparsity", "0.5"}, "input model"},
		{[]string{"prune", model, "-o", out, "--pattern", "16:32"}, "fits none"},
	} {
		code, _, stderr := runCLI(t, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.says) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 saying %q", c.args[2:], code, stderr, c.says)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%v: wrote %s", c.args[2:], out)
		}
	}
}

// TestPruneReplay prunes with --report, replays the report with --plan on
// the original and gets the same file; --json prints the same plan.
func TestPruneReplay(t *testing.T) {
	model := writeCanned(t, "cnn", onnxbuild.CNN())
	dir := t.TempDir()
	out, again, report := filepath.Join(dir, "out.onnx"), filepath.Join(dir, "again.onnx"), filepath.Join(dir, "plan.json")
	code, stdout, stderr := runCLI(t, "prune", model, "-o", out, "--sparsity", "0.7", "--scope", "layer", "--report", report, "--exclude", "^fc")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// conv1.weight is [8,3,3,3]: round(0.7·216) zeros.
	row := fmt.Sprintf("conv1.weight  Conv  [8,3,3,3]   element    0.0%% → %5.1f%%", 100*math.RoundToEven(0.7*216)/216)
	for _, want := range []string{row, "total:"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "fc.weight") {
		t.Errorf("excluded fc.weight listed:\n%s", stdout)
	}
	code, stdout, stderr = runCLI(t, "prune", model, "-o", again, "--plan", report, "--json")
	if code != 0 {
		t.Fatalf("replay: exit %d: %s", code, stderr)
	}
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(again)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("replaying the report gives another model")
	}
	var rep struct {
		Schema string `json:"schema"`
		Params []struct {
			ID         string `json:"id"`
			ZerosAfter int64  `json:"zeros_after"`
		} `json:"params"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	m, err := onnxio.ReadFile(again)
	if err != nil {
		t.Fatal(err)
	}
	zeros := map[string]int64{}
	for _, p := range m.Params() {
		zeros[p.ID] = p.NumElements() - p.Nonzeros()
	}
	if rep.Schema != "edgeprune.prune/v1" || len(rep.Params) != 4 {
		t.Fatalf("report %+v", rep)
	}
	for _, e := range rep.Params {
		if zeros[e.ID] != e.ZerosAfter {
			t.Errorf("%s: %d zeros in the file, report says %d", e.ID, zeros[e.ID], e.ZerosAfter)
		}
	}
	if code, _, stderr := runCLI(t, "prune", model, "-o", again, "--plan", report, "--sparsity", "0.5"); code != exitUsage || !strings.Contains(stderr, "--plan") {
		t.Errorf("--plan with --sparsity: exit %d %q", code, stderr)
	}
}
