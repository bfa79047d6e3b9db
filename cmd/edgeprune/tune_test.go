package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/engine"
)

// TestTuneWritesLoadableTunables runs `edgeprune tune -o FILE --json`: the
// file it writes loads on this machine and holds what it printed.
func TestTuneWritesLoadableTunables(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tun", "tunables.json")
	code, out, errs := runCLI(t, "tune", "-o", path, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var printed engine.Tunables
	if err := json.Unmarshal([]byte(out), &printed); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	got, err := engine.LoadTunables(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != printed || got.Measured != "tune" {
		t.Fatalf("file %+v, printed %+v (want equal, measured by tune)", got, printed)
	}
	os.WriteFile(path, []byte("{"), 0o644)
	if _, err := engine.LoadTunables(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("truncated file: err %v, want one naming %s", err, path)
	}
}
