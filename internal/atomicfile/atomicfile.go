// Package atomicfile writes a file so that readers see either the old file
// or the complete new one: data goes to a temporary file in the same
// directory, which is synced and renamed over the target on Commit.
// A failed or abandoned write leaves nothing behind.
package atomicfile

import (
	"os"
	"path/filepath"
)

// File is a pending write. Write to it, then Commit or Abort.
type File struct {
	*os.File
	path string
	done bool
}

// Create starts writing path.
func Create(path string) (*File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &File{File: f, path: path}, nil
}

// Commit syncs and renames the temporary file over the target.
func (f *File) Commit() error { return f.commit(true) }

// CommitNoSync renames the temporary file over the target without syncing
// it first: readers still see the old file or the whole new one, but after
// a crash (power loss) the new file may be empty or partial.
func (f *File) CommitNoSync() error { return f.commit(false) }

func (f *File) commit(sync bool) error {
	if f.done {
		return os.ErrClosed
	}
	f.done = true
	if sync {
		if err := f.File.Sync(); err != nil {
			f.File.Close()
			os.Remove(f.File.Name())
			return err
		}
	}
	if err := f.File.Close(); err != nil {
		os.Remove(f.File.Name())
		return err
	}
	if err := os.Chmod(f.File.Name(), 0o644); err != nil {
		os.Remove(f.File.Name())
		return err
	}
	if err := os.Rename(f.File.Name(), f.path); err != nil {
		os.Remove(f.File.Name())
		return err
	}
	return nil
}

// Abort removes the temporary file. It is a no-op after Commit, so it can be
// deferred.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.File.Close()
	os.Remove(f.File.Name())
}

// WriteFile writes data to path atomically.
func WriteFile(path string, data []byte) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit()
}
