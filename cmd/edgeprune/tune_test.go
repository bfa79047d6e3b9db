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
		// The run-time choice of threads (engine adapt.go): none at one
		// thread; on at 3, where the cost model puts det's large Convs on N.
		if on := b.Adapt != nil && b.Adapt.On; on != (c.threads == "3") && c.threads != "2" {
			t.Errorf("bench --threads %s: adapt %+v, want on %v", c.threads, b.Adapt, c.threads == "3")
		}
	}
	if code, _, _ := runCLI(t, "tune", "--threads", "2"); code != 2 {
		t.Errorf("tune --threads without --model: exit %d, want 2", code)
	}
}

// TestTuneModelConvPaths runs `edgeprune tune --model` at 1 thread: the
// record names every dense Conv's path and holds the measurement; bench
// compiles with it ("measured", every Conv on the record's path); a record
// that no longer fits the plan (a node renamed, as when the model changed)
// is said on the log and not used; --tuned with such a file fails.
func TestTuneModelConvPaths(t *testing.T) {
	model := testmodels.OCR(t, "det")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv(tuneEnv, "")
	shape := "x=1,3,64,64"
	file := filepath.Join(t.TempDir(), "rec.json")
	code, out, errs := runCLI(t, "tune", "--model", model, "--shape", shape, "--threads", "1",
		"--rounds", "1", "--runs", "1", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var tc engine.ThreadChoice
	if err := json.Unmarshal([]byte(out), &tc); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	paths := map[string]string{}
	for _, n := range tc.Nodes {
		if n.Op == "Conv" || strings.HasPrefix(n.Op, "Conv+") {
			if n.Path == "" {
				t.Fatalf("Conv %s without a path in the record", n.Name)
			}
			paths[n.Name] = n.Path
		}
	}
	if tc.Threads != 1 || tc.ConvPaths == nil || len(tc.ConvPaths.Nodes) != len(paths) || tc.ConvPaths.RuleMS <= 0 {
		t.Fatalf("record: threads %d, %d Convs, measurement %+v", tc.Threads, len(paths), tc.ConvPaths)
	}
	for _, n := range tc.ConvPaths.Nodes {
		if paths[n.Name] != n.Chosen && tc.ConvPaths.Kept || n.US[n.Rule] <= 0 {
			t.Fatalf("Conv %s: measured %+v, the record has %s", n.Name, n, paths[n.Name])
		}
	}
	bench := func(args ...string) (benchJSON, string) {
		t.Helper()
		code, out, errs := runCLI(t, append([]string{"bench", model, "--shape", shape, "--threads", "1", "--runs", "1", "--warmup", "0", "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("bench %v: exit %d: %s", args, code, errs)
		}
		var b benchJSON
		if err := json.Unmarshal([]byte(out), &b); err != nil {
			t.Fatal(err)
		}
		return b, errs
	}
	b, _ := bench()
	if b.ThreadChoice != "measured" {
		t.Fatalf("bench with the cached record: %q, want measured", b.ThreadChoice)
	}
	for _, n := range b.Nodes {
		if p, ok := paths[n.Name]; ok && n.Path != p {
			t.Errorf("bench: Conv %s on %s, the record has %s", n.Name, n.Path, p)
		}
	}
	// The cached record, edited as if the model had changed.
	key, err := planKey(model, []inputShape{{Name: "x", Dims: []int{1, 3, 64, 64}}}, "auto", 1)
	if err != nil {
		t.Fatal(err)
	}
	cached, err := engine.ThreadChoicePath(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cached); err != nil {
		t.Fatalf("no record cached where bench looks: %v", err)
	}
	tc.Nodes[0].Name += "-renamed"
	if err := engine.SaveThreadChoice(cached, tc); err != nil {
		t.Fatal(err)
	}
	b, errs = bench()
	if b.ThreadChoice != "cost model" || !strings.Contains(errs, "not used") || !strings.Contains(errs, "-renamed") {
		t.Errorf("stale record: thread_choice %q, log %q: want the rules and a warning naming the node", b.ThreadChoice, errs)
	}
	if err := engine.SaveThreadChoice(file, tc); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "bench", model, "--shape", shape, "--threads", "1", "--runs", "1", "--tuned", file); code != 1 || !strings.Contains(errs, "-renamed") {
		t.Errorf("bench --tuned with a stale record: exit %d, %q; want 1 naming the node", code, errs)
	}
}
