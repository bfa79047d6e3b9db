package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgeprune/edgeprune/internal/atomicfile"
	"github.com/edgeprune/edgeprune/internal/devenv"
	"github.com/edgeprune/edgeprune/internal/testmodels"
)

// The signal tests run the command as a real process (built once per test
// run) and send it SIGTERM or SIGINT.
var cliBin struct {
	once      sync.Once
	dir, path string
	err       error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if cliBin.dir != "" {
		os.RemoveAll(cliBin.dir)
	}
	os.Exit(code)
}

// buildCLI builds edgeprune and returns the binary's path.
func buildCLI(t *testing.T) string {
	t.Helper()
	cliBin.once.Do(func() {
		if cliBin.dir, cliBin.err = os.MkdirTemp("", "edgeprune-cli-test-"); cliBin.err != nil {
			return
		}
		cliBin.path = filepath.Join(cliBin.dir, "edgeprune")
		out, err := exec.Command("go", "build", "-o", cliBin.path, ".").CombinedOutput()
		if err != nil {
			cliBin.err = &buildError{err, string(out)}
		}
	})
	if cliBin.err != nil {
		t.Fatalf("building edgeprune: %v", cliBin.err)
	}
	return cliBin.path
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

func demoModel(t *testing.T) string {
	t.Helper()
	root, err := devenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "testdata", "demo", "demonet.onnx")
}

// files lists every file under dir (relative paths).
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// TestSignalDuringWriteLeavesNothing: a signal while an output is being
// written (held open by atomicfile's commit-delay hook, for every writer
// path: onnxio's model and external data, the masked model, pack's and
// unpack's outputs, run's .npy files) ends the command at once with 128+N,
// and leaves neither a temporary file nor an output.
func TestSignalDuringWriteLeavesNothing(t *testing.T) {
	bin := buildCLI(t)
	model := demoModel(t)
	// An .epk to unpack, made without the hook.
	epk := filepath.Join(t.TempDir(), "demo.epk")
	if code, _, errs := runCLI(t, "pack", model, "-o", epk, "--level", "1"); code != 0 {
		t.Fatalf("pack: exit %d: %s", code, errs)
	}
	cases := []struct {
		name string
		args func(out string) []string
		sig  syscall.Signal
	}{
		{"prune", func(out string) []string {
			return []string{"prune", model, "-o", filepath.Join(out, "p.onnx"), "--sparsity", "0.5"}
		}, syscall.SIGTERM},
		{"prune-structured-masked", func(out string) []string {
			return []string{"prune", model, "-o", filepath.Join(out, "s.onnx"), "--structured", "--sparsity", "0.5",
				"--emit-masked", filepath.Join(out, "m.onnx"), "--report", filepath.Join(out, "r.json")}
		}, syscall.SIGINT},
		{"convert-external", func(out string) []string {
			return []string{"convert", model, "-o", filepath.Join(out, "c.onnx"), "--external-data"}
		}, syscall.SIGTERM},
		{"pack", func(out string) []string {
			return []string{"pack", model, "-o", filepath.Join(out, "d.epk"), "--level", "1"}
		}, syscall.SIGTERM},
		{"unpack", func(out string) []string {
			return []string{"unpack", epk, "-o", filepath.Join(out, "u.onnx")}
		}, syscall.SIGINT},
		{"run", func(out string) []string {
			return []string{"run", model, "--random", "-o", filepath.Join(out, "npy")}
		}, syscall.SIGTERM},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			cmd := exec.Command(bin, c.args(out)...)
			cmd.Env = append(os.Environ(), atomicfile.CommitDelayEnv+"=60s")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Wait for the temporary file, then signal.
			deadline := time.Now().Add(60 * time.Second)
			for {
				tmp := false
				for _, f := range files(t, out) {
					tmp = tmp || strings.Contains(filepath.Base(f), ".tmp-")
				}
				if tmp {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("no temporary file appeared in %s; stderr: %s", out, stderr.String())
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(30 * time.Second): // the hook holds the write for 60s
				cmd.Process.Kill()
				<-done
				t.Fatalf("still running 30s after %v; stderr: %s", c.sig, stderr.String())
			}
			want := 128 + int(c.sig)
			if got := cmd.ProcessState.ExitCode(); got != want {
				t.Fatalf("exit %d, want %d; stderr: %s", got, want, stderr.String())
			}
			if !strings.Contains(stderr.String(), "interrupted by "+signalName(c.sig)) {
				t.Errorf("stderr does not say it was interrupted: %q", stderr.String())
			}
			if left := files(t, out); len(left) > 0 {
				t.Fatalf("%v left %v in the output directory", c.sig, left)
			}
			t.Logf("exit %d after %v", want, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestSignalAnyTime: SIGTERM at any moment of a prune of a real model
// (resnet18, no hook) either comes too late (exit 0, the output complete)
// or ends it with 143 and nothing written; never a temporary file. (A
// signal before main installs its handler kills the process, which the
// shell reports as 143 too; nothing has been written then.)
func TestSignalAnyTime(t *testing.T) {
	model := testmodels.Shared(t, "tv/resnet18.onnx")
	bin := buildCLI(t)
	interrupted, handled := 0, 0
	for _, after := range []time.Duration{50 * time.Millisecond, 300 * time.Millisecond, time.Second, 3 * time.Second} {
		out := t.TempDir()
		dst := filepath.Join(out, "r18.onnx")
		cmd := exec.Command(bin, "prune", model, "-o", dst, "--sparsity", "0.5")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(after)
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		left := files(t, out)
		code := cmd.ProcessState.ExitCode()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			code = 128 + int(syscall.SIGTERM) // killed before the handler was installed
		} else if code == 143 {
			handled++
		}
		t.Logf("SIGTERM after %v: exit %d, left %v", after, code, left)
		switch code {
		case 143:
			interrupted++
			if len(left) > 0 {
				t.Errorf("SIGTERM after %v: exit 143 but left %v", after, left)
			}
		case 0:
			if len(left) != 1 || left[0] != "r18.onnx" {
				t.Errorf("SIGTERM after %v came too late (exit 0) but the directory holds %v", after, left)
			}
		default:
			t.Errorf("SIGTERM after %v: exit %d: %s", after, code, stderr.String())
		}
	}
	if handled == 0 {
		t.Fatalf("no run was interrupted by the handler (%d killed before it): the test checked nothing", interrupted)
	}
}

// TestInterruptedContext: a command whose context is cancelled by a signal
// (here before it starts) exits 128+N and writes nothing, in process.
func TestInterruptedContext(t *testing.T) {
	model := demoModel(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		for _, args := range [][]string{
			{"prune", model, "-o", "OUT/p.onnx", "--sparsity", "0.5"},
			{"prune", model, "-o", "OUT/s.onnx", "--structured", "--sparsity", "0.5"},
			{"convert", model, "-o", "OUT/c.onnx"},
			{"pack", model, "-o", "OUT/p.epk"},
			{"bench", model, "--runs", "1000000"},
			{"run", model, "--random", "-o", "OUT/npy"},
			{"eval", model, "--data", "OUT/none.npz"},
		} {
			out := t.TempDir()
			for i := range args {
				args[i] = strings.Replace(args[i], "OUT", out, 1)
			}
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(interrupted{sig})
			var o, e bytes.Buffer
			code := run(ctx, args, &o, &e)
			if code != 128+int(sig) || !strings.Contains(e.String(), "interrupted by "+signalName(sig)) {
				t.Errorf("%s %v: exit %d, stderr %q; want %d", args[0], sig, code, e.String(), 128+int(sig))
			}
			if left := files(t, out); len(left) > 0 {
				t.Errorf("%s %v: left %v", args[0], sig, left)
			}
		}
	}
}
