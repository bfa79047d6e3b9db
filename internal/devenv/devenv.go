// Package devenv locates what edgeprune's development set-up keeps outside the
// Go code: the repository root (tools/, and ../shared beside it) and the cache
// where scripts/setup.sh installs ONNX Runtime and fetches models.
//
// It is for tests, benchmarks and developer tools, not for the edgeprune binary.
package devenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// ErrNoRepo is returned by RepoRoot when no enclosing go.mod is found.
var ErrNoRepo = errors.New("devenv: edgeprune repository root (go.mod) not found")

// CacheDir returns $EDGEPRUNE_CACHE, or $HOME/.cache/edgeprune when it is unset.
// The directory need not exist.
func CacheDir() (string, error) {
	if d := os.Getenv("EDGEPRUNE_CACHE"); d != "" {
		return filepath.Abs(d)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("devenv: cache directory: %w", err)
	}
	return filepath.Join(home, ".cache", "edgeprune"), nil
}

// RepoRoot returns the directory holding edgeprune's go.mod: the nearest one
// above the working directory (go test runs in the package's directory), else
// the one above this source file, for tools run from elsewhere.
func RepoRoot() (string, error) {
	if wd, err := os.Getwd(); err == nil {
		if root, ok := findUp(wd); ok {
			return root, nil
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		if root, ok := findUp(filepath.Dir(file)); ok {
			return root, nil
		}
	}
	return "", ErrNoRepo
}

func findUp(dir string) (string, bool) {
	for {
		if st, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && st.Mode().IsRegular() {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}
