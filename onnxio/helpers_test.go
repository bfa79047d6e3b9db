package onnxio_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/edgeprune/edgeprune/internal/devenv"
)

func repoFile(t *testing.T, rel string) string {
	t.Helper()
	root, err := devenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, filepath.FromSlash(rel))
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
