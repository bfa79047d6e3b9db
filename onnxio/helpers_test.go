package onnxio_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/edgeprune/edgeprune/internal/devenv"
)

// pythonWithONNX returns a python interpreter that can import onnx (Debian's
// python3-onnx, which scripts/setup.sh installs). It fails under CI and skips
// elsewhere when there is none.
func pythonWithONNX(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if err := exec.Command(py, "-c", "import onnx").Run(); err == nil {
			return py
		}
	}
	msg := "no python3 with the onnx package (apt install python3-onnx, or run scripts/setup.sh)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func repoFile(t *testing.T, rel string) string {
	t.Helper()
	root, err := devenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, filepath.FromSlash(rel))
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
