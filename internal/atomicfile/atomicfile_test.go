package atomicfile

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCommitReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.bin")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new")); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if string(got) != "new" {
		t.Fatalf("got %q", got)
	}
	assertOnly(t, dir, "out.bin")
}

func TestAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.bin")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("half"))
	f.Abort()
	got, _ := os.ReadFile(p)
	if string(got) != "old" {
		t.Fatalf("target changed to %q", got)
	}
	assertOnly(t, dir, "out.bin")
	if err := f.Commit(); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	if len(ents) != len(names) {
		var got []string
		for _, e := range ents {
			got = append(got, e.Name())
		}
		t.Fatalf("dir holds %v, want %v", got, names)
	}
}

func TestCommitNoSyncReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.bin")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("new"))
	if err := f.CommitNoSync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); err == nil {
		t.Fatal("a second commit succeeded")
	}
	got, _ := os.ReadFile(p)
	if string(got) != "new" {
		t.Fatalf("got %q", got)
	}
	assertOnly(t, dir, "out.bin")
}

// TestAbortAll runs in a child process (AbortAll cannot be undone): it
// removes every pending temporary file, a Commit in progress (held by the
// commit-delay hook) or later fails with ErrAborted and leaves the old
// target, and Create fails from then on.
func TestAbortAll(t *testing.T) {
	if os.Getenv("ATOMICFILE_ABORTALL_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAbortAll$", "-test.v")
		cmd.Env = append(os.Environ(), "ATOMICFILE_ABORTALL_CHILD=1", CommitDelayEnv+"=30s")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestAbortAll") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.bin"), filepath.Join(dir, "b.bin")
	if err := os.WriteFile(a, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	fa, err := Create(a)
	if err != nil {
		t.Fatal(err)
	}
	fa.Write([]byte("new"))
	fb, err := Create(b)
	if err != nil {
		t.Fatal(err)
	}
	committed := make(chan error, 1)
	start := time.Now()
	go func() { committed <- fa.Commit() }() // waits 30s in the hook
	time.Sleep(50 * time.Millisecond)
	AbortAll()
	if err := <-committed; !errors.Is(err, ErrAborted) {
		t.Fatalf("Commit during AbortAll: %v, want ErrAborted", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("AbortAll did not end the commit delay")
	}
	if _, err := fb.Write([]byte("late")); err == nil {
		t.Error("write to an aborted file succeeded")
	}
	if err := fb.Commit(); !errors.Is(err, ErrAborted) && !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Commit after AbortAll: %v", err)
	}
	if _, err := Create(filepath.Join(dir, "c.bin")); !errors.Is(err, ErrAborted) {
		t.Fatalf("Create after AbortAll: %v", err)
	}
	got, _ := os.ReadFile(a)
	if string(got) != "old" {
		t.Fatalf("target changed to %q", got)
	}
	assertOnly(t, dir, "a.bin")
}
