// Package atomicfile writes a file so that readers see either the old file
// or the complete new one: data goes to a temporary file in the same
// directory (".NAME.tmp-*"), which is synced and renamed over the target on
// Commit. A failed or abandoned write leaves nothing behind.
//
// Every writer of the project (onnxio.Model.WriteFile, pack and unpack
// output, .npy files) goes through this package, so it also knows every
// temporary file the process has open. AbortAll removes them all and makes
// later Commits and Creates fail: a command that is interrupted (Ctrl-C,
// SIGTERM) calls it once, and leaves no temporary file and no output behind
// even when the write in progress takes no context. cmd/edgeprune calls it
// when its signal context is cancelled.
//
// Test hook: with EDGEPRUNE_TEST_COMMIT_DELAY set to a duration ("2s"),
// Commit waits that long, with the temporary file complete, before renaming
// (AbortAll ends the wait). cmd/edgeprune's signal tests use it to send a
// signal while an output is being written; nothing else should set it.
package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ErrAborted is returned by Create and Commit after AbortAll.
var ErrAborted = errors.New("atomicfile: write aborted (interrupted)")

// CommitDelayEnv names the test hook's environment variable (see the
// package doc).
const CommitDelayEnv = "EDGEPRUNE_TEST_COMMIT_DELAY"

// The process's pending temporary files. mu also orders Commit's rename
// against AbortAll: an output is either renamed before AbortAll or never.
var (
	mu       sync.Mutex
	pending  = map[*File]struct{}{}
	aborted  bool
	abortedC = make(chan struct{})
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
	mu.Lock()
	defer mu.Unlock()
	if aborted {
		return nil, ErrAborted
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, err
	}
	af := &File{File: f, path: path}
	pending[af] = struct{}{}
	return af, nil
}

// Commit syncs and renames the temporary file over the target.
func (f *File) Commit() error { return f.commit(true) }

// CommitNoSync renames the temporary file over the target without syncing
// it first: readers still see the old file or the whole new one, but after
// a crash (power loss) the new file may be empty or partial.
func (f *File) CommitNoSync() error { return f.commit(false) }

func (f *File) commit(sync bool) error {
	mu.Lock()
	err := f.doneErr()
	mu.Unlock()
	if err != nil {
		return err
	}
	if d, err := time.ParseDuration(os.Getenv(CommitDelayEnv)); err == nil && d > 0 {
		select {
		case <-time.After(d):
		case <-abortedC:
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if err := f.doneErr(); err != nil { // AbortAll came first
		return err
	}
	f.done = true
	delete(pending, f)
	err = func() error {
		if sync {
			if err := f.File.Sync(); err != nil {
				f.File.Close()
				return err
			}
		}
		if err := f.File.Close(); err != nil {
			return err
		}
		if err := os.Chmod(f.File.Name(), 0o644); err != nil {
			return err
		}
		return os.Rename(f.File.Name(), f.path)
	}()
	if err != nil {
		os.Remove(f.File.Name())
	}
	return err
}

// doneErr is the error of a Commit after Commit, Abort or AbortAll (nil
// before); mu is held.
func (f *File) doneErr() error {
	switch {
	case !f.done:
		return nil
	case aborted:
		return ErrAborted
	}
	return os.ErrClosed
}

// Abort removes the temporary file. It is a no-op after Commit, so it can be
// deferred.
func (f *File) Abort() {
	mu.Lock()
	defer mu.Unlock()
	f.abortLocked()
}

func (f *File) abortLocked() {
	if f.done {
		return
	}
	f.done = true
	delete(pending, f)
	f.File.Close()
	os.Remove(f.File.Name())
}

// AbortAll removes every pending temporary file of the process and makes
// every later Create and Commit fail with ErrAborted. It is for a process
// that is about to exit (interrupted); it cannot be undone. Writes to a
// file it removed still succeed (to an unlinked file) but its Commit fails.
func AbortAll() {
	mu.Lock()
	defer mu.Unlock()
	if aborted {
		return
	}
	aborted = true
	close(abortedC)
	for f := range pending {
		f.abortLocked()
	}
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
