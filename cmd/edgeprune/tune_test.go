package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeprune/edgeprune/engine"
	"github.com/edgeprune/edgeprune/internal/testmodels"
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

// TestTuneModelThreadChoice runs `edgeprune tune --model` on PP-OCR det:
// the choice it caches covers every node of the plan, and bench then runs
// that plan with it ("measured"), a plan of other threads without it.
func TestTuneModelThreadChoice(t *testing.T) {
	model := testmodels.OCR(t, "det")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv(tuneEnv, "")
	code, out, errs := runCLI(t, "tune", "--model", model, "--shape", "x=1,3,96,128", "--threads", "2",
		"--rounds", "1", "--runs", "2", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var tc engine.ThreadChoice
	if err := json.Unmarshal([]byte(out), &tc); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	if tc.Threads != 2 || len(tc.Nodes) == 0 || tc.OneMS <= 0 {
		t.Fatalf("choice %+v: want 2 threads, nodes, timings", tc)
	}
	for _, c := range []struct {
		threads, want string
	}{{"2", "measured"}, {"3", "cost model"}, {"1", "cost model"}} {
		code, out, errs = runCLI(t, "bench", model, "--shape", "x=1,3,96,128", "--threads", c.threads, "--runs", "1", "--warmup", "0", "--json")
		if code != 0 {
			t.Fatalf("bench --threads %s: exit %d: %s", c.threads, code, errs)
		}
		var b benchJSON
		if err := json.Unmarshal([]byte(out), &b); err != nil {
			t.Fatal(err)
		}
		if b.ThreadChoice != c.want {
			t.Errorf("bench --threads %s: thread_choice %q, want %q", c.threads, b.ThreadChoice, c.want)
		}
	}
	if code, _, _ := runCLI(t, "tune", "--threads", "2"); code != 2 {
		t.Errorf("tune --threads without --model: exit %d, want 2", code)
	}
}
