package testmodels

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShared(t *testing.T) {
	p := Shared(t, "mnist/lenet5.onnx")
	if !filepath.IsAbs(p) || !strings.HasSuffix(p, filepath.FromSlash("shared/models/mnist/lenet5.onnx")) {
		t.Errorf("Shared = %s, want an absolute path ending in shared/models/mnist/lenet5.onnx", p)
	}
	d := SharedData(t, "mnist_test.npz")
	if _, err := os.Stat(d); err != nil {
		t.Error(err)
	}
}

// TestAll checks that every model is there, once, and looks like an ONNX
// protobuf: a ModelProto starts with its ir_version field (tag 0x08).
func TestAll(t *testing.T) {
	ms := All(t)
	if len(ms) != 9 {
		t.Errorf("All has %d models, want 9", len(ms))
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m.Name] || m.Name == "" {
			t.Errorf("model name %q empty or repeated", m.Name)
		}
		seen[m.Name] = true
		f, err := os.Open(m.Path)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1)
		_, err = f.Read(b)
		f.Close()
		if err != nil || b[0] != 0x08 {
			t.Errorf("%s: first byte %#x (%v), want 0x08", m.Path, b[0], err)
		}
	}
	for _, name := range []string{"resnet18", "lenet5", "ppocr_det", "ppocr_cls"} {
		if !seen[name] {
			t.Errorf("All lacks %s", name)
		}
	}
}

func TestSharedAbsentSkips(t *testing.T) {
	dir := t.TempDir() // a repository root with no ../shared beside it
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for _, get := range []func(testing.TB){
		func(tb testing.TB) { Shared(tb, "mnist/lenet5.onnx") },
		func(tb testing.TB) { SharedData(tb, "mnist_test.npz") },
		func(tb testing.TB) { All(tb) },
	} {
		f := call(t, get)
		if f.skipped != SharedSkipMessage || f.failed != "" {
			t.Errorf("without ../shared: skipped %q, failed %q; want skipped %q", f.skipped, f.failed, SharedSkipMessage)
		}
	}
}

func TestSharedMissingFileFails(t *testing.T) {
	f := call(t, func(tb testing.TB) { Shared(tb, "mnist/no-such-model.onnx") })
	if f.failed == "" || !strings.Contains(f.failed, "no-such-model.onnx") {
		t.Errorf("missing file in ../shared: failed %q, skipped %q; want a failure naming it", f.failed, f.skipped)
	}
}

func TestOCRAbsent(t *testing.T) {
	t.Setenv("EDGEPRUNE_CACHE", t.TempDir())
	t.Setenv("CI", "")
	if f := call(t, func(tb testing.TB) { OCR(tb, "det") }); f.skipped == "" || !strings.Contains(f.skipped, "scripts/setup.sh") {
		t.Errorf("OCR model absent outside CI: skipped %q, failed %q; want a skip naming scripts/setup.sh", f.skipped, f.failed)
	}
	t.Setenv("CI", "true")
	if f := call(t, func(tb testing.TB) { OCR(tb, "cls") }); f.failed == "" || f.skipped != "" {
		t.Errorf("OCR model absent under CI: skipped %q, failed %q; want a failure", f.skipped, f.failed)
	}
	if f := call(t, func(tb testing.TB) { OCR(tb, "rec") }); f.failed == "" {
		t.Error(`OCR("rec"): want a failure`)
	}
}

// fakeTB records Skip and Fatal instead of ending the test.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

// stopped ends a function that called fakeTB's Skip or Fatal, as
// runtime.Goexit ends a real test.
type stopped struct{}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Skip(args ...any)                  { f.skipped = fmt.Sprint(args...); panic(stopped{}) }
func (f *fakeTB) Skipf(format string, args ...any)  { f.Skip(fmt.Sprintf(format, args...)) }
func (f *fakeTB) Fatal(args ...any)                 { f.failed = fmt.Sprint(args...); panic(stopped{}) }
func (f *fakeTB) Fatalf(format string, args ...any) { f.Fatal(fmt.Sprintf(format, args...)) }

func call(t *testing.T, fn func(testing.TB)) (f *fakeTB) {
	f = &fakeTB{TB: t}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(stopped); !ok {
				panic(r)
			}
		}
	}()
	fn(f)
	return f
}
