package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProfileCheck(t *testing.T) {
	code, out, errOut := runCLI(t, "profile", "check", "../../configs/raspberry-pi-5.yaml", "../../configs/pi-zero-2w-armv7.yaml")
	if code != 0 || strings.Count(out, ": ok") != 2 {
		t.Fatalf("check configs: %d %q %q", code, out, errOut)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("schema: edgeprune/profile/v1\nname: x\nbudgetz: {}\n"), 0o644)
	code, _, errOut = runCLI(t, "profile", "check", bad)
	if code != 1 || !strings.Contains(errOut, "bad.yaml:3: budgetz: unknown field (did you mean \"budgets\"?)") ||
		!strings.Contains(errOut, "device.target.goos: missing") {
		t.Fatalf("check broken: %d %q", code, errOut)
	}
	code, out, _ = runCLI(t, "profile", "show", "../../configs/phone-a76.yaml")
	if code != 0 || !strings.Contains(out, "p90 ≤ 33 ms (build aims at 29.7 ms") || !strings.Contains(out, "datasheet (uncalibrated") {
		t.Fatalf("show: %d %q", code, out)
	}
	code, _, _ = runCLI(t, "profile", "frob")
	if code != 2 {
		t.Fatalf("unknown subcommand: exit %d, want 2", code)
	}
}
