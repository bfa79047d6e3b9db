package main

import "path/filepath"

// joinDir resolves name relative to the directory of file.
func joinDir(file, name string) string {
	return filepath.Join(filepath.Dir(file), name)
}
