package devenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCacheDir(t *testing.T) {
	t.Setenv("EDGEPRUNE_CACHE", "rel/cache")
	got, err := CacheDir()
	if wd, _ := os.Getwd(); err != nil || got != filepath.Join(wd, "rel", "cache") {
		t.Errorf("CacheDir with a relative EDGEPRUNE_CACHE = %q, %v; want it made absolute", got, err)
	}
	t.Setenv("EDGEPRUNE_CACHE", "")
	t.Setenv("HOME", "/home/someone")
	if got, err := CacheDir(); err != nil || got != "/home/someone/.cache/edgeprune" {
		t.Errorf("CacheDir = %q, %v; want $HOME/.cache/edgeprune", got, err)
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !strings.HasPrefix(string(mod), "module github.com/edgeprune/edgeprune\n") {
		t.Errorf("RepoRoot = %s, whose go.mod is not edgeprune's (%v)", root, err)
	}
	// From outside the repository it falls back to this source file's place.
	t.Chdir(t.TempDir())
	if again, err := RepoRoot(); err != nil || again != root {
		t.Errorf("RepoRoot outside the repository = %q, %v; want %s", again, err, root)
	}
}
