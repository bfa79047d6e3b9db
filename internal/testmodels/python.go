package testmodels

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/edgeprune/edgeprune/internal/devenv"
)

// pythonCandidates are tried in order: Debian's interpreter first, where
// python3-onnx installs, then python3 on PATH (a pyenv shim may hide the
// former, or be the only one with onnx).
var pythonCandidates = []string{"/usr/bin/python3", "python3"}

var python struct {
	once sync.Once
	path string
}

// PythonONNX returns a python interpreter that can import the onnx package
// (Debian's python3-onnx, which scripts/setup.sh installs), the independent
// reader that tests check edgeprune's ONNX output against. When there is
// none, the test fails under CI (env CI set: CI always has it) and is skipped
// elsewhere, saying what to install.
func PythonONNX(t testing.TB) string {
	t.Helper()
	python.once.Do(func() {
		for _, py := range pythonCandidates {
			if exec.Command(py, "-c", "import onnx").Run() == nil {
				python.path = py
				return
			}
		}
	})
	if python.path == "" {
		msg := "no python3 with the onnx package (tried " + strings.Join(pythonCandidates, ", ") +
			"): apt-get install python3-onnx, or run scripts/setup.sh"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return python.path
}

// Tool returns the absolute path of tools/py/<name>, failing the test when it
// is not there.
func Tool(t testing.TB, name string) string {
	t.Helper()
	root, err := devenv.RepoRoot()
	if err != nil {
		t.Fatalf("testmodels: %v", err)
	}
	path := filepath.Join(root, "tools", "py", name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("testmodels: %v", err)
	}
	return path
}

// ONNXEqual reports whether the ONNX files a and b hold equal models by the
// onnx package's ModelProto ==, a proto2 reader independent of edgeprune's
// (tools/py/onnx_equal.py; external data is compared by reference, not
// loaded). When they differ, diff names the first differing field. It skips
// or fails as PythonONNX does without python, and fails the test when a file
// does not load.
func ONNXEqual(t testing.TB, a, b string) (equal bool, diff string) {
	t.Helper()
	py := PythonONNX(t)
	out, err := exec.Command(py, Tool(t, "onnx_equal.py"), a, b).CombinedOutput()
	msg := strings.TrimSpace(string(out))
	if err == nil {
		return true, ""
	}
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
		return false, msg
	}
	t.Fatalf("testmodels: onnx_equal.py %s %s: %v: %s", a, b, err, msg)
	return false, ""
}
