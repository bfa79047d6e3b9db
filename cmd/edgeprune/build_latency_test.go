package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildLatencyFraction: --budget latency_ms=N% is a fraction of the
// original's latency: the table shows it as such, with the gap as a
// percentage of the original's; a bad percentage is a usage error naming
// the flag.
func TestBuildLatencyFraction(t *testing.T) {
	if _, err := os.Stat(lenet5); err != nil {
		t.Skip("../shared/models/mnist/lenet5.onnx not found (the shared reference models)")
	}
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runCLI(t, "build", lenet5, "--profile", "../../configs/host-amd64.yaml", "--measure", "no",
		"--budget", "latency_ms=1%", "-o", out)
	if code != 3 || !strings.Contains(stdout, "1% of orig") || !strings.Contains(stdout, "OVER by") ||
		!strings.Contains(stdout, "of the original's") || !strings.Contains(stderr, "budgets cannot be met") {
		t.Fatalf("1%% of the original: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, _, stderr = runCLI(t, "build", lenet5, "--profile", "../../configs/host-amd64.yaml", "--budget", "latency_ms=150%", "-o", out)
	if code != 2 || !strings.Contains(stderr, "--budget latency_ms=150%") || !strings.Contains(stderr, "must be in (0, 1]") {
		t.Fatalf("150%%: exit %d %s", code, stderr)
	}
}
