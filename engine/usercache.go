package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgeprune/edgeprune/internal/atomicfile"
)

// userCachePath is edgeprune/ELEM... under the user cache directory, where
// the machine-measured numbers (tunables, thread choices) are cached; what
// names them in the error.
func userCachePath(what string, elem ...string) (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("engine: %s cache: %w", what, err)
	}
	return filepath.Join(append([]string{d, "edgeprune"}, elem...)...), nil
}

// saveJSON writes v to path as indented JSON, atomically, creating its
// directory; what names it in the error.
func saveJSON(path, what string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("engine: %s: %w", what, err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'))
}
