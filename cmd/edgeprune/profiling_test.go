package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestCPUProfileEnv: EDGEPRUNE_CPUPROFILE writes a pprof profile (gzip)
// when the command ends; unset, nothing is written.
func TestCPUProfileEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.prof")
	t.Setenv(cpuProfileEnv, path)
	var stderr bytes.Buffer
	end := startCPUProfile(&stderr)
	x := 0
	for i := range 1 << 20 {
		x += i
	}
	end()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b || stderr.Len() != 0 {
		t.Fatalf("profile %d bytes starting % x, stderr %q (x %d)", len(b), b[:min(len(b), 2)], stderr.String(), x)
	}
	t.Setenv(cpuProfileEnv, "")
	os.Remove(path)
	startCPUProfile(&stderr)()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("unset: %v", err)
	}
}
